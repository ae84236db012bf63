package xxh

import (
	"math/bits"

	"golang.org/x/sys/cpu"
)

// stripesUntilStop hashes stripes at p into v up to the first stop, in
// one pass: the stops of each stripe are searched with vector compares,
// and a stripe without one is hashed with the four lanes kept in
// registers. It searches the positions [0, 32n), reading bytes [0, 32n]
// (a pair's second byte may be the one past the stripes); in the first
// stripe only the positions whose bit is set in keep (the rest are
// hashed-through territory). It returns the first stop's position, all
// the stripes before its stripe hashed (none of its own), or -1 with all
// n stripes hashed. n >= 1.
//
//go:noescape
func stripesUntilStop(v *[4]uint64, p *byte, n int, keep uint32) int

// stripesUntilStopAVX2 is stripesUntilStop with AVX2.
//
//go:noescape
func stripesUntilStopAVX2(v *[4]uint64, p *byte, n int, keep uint32) int

// useAVX2 picks the AVX2 kernel where there is AVX2: it finds a stripe's
// stops with half the vector work of SSE2's, so the hash's IMULs (the
// bound: 8 a stripe on one port) wait less. Measured in bench_test.go,
// fused (AVX2 vs SSE2): a 20 KB body in cache 10.5 vs 8 GB/s, 512 MiB
// from memory 9.5 vs 7 GB/s (cespare's hash alone: 11.5 and 5 GB/s).
var useAVX2 = cpu.X86.HasAVX2

// stopMask returns the stops among the 32 positions at p, bit i for
// position i, reading bytes [0, 32].
//
//go:noescape
func stopMask(p *byte) uint32

// padding is what indexStopShort copies a short text onto: bytes that
// are not stops and not 'F'.
var padding = [33]byte{'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a',
	'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a'}

// indexStopShort returns the first stop of b at an index in [lo, hi), or
// -1; hi-lo <= 32. It searches a padded copy with stopMask, cheaper than
// a loop over the bytes (there is one such search at the end of every
// text, and one when the digest held part of a stripe).
func indexStopShort(b []byte, lo, hi int) int {
	if lo >= hi {
		return -1
	}
	buf := padding
	copy(buf[:], b[lo:min(hi+1, len(b))]) // b[hi], if any, for a pair at hi-1
	m := stopMask(&buf[0]) & uint32(uint64(1)<<(hi-lo)-1)
	if m == 0 {
		return -1
	}
	return lo + bits.TrailingZeros32(m)
}

// stripes stays the Go loop: the assembly hash alone measured no faster
// (11 GB/s both).
func stripes(v *[4]uint64, b []byte) int { return stripesGo(v, b) }

func (d *Digest) writeUntilStop(b []byte, from int) (int, int) {
	w := 0 // bytes of b written
	if d.n > 0 {
		// Complete the stripe in mem from b, searching those bytes here.
		k := min(32-d.n, len(b))
		if s := indexStopShort(b, from, k); s >= 0 {
			d.Write(b[:s])
			return s, s
		}
		d.Write(b[:k])
		w = k
	}
	// Now d.n == 0, or all of b is written. The whole stripes whose next
	// byte is inside b go to the assembly.
	if n := (len(b) - w - 1) / 32; n > 0 {
		if from-w >= 32 {
			// Whole stripes before from: hashed without a search.
			m := 32 * min((from-w)/32, n)
			stripesGo(&d.v, b[w:w+m])
			d.total += uint64(m)
			w += m
			n -= m / 32
		}
		if n > 0 {
			keep := ^uint32(0) << uint(max(from-w, 0))
			var s int
			if useAVX2 {
				s = stripesUntilStopAVX2(&d.v, &b[w], n, keep)
			} else {
				s = stripesUntilStop(&d.v, &b[w], n, keep)
			}
			if s >= 0 {
				h := s &^ 31
				d.total += uint64(h)
				return w + h, w + s
			}
			d.total += uint64(32 * n)
			w += 32 * n
		}
	}
	// The rest, at most 32 bytes.
	if s := indexStopShort(b, max(from, w), len(b)); s >= 0 {
		d.Write(b[w:s])
		return s, s
	}
	d.Write(b[w:])
	return len(b), -1
}

// Package xxh owns an xxHash64 digest (seed 0, the same sums as
// github.com/cespare/xxhash/v2, which tests hold it to) that can hash a
// mail body in the same pass that searches it for where it stops being
// plain text (WriteUntilStop).
//
// Why not only cespare/xxhash, which the rest of the program uses: its
// digest hashes bytes that a caller has already found plain, so a body
// read from memory is passed over twice, once by the search and once by
// the hash, and on an mbox mapped from the page cache the first of those
// passes is the one that waits for memory. Its state is private, so no
// caller can hash stripes in its own loop. This digest keeps its state
// open to its own search loop and is used only there (the mapped mbox
// scan); everything else hashes with cespare/xxhash.
package xxh

import (
	"encoding/binary"
	"math/bits"
)

const (
	prime1 uint64 = 11400714785074694791
	prime2 uint64 = 14029467366897019727
	prime3 uint64 = 1609587929392839161
	prime4 uint64 = 9650029242287828579
	prime5 uint64 = 2870177450012600261
)

// Digest is a streaming xxHash64 with seed 0. The zero value is not
// ready: call Reset (or use New).
type Digest struct {
	v     [4]uint64 // the four lanes
	total uint64    // bytes written
	mem   [32]byte  // a stripe not yet complete
	n     int       // bytes in mem
}

// New returns a reset Digest.
func New() *Digest {
	d := new(Digest)
	d.Reset()
	return d
}

// Reset starts a new sum.
func (d *Digest) Reset() {
	p1, p2 := prime1, prime2 // variables: the sums wrap, as the algorithm has it
	d.v = [4]uint64{p1 + p2, p2, 0, -p1}
	d.total, d.n = 0, 0
}

func round(acc, input uint64) uint64 {
	acc += input * prime2
	acc = bits.RotateLeft64(acc, 31)
	return acc * prime1
}

func mergeRound(acc, val uint64) uint64 {
	acc ^= round(0, val)
	return acc*prime1 + prime4
}

// stripesGo hashes the whole 32-byte stripes of b into v and returns how
// many bytes they hold.
func stripesGo(v *[4]uint64, b []byte) int {
	n := len(b) &^ 31
	v0, v1, v2, v3 := v[0], v[1], v[2], v[3]
	for i := 0; i < n; i += 32 {
		s := b[i : i+32 : i+32]
		v0 = round(v0, binary.LittleEndian.Uint64(s[0:8]))
		v1 = round(v1, binary.LittleEndian.Uint64(s[8:16]))
		v2 = round(v2, binary.LittleEndian.Uint64(s[16:24]))
		v3 = round(v3, binary.LittleEndian.Uint64(s[24:32]))
	}
	v[0], v[1], v[2], v[3] = v0, v1, v2, v3
	return n
}

// Write adds b to the sum. It never fails.
func (d *Digest) Write(b []byte) (int, error) {
	n := len(b)
	d.total += uint64(n)
	if d.n+len(b) < 32 {
		d.n += copy(d.mem[d.n:], b)
		return n, nil
	}
	if d.n > 0 {
		k := copy(d.mem[d.n:], b)
		stripesGo(&d.v, d.mem[:])
		b = b[k:]
		d.n = 0
	}
	b = b[stripes(&d.v, b):]
	d.n = copy(d.mem[:], b)
	return n, nil
}

// Sum64 returns the sum of the bytes written so far; the digest can go on.
func (d *Digest) Sum64() uint64 {
	var h uint64
	if d.total >= 32 {
		v := d.v
		h = bits.RotateLeft64(v[0], 1) + bits.RotateLeft64(v[1], 7) +
			bits.RotateLeft64(v[2], 12) + bits.RotateLeft64(v[3], 18)
		for _, x := range v {
			h = mergeRound(h, x)
		}
	} else {
		h = d.v[2] + prime5 // the seed, 0
	}
	h += d.total
	b := d.mem[:d.n]
	for ; len(b) >= 8; b = b[8:] {
		h ^= round(0, binary.LittleEndian.Uint64(b))
		h = bits.RotateLeft64(h, 27)*prime1 + prime4
	}
	if len(b) >= 4 {
		h ^= uint64(binary.LittleEndian.Uint32(b)) * prime1
		h = bits.RotateLeft64(h, 23)*prime2 + prime3
		b = b[4:]
	}
	for _, c := range b {
		h ^= uint64(c) * prime5
		h = bits.RotateLeft64(h, 11) * prime1
	}
	h ^= h >> 33
	h *= prime2
	h ^= h >> 29
	h *= prime3
	h ^= h >> 32
	return h
}

// IsStop reports whether b[i] is a stop: a NUL, a CR, or a LF or '>'
// followed by 'F' (a line that may be a From_ line, or a quoted one).
func IsStop(b []byte, i int) bool {
	c := b[i]
	return c == 0 || c == '\r' || (c == '\n' || c == '>') && i+1 < len(b) && b[i+1] == 'F'
}

// WriteUntilStop adds to the sum a prefix of b that ends at or before the
// first stop (see IsStop) at an index of from or more, and returns the
// prefix's length and the stop's index, or len(b) and -1 when b has no
// stop from there on (then all of b is written). 0 <= from <= len(b);
// the bytes before from are hashed without being searched (stops there
// are ignored). The prefix is as long as the search found convenient,
// within 32 bytes of the stop (on amd64: up to the 32-byte stripe, counted
// from what the digest already held, that holds the stop): the caller
// writes the rest up to the stop itself, with Write, if it wants it. To
// go on past a stop without writing, call WriteUntilStop(b[written:],
// stop+1-written).
//
// It is the one pass over b that both finds the stop and hashes the text
// before it, where a search and then Write would pass over it twice.
func (d *Digest) WriteUntilStop(b []byte, from int) (written, stop int) {
	return d.writeUntilStop(b, from)
}

// writeUntilStopGo is WriteUntilStop by definition: a search, then Write.
func (d *Digest) writeUntilStopGo(b []byte, from int) (int, int) {
	if i := indexStopGo(b, from, len(b)); i >= 0 {
		d.Write(b[:i])
		return i, i
	}
	d.Write(b)
	return len(b), -1
}

// indexStopGo returns the first stop of b at an index in [lo, hi), or -1.
func indexStopGo(b []byte, lo, hi int) int {
	for i := lo; i < hi; i++ {
		if IsStop(b, i) {
			return i
		}
	}
	return -1
}

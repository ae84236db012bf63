package xxh

import "golang.org/x/sys/cpu"

// lfStageSize is the room the kernels compact CR-less text into before
// hashing it (plus 64 bytes that a store at the end may run into).
const lfStageSize = 512

// lfStage is where the kernels put the CR-less text: they store each
// block compacted at w, and hash the stripe at r once it lies a lag
// behind w (an 8-byte load of bytes stored by two recent unaligned
// stores waits for them to reach the cache), moving what is left to the
// front when w nears the end. It starts with what the digest held.
type lfStage struct {
	w, r  int // offsets in buf: stored up to, hashed up to
	moved int // bytes moved off the front of buf (all hashed)
	buf   [lfStageSize + 64]byte
}

// lfBlocksAVX512 hashes into v the CR-less text of the n bytes at src,
// staged in st, 64 bytes a block while a block and the byte after it are
// within the n, up to the first stop at an index from or more: it
// returns how far it read and whether it stopped at a stop there (the
// text before it all staged or hashed). On return, st.w-st.r < 32.
//
//go:noescape
func lfBlocksAVX512(v *[4]uint64, st *lfStage, src *byte, n, from int) (read int, stop bool)

// haveLFKernel: WriteLFUntilStop has its one-pass kernel here, which needs
// VPCOMPRESSB (AVX512-VBMI2); elsewhere it is its definition, a search
// and then Write (see FastLF). Measured in lf_bench_test.go on CRLF mail
// (lines of 0-100 bytes, a "\nF" stop every 2 KB), GB/s of input, against
// AppendLF into a 64 KB window and then cespare's hash of it: a 20 KB
// body in cache 7.5-8 against 2.9-3.4, 512 MiB from memory 6.7 against
// 3.5 (WriteUntilStop on LF text: 9 both). Kernels for AVX2 and SSE2
// were written and tested, and measured no faster than the two passes:
// leaving out two or more CRs of a block costs them about 75
// instructions on 32 bytes, which only VPCOMPRESSB makes cheaper than
// the hash; they were removed.
var haveLFKernel = cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VBMI2 && cpu.X86.HasPOPCNT

func init() { FastLF = haveLFKernel }

// lfTailPad is the room a text's last bytes (at most 64) are copied
// into: the NUL after them is the stop that ends the kernel, and a block
// and the byte after it fit before the end.
const lfTailPad = 136

func (d *Digest) writeLFUntilStop(b []byte, from int) (int, int) {
	if !haveLFKernel {
		return d.writeLFUntilStopGo(b, from)
	}
	var st lfStage
	n0 := d.n
	copy(st.buf[:], d.mem[:n0])
	st.w = n0
	read, stop := 0, false
	if len(b) > 32 {
		read, stop = lfBlocksAVX512(&d.v, &st, &b[0], len(b), from)
	}
	if !stop {
		// The rest, at most 64 bytes, from a copy that a NUL ends.
		var pad [lfTailPad]byte
		k := copy(pad[:], b[read:])
		r, _ := lfBlocksAVX512(&d.v, &st, &pad[0], len(pad), max(from-read, 0))
		read += r
		stop = r < k
	}
	d.n = copy(d.mem[:], st.buf[st.r:st.w])
	d.total += uint64(st.moved + st.w - n0)
	if stop {
		return read, read
	}
	return len(b), -1
}

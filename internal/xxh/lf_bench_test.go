package xxh

import (
	"sync"
	"testing"

	"github.com/cespare/xxhash/v2"

	"github.com/popdedupe/popdedupe/internal/bytesearch"
)

// lfFused hashes b to the end with WriteLFUntilStop as a caller does:
// past each stop it resumes from the byte after it.
func lfFused(d *Digest, b []byte) (uint64, int) { return resumed(d, b, d.WriteLFUntilStop) }

// lfTwoPass is what the scan does without it: the body copied as LF
// text into a 64 KB scratch window (bytesearch.AppendLF, which stops at
// each "\nF" and '>' 'F'), then cespare's hash of the copy.
func lfTwoPass(d *xxhash.Digest, scratch []byte, b []byte) (uint64, int) {
	d.Reset()
	stops := 0
	for i := 0; i < len(b); {
		lim := min(len(b), i+len(scratch))
		norm := scratch[:0]
		for j := i; ; {
			var s int
			norm, s = bytesearch.AppendLF(norm, b[j:lim], 0, '>', '\n', 'F')
			s += j
			if s == lim {
				break
			}
			stops++
			if b[s] == '\n' {
				norm = append(norm, '\n')
			}
			j = s + 1
			if b[s] == '>' {
				j = s // not in this mail text
				panic("'>' 'F'")
			}
		}
		d.Write(norm)
		i = lim
	}
	return d.Sum64(), stops
}

func benchLF(b *testing.B, data []byte, body int) {
	check := bodyChecker(data, body, func(x []byte) uint64 { return xxhash.Sum64(dropCR(x, len(x))) }, func(x []byte) int { return len(allLFStops(x, 0)) })
	benchKernels(b, lfKernels(), useLFKernel, lfFused, check)
	b.Run("twopass", func(b *testing.B) {
		d := xxhash.New()
		scratch := make([]byte, 64<<10)
		check(b, func(x []byte) (uint64, int) { return lfTwoPass(d, scratch, x) })
	})
}

// lfMail is CRLF mail text with a line that starts with 'F' (a "\nF"
// stop) about every 2 KB, and no other stops.
func lfMail(seed uint64, n int) []byte {
	b := crlfMail(seed, n)
	unstop(b)
	for next := 2048; next < len(b); next += 1500 + (next*7919)%1000 {
		for i := next; i+1 < len(b); i++ {
			if b[i] == '\n' {
				b[i+1] = 'F'
				break
			}
		}
	}
	return b
}

// BenchmarkWriteLFUntilStop: a 20 KB CRLF body in cache, and 512 MiB
// streamed as 20 KB bodies (the first touch of a mapped mbox), fused
// against the two passes it replaces.
func BenchmarkWriteLFUntilStop(b *testing.B) {
	b.Run("20KB", func(b *testing.B) { benchLF(b, lfMail(1, 20<<10), 20<<10) })
	b.Run("DRAM", func(b *testing.B) { benchLF(b, lfDRAMText(), 20<<10) })
}

var lfDRAMText = sync.OnceValue(func() []byte {
	one := lfMail(2, 1<<20)
	data := make([]byte, 0, 512<<20)
	for len(data)+len(one) <= cap(data) {
		data = append(data, one...)
	}
	return data
})

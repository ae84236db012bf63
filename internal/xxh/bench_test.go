package xxh

import (
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/cespare/xxhash/v2"

	"github.com/popdedupe/popdedupe/internal/bytesearch"
)

// mailText returns about n bytes of plain mail text: lines of words of
// 20-78 bytes, a few quoted ("> "), blank ones between paragraphs, and
// one that starts with "For " about every 2 KB (a "\nF" stop the caller
// resumes after). No other stops.
func mailText(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 9))
	words := strings.Fields("the of and to in is you that it he was for on are as with his they at be this have from or one had by word but not what all were we when your can said there use an each which she do how their if will up other about out many then them these so some her would make like him into time has look two more write go see number no way could people my than first water been call who oil its now find long down day did get come made may part")
	var b []byte
	next := 2048
	for len(b) < n {
		line := make([]byte, 0, 80)
		switch {
		case len(b) >= next:
			line = append(line, "For "...)
			next += 1500 + r.IntN(1000)
		case r.IntN(12) == 0:
			line = append(line, "> "...)
		}
		for want := 20 + r.IntN(58); len(line) < want; {
			line = append(line, words[r.IntN(len(words))]...)
			line = append(line, ' ')
		}
		b = append(b, line...)
		b = append(b, '\n')
		if r.IntN(8) == 0 {
			b = append(b, '\n')
		}
	}
	return b
}

// fused hashes b to the end with WriteUntilStop the way the scan does:
// past each stop it resumes from the byte after it.
func fused(d *Digest, b []byte) (uint64, int) { return resumed(d, b, d.WriteUntilStop) }

// resumed hashes b to the end with write (one of the Digest's search
// passes), resuming past each stop from the byte after it, and returns
// the sum and the stops met.
func resumed(d *Digest, b []byte, write func([]byte, int) (int, int)) (uint64, int) {
	d.Reset()
	pos, from, stops := 0, 0, 0
	for {
		w, s := write(b[pos:], from)
		if s < 0 {
			return d.Sum64(), stops
		}
		stops++
		pos, from = pos+w, s+1-w
	}
}

// threePass is what the scan did before: every "\nF", then the other
// stops, then the hash, each a pass over b.
func threePass(d *xxhash.Digest, b []byte) (uint64, int) {
	stops := 0
	for pos := 0; ; {
		i := bytesearch.IndexPair(b[pos:], '\n', 'F')
		if i < 0 {
			break
		}
		stops++
		pos += i + 1
	}
	if bytesearch.IndexStop(b, 0, '\r', '>', 'F') >= 0 {
		panic("a stop")
	}
	d.Reset()
	d.Write(b)
	return d.Sum64(), stops
}

// benchBoth hashes data as bodies of body bytes (the last may be
// shorter), each a sum of its own as in the scan, with the fused pass,
// the three passes, and cespare's hash alone.
func benchBoth(b *testing.B, data []byte, body int) {
	check := bodyChecker(data, body, xxhash.Sum64, func(x []byte) int { return len(allStops(x, 0)) })
	benchKernels(b, kernels(), useKernel, fused, check)
	b.Run("threepass", func(b *testing.B) {
		d := xxhash.New()
		check(b, func(x []byte) (uint64, int) { return threePass(d, x) })
	})
	b.Run("xxhash", func(b *testing.B) {
		// It does not search: no stops to count (-1s).
		check(b, func(x []byte) (uint64, int) { return xxhash.Sum64(x), -1 })
	})
}

// bodyChecker cuts data into bodies of body bytes (the last may be
// shorter) and returns a benchmark of a way to hash them, each body a
// sum of its own as in the scan: every round runs it on every body and
// checks the sums (xored) and the stops it counted (unless it counts
// none: -1) against sumOf and stopsOf.
func bodyChecker(data []byte, body int, sumOf func([]byte) uint64, stopsOf func([]byte) int) func(b *testing.B, each func([]byte) (uint64, int)) {
	var bodies [][]byte
	for rest := data; len(rest) > 0; rest = rest[min(body, len(rest)):] {
		bodies = append(bodies, rest[:min(body, len(rest))])
	}
	var want uint64
	wantStops := 0
	for _, x := range bodies {
		want ^= sumOf(x)
		wantStops += stopsOf(x)
	}
	return func(b *testing.B, each func([]byte) (uint64, int)) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			var sum uint64
			stops := 0
			for _, x := range bodies {
				s, n := each(x)
				sum ^= s
				stops += n
			}
			if stops < 0 {
				stops = -1
			}
			if sum != want || stops != wantStops && stops >= 0 {
				b.Fatalf("sum %x, %d stops; want %x, %d", sum, stops, want, wantStops)
			}
		}
	}
}

// benchKernels runs check on the fused pass with each of kernels (the
// first is the one the machine picks), made current by use.
func benchKernels(b *testing.B, kernels []string, use func(string) func(), fused func(*Digest, []byte) (uint64, int), check func(*testing.B, func([]byte) (uint64, int))) {
	for i, k := range kernels {
		name := "fused"
		if i > 0 {
			name += "-" + k
		}
		b.Run(name, func(b *testing.B) {
			defer use(k)()
			d := New()
			check(b, func(x []byte) (uint64, int) { return fused(d, x) })
		})
	}
}

// BenchmarkWriteUntilStop: a 20 KB body (in L2, as a body is after its
// headers were parsed), a 2 KB one, and 512 MiB streamed once an op as
// bodies of 20 KB (the first touch of a mapped mbox, from memory: the
// first pass over a body waits for memory, later ones find it in cache),
// each against the three passes it replaces and against cespare's hash
// alone (no search: the speed to come near).
func BenchmarkWriteUntilStop(b *testing.B) {
	b.Run("20KB", func(b *testing.B) { benchBoth(b, mailText(1, 20<<10), 20<<10) })
	b.Run("2KB", func(b *testing.B) { benchBoth(b, mailText(3, 2000), 2000) })
	b.Run("DRAM", func(b *testing.B) { benchBoth(b, dramText(), 20<<10) })
}

var dramText = sync.OnceValue(func() []byte {
	one := mailText(2, 1<<20)
	data := make([]byte, 0, 512<<20)
	for len(data)+len(one) <= cap(data) {
		data = append(data, one...)
	}
	return data
})

package bytesearch

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// naiveStop is the definition IndexStop is held to.
func naiveStop(b []byte, x, y, c0, c1 byte) int {
	for i := range b {
		if b[i] == x || b[i] == y || i+1 < len(b) && b[i] == c0 && b[i+1] == c1 {
			return i
		}
	}
	return -1
}

func TestIndexStopEveryPlace(t *testing.T) {
	// Every length up to a few blocks and each kind of stop at every
	// place (block edges included: a pair split across two blocks, a
	// pair's first byte last), among decoys: '\n' and '>' apart.
	stops := []string{"\x00", "\r", "\n>"}
	for n := 0; n < 200; n++ {
		for _, stop := range stops {
			for at := -1; at+len(stop) <= n; at++ {
				b := bytes.Repeat([]byte("a>\n"), n)[:n]
				if at >= 0 {
					copy(b[at:], stop)
				}
				want := naiveStop(b, 0, '\r', '\n', '>')
				if at >= 0 && want != at {
					t.Fatalf("test setup: n=%d at=%d naive=%d", n, at, want)
				}
				if got := IndexStop(b, 0, '\r', '\n', '>'); got != want {
					t.Fatalf("n=%d stop %q at=%d: IndexStop = %d, want %d (%q)", n, stop, at, got, want, b)
				}
			}
		}
	}
}

func TestIndexStopLong(t *testing.T) {
	// Long texts, so that rounds that meet c0 without c1 add up (the
	// search then does the rest exactly), with decoys every few bytes
	// or seldom, and each kind of stop at every place.
	for _, decoy := range []string{"a>\n", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ.,:;!?\n"} {
		for _, stop := range []string{"\x00", "\r", "\n>"} {
			for at := -1; at < 1500; at++ {
				b := bytes.Repeat([]byte(decoy), 1600/len(decoy)+1)[:1600]
				if at >= 0 {
					copy(b[at:], stop)
				}
				want := naiveStop(b, 0, '\r', '\n', '>')
				if got := IndexStop(b, 0, '\r', '\n', '>'); got != want {
					t.Fatalf("decoy %q, stop %q at %d: IndexStop = %d, want %d", decoy, stop, at, got, want)
				}
			}
		}
	}
}

func TestIndexStopRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 20000 {
		b := make([]byte, r.IntN(300))
		for i := range b {
			b[i] = "ab\n>\r\x00"[r.IntN(6)]
		}
		// Sparse stops too: mostly one letter.
		if r.IntN(2) == 0 {
			for i := range b {
				if r.IntN(60) != 0 {
					b[i] = 'a'
				}
			}
		}
		s := b[min(r.IntN(4), len(b)):] // unaligned starts
		x, y := byte(0), byte('\r')
		if r.IntN(3) == 0 {
			y = 0 // one byte and the pair
		}
		if got, want := IndexStop(s, x, y, '\n', '>'), naiveStop(s, x, y, '\n', '>'); got != want {
			t.Fatalf("IndexStop(%q) = %d, want %d", s, got, want)
		}
	}
}

func FuzzIndexStop(f *testing.F) {
	f.Add([]byte("abc\n>From x\r\n"), byte(0), byte('\r'), byte('\n'), byte('>'))
	f.Add(bytes.Repeat([]byte{'\n'}, 40), byte(0), byte(0), byte('\n'), byte('\n'))
	f.Fuzz(func(t *testing.T, b []byte, x, y, c0, c1 byte) {
		want := naiveStop(b, x, y, c0, c1)
		if got := IndexStop(b, x, y, c0, c1); got != want {
			t.Fatalf("IndexStop = %d, want %d", got, want)
		}
		if got := indexStopGo(b, x, y, c0, c1); got != want {
			t.Fatalf("indexStopGo = %d, want %d", got, want)
		}
	})
}

func BenchmarkIndexStop(b *testing.B) {
	data := benchText()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if IndexStop(data, 0, '\r', '\n', '>') >= 0 {
			b.Fatal("found")
		}
	}
}

// BenchmarkThreeSearches is what IndexStop replaces in the body parser:
// a search for each kind of stop.
func BenchmarkThreeSearches(b *testing.B) {
	data := benchText()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if bytes.IndexByte(data, 0) >= 0 || bytes.IndexByte(data, '\r') >= 0 || bytes.Contains(data, []byte(">From ")) {
			b.Fatal("found")
		}
	}
}

// BenchmarkIndexStopL1 searches text that stays in the first-level cache,
// as a message does that was just read.
func BenchmarkIndexStopL1(b *testing.B) {
	data := benchText()[:20<<10]
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if IndexStop(data, 0, '\r', '>', 'F') >= 0 {
			b.Fatal("found")
		}
	}
}

// TestIndexStopGo holds the fallback of machines without blocks to the
// definition too.
func TestIndexStopGo(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for range 20000 {
		b := make([]byte, r.IntN(100))
		for i := range b {
			b[i] = "ab\n>\r\x00"[r.IntN(6)]
		}
		x, y := byte(0), byte('\r')
		if r.IntN(3) == 0 {
			y = '\n' // a byte that is also the pair's first
		}
		if got, want := indexStopGo(b, x, y, '\n', '>'), naiveStop(b, x, y, '\n', '>'); got != want {
			t.Fatalf("indexStopGo(%q) = %d, want %d", b, got, want)
		}
	}
}

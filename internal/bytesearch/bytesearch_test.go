package bytesearch

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// naive is the definition IndexPair is held to.
func naive(b []byte, c0, c1 byte) int {
	for i := 0; i+1 < len(b); i++ {
		if b[i] == c0 && b[i+1] == c1 {
			return i
		}
	}
	return -1
}

func TestIndexPairEveryPlace(t *testing.T) {
	// Every length up to a few blocks, the pair at every place (block
	// edges included: its second byte in the next block), and decoys
	// made of one of the two bytes only.
	for n := 0; n < 100; n++ {
		for at := -1; at+1 < n; at++ {
			b := bytes.Repeat([]byte("F\nx"), n)[:n]
			for i := range b {
				if b[i] == '\n' && i+1 < n && b[i+1] == 'F' {
					b[i+1] = 'y'
				}
			}
			if at >= 0 {
				b[at], b[at+1] = '\n', 'F'
			}
			want := naive(b, '\n', 'F')
			if at >= 0 && want != at && !(want >= 0 && want < at) {
				t.Fatalf("test setup: n=%d at=%d naive=%d", n, at, want)
			}
			if got := IndexPair(b, '\n', 'F'); got != want {
				t.Fatalf("n=%d at=%d: IndexPair = %d, want %d (%q)", n, at, got, want, b)
			}
		}
	}
}

func TestIndexPairRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		b := make([]byte, r.IntN(300))
		for i := range b {
			b[i] = "ab\nF"[r.IntN(4)]
		}
		// Sparse pairs too: mostly one letter.
		if r.IntN(2) == 0 {
			for i := range b {
				if r.IntN(40) != 0 {
					b[i] = 'a'
				}
			}
		}
		off := r.IntN(4) // unaligned starts
		if off > len(b) {
			off = len(b)
		}
		s := b[off:]
		if got, want := IndexPair(s, '\n', 'F'), naive(s, '\n', 'F'); got != want {
			t.Fatalf("IndexPair(%q) = %d, want %d", s, got, want)
		}
	}
}

func FuzzIndexPair(f *testing.F) {
	f.Add([]byte("abc\nFrom x\n"), byte('\n'), byte('F'))
	f.Add(bytes.Repeat([]byte{'\n'}, 40), byte('\n'), byte('\n'))
	f.Fuzz(func(t *testing.T, b []byte, c0, c1 byte) {
		if got, want := IndexPair(b, c0, c1), naive(b, c0, c1); got != want {
			t.Fatalf("IndexPair = %d, want %d", got, want)
		}
	})
}

// benchText is mail-like: base64 lines (an 'F' in one of 64 characters)
// with no line starting with 'F'.
func benchText() []byte {
	r := rand.New(rand.NewPCG(3, 4))
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	var b []byte
	for len(b) < 1<<20 {
		line := make([]byte, 76)
		for i := range line {
			line[i] = alphabet[r.IntN(64)]
		}
		if line[0] == 'F' {
			line[0] = 'G'
		}
		b = append(append(b, line...), '\n')
	}
	return b
}

func BenchmarkIndexPair(b *testing.B) {
	data := benchText()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if IndexPair(data, '\n', 'F') >= 0 {
			b.Fatal("found")
		}
	}
}

func BenchmarkIndexPairGeneric(b *testing.B) {
	data := benchText()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if indexPairGeneric(data, 0, '\n', 'F') >= 0 {
			b.Fatal("found")
		}
	}
}

// BenchmarkBytesIndexFrom is the search it replaces in the mbox splitter.
func BenchmarkBytesIndexFrom(b *testing.B) {
	data := benchText()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		i := 0
		for {
			x := bytes.Index(data[i:], []byte("From "))
			if x < 0 {
				break
			}
			i += x + 1
		}
	}
}

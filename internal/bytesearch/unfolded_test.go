package bytesearch

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// naiveUnfolded is the definition IndexUnfolded is held to.
func naiveUnfolded(b []byte) int {
	for i := 0; i+1 < len(b); i++ {
		if b[i] == '\n' && b[i+1] != ' ' && b[i+1] != '\t' {
			return i
		}
	}
	return -1
}

func TestIndexUnfoldedEveryPlace(t *testing.T) {
	// Every length up to several blocks, folded lines all along, and the
	// end of the field at every place (block edges included: the LF last
	// in a block and the next line's first byte in the next), with each
	// kind of byte after it.
	for n := 0; n < 120; n++ {
		for _, next := range []byte{'X', '\n', '\r', 0} {
			for at := -1; at+1 < n; at++ {
				b := bytes.Repeat([]byte("a\n \n\tb"), n)[:n]
				if at > 0 && b[at-1] == '\n' {
					continue // an LF there would end the field before at
				}
				if at >= 0 {
					b[at], b[at+1] = '\n', next
				}
				want := naiveUnfolded(b)
				if at >= 0 && want != at {
					t.Fatalf("test setup: n=%d at=%d naive=%d", n, at, want)
				}
				if got := IndexUnfolded(b); got != want {
					t.Fatalf("n=%d at=%d next %q: IndexUnfolded = %d, want %d (%q)", n, at, next, got, want, b)
				}
			}
		}
	}
}

func TestIndexUnfoldedRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for range 20000 {
		b := make([]byte, r.IntN(300))
		for i := range b {
			b[i] = "a \t\n"[r.IntN(4)]
		}
		if r.IntN(2) == 0 { // mostly folded lines
			for i := 0; i+1 < len(b); i++ {
				if b[i] == '\n' && r.IntN(30) != 0 {
					b[i+1] = ' '
				}
			}
		}
		s := b[min(r.IntN(4), len(b)):] // unaligned starts
		if got, want := IndexUnfolded(s), naiveUnfolded(s); got != want {
			t.Fatalf("IndexUnfolded(%q) = %d, want %d", s, got, want)
		}
		if got, want := indexUnfoldedGeneric(s, 0), naiveUnfolded(s); got != want {
			t.Fatalf("indexUnfoldedGeneric(%q) = %d, want %d", s, got, want)
		}
	}
}

func FuzzIndexUnfolded(f *testing.F) {
	f.Add([]byte("DKIM-Signature: v=1;\r\n\tb=abc\r\n\tdef\r\nSubject: x\r\n"))
	f.Add(bytes.Repeat([]byte("\n "), 40))
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := IndexUnfolded(b), naiveUnfolded(b); got != want {
			t.Fatalf("IndexUnfolded = %d, want %d", got, want)
		}
	})
}

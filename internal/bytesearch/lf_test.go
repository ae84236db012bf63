package bytesearch

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// naiveLF is the definition AppendLF is held to.
func naiveLF(dst, src []byte, x, c0, d0, c1 byte) ([]byte, int) {
	for i, c := range src {
		if c == x || (c == c0 || c == d0) && i+1 < len(src) && src[i+1] == c1 {
			return dst, i
		}
		if c == '\r' && i+1 < len(src) && src[i+1] == '\n' {
			continue
		}
		dst = append(dst, c)
	}
	return dst, len(src)
}

// checkLF holds AppendLF, and the fallback of machines without blocks,
// to naiveLF.
func checkLF(t *testing.T, pre, src []byte, x, c0, d0, c1 byte) {
	t.Helper()
	want, wantStop := naiveLF(bytes.Clone(pre), src, x, c0, d0, c1)
	for name, f := range map[string]func([]byte, []byte, byte, byte, byte, byte) ([]byte, int){"AppendLF": AppendLF, "appendLFGo": appendLFGo} {
		got, stop := f(bytes.Clone(pre), src, x, c0, d0, c1)
		if !bytes.Equal(got, want) || stop != wantStop {
			t.Fatalf("%s(%q, %q, %q, %q, %q, %q) = %q, %d, want %q, %d", name, pre, src, x, c0, d0, c1, got, stop, want, wantStop)
		}
	}
}

func TestAppendLFEveryPlace(t *testing.T) {
	// Every length up to a few blocks, with a CRLF, a bare CR, a CRCRLF,
	// CRLFs in a row, or a stop at every place (block edges included: the
	// CR last in a block and its LF in the next, the CR last in the text,
	// a stop right after a CR).
	pieces := []string{"\r\n", "\r", "\r\r\n", "\r\n\r\n", "\n\r", "\x00", ">F", "\r>F", "\r\x00\n", "\r\n>F", "\r\nF", "\r\n\r\nF"}
	for n := 0; n < 150; n++ {
		for _, piece := range pieces {
			for at := -1; at+len(piece) <= n; at++ {
				src := bytes.Repeat([]byte("ab\nF>"), n)[:n]
				if at >= 0 {
					copy(src[at:], piece)
				}
				checkLF(t, nil, src, 0, '>', '>', 'F')
				checkLF(t, []byte("xyz"), src, 0, '>', '>', 'F')
				checkLF(t, nil, src, '\r', '\n', '\n', '>') // stops at a CR and at an LF
				// Two pairs: a quoted From_ line or a line that starts
				// with 'F' (the mbox scan's search; the text has a
				// decoy "\nF" in every round).
				checkLF(t, nil, src, 0, '>', '\n', 'F')
				checkLF(t, nil, src, 0, '\n', '>', 'F')
			}
		}
	}
}

func TestAppendLFRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	buf := make([]byte, 0, 64)
	for range 20000 {
		src := make([]byte, r.IntN(400))
		for i := range src {
			src[i] = "a\r\nF>\x00"[r.IntN(6)]
		}
		if r.IntN(2) == 0 { // lines, mostly CRLF, few stops
			for i := range src {
				if src[i] != '\n' && r.IntN(40) != 0 {
					src[i] = 'a'
				}
			}
		}
		src = src[min(r.IntN(4), len(src)):] // unaligned starts
		pre := buf[:r.IntN(3)]
		d0 := "\n>"[r.IntN(2)]
		want, wantStop := naiveLF(bytes.Clone(pre), src, 0, '>', d0, 'F')
		var stop int
		buf, stop = AppendLF(pre, src, 0, '>', d0, 'F') // scratch reused, as the parser does
		if !bytes.Equal(buf, want) || stop != wantStop {
			t.Fatalf("AppendLF(%q) = %q, %d, want %q, %d", src, buf, stop, want, wantStop)
		}
	}
}

func FuzzAppendLF(f *testing.F) {
	f.Add([]byte("line one\r\nline two\rstill two\r\n>From\r\n"), 3, byte(0), byte('>'), byte('>'), byte('F'))
	f.Add([]byte("line one\r\nFor two\r\n\r\nFrom x\r\n>From\r\n"), 3, byte(0), byte('>'), byte('\n'), byte('F'))
	f.Add(bytes.Repeat([]byte("\r\n"), 40), 0, byte('\r'), byte('\r'), byte('\r'), byte('\n'))
	f.Fuzz(func(t *testing.T, src []byte, pre int, x, c0, d0, c1 byte) {
		checkLF(t, bytes.Repeat([]byte{'p'}, pre&31), src, x, c0, d0, c1)
	})
}

// crlfText is benchText with CRLF line ends.
func crlfText() []byte { return bytes.ReplaceAll(benchText(), []byte("\n"), []byte("\r\n")) }

func BenchmarkAppendLF(b *testing.B) {
	src := crlfText()
	dst := make([]byte, 0, len(src))
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		dst, _ = AppendLF(dst[:0], src, 0, '>', '>', 'F')
	}
}

func BenchmarkAppendLFGo(b *testing.B) {
	src := crlfText()
	dst := make([]byte, 0, len(src))
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		dst, _ = appendLFGo(dst[:0], src, 0, '>', '>', 'F')
	}
}

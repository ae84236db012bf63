package xxh

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/cespare/xxhash/v2"
)

// dropCR returns b[:end] less each CR of b that a LF follows in b.
func dropCR(b []byte, end int) []byte {
	var out []byte
	for i := 0; i < end; i++ {
		if b[i] == '\r' && i+1 < len(b) && b[i+1] == '\n' {
			continue
		}
		out = append(out, b[i])
	}
	return out
}

// lfFiller returns n bytes of CRLF text without stops but full of
// decoys: CRLFs, bare CRs and LFs, CRCRLF, 'F' and '>' not after LF.
func lfFiller(r *rand.Rand, n int) []byte {
	pieces := []string{"a", "b", "F", " ", "\r\n", "\r\n", "\r", "\n", ">", "\r\r\n", ".", "xyz", "\r\n\r\n", "F>"}
	b := make([]byte, 0, n+4)
	for len(b) < n {
		b = append(b, pieces[r.IntN(len(pieces))]...)
	}
	b = b[:n]
	unstop(b)
	return b
}

// unstop breaks each LF-or-'>' 'F' pair of b.
func unstop(b []byte) {
	for i := 0; i+1 < len(b); i++ {
		if (b[i] == '\n' || b[i] == '>') && b[i+1] == 'F' {
			b[i+1] = 'f'
		}
	}
}

// lfStopKinds are the stops put at an index, and where in each the stop
// is.
var lfStopKinds = []struct {
	s  string
	at int
}{{"\x00", 0}, {"\nF", 0}, {">F", 0}, {"\r\nF", 1}, {"\r>F", 1}, {"\r\x00", 1}}

// allLFStops are the stops of b at from or after.
func allLFStops(b []byte, from int) []int {
	var s []int
	for i := from; i < len(b); i++ {
		if IsLFStop(b, i) {
			s = append(s, i)
		}
	}
	return s
}

// checkLF calls WriteLFUntilStop(b, from) on a digest holding pre bytes
// and holds it to writeLFUntilStopGo and to cespare's sum of the CR-less
// text; with toEnd, then resumes past every stop to the end.
func checkLF(t *testing.T, b []byte, from, pre int, toEnd bool) {
	t.Helper()
	d, g := prefilled(pre), prefilled(pre)
	r, s := d.WriteLFUntilStop(b, from)
	gr, gs := g.writeLFUntilStopGo(b, from)
	if r != gr || s != gs {
		t.Fatalf("len %d from %d pre %d %q: read %d stop %d, want %d %d", len(b), from, pre, b, r, s, gr, gs)
	}
	if s < 0 && r != len(b) || s >= 0 && r != s {
		t.Fatalf("len %d from %d pre %d: read %d stop %d", len(b), from, pre, r, s)
	}
	want := sumOf(pre, dropCR(b, r))
	if got := d.Sum64(); got != want {
		t.Fatalf("len %d from %d pre %d %q: read %d stop %d: sum %x, want %x", len(b), from, pre, b, r, s, got, want)
	}
	if got := g.Sum64(); got != want {
		t.Fatalf("Go: len %d from %d pre %d: sum %x, want %x", len(b), from, pre, got, want)
	}
	if toEnd {
		checkLFToEnd(t, b, from, pre)
	}
}

// checkLFToEnd hashes all of b with WriteLFUntilStop, resuming past each
// stop as the caller does, and checks the stops met and the sum.
func checkLFToEnd(t *testing.T, b []byte, from0, pre int) {
	t.Helper()
	d := prefilled(pre)
	var stops []int
	pos, from := 0, from0
	for {
		r, s := d.WriteLFUntilStop(b[pos:], from)
		if s < 0 {
			break
		}
		stops = append(stops, pos+s)
		pos, from = pos+r, s+1-r
	}
	if want := allLFStops(b, from0); !slices.Equal(stops, want) {
		t.Fatalf("to the end: len %d from %d pre %d: stops %v, want %v", len(b), from0, pre, stops, want)
	}
	if got, want := d.Sum64(), sumOf(pre, dropCR(b, len(b))); got != want {
		t.Fatalf("to the end: len %d from %d pre %d %q: sum %x, want %x", len(b), from0, pre, b, got, want)
	}
	// And all of it in one call from the end: no search.
	d = prefilled(pre)
	if r, s := d.WriteLFUntilStop(b, len(b)); r != len(b) || s != -1 {
		t.Fatalf("from the end: len %d: read %d stop %d", len(b), r, s)
	}
	if got, want := d.Sum64(), sumOf(pre, dropCR(b, len(b))); got != want {
		t.Fatalf("from the end: len %d pre %d: sum %x, want %x", len(b), pre, got, want)
	}
}

func TestDropCR(t *testing.T) {
	// The helpers the other tests trust.
	b := []byte("a\r\nb\rc\r\r\nd\r")
	if got := string(dropCR(b, len(b))); got != "a\nb\rc\r\nd\r" {
		t.Fatalf("dropCR %q", got)
	}
	if got := string(dropCR(b, 2)); got != "a" {
		t.Fatalf("dropCR to 2: %q", got)
	}
	d := New()
	if r, s := d.writeLFUntilStopGo([]byte("x\r\r\n>F\r\nF"), 0); r != 4 || s != 4 || d.Sum64() != xxhash.Sum64String("x\r\n") {
		t.Fatalf("Go: %d %d", r, s)
	}
}

func TestWriteLFUntilStopShort(t *testing.T) {
	for _, k := range lfKernels() {
		t.Run(k, func(t *testing.T) {
			defer useLFKernel(k)()
			testWriteLFUntilStopShort(t)
		})
	}
}

func testWriteLFUntilStopShort(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	maxLen := 200
	if raceEnabled {
		maxLen = 80
	}
	for n := 0; n <= maxLen; n++ {
		base := lfFiller(r, n)
		b := make([]byte, n)
		copy(b, base)
		for pre := range 32 {
			for _, from := range []int{0, 1, n / 2, n - 1, n} {
				if from >= 0 && from <= n {
					checkLF(t, b, from, pre, from == 0 && pre%8 == 0)
				}
			}
		}
		// A CR, a LF, a '>' last; CRLF and CRs across block edges.
		if n > 0 {
			for _, c := range []byte{'\r', '\n', '>'} {
				copy(b, base)
				b[n-1] = c
				checkLF(t, b, 0, n%32, true)
				checkLF(t, b, n-1, (n+1)%32, true)
			}
		}
		for at := 0; at+2 <= n; at++ {
			for _, pair := range []string{"\r\n", "\r\r", "\r\x00"} {
				copy(b, base)
				copy(b[at:], pair)
				checkLF(t, b, 0, (at*7)%32, at%5 == 0)
			}
		}
		for _, kind := range lfStopKinds {
			for at := 0; at+len(kind.s) <= n; at++ {
				copy(b, base)
				copy(b[at:], kind.s)
				stop := at + kind.at
				pres := []int{0, (n + at) % 32}
				if n > 100 {
					pres = pres[1:]
				}
				for _, pre := range pres {
					for _, from := range []int{stop - 33, stop - 32, stop - 31, stop - 17, stop - 16, stop - 1, stop, stop + 1, stop + 2} {
						if from >= 0 && from <= n {
							checkLF(t, b, from, pre, from == stop-1 && pre != 0)
						}
					}
				}
				for pre := range 32 {
					if n <= 64 || pre%8 == at%8 {
						checkLF(t, b, 0, pre, pre == at%32)
					}
				}
			}
		}
	}
}

// crlfMail returns about n bytes of CRLF mail text: lines of 0-100 bytes
// (a few empty, a few quoted, a few bare CRs), and a line starting with
// "From " about every 2 KB.
func crlfMail(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 13))
	words := []string{"the", "of", "and", "to", "in", "is", "you", "that", "From", "F", ">", "it", "\r", "water", "people", "could"}
	var b []byte
	next := 2048
	for len(b) < n {
		switch {
		case len(b) >= next:
			b = append(b, "From "...)
			next += 1500 + r.IntN(1000)
		case r.IntN(12) == 0:
			b = append(b, "> "...)
		}
		if r.IntN(8) != 0 {
			for want := r.IntN(100); want > 0; {
				w := words[r.IntN(len(words))]
				b = append(b, w...)
				b = append(b, ' ')
				want -= len(w) + 1
			}
		}
		b = append(b, "\r\n"...)
	}
	return b
}

func TestWriteLFUntilStopLong(t *testing.T) {
	for _, k := range lfKernels() {
		t.Run(k, func(t *testing.T) {
			defer useLFKernel(k)()
			testWriteLFUntilStopLong(t)
		})
	}
}

func testWriteLFUntilStopLong(t *testing.T) {
	const n = 3000
	base := crlfMail(1, n)
	unstop(base)
	b := make([]byte, len(base))
	for ki, kind := range lfStopKinds {
		for at := 0; at+len(kind.s) <= len(b); at++ {
			if raceEnabled && at%7 != 0 {
				continue
			}
			copy(b, base)
			copy(b[at:], kind.s)
			// A second stop of another kind a little later.
			if k2 := at + 3 + at%70; k2+3 <= len(b) {
				copy(b[k2:], lfStopKinds[(ki+at)%len(lfStopKinds)].s)
			}
			stop := at + kind.at
			pre := at % 32
			checkLF(t, b, 0, pre, true)
			if stop > 40 {
				checkLF(t, b, stop-40+at%9, pre, at%3 == 0)
			}
		}
	}
	// Real mail with its From_ lines: resumed to the end from a few
	// fills of the digest.
	m := crlfMail(2, 20000)
	for pre := range 32 {
		checkLFToEnd(t, m, 0, pre)
	}
}

func FuzzWriteLFUntilStop(f *testing.F) {
	f.Add([]byte("plain\r\nFrom here\r\n>From there\r\r\n\x00"), uint16(0), uint8(0))
	f.Add([]byte("0123456789abcdef0123456789abcd\r\nF0123456789abcdef0123456789a\r\r>F"), uint16(3), uint8(5))
	f.Add([]byte("a line\r\n>not F\r\n\r\n\r\nFrom a >F quoted one, and ending in \r"), uint16(40), uint8(31))
	f.Add(crlfMail(3, 3000), uint16(1), uint8(7))
	f.Fuzz(func(t *testing.T, b []byte, from uint16, pre uint8) {
		for _, k := range lfKernels() {
			restore := useLFKernel(k)
			checkLF(t, b, int(from)%(len(b)+1), int(pre%32), true)
			restore()
		}
	})
}

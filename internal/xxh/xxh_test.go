package xxh

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/cespare/xxhash/v2"
)

func TestSumsEqualCespare(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, 700)
	for i := range b {
		b[i] = byte(r.IntN(256))
	}
	d := New()
	for n := 0; n <= len(b); n++ {
		want := xxhash.Sum64(b[:n])
		// Whole, and in pieces cut at every place of a few.
		d.Reset()
		d.Write(b[:n])
		if got := d.Sum64(); got != want {
			t.Fatalf("len %d: %x, want %x", n, got, want)
		}
		for _, cut := range []int{1, 7, 31, 32, 33, 64, 100} {
			d.Reset()
			for rest := b[:n]; len(rest) > 0; {
				k := min(cut, len(rest))
				d.Write(rest[:k])
				rest = rest[k:]
			}
			if got := d.Sum64(); got != want {
				t.Fatalf("len %d in pieces of %d: %x, want %x", n, cut, got, want)
			}
		}
	}
}

// filler returns n bytes of text without stops but full of decoys: 'F'
// alone, and '\n' and '>' followed by anything but 'F'.
func filler(r *rand.Rand, n int) []byte {
	const alphabet = "abcF F\n>xy>\n.Fo"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	for i := 0; i+1 < n; i++ {
		if (b[i] == '\n' || b[i] == '>') && b[i+1] == 'F' {
			b[i+1] = 'f'
		}
	}
	return b
}

// stopKinds are the stops, each put at an index (the pairs at the index
// and the next).
var stopKinds = []string{"\x00", "\r", "\nF", ">F"}

// prefix is what digests hold before the text (pre bytes of it).
var prefix = []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZ012345")

// prefilled returns a digest that holds prefix[:pre].
func prefilled(pre int) Digest {
	var d Digest
	d.Reset()
	d.Write(prefix[:pre])
	return d
}

// sumOf is cespare's sum of prefix[:pre] and b.
func sumOf(pre int, b []byte) uint64 {
	var x xxhash.Digest
	x.Reset()
	x.Write(prefix[:pre])
	x.Write(b)
	return x.Sum64()
}

// checkOne calls WriteUntilStop(b, from) on a digest holding pre bytes
// and holds it to writeUntilStopGo and to cespare's sum of what was fed;
// with toEnd, then all of b with checkToEnd.
func checkOne(t *testing.T, b []byte, from, pre int, toEnd bool) {
	d, g := prefilled(pre), prefilled(pre)
	w, s := d.WriteUntilStop(b, from)
	gw, gs := g.writeUntilStopGo(b, from)
	if s != gs {
		t.Fatalf("len %d from %d pre %d %q: stop %d, want %d", len(b), from, pre, b, s, gs)
	}
	if s < 0 {
		if w != len(b) || gw != len(b) {
			t.Fatalf("len %d from %d pre %d: no stop, written %d", len(b), from, pre, w)
		}
	} else if w < 0 || w > s || s-w >= 32 {
		t.Fatalf("len %d from %d pre %d: stop %d, written %d", len(b), from, pre, s, w)
	}
	end := len(b)
	if s >= 0 {
		end = s
		d.Write(b[w:s])
		g.Write(b[gw:s])
	}
	want := sumOf(pre, b[:end])
	if got := d.Sum64(); got != want {
		t.Fatalf("len %d from %d pre %d stop %d written %d: sum %x, want %x", len(b), from, pre, s, w, got, want)
	}
	if got := g.Sum64(); got != want {
		t.Fatalf("Go: len %d from %d pre %d: sum %x, want %x", len(b), from, pre, got, want)
	}
	// And on to the end, resuming past each stop, in both ways a caller
	// may: leaving the bytes up to the stop to the next call, or writing
	// them itself.
	if toEnd {
		for _, self := range []bool{false, true} {
			checkToEnd(t, b, from, pre, self)
		}
	}
}

// allStops are the stops of b at from or after.
func allStops(b []byte, from int) []int {
	var s []int
	for i := from; i < len(b); i++ {
		if IsStop(b, i) {
			s = append(s, i)
		}
	}
	return s
}

// checkToEnd hashes all of b with WriteUntilStop, resuming past each
// stop, and checks the stops met and the sum.
func checkToEnd(t *testing.T, b []byte, from0, pre int, self bool) {
	d := prefilled(pre)
	var stops []int
	pos, from := 0, from0
	for {
		w, s := d.WriteUntilStop(b[pos:], from)
		if s < 0 {
			break
		}
		stops = append(stops, pos+s)
		if self {
			d.Write(b[pos+w : pos+s])
			pos, from = pos+s, 1
		} else {
			pos, from = pos+w, s+1-w
		}
	}
	if want := allStops(b, from0); !slices.Equal(stops, want) {
		t.Fatalf("to the end (self %v) len %d from %d pre %d: stops %v, want %v", self, len(b), from0, pre, stops, want)
	}
	if got, want := d.Sum64(), sumOf(pre, b); got != want {
		t.Fatalf("to the end (self %v) len %d from %d pre %d stops %v: sum %x, want %x", self, len(b), from0, pre, stops, got, want)
	}
}

func TestWriteUntilStopShort(t *testing.T) {
	for _, k := range kernels() {
		t.Run(k, func(t *testing.T) {
			defer useKernel(k)()
			testWriteUntilStopShort(t)
		})
	}
}

func testWriteUntilStopShort(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	maxLen := 200
	if raceEnabled {
		maxLen = 100 // the race detector makes the rest minutes
	}
	for n := 0; n <= maxLen; n++ {
		base := filler(r, n)
		b := make([]byte, n)
		// No stop at all; a pair's first byte last of b; then each kind
		// at every place.
		copy(b, base)
		for pre := range 32 {
			for _, from := range []int{0, 1, n / 2, n - 1, n} {
				if from >= 0 && from <= n {
					checkOne(t, b, from, pre, from == 0)
				}
			}
		}
		if n > 0 {
			for _, c := range []byte{'\n', '>'} {
				copy(b, base)
				b[n-1] = c
				checkOne(t, b, 0, n%32, true)
				checkOne(t, b, n-1, (n+1)%32, true)
			}
		}
		for _, kind := range stopKinds {
			for at := 0; at+len(kind) <= n; at++ {
				copy(b, base)
				copy(b[at:], kind)
				// Every from that matters with a few fills of the
				// digest, and every fill with a few froms.
				pres := []int{0, (n + at) % 32}
				if n > 100 {
					pres = pres[1:]
				}
				for _, pre := range pres {
					for _, from := range []int{at - 33, at - 32, at - 31, at - 1, at, at + 1, at + 2} {
						if from >= 0 && from <= n {
							checkOne(t, b, from, pre, from == at-1 && pre != 0)
						}
					}
				}
				for pre := range 32 {
					if n <= 64 || pre%8 == at%8 {
						checkOne(t, b, 0, pre, pre == at%32)
					}
				}
			}
		}
	}
}

func TestWriteUntilStopLong(t *testing.T) {
	for _, k := range kernels() {
		t.Run(k, func(t *testing.T) {
			defer useKernel(k)()
			testWriteUntilStopLong(t)
		})
	}
}

func testWriteUntilStopLong(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	const n = 3000
	base := filler(r, n)
	b := make([]byte, n)
	for _, kind := range stopKinds {
		for at := 0; at+len(kind) <= n; at++ {
			copy(b, base)
			copy(b[at:], kind)
			// A second stop of another kind a little later, to be met
			// after resuming.
			if k2 := at + 1 + at%70; k2+2 <= n {
				copy(b[k2:], stopKinds[at%4])
			}
			if raceEnabled && at%7 != 0 {
				continue
			}
			pre := at % 32
			checkOne(t, b, 0, pre, true)
			if at > 40 {
				checkOne(t, b, at-40+at%9, pre, true)
			}
		}
	}
}

func FuzzWriteUntilStop(f *testing.F) {
	f.Add([]byte("plain\nFrom here\r\n>From there\x00"), uint16(0), uint8(0))
	f.Add([]byte("0123456789abcdef0123456789abcde\nF0123456789abcdef0123456789abcd>F"), uint16(3), uint8(5))
	f.Add([]byte("a line\n>not F\nFrom a >F quoted one, and ending in \n"), uint16(40), uint8(31))
	f.Fuzz(func(t *testing.T, b []byte, from uint16, pre uint8) {
		for _, k := range kernels() {
			restore := useKernel(k)
			checkOne(t, b, int(from)%(len(b)+1), int(pre%32), true)
			restore()
		}
	})
}

package scan

import (
	"fmt"
	"strings"
	"sync"
	"testing"
)

// TestArenaBlocks: strings interned by several parsers at once, each in
// its own block, read back whole through their references (as setPrint
// takes them), across block and chunk ends, beside strings added under
// the lock.
func TestArenaBlocks(t *testing.T) {
	var a arena
	const workers, each = 4, 30000
	got := make([][]strRef, workers)
	want := func(w, i int) string {
		return fmt.Sprintf("<%d.%d@%s>", w, i, strings.Repeat("x", (i*7+w)%90)) // 8 to 110 bytes
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := &arenaBlock{a: &a}
			for i := range each {
				s := k.intern([]byte(want(w, i)))
				r, ok := a.refOf(s)
				if !ok {
					r = a.ref(s) // a copy, but still the string
				}
				if w == 0 && i%100 == 0 {
					a.add("added under the lock")
				}
				got[w] = append(got[w], r)
			}
		}()
	}
	wg.Wait()
	if n := len(a.list()); n < 4 {
		t.Fatalf("%d chunks: the test crosses no chunk end", n)
	}
	for w := range workers {
		for i, r := range got[w] {
			if s := a.get(r); s != want(w, i) {
				t.Fatalf("worker %d string %d: %q, want %q", w, i, s, want(w, i))
			}
		}
	}
}

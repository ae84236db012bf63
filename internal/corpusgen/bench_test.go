package corpusgen

import (
	"path/filepath"
	"testing"
)

func BenchmarkMessage(b *testing.B) {
	g, err := New(DefaultOptions(1, 100000))
	if err != nil {
		b.Fatal(err)
	}
	w := &worker{g: g}
	var buf []byte
	var total int64
	i := 0
	for b.Loop() {
		p := g.plan(i % g.opts.Messages)
		buf = w.message(buf[:0], &p)
		total += int64(len(buf))
		i++
	}
	b.SetBytes(total / int64(i))
}

func BenchmarkWriteMaildir(b *testing.B) {
	opts := DefaultOptions(1, 2000)
	var bytes int64
	for b.Loop() {
		t, err := WriteMaildir(filepath.Join(b.TempDir(), "m"), opts)
		if err != nil {
			b.Fatal(err)
		}
		bytes = t.Bytes
	}
	b.SetBytes(bytes)
}

func BenchmarkWriteMbox(b *testing.B) {
	opts := DefaultOptions(1, 2000)
	var bytes int64
	for b.Loop() {
		t, err := WriteMbox(filepath.Join(b.TempDir(), "m.mbox"), opts)
		if err != nil {
			b.Fatal(err)
		}
		bytes = t.Bytes
	}
	b.SetBytes(bytes)
}

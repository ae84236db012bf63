package bytesearch

import "testing"

// BenchmarkIndexPairDRAM searches 512 MiB, far more than any cache holds:
// the first touch of a mapped mbox, bound by memory (the page-ahead
// prefetch took it from 7 to 11.5 GB/s).
func BenchmarkIndexPairDRAM(b *testing.B) {
	one := benchText()
	data := make([]byte, 0, 512<<20)
	for len(data)+len(one) <= cap(data) {
		data = append(data, one...)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if IndexPair(data, '\n', 'F') >= 0 {
			b.Fatal("found")
		}
	}
}

package bytesearch

const haveBlocks = true

// pairBlocks checks positions [0, 16*blocks) of the bytes at p, reading
// bytes [0, 16*blocks]: the first position i with p[i] == c0 and
// p[i+1] == c1, or -1.
//
//go:noescape
func pairBlocks(p *byte, blocks int, c0, c1 byte) int

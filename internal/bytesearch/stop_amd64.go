package bytesearch

// stopBlocks checks positions [0, 16*blocks) of the bytes at p, reading
// bytes [0, 16*blocks]: the first position i with p[i] == x, p[i] == y,
// or p[i] == c0 and p[i+1] == c1; or -1.
//
//go:noescape
func stopBlocks(p *byte, blocks int, x, y, c0, c1 byte) int

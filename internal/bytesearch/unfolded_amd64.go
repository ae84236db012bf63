package bytesearch

// unfoldedBlocks checks positions [0, 16*blocks) of the bytes at p,
// reading bytes [0, 16*blocks]: the first position i with p[i] == '\n'
// and p[i+1] neither ' ' nor '\t', or -1.
//
//go:noescape
func unfoldedBlocks(p *byte, blocks int) int

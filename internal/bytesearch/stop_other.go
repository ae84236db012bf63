//go:build !amd64

package bytesearch

func stopBlocks(p *byte, blocks int, x, y, c0, c1 byte) int { panic("unreachable") }

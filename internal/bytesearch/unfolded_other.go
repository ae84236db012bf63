//go:build !amd64

package bytesearch

func unfoldedBlocks(p *byte, blocks int) int { panic("unreachable") }

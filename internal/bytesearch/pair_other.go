//go:build !amd64

package bytesearch

const haveBlocks = false

func pairBlocks(p *byte, blocks int, c0, c1 byte) int { panic("unreachable") }

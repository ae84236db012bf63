//go:build !amd64

package bytesearch

func lfBlocks(dst, src *byte, n int, x, c0, d0, c1 byte) (nsrc, ndst int, stop bool) {
	panic("unreachable")
}

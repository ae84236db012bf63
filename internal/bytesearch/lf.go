package bytesearch

import (
	"bytes"
	"slices"
)

// AppendLF appends src to dst with the CR of every CRLF left out (a CR
// that no LF follows is kept), up to the first stop: the first index i
// with src[i] == x, or src[i] == c0 or d0 and src[i+1] == c1 (a stop at
// a CR comes before dropping it; for one pair, pass its byte as both c0
// and d0). It returns the extended slice and i, or
// len(src) when there is no stop. src and the spare capacity of dst must
// not overlap.
//
// It is the one pass that turns CRLF text into LF text and finds where
// the text stops being plain. On amd64 it copies 16 bytes at a time, a
// line end costing one step more, where a search for each CR costs a
// call per line.
func AppendLF(dst, src []byte, x, c0, d0, c1 byte) ([]byte, int) {
	if !haveBlocks {
		return appendLFGo(dst, src, x, c0, d0, c1)
	}
	dst = slices.Grow(dst, len(src))
	i, j := 0, len(dst)
	out := dst[:cap(dst)]
	if len(src) > 16 {
		// Blocks look at one byte past their 16 and write 16 bytes
		// where they stand: both stay within len(src).
		ns, nd, stop := lfBlocks(&out[j], &src[0], len(src), x, c0, d0, c1)
		i, j = ns, j+nd
		if stop {
			return out[:j], i
		}
	}
	return appendLFTail(out[:j], src, i, x, c0, d0, c1)
}

// appendLFTail is AppendLF from src[i] on, a byte at a time (for the
// last bytes that blocks leave).
func appendLFTail(dst, src []byte, i int, x, c0, d0, c1 byte) ([]byte, int) {
	for ; i < len(src); i++ {
		c := src[i]
		if c == x || (c == c0 || c == d0) && i+1 < len(src) && src[i+1] == c1 {
			return dst, i
		}
		if c == '\r' && i+1 < len(src) && src[i+1] == '\n' {
			continue
		}
		dst = append(dst, c)
	}
	return dst, len(src)
}

// appendLFGo is AppendLF where there are no blocks: the stop is found
// first, then the text before it is copied a line at a time.
func appendLFGo(dst, src []byte, x, c0, d0, c1 byte) ([]byte, int) {
	end := IndexStop(src, x, x, c0, c1)
	if end < 0 {
		end = len(src)
	}
	if k := IndexPair(src[:min(end+1, len(src))], d0, c1); k >= 0 && k < end {
		end = k
	}
	text := src[:end]
	for {
		i := bytes.IndexByte(text, '\r')
		if i < 0 {
			return append(dst, text...), end
		}
		if i+1 < len(src) && src[i+1] == '\n' { // src: the LF may be the stop
			dst = append(dst, text[:i]...)
		} else {
			dst = append(dst, text[:i+1]...)
		}
		text, src = text[i+1:], src[i+1:]
	}
}

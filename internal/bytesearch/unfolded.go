package bytesearch

import "bytes"

// IndexUnfolded returns the first index i with b[i] == '\n' and b[i+1]
// neither SP nor HTAB, or -1 when there is none: where a header field
// ends whose folded continuation lines (RFC 5322 section 2.2.3) come
// before it. A search for each line end costs a call per line; this
// passes the continuation lines of a long field (DKIM-Signature,
// ARC-Seal, Received) 16 bytes at a time.
func IndexUnfolded(b []byte) int {
	i := 0
	if blocks := (len(b) - 1) / 16; blocks > 0 && haveBlocks {
		// Positions [0, 16*blocks) are checked 16 at a time; each block
		// reads one byte past its positions, which len(b) covers.
		if x := unfoldedBlocks(&b[0], blocks); x >= 0 {
			return x
		}
		i = 16 * blocks
	}
	return indexUnfoldedGeneric(b, i)
}

// indexUnfoldedGeneric checks the line ends from i on.
func indexUnfoldedGeneric(b []byte, i int) int {
	for i+1 < len(b) {
		x := bytes.IndexByte(b[i:], '\n')
		if x < 0 || i+x+1 >= len(b) {
			return -1
		}
		i += x
		if c := b[i+1]; c != ' ' && c != '\t' {
			return i
		}
		i++
	}
	return -1
}

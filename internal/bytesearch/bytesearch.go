// Package bytesearch owns the byte searches that the standard library does
// not vectorise, which the mbox splitter and the fingerprint parser make
// over every byte of a store:
//
//   - IndexPair: the first place where one given byte is followed by
//     another (a line end followed by 'F', for "\nFrom "). bytes.Index
//     keys such a search on its first byte, and a line end is met on every
//     line, so it falls back to a byte-at-a-time loop.
//   - IndexStop: the first of several bytes or a byte pair, in one pass
//     (where a body stops being plain text: NUL, CR, a quoted From line).
//   - AppendLF: CRLF made LF in one copying pass.
//   - IndexUnfolded: the end of a header field's continuation lines.
//
// Each compares 16 positions at once on amd64 (SSE2, which every amd64
// CPU has) and falls back to plain Go elsewhere; tests hold every one to a
// naive reference, exhaustively on small inputs and by fuzzing.
package bytesearch

import "bytes"

// IndexPair returns the first index i with b[i] == c0 and b[i+1] == c1, or
// -1 when there is none.
func IndexPair(b []byte, c0, c1 byte) int {
	i := 0
	if blocks := (len(b) - 1) / 16; blocks > 0 && haveBlocks {
		// Positions [0, 16*blocks) are checked 16 at a time; each block
		// reads one byte past its positions, which len(b) covers.
		if x := pairBlocks(&b[0], blocks, c0, c1); x >= 0 {
			return x
		}
		i = 16 * blocks
	}
	return indexPairGeneric(b, i, c0, c1)
}

// indexPairGeneric checks positions from i on, keyed on the second byte
// (callers pick c1 as the rarer one).
func indexPairGeneric(b []byte, i int, c0, c1 byte) int {
	for i+1 < len(b) {
		x := bytes.IndexByte(b[i+1:], c1)
		if x < 0 {
			return -1
		}
		if b[i+x] == c0 {
			return i + x
		}
		i += x + 1
	}
	return -1
}

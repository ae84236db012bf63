package bytesearch

import "bytes"

// IndexStop returns the first index i with b[i] == x or b[i] == y, or
// with b[i] == c0 and b[i+1] == c1; -1 when there is none. It is the one
// pass that finds where a run of text stops being plain (for a mail body:
// a NUL, a CR, or a line that starts with '>'), where separate searches
// would each read the whole text.
func IndexStop(b []byte, x, y, c0, c1 byte) int {
	if !haveBlocks {
		return indexStopGo(b, x, y, c0, c1)
	}
	i := 0
	if blocks := (len(b) - 1) / 16; blocks > 0 && haveBlocks {
		// Positions [0, 16*blocks) are checked 16 at a time; each block
		// reads one byte past its positions, which len(b) covers.
		if s := stopBlocks(&b[0], blocks, x, y, c0, c1); s >= 0 {
			return s
		}
		i = 16 * blocks
	}
	return indexStopGeneric(b, i, x, y, c0, c1)
}

// indexStopGo is IndexStop where there are no blocks: a search for each
// byte and one for the pair (each vectorised on most machines), each only
// up to the first stop found so far.
func indexStopGo(b []byte, x, y, c0, c1 byte) int {
	end := len(b)
	if k := bytes.IndexByte(b, x); k >= 0 {
		end = k
	}
	if k := bytes.IndexByte(b[:end], y); k >= 0 {
		end = k
	}
	if k := indexPairGeneric(b[:min(end+1, len(b))], 0, c0, c1); k >= 0 && k < end {
		return k
	}
	if end == len(b) {
		return -1
	}
	return end
}

// indexStopGeneric checks positions from i on, one at a time (for the
// last bytes that blocks leave).
func indexStopGeneric(b []byte, i int, x, y, c0, c1 byte) int {
	for ; i < len(b); i++ {
		c := b[i]
		if c == x || c == y || c == c0 && i+1 < len(b) && b[i+1] == c1 {
			return i
		}
	}
	return -1
}

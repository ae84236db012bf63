package bytesearch

// lfBlocks copies the n bytes at src to dst, leaving out the CR of each
// CRLF, while at least 17 bytes are left to read (a CR's LF is looked
// for in the byte after it), and stops at the first byte x or pair c0 c1
// or d0 c1 (stop reports it). It returns how many bytes it read and
// wrote, and writes 16 bytes where it stands, never past dst+n.
//
//go:noescape
func lfBlocks(dst, src *byte, n int, x, c0, d0, c1 byte) (nsrc, ndst int, stop bool)

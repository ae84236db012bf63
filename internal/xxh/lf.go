package xxh

import "bytes"

// WriteLFUntilStop is WriteUntilStop for text whose lines may end in
// CRLF: it adds b to the sum with every CR that is followed by a LF in b
// left out (a CR followed by anything else, or last in b, is kept), up to
// the first stop at index from or more, where a stop is a NUL, or a LF or
// '>' followed by 'F' (a CR is NOT a stop here). It returns how much of b
// it consumed and the stop's index: read <= stop, and b[:read] has been
// added (CR-less) - a CR at b[read-1] is left out when b[read] is a LF;
// stop is -1 and read == len(b) when there is no stop. Bytes before from
// are consumed without being searched (but still lose their CRLF's CR).
// 0 <= from <= len(b).
//
// This implementation always returns read == stop when there is a stop:
// all of the text before the stop is in the sum. To go on past a stop,
// call WriteLFUntilStop(b[read:], stop+1-read), or (having handled the
// stop's byte) WriteLFUntilStop(b[stop+1:], 0); to write CR-less text
// without searching it, WriteLFUntilStop(b, len(b)).
//
// It is the one pass over CRLF text that finds the stop, leaves out the
// CRs and hashes the rest, where a copy into LF text and then Write
// would pass over it twice.
func (d *Digest) WriteLFUntilStop(b []byte, from int) (read, stop int) {
	return d.writeLFUntilStop(b, from)
}

// FastLF reports whether WriteLFUntilStop is one pass on this machine
// (it needs AVX-512 VBMI2). Elsewhere it is a search and then Write, no
// faster than copying the text as LF lines and hashing the copy, which a
// caller may as well do.
var FastLF bool

// IsLFStop reports whether b[i] is a stop of WriteLFUntilStop: a NUL, or
// a LF or '>' followed by 'F'.
func IsLFStop(b []byte, i int) bool {
	c := b[i]
	return c == 0 || (c == '\n' || c == '>') && i+1 < len(b) && b[i+1] == 'F'
}

// writeLFUntilStopGo is WriteLFUntilStop by definition: a search, then
// the CR-less text before the stop written.
func (d *Digest) writeLFUntilStopGo(b []byte, from int) (int, int) {
	s := -1
	for i := from; i < len(b); i++ {
		if IsLFStop(b, i) {
			s = i
			break
		}
	}
	if s < 0 {
		d.writeLF(b, len(b))
		return len(b), -1
	}
	d.writeLF(b, s)
	return s, s
}

// writeLF writes b[:end] with the CR of every CRLF of b left out (the LF
// of a CR at end-1 is b[end]).
func (d *Digest) writeLF(b []byte, end int) {
	i := 0
	for i < end {
		k := bytes.IndexByte(b[i:end], '\r')
		if k < 0 {
			d.Write(b[i:end])
			return
		}
		k += i
		if k+1 < len(b) && b[k+1] == '\n' {
			d.Write(b[i:k])
		} else {
			d.Write(b[i : k+1])
		}
		i = k + 1
	}
}

package fingerprint

import (
	"bytes"

	"github.com/popdedupe/popdedupe/internal/bytesearch"
	"github.com/popdedupe/popdedupe/internal/xxh"
)

// SumSplit fingerprints the first message in data, whose end the parser
// finds itself, and returns the print and the message's length (where
// the next one starts; len(data) when none does). It is for a store read
// from memory, an mbox mapped from the page cache: data starts at a
// message (after its From_ line, whose rules are the caller's) and runs
// on past it, and boundary(data, i) says whether the line at data[i], a
// "From " after a LF, starts the next message. The result is always that
// of SumBytes on the message's bytes, data[:end]: a fuzzed property holds
// it to that.
//
// The point is the number of passes over the bytes. Split first, then
// SumBytes, reads a body three times: the search for the next message,
// the search for where the body stops being plain, and the hash. Here one
// pass (xxh.Digest.WriteUntilStop) searches a plain body for the next
// "From " line and for anything rule 1 or 6 changes, and hashes it as it
// goes; a LF before 'F' that is no boundary only makes it stop and go on,
// a quoted From_ line is hashed without its '>'. A body with CRLF line
// ends takes the same pass leaving out each CRLF's CR
// (WriteLFUntilStop, where the machine has its kernel: xxh.FastLF). What
// neither can take in place is copied as LF lines in the pass that finds
// its end; a NUL or a malformed header is
// handed to SumBytes once the end is found (the message is then in the
// cache, and SumBytes is the definition).
func (p *Parser) SumSplit(data []byte, boundary func(data []byte, i int) bool) (Print, int, error) {
	pr, end, ok := p.sumSplitPlain(data, boundary)
	if ok {
		return pr, end, nil
	}
	pr, err := p.SumBytes(data[:end])
	return pr, end, err
}

// NextBoundary returns where the first message boundary at index i or
// after it lies in data (len(data) when there is none), by boundary's
// rule (see SumSplit).
func NextBoundary(data []byte, i int, boundary func(data []byte, i int) bool) int {
	i = max(i-1, 0) // the LF before a boundary at i
	for {
		x := bytesearch.IndexPair(data[i:], '\n', 'F')
		if x < 0 {
			return len(data)
		}
		i += x + 1
		if boundary(data, i) {
			return i
		}
	}
}

// sumSplitPlain is SumSplit for a message whose header parses and whose
// body has no NUL and ends with a LF; ok false (with the message's end)
// for anything else, which SumSplit hands to SumBytes. A body is hashed
// in place in the one pass that finds its end (splitOnePass), plain or
// with CRLF line ends; where that pass cannot keep rule 6 in place it is
// copied as LF lines, in the pass that finds its end, and hashed from the
// copy (splitCopied).
func (p *Parser) sumSplitPlain(data []byte, boundary func(data []byte, i int) bool) (pr Print, end int, ok bool) {
	if len(data) == 0 {
		return Print{}, 0, false
	}
	own := p.buf
	defer func() { p.buf = own }()
	p.reset(emptyReader{}, int64(len(data)))
	p.buf, p.end, p.eof = data, len(data), true
	p.inPlace = true
	if err := p.header(&pr); err != nil {
		return Print{}, NextBoundary(data, 0, boundary), false
	}
	// The header block has no empty line but its last, so no boundary
	// lies inside it: the message goes on at least to the body.
	hb := int(pr.HeaderLen)
	if bytes.IndexByte(data[:hb], 0) >= 0 {
		return Print{}, NextBoundary(data, hb, boundary), false
	}
	h, end, ok := p.splitOnePass(data, hb, boundary, false)
	if !ok && end < 0 && xxh.FastLF {
		h, end, ok = p.splitOnePass(data, hb, boundary, true)
	}
	if !ok && end < 0 {
		h, end, ok = p.splitCopied(data, hb, boundary)
	}
	if !ok {
		return Print{}, end, false
	}
	pr.BodyHash, pr.HasBody, pr.Size = h, true, int64(end)
	return pr, end, true
}

// splitOnePass hashes the body that starts at data[hb] where it lies, in
// the one pass that finds its end, and returns its hash and end: plain
// text with xxh.Digest.WriteUntilStop, or, for text with CRLF line ends
// (crlf), with WriteLFUntilStop, which leaves out the CR of each CRLF as
// it hashes (rule 1). Where it cannot keep the rules in place it returns
// end -1: a plain pass that meets a CR (the CRLF pass then takes the body
// from its start: the first CR is on the first line, as a rule, so little
// is hashed twice), or one that has hashed some '>' of a quoted From_
// line (splitCopied takes those). A NUL, or a body that does not end with
// a LF, is for neither (ok false, with the end).
func (p *Parser) splitOnePass(data []byte, hb int, boundary func(data []byte, i int) bool, crlf bool) (h uint64, end int, ok bool) {
	if p.x == nil {
		p.x = xxh.New()
	}
	d := p.x
	d.Reset()
	end = len(data)
	if hb < len(data) && boundary(data, hb) {
		end = hb // a From_ line right after the header: an empty body
	}
	pos, from := hb, hb // hashed up to pos; stops before from are passed
search:
	for end > hb {
		var w, s int
		if crlf {
			w, s = d.WriteLFUntilStop(data[pos:end], from-pos)
		} else {
			w, s = d.WriteUntilStop(data[pos:end], from-pos)
		}
		if s < 0 {
			pos = end
			break
		}
		s += pos
		pos += w
		switch data[s] {
		case '\n': // a LF before 'F'
			if boundary(data, s+1) {
				end = s + 1
				break search
			}
		case '>': // before 'F': a quoted From_ line loses its '>' (rule 6)
			if r := quotedFrom(data, s); r >= pos {
				writeText(d, data[pos:r], crlf)
				pos = s + 1
			} else if r >= 0 {
				return 0, -1, false // hashed some of its '>' already
			}
		case '\r': // rule 1 (only the plain pass stops here)
			return 0, -1, false
		default: // a NUL
			return 0, NextBoundary(data, s, boundary), false
		}
		from = s + 1
	}
	// Rule 7: the trailing empty lines are not hashed (a line of only
	// its CRLF's CR is empty), and a body must end with a LF (else
	// SumBytes adds one). A CR consumed after the last line with text
	// is one left out, before the LF of an empty line: nothing of it was
	// hashed. Had the pass hashed past the last line with text (it stops
	// short of the LF before a boundary's 'F', so only where more empty
	// lines end a body), it hashes the body again up to that line, which
	// it knows now.
	body := data[hb:end]
	if len(body) > 0 && body[len(body)-1] != '\n' {
		return 0, end, false
	}
	k := hb + trailingEmptyLF(body)
	if pos == k+1 && data[k] == '\r' && pos < len(data) && data[pos] == '\n' {
		pos = k
	}
	if pos > k {
		h, _, ok := p.splitOnePass(data[:k], hb, noBoundary, crlf)
		return h, end, ok
	}
	writeText(d, data[pos:k], crlf)
	return d.Sum64(), end, true
}

// writeText adds text to d as splitOnePass's pass does.
func writeText(d *xxh.Digest, text []byte, crlf bool) {
	if crlf {
		d.WriteLFUntilStop(text, len(text))
	} else {
		d.Write(text)
	}
}

// noBoundary is the boundary rule of a body whose end is known.
func noBoundary([]byte, int) bool { return false }

// trailingEmptyLF is trailingEmpty for lines that may end in CRLF: the
// length of body up to the end of its last line with text, a line being
// empty when it holds nothing or only the CR of its CRLF.
func trailingEmptyLF(body []byte) int {
	k := len(body)
	for k > 0 && body[k-1] == '\n' {
		ls := bytes.LastIndexByte(body[:k-1], '\n') + 1
		if line := body[ls : k-1]; len(line) > 1 || len(line) == 1 && line[0] != '\r' {
			break
		}
		k = ls
	}
	return k
}

// splitCopied hashes the body that starts at data[hb] as body() does
// (rules 1, 6 and 7), copied into the scratch buffer as LF lines a window
// at a time, in the pass that finds its end; see splitOnePass for the
// results.
func (p *Parser) splitCopied(data []byte, hb int, boundary func(data []byte, i int) bool) (h uint64, end int, ok bool) {
	d := p.d
	d.Reset()
	blank := 0 // empty lines not yet hashed (rule 7)
	if hb < len(data) && boundary(data, hb) {
		return d.Sum64(), hb, true
	}
	for i := hb; i < len(data); {
		// A window of whole lines: a CRLF, a quoted From_ line and a
		// boundary's LF+'F' all lie in one (the 'F' of the last one
		// may start the next: it is looked for there).
		lim := len(data)
		if lim-i > fastWindow {
			nl := bytes.LastIndexByte(data[i:i+fastWindow], '\n')
			if nl < 0 {
				return 0, NextBoundary(data, i, boundary), false // a line longer than the window
			}
			lim = i + nl + 1
		}
		norm := p.norm[:0]
		for j := i; ; {
			var s int
			norm, s = bytesearch.AppendLF(norm, data[j:lim], 0, '>', '\n', 'F')
			s += j
			if s == lim {
				break
			}
			switch data[s] {
			case 0:
				p.norm = norm
				return 0, NextBoundary(data, s, boundary), false
			case '\n': // before 'F'; the CR of a CRLF before it is left out
				norm = append(norm, '\n')
				if boundary(data, s+1) {
					p.norm = norm
					p.emit(norm, blank)
					return d.Sum64(), s + 1, true
				}
			case '>': // before 'F'
				norm = unquoteCopied(norm, data, s)
			}
			j = s + 1
		}
		p.norm = norm
		blank = p.emit(norm, blank)
		if lim < len(data) && boundary(data, lim) {
			return d.Sum64(), lim, true
		}
		i = lim
	}
	if data[len(data)-1] != '\n' {
		return 0, len(data), false
	}
	return d.Sum64(), len(data), true
}

package fingerprint

import (
	"bytes"
	"io"

	"github.com/cespare/xxhash/v2"

	"github.com/popdedupe/popdedupe/internal/bytesearch"
)

// headerRef is header as it was before the faster header loop (commit
// 80215a5), kept to hold the new code to: FuzzHeaderRef compares the two
// on every input, in place and streamed. Do not change it.
func (p *Parser) headerRef(pr *Print) error {
	var (
		total, fields int
		field         = -1        // the identity field being collected (index into interestingFields), or -1
		val           = p.val[:0] // the field being collected, unfolded
		have          [len(interestingFields)]bool
		vals          [len(interestingFields)][]byte
		first         = true
	)
	// flush keeps the first occurrence of each identity field, collapsed
	// into the parser's own buffer for that field.
	flush := func() {
		if field >= 0 && !have[field] {
			p.scratch[field] = collapseValue(p.scratch[field][:0], val)
			vals[field], have[field] = p.scratch[field], true
		}
		field = -1
	}
	for {
		var l []byte
		if i := bytes.IndexByte(p.buf[p.beg:p.end], '\n'); i >= 0 {
			// The usual case, readLine's first step, inline.
			l = p.buf[p.beg : p.beg+i+1]
			p.beg += i + 1
			p.off += int64(i + 1)
		} else {
			var err error
			l, err = p.readLine(MaxHeaderBytes - total)
			if err == io.EOF {
				if first {
					return malformed(0, "empty message")
				}
				break // a message of header fields only: the body is empty
			}
			if err != nil {
				return err
			}
		}
		total += len(l)
		if total > MaxHeaderBytes {
			return malformed(p.off, "header block longer than %d bytes", MaxHeaderBytes)
		}
		if l[len(l)-1] != '\n' && p.eof {
			// The message ended inside a header line. A message is
			// allowed to end after its last header line, not in it.
			return malformed(p.off, "message ends inside the header block (truncated?)")
		}
		c := trimEOL(l)
		if first {
			first = false
			if bytes.HasPrefix(c, []byte("From ")) {
				continue // mbox envelope line (rule 2)
			}
		}
		if len(c) == 0 {
			break
		}
		if c[0] == ' ' || c[0] == '\t' {
			if fields == 0 {
				return malformed(p.off-int64(len(l)), "header block starts with a continuation line")
			}
			if field >= 0 {
				val = append(val, ' ')
				val = append(val, c...)
			}
			continue
		}
		// The field name: printable US-ASCII up to the colon, found in
		// one loop; else the careful way (there may be white space
		// before the colon, RFC 5322 section 4.5).
		colon := -1
		for k, ch := range c {
			if ch == ':' {
				colon = k
				break
			}
			if ch < 33 || ch > 126 {
				break
			}
		}
		name0 := c[:max(colon, 0)]
		if colon <= 0 {
			colon = bytes.IndexByte(c, ':')
			name0 = trimWSP(c[:max(colon, 0)])
			if colon <= 0 || !fieldName(name0) {
				return malformed(p.off-int64(len(l)), "line %q is not a header field and no empty line came before it (no header/body separator)", clip(c))
			}
		}
		flush()
		fields++
		if f := interesting(name0); f >= 0 && !have[f] {
			field = f
			val = append(val[:0], c[colon+1:]...)
		} else if rest := p.buf[p.beg:p.end]; len(rest) > 0 && (rest[0] == ' ' || rest[0] == '\t') {
			// A field identity does not use (or has from an earlier
			// line), folded: its continuation lines need nothing but
			// passing, at once when they are all here (and within the
			// bound; else line by line).
			if k := bytesearch.IndexUnfolded(rest); k >= 0 && total+k+1 <= MaxHeaderBytes {
				p.beg += k + 1
				p.off += int64(k + 1)
				total += k + 1
			}
		}
	}
	flush()
	p.val = val
	mid, from, date, subj, to, xuidl := vals[0], vals[1], vals[2], vals[3], vals[4], vals[5]
	pr.HeaderLen = p.off
	p.id = appendMessageID(p.id[:0], mid)
	pr.MessageID, pr.XUIDL = p.str(p.id), p.str(xuidl)
	// "from" NUL value NUL "date" NUL ... gathered and hashed at once
	// (the same hash as writing the pieces one by one).
	k := p.keys[:0]
	for _, kv := range [...]struct {
		n string
		v []byte
	}{{"from", from}, {"date", date}, {"subject", subj}, {"to", to}} {
		k = append(k, kv.n...)
		k = append(k, 0)
		k = append(k, kv.v...)
		k = append(k, 0)
	}
	p.keys = k
	pr.KeyHash = xxhash.Sum64(k)
	return nil
}

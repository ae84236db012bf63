package corpusgen

import (
	"bytes"
	"strconv"
	"time"
)

// appendCopy appends the local copy of the server message msg (LF line
// ends, ending in LF) as planned in cp: client header lines, line ends,
// trailing blank line and, when quote is set, mbox From_ quoting of body
// lines (RFC 4155). Nothing else differs from msg.
func (w *worker) appendCopy(dst, msg []byte, cp *copyPlan, uid string, quote bool, q Quoting) []byte {
	cut := bytes.Index(msg, []byte("\n\n"))
	header, body := msg[:cut+1], msg[cut+2:]
	eol := "\n"
	if cp.crlf {
		eol = "\r\n"
	}

	// The body as stored, so Content-Length and Lines can describe it.
	b := w.body[:0]
	lines := 0
	for len(body) > 0 {
		line := body
		if k := bytes.IndexByte(body, '\n'); k >= 0 {
			line, body = body[:k], body[k+1:]
		} else {
			body = nil
		}
		if quote && needsQuote(line, q) {
			b = append(b, '>')
		}
		b = append(b, line...)
		b = append(b, eol...)
		lines++
	}
	if cp.trailing {
		b = append(b, eol...)
		lines++
	}
	w.body = b

	addLine := func(dst []byte, name, value string) []byte {
		dst = append(dst, name...)
		dst = append(dst, ':')
		if value != "" {
			dst = append(dst, ' ')
			dst = append(dst, value...)
		}
		return append(dst, eol...)
	}
	if cp.client == clientThunderbird {
		if !cp.mozFirst {
			dst = addLine(dst, "X-UIDL", uid)
		}
		dst = addLine(dst, "X-Mozilla-Status", "0001")
		dst = addLine(dst, "X-Mozilla-Status2", "00000000")
		if cp.mozFirst {
			dst = addLine(dst, "X-UIDL", uid)
		}
	}
	dst = appendEOL(dst, header, cp.crlf)
	switch cp.client {
	case clientMutt:
		dst = addLine(dst, "Status", cp.status)
		if cp.xstatus != "" {
			dst = addLine(dst, "X-Status", cp.xstatus)
		}
		dst = addLine(dst, "Content-Length", strconv.Itoa(len(b)))
		dst = addLine(dst, "Lines", strconv.Itoa(lines))
	case clientDovecot:
		dst = addLine(dst, "Status", cp.status)
		dst = addLine(dst, "X-Status", cp.xstatus)
		if cp.kwPad {
			dst = addLine(dst, "X-Keywords", "                                                                          ")
		} else {
			dst = addLine(dst, "X-Keywords", "")
		}
		dst = addLine(dst, "X-UIDL", uid)
	case clientXUIDL:
		dst = addLine(dst, "X-UIDL", uid)
	}
	dst = append(dst, eol...)
	return append(dst, b...)
}

// needsQuote reports whether an mbox writer using q prefixes line with '>'.
func needsQuote(line []byte, q Quoting) bool {
	if q == MboxRD {
		for len(line) > 0 && line[0] == '>' {
			line = line[1:]
		}
	}
	return bytes.HasPrefix(line, []byte("From "))
}

// appendEOL appends text (LF line ends) with LF or CRLF line ends.
func appendEOL(dst, text []byte, crlf bool) []byte {
	if !crlf {
		return append(dst, text...)
	}
	for len(text) > 0 {
		k := bytes.IndexByte(text, '\n')
		if k < 0 {
			return append(dst, text...)
		}
		dst = append(dst, text[:k]...)
		dst = append(dst, '\r', '\n')
		text = text[k+1:]
	}
	return dst
}

// appendFromLine appends an mbox From_ line (RFC 4155): the envelope
// sender, or "-" as Thunderbird writes it, and the delivery time in
// asctime form, UTC.
func appendFromLine(dst []byte, envelope string, t time.Time, crlf bool) []byte {
	dst = append(dst, "From "...)
	dst = append(dst, envelope...)
	dst = append(dst, ' ')
	dst = t.UTC().AppendFormat(dst, "Mon Jan _2 15:04:05 2006")
	if crlf {
		return append(dst, '\r', '\n')
	}
	return append(dst, '\n')
}

// envelopeOf returns the Return-Path address the trace put first in msg.
func envelopeOf(msg []byte) string {
	const p = "Return-Path: <"
	if !bytes.HasPrefix(msg, []byte(p)) {
		return "MAILER-DAEMON"
	}
	rest := msg[len(p):]
	if k := bytes.IndexByte(rest, '>'); k > 0 {
		return string(rest[:k])
	}
	return "MAILER-DAEMON"
}

package report

import (
	"strconv"
	"unicode/utf8"

	"github.com/popdedupe/popdedupe/scan"
)

const hexDigits = "0123456789abcdef"

// jsonPlain marks the bytes encoding/json writes as they are: printable
// ASCII but the quote and the backslash.
var jsonPlain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendJSONString appends s as encoding/json writes a string with HTML
// escaping off: quotes, backslash and control characters escaped, invalid
// UTF-8 as \ufffd, U+2028 and U+2029 escaped. WriteScanJSON uses it to
// write millions of paths without reflection; a test holds it to
// encoding/json byte for byte.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	b = appendJSONChars(b, s)
	return append(b, '"')
}

// appendJSONChars appends the escaped characters of s, without quotes: a
// string split where no multi-byte character is cut escapes as its pieces.
func appendJSONChars(b []byte, s string) []byte {
	// The common case first: printable ASCII with nothing to escape.
	i := 0
	for i < len(s) && jsonPlain[s[i]] {
		i++
	}
	if i == len(s) {
		return append(b, s...)
	}
	start := 0
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(b, s[start:]...)
}

// escapedDirs remembers the escaped form of the directories paths start
// with: a store has a handful, its copies number in the millions.
type escapedDirs map[string][]byte

func (e *escapedDirs) get(dir string) []byte {
	if *e == nil {
		*e = escapedDirs{}
	}
	esc, ok := (*e)[dir]
	if !ok {
		esc = appendJSONChars(nil, dir)
		(*e)[dir] = esc
	}
	return esc
}

// appendScanGroupJSON appends g as WriteJSON indents groupOf(res, g)
// inside the "groups" array of a report (six spaces for its fields),
// straight from the scan's records: no Group, no path string per copy (the path is
// escaped in its two pieces, a directory ending in a slash and a name).
func appendScanGroupJSON(b []byte, res *scan.Result, g scan.Group, dirs *escapedDirs) []byte {
	ref := func(b []byte, in string, i int) []byte {
		m := &res.Messages[i]
		dir, name := res.PathParts(m)
		b = append(b, "{\n"...)
		b = append(b, in...)
		b = append(b, `  "path": "`...)
		b = appendJSONChars(append(b, dirs.get(dir)...), name)
		b = append(b, "\",\n"...)
		b = append(b, in...)
		b = append(b, `  "index": `...)
		b = strconv.AppendInt(b, int64(m.Index), 10)
		b = append(b, '\n')
		b = append(b, in...)
		return append(b, '}')
	}
	keep := &res.Messages[g.Keep()]
	b = append(b, "    {\n      \"message_id\": "...)
	b = appendJSONString(b, res.MessageID(keep))
	b = append(b, ",\n      \"body_hash\": \""...)
	h := strconv.AppendUint(make([]byte, 0, 16), keep.BodyHash, 16)
	for range 16 - len(h) {
		b = append(b, '0')
	}
	b = append(b, h...)
	b = append(b, "\",\n      \"keep\": "...)
	b = ref(b, "      ", g.Keep())
	b = append(b, ",\n      \"copies\": ["...)
	var extra int64
	for n, i := range g.Copies {
		if n > 0 {
			b = append(b, ',')
			extra += res.Messages[i].Size
		}
		b = append(b, "\n        "...)
		b = ref(b, "        ", i)
	}
	if len(g.Copies) > 0 {
		b = append(b, "\n      "...)
	}
	b = append(b, "],\n      \"extra_bytes\": "...)
	b = strconv.AppendInt(b, extra, 10)
	if len(g.Copies) > 0 {
		b = append(b, ",\n      \"arrivals\": ["...)
		for n, i := range g.Copies {
			if n > 0 {
				b = append(b, ',')
			}
			b = append(b, "\n        "...)
			b = strconv.AppendInt(b, res.Messages[i].Arrival, 10)
		}
		b = append(b, "\n      ]"...)
	}
	return append(b, "\n    }"...)
}

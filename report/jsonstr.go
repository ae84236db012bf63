package report

import (
	"strconv"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as encoding/json writes a string with HTML
// escaping off: quotes, backslash and control characters escaped, invalid
// UTF-8 as \ufffd, U+2028 and U+2029 escaped. WriteScanJSON uses it to
// write millions of paths without reflection; a test holds it to
// encoding/json byte for byte.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
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
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendGroupJSON appends g as WriteJSON indents it inside the "groups"
// array of a report (six spaces for its fields).
func appendGroupJSON(b []byte, g Group) []byte {
	ref := func(b []byte, in string, r Ref) []byte {
		b = append(b, "{\n"...)
		b = append(b, in...)
		b = append(b, `  "path": `...)
		b = appendJSONString(b, r.Path)
		b = append(b, ",\n"...)
		b = append(b, in...)
		b = append(b, `  "index": `...)
		b = strconv.AppendInt(b, int64(r.Index), 10)
		b = append(b, '\n')
		b = append(b, in...)
		return append(b, '}')
	}
	b = append(b, "    {\n      \"message_id\": "...)
	b = appendJSONString(b, g.MessageID)
	b = append(b, ",\n      \"body_hash\": "...)
	b = appendJSONString(b, g.BodyHash)
	b = append(b, ",\n      \"keep\": "...)
	b = ref(b, "      ", g.Keep)
	b = append(b, ",\n      \"copies\": ["...)
	for i, c := range g.Copies {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, "\n        "...)
		b = ref(b, "        ", c)
	}
	if len(g.Copies) > 0 {
		b = append(b, "\n      "...)
	}
	b = append(b, "],\n      \"extra_bytes\": "...)
	b = strconv.AppendInt(b, g.ExtraBytes, 10)
	if len(g.Arrivals) > 0 {
		b = append(b, ",\n      \"arrivals\": ["...)
		for i, a := range g.Arrivals {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, "\n        "...)
			b = strconv.AppendInt(b, a, 10)
		}
		b = append(b, "\n      ]"...)
	}
	return append(b, "\n    }"...)
}

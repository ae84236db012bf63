package corpusgen

import (
	"encoding/base64"
	"encoding/binary"
	"time"
	"unicode/utf8"
)

// appendParagraph appends about n bytes of sentences to dst, wrapped at
// width columns with every line starting with prefix and ending in LF.
// utf8Rate is the chance that a word comes from utf8Words.
func appendParagraph(dst []byte, r *rng, n int, prefix string, width int, utf8Rate float64) []byte {
	start := len(dst)
	dst = append(dst, prefix...)
	col := len(prefix)
	newSentence := true
	sentenceLeft := r.between(5, 16)
	for len(dst)-start < n {
		// One draw per word: two 16-bit lanes for a skewed word index,
		// 8 bits for the comma, 24 bits for the UTF-8 choice.
		x := r.u64()
		var word string
		if utf8Rate > 0 && float64(x>>40)*(1.0/(1<<24)) < utf8Rate {
			word = utf8Words[(x&0xffff)*uint64(len(utf8Words))>>16]
		} else {
			a := (x & 0xffff) * uint64(len(words)) >> 16
			b := (x >> 16 & 0xffff) * uint64(len(words)) >> 16
			word = words[min(a, b)]
		}
		comma := x>>32&0xff < 21 // about 1 in 12
		wl := len(word) + 1
		if col > len(prefix) && col+wl > width {
			dst = append(dst, '\n')
			dst = append(dst, prefix...)
			col = len(prefix)
		} else if col > len(prefix) {
			dst = append(dst, ' ')
			col++
		}
		if newSentence && word[0] >= 'a' && word[0] <= 'z' {
			dst = append(dst, word[0]-'a'+'A')
			dst = append(dst, word[1:]...)
		} else {
			dst = append(dst, word...)
		}
		col += len(word)
		newSentence = false
		sentenceLeft--
		if sentenceLeft == 0 {
			dst = append(dst, pick(r, []string{".", ".", ".", "?", "!", ".", ":", "."})...)
			col++
			newSentence = true
			sentenceLeft = r.between(5, 16)
		} else if comma {
			dst = append(dst, ',')
			col++
		}
	}
	if !newSentence {
		dst = append(dst, '.')
	}
	return append(dst, '\n')
}

// appendQP appends src (text with LF line ends) encoded as quoted-printable
// (RFC 2045, section 6.7): bytes outside printable ASCII and '=' become =XX,
// trailing white space is encoded, lines longer than 76 get soft breaks.
func appendQP(dst, src []byte) []byte {
	const hex = "0123456789ABCDEF"
	for len(src) > 0 {
		line := src
		nl := indexNL(src)
		if nl >= 0 {
			line = src[:nl]
			src = src[nl+1:]
		} else {
			src = nil
		}
		col := 0
		for k := 0; k < len(line); k++ {
			c := line[k]
			enc := c == '=' || c >= 0x7f || (c < ' ' && c != '\t') ||
				((c == ' ' || c == '\t') && k == len(line)-1)
			n := 1
			if enc {
				n = 3
			}
			if col+n > 75 {
				dst = append(dst, '=', '\n')
				col = 0
			}
			if enc {
				dst = append(dst, '=', hex[c>>4], hex[c&15])
			} else {
				dst = append(dst, c)
			}
			col += n
		}
		dst = append(dst, '\n')
	}
	return dst
}

func indexNL(b []byte) int {
	for k, c := range b {
		if c == '\n' {
			return k
		}
	}
	return -1
}

// appendBase64 appends n pseudo-random bytes starting with magic, base64
// encoded in lines of 76 characters (RFC 2045, section 6.8).
func (w *worker) appendBase64(dst []byte, r *rng, magic string, n int) []byte {
	n = max(n, len(magic))
	n = (n + 7) &^ 7
	if cap(w.raw) < n {
		w.raw = make([]byte, n)
	}
	raw := w.raw[:n]
	for k := 0; k < n; k += 8 {
		binary.LittleEndian.PutUint64(raw[k:], r.u64())
	}
	copy(raw, magic)
	enc := base64.StdEncoding
	var line [76]byte
	for len(raw) > 0 {
		chunk := raw[:min(57, len(raw))]
		raw = raw[len(chunk):]
		m := enc.EncodedLen(len(chunk))
		enc.Encode(line[:m], chunk)
		dst = append(dst, line[:m]...)
		dst = append(dst, '\n')
	}
	return dst
}

// base64Raw returns how many raw bytes fill about n bytes of base64 lines.
func base64Raw(n int) int { return max(n/77*57, 57) }

// appendDate appends t in RFC 5322 form in zone z.
func appendDate(dst []byte, t time.Time, z int) []byte {
	return t.In(zoneLocs[z]).AppendFormat(dst, "Mon, 2 Jan 2006 15:04:05 -0700")
}

var zoneLocs = func() []*time.Location {
	l := make([]*time.Location, len(zones))
	for k, z := range zones {
		l[k] = time.FixedZone(z.name, z.offset)
	}
	return l
}()

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// appendHex appends v as 2*n lower-case hex digits (the low n bytes).
func appendHex(dst []byte, v uint64, n int) []byte {
	const hex = "0123456789abcdef"
	for k := 2*n - 1; k >= 0; k-- {
		dst = append(dst, hex[(v>>(4*k))&15])
	}
	return dst
}

// appendUpperHex is appendHex with upper-case digits.
func appendUpperHex(dst []byte, v uint64, n int) []byte {
	const hex = "0123456789ABCDEF"
	for k := 2*n - 1; k >= 0; k-- {
		dst = append(dst, hex[(v>>(4*k))&15])
	}
	return dst
}

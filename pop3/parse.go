package pop3

import (
	"bytes"
	"fmt"
	"strings"
)

// reply is one parsed status line.
type reply struct {
	ok   bool   // +OK (or a "+" continuation)
	cont bool   // "+ base64" SASL continuation (RFC 5034)
	code string // response code without brackets, upper case (RFC 2449)
	text string // the rest of the line
}

// parseReply parses a status line without its line end. Status indicators
// are matched case-insensitively (RFC 1939 says they are upper case, but
// being strict here would only break old servers). It returns an error
// wrapping ErrProtocol for anything that is not "+OK", "-ERR" or a "+"
// continuation.
func parseReply(line []byte) (reply, error) {
	switch {
	case hasWord(line, "+OK"):
		return reply{ok: true, text: restAfter(line, 3)}, nil
	case hasWord(line, "-ERR"):
		code, text := parseRespCode(restAfter(line, 4))
		return reply{code: code, text: text}, nil
	case len(line) == 1 && line[0] == '+':
		return reply{ok: true, cont: true}, nil
	case len(line) >= 2 && line[0] == '+' && line[1] == ' ':
		return reply{ok: true, cont: true, text: string(line[2:])}, nil
	}
	return reply{}, fmt.Errorf("%w: unexpected reply %s", ErrProtocol, quoteShort(line))
}

// hasWord reports whether line is word, or word followed by a space,
// ignoring case.
func hasWord(line []byte, word string) bool {
	if len(line) < len(word) || !bytes.EqualFold(line[:len(word)], []byte(word)) {
		return false
	}
	return len(line) == len(word) || line[len(word)] == ' '
}

func restAfter(line []byte, n int) string {
	if len(line) <= n+1 {
		return ""
	}
	return string(line[n+1:])
}

// parseRespCode splits "[CODE/SUB] text" into ("CODE/SUB", "text"). Without
// a well-formed code (RFC 2449 section 8: levels of CHARs other than "/",
// "]", SP and CTLs, separated by "/") the whole text is returned.
func parseRespCode(text string) (code, rest string) {
	if !strings.HasPrefix(text, "[") {
		return "", text
	}
	end := strings.IndexByte(text, ']')
	if end < 2 {
		return "", text
	}
	c := text[1:end]
	for _, level := range strings.Split(c, "/") {
		if level == "" {
			return "", text
		}
		for i := 0; i < len(level); i++ {
			if b := level[i]; b <= ' ' || b >= 0x7f {
				return "", text
			}
		}
	}
	return strings.ToUpper(c), strings.TrimLeft(text[end+1:], " ")
}

// quoteShort quotes at most 80 bytes of b for an error message.
func quoteShort(b []byte) string {
	if len(b) > 80 {
		return fmt.Sprintf("%q...", b[:80])
	}
	return fmt.Sprintf("%q", b)
}

// parseNum parses a decimal number of at most 18 digits, no sign.
func parseNum(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// parseNumSize parses "n size [anything]" as found in STAT and scan
// listings (RFC 1939 puts no requirement on what follows the size).
func parseNumSize(s string) (n int, size int64, ok bool) {
	f := strings.SplitN(s, " ", 3)
	if len(f) < 2 {
		return 0, 0, false
	}
	a, ok1 := parseNum(f[0])
	b, ok2 := parseNum(f[1])
	if !ok1 || !ok2 || a > 1<<31-1 {
		return 0, 0, false
	}
	return int(a), b, true
}

// parseUIDLine parses a unique-id listing "n uid". The unique-id must be
// 1 to 70 characters in the range 0x21 to 0x7E (RFC 1939 section 7).
func parseUIDLine(s string) (n int, uid string, ok bool) {
	f := strings.Split(s, " ")
	if len(f) != 2 {
		return 0, "", false
	}
	a, ok1 := parseNum(f[0])
	if !ok1 || a < 1 || a > 1<<31-1 || !validUID(f[1]) {
		return 0, "", false
	}
	return int(a), f[1], true
}

// validUID reports whether s is a valid RFC 1939 unique-id.
func validUID(s string) bool {
	if len(s) < 1 || len(s) > 70 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

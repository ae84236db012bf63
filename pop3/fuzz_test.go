package pop3

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// Seeds: example lines from RFC 1939, RFC 2449, RFC 3206 and RFC 5034, and
// Dovecot's replies (the checked-in corpus under testdata/fuzz holds more).
var replySeeds = []string{
	"+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>",
	"+OK mrose's maildrop has 2 messages (320 octets)",
	"+OK 2 320",
	"-ERR no such message, only 2 messages in maildrop",
	"-ERR [IN-USE] Do you have another POP session running?",
	"-ERR [LOGIN-DELAY] minimum time between mail checks is 15 minutes",
	"-ERR [SYS/TEMP] Internal error",
	"-ERR [SYS/PERM] Your account has been disabled",
	"-ERR [AUTH] Authentication failed.",
	"+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+",
	"+ ",
	"+OK [XCLIENT] Dovecot (Debian) ready.",
	"-ERR [",
	"-ERR [a/]",
}

func FuzzParseReply(f *testing.F) {
	for _, s := range replySeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		r, err := parseReply(line)
		if err != nil {
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("parseReply(%q): error %v is not ErrProtocol", line, err)
			}
			return
		}
		if r.cont && !r.ok {
			t.Fatalf("parseReply(%q): continuation that is not ok", line)
		}
		if r.code != "" {
			if r.ok {
				t.Fatalf("parseReply(%q): code on +OK", line)
			}
			if r.code != strings.ToUpper(r.code) || strings.ContainsAny(r.code, " ]") {
				t.Fatalf("parseReply(%q): bad code %q", line, r.code)
			}
			// Re-rendering gives back the same code.
			again, err := parseReply([]byte("-ERR [" + r.code + "] " + r.text))
			if err != nil || again.code != r.code {
				t.Fatalf("parseReply(%q): code %q does not survive a round trip: %+v %v", line, r.code, again, err)
			}
		}
		if !r.ok {
			re := &ResponseError{Command: "X", Code: r.code, Text: r.text}
			_ = re.Error()
			_ = re.Temporary()
		}
	})
}

func FuzzListings(f *testing.F) {
	for _, s := range []string{"1 120", "2 200 extra", "1 whqtswO00WBw418f9t5JxYwZ", "TOP", "SASL PLAIN LOGIN", "LOGIN-DELAY 900 USER", "EXPIRE NEVER"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if n, size, ok := parseNumSize(s); ok && (n < 0 || size < 0) {
			t.Fatalf("parseNumSize(%q) = %d %d", s, n, size)
		}
		if n, uid, ok := parseUIDLine(s); ok && (n < 1 || !validUID(uid)) {
			t.Fatalf("parseUIDLine(%q) = %d %q", s, n, uid)
		}
		c := parseCapabilities(strings.Split(s, "\n"))
		if c.Expire < ExpireAbsent || c.LoginDelay < -1 {
			t.Fatalf("parseCapabilities(%q) = %+v", s, c)
		}
	})
}

// FuzzDotReader checks the streaming dot reader against net/textproto's
// DotReader for arbitrary CRLF data and buffer splits.
func FuzzDotReader(f *testing.F) {
	f.Add([]byte("Subject: x\r\n\r\n..dot\r\n.\r\n"), uint8(0), uint8(1))
	f.Add([]byte("bare\nlf\r\r\n.\rX\r\n.\n"), uint8(5), uint8(3))
	f.Add([]byte("no terminator\r\n"), uint8(1), uint8(7))
	f.Fuzz(func(t *testing.T, wire []byte, buf, chunk uint8) {
		got, gerr := readData(wire, 16+int(buf), 1+int(chunk))
		if bytes.Count(wire, []byte("\n")) != bytes.Count(wire, []byte("\r\n")) {
			// A bare LF is not POP3; textproto treats one at a line start
			// as data, we as a line end. Only require no panic, no hang.
			return
		}
		want, werr := textprotoData(wire)
		if (werr != nil) != (gerr != nil) {
			t.Fatalf("%q: textproto error %v, ours %v", wire, werr, gerr)
		}
		if werr == nil && !bytes.Equal(got, want) {
			t.Fatalf("%q: got %q, textproto %q", wire, got, want)
		}
	})
}

package pop3

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/textproto"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseReply(t *testing.T) {
	tests := []struct {
		line string
		want reply
		err  bool
	}{
		{"+OK", reply{ok: true}, false},
		{"+OK ", reply{ok: true}, false},
		{"+OK 2 320", reply{ok: true, text: "2 320"}, false},
		{"+ok lower case", reply{ok: true, text: "lower case"}, false},
		{"-ERR", reply{}, false},
		{"-ERR no such message", reply{text: "no such message"}, false},
		{"-ERR [IN-USE] Mailbox is locked by another POP3 session.", reply{code: "IN-USE", text: "Mailbox is locked by another POP3 session."}, false},
		{"-ERR [SYS/TEMP/DISK]  full", reply{code: "SYS/TEMP/DISK", text: "full"}, false},
		{"-ERR [login-delay] wait", reply{code: "LOGIN-DELAY", text: "wait"}, false},
		{"-ERR [not a code] text", reply{text: "[not a code] text"}, false},
		{"-ERR [SYS//TEMP] x", reply{text: "[SYS//TEMP] x"}, false},
		{"-ERR [] x", reply{text: "[] x"}, false},
		{"-ERR [unclosed", reply{text: "[unclosed"}, false},
		{"+", reply{ok: true, cont: true}, false},
		{"+ ", reply{ok: true, cont: true}, false},
		{"+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2U+", reply{ok: true, cont: true, text: "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2U+"}, false},
		{"+OKAY", reply{}, true},
		{"-ERRORS", reply{}, true},
		{"", reply{}, true},
		{"* OK imap", reply{}, true},
		{"OK", reply{}, true},
	}
	for i, tt := range tests {
		got, err := parseReply([]byte(tt.line))
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("parseReply(%q) #%d = %+v, %v; want %+v, error %v", tt.line, i, got, err, tt.want, tt.err)
		}
		if err != nil && !errors.Is(err, ErrProtocol) {
			t.Errorf("parseReply(%q) #%d error %v is not ErrProtocol", tt.line, i, err)
		}
	}
}

func TestParseListings(t *testing.T) {
	numSize := []struct {
		in   string
		n    int
		size int64
		ok   bool
	}{
		{"1 120", 1, 120, true},
		{"2 200 (more text)", 2, 200, true},
		{"1", 0, 0, false},
		{"1 -5", 0, 0, false},
		{"+1 5", 0, 0, false},
		{"1  5", 0, 0, false},
		{"99999999999999999999 1", 0, 0, false},
		{"", 0, 0, false},
	}
	for i, tt := range numSize {
		n, size, ok := parseNumSize(tt.in)
		if n != tt.n || size != tt.size || ok != tt.ok {
			t.Errorf("parseNumSize(%q) #%d = %d, %d, %v; want %d, %d, %v", tt.in, i, n, size, ok, tt.n, tt.size, tt.ok)
		}
	}
	uid := []struct {
		in  string
		n   int
		uid string
		ok  bool
	}{
		{"1 whqtswO00WBw418f9t5JxYwZ", 1, "whqtswO00WBw418f9t5JxYwZ", true},
		{"2 QhdPYR:00WBw1Ph7x7", 2, "QhdPYR:00WBw1Ph7x7", true},
		{"3 " + strings.Repeat("~", 70), 3, strings.Repeat("~", 70), true},
		{"3 " + strings.Repeat("~", 71), 0, "", false},
		{"0 abc", 0, "", false},
		{"1 ab\x7fc", 0, "", false},
		{"1 ab c", 0, "", false},
		{"1", 0, "", false},
		{"x abc", 0, "", false},
	}
	for i, tt := range uid {
		n, u, ok := parseUIDLine(tt.in)
		if n != tt.n || u != tt.uid || ok != tt.ok {
			t.Errorf("parseUIDLine(%q) #%d = %d, %q, %v; want %d, %q, %v", tt.in, i, n, u, ok, tt.n, tt.uid, tt.ok)
		}
	}
}

func TestParseCapabilities(t *testing.T) {
	// RFC 2449 section 5's example plus Dovecot's list.
	c := parseCapabilities([]string{
		"TOP", "USER", "SASL CRAM-MD5 KERBEROS_V4 plain", "RESP-CODES",
		"LOGIN-DELAY 900", "PIPELINING", "EXPIRE 60", "UIDL",
		"IMPLEMENTATION Shlemazle-Plotz-v302", "AUTH-RESP-CODE",
	})
	if !c.TOP || !c.USER || !c.RespCodes || !c.Pipelining || !c.UIDL || !c.AuthRespCode || c.STLS {
		t.Errorf("flags wrong: %+v", c)
	}
	if !slices.Equal(c.SASL, []string{"CRAM-MD5", "KERBEROS_V4", "PLAIN"}) || !c.HasSASL("plain") || c.HasSASL("LOGIN") {
		t.Errorf("SASL = %v", c.SASL)
	}
	if c.LoginDelay != 900*time.Second || c.LoginDelayPerUser || c.Expire != 60 || c.ExpirePerUser {
		t.Errorf("LoginDelay %v/%v, Expire %d/%v", c.LoginDelay, c.LoginDelayPerUser, c.Expire, c.ExpirePerUser)
	}
	if c.Implementation != "Shlemazle-Plotz-v302" || !c.Has("uidl") || c.Has("UID") {
		t.Errorf("Implementation %q, Has wrong", c.Implementation)
	}

	c = parseCapabilities([]string{"EXPIRE NEVER", "LOGIN-DELAY 60 USER"})
	if c.Expire != ExpireNever || c.LoginDelay != time.Minute || !c.LoginDelayPerUser {
		t.Errorf("EXPIRE NEVER / LOGIN-DELAY USER: %+v", c)
	}
	c = parseCapabilities([]string{"EXPIRE 0 USER", "LOGIN-DELAY x"})
	if c.Expire != 0 || !c.ExpirePerUser || c.LoginDelay >= 0 {
		t.Errorf("EXPIRE 0 USER / bad LOGIN-DELAY: %+v", c)
	}
	c = parseCapabilities(nil)
	if c.Expire != ExpireAbsent || c.LoginDelay >= 0 || c.Has("TOP") {
		t.Errorf("empty CAPA: %+v", c)
	}
	var nilCapa *Capabilities
	if nilCapa.Has("TOP") || nilCapa.HasSASL("PLAIN") {
		t.Error("nil *Capabilities must have nothing")
	}
}

// memConn is a net.Conn reading from a fixed input.
type memConn struct {
	r io.Reader
	net.Conn
}

func (m *memConn) Read(p []byte) (int, error)       { return m.r.Read(p) }
func (m *memConn) Write(p []byte) (int, error)      { return len(p), nil }
func (m *memConn) Close() error                     { return nil }
func (m *memConn) RemoteAddr() net.Addr             { return nil }
func (m *memConn) SetDeadline(time.Time) error      { return nil }
func (m *memConn) SetReadDeadline(time.Time) error  { return nil }
func (m *memConn) SetWriteDeadline(time.Time) error { return nil }

// readData runs the client's dot reader over wire with a bufio buffer of
// bufSize bytes (small sizes split long lines into partial chunks).
func readData(wire []byte, bufSize int, chunk int) ([]byte, error) {
	c := New(&memConn{r: &slowReader{b: wire, n: chunk}}, nil)
	c.br = bufio.NewReaderSize(connReader{c}, bufSize)
	d := c.data("RETR 1")
	var out bytes.Buffer
	p := make([]byte, 7) // odd-sized reads exercise the pending state
	for {
		n, err := d.Read(p)
		out.Write(p[:n])
		if err == io.EOF {
			return out.Bytes(), nil
		}
		if err != nil {
			return out.Bytes(), err
		}
	}
}

// slowReader returns at most n bytes per Read.
type slowReader struct {
	b []byte
	n int
}

func (s *slowReader) Read(p []byte) (int, error) {
	if len(s.b) == 0 {
		return 0, io.EOF
	}
	k := min(len(p), s.n, len(s.b))
	copy(p, s.b[:k])
	s.b = s.b[k:]
	return k, nil
}

// textprotoData is the reference: net/textproto's DotReader.
func textprotoData(wire []byte) ([]byte, error) {
	return io.ReadAll(textproto.NewReader(bufio.NewReader(bytes.NewReader(wire))).DotReader())
}

func TestDotReader(t *testing.T) {
	long := strings.Repeat("x", 100)
	tests := []struct{ wire, want string }{
		{".\r\n", ""},
		{"a\r\nb\r\n.\r\n", "a\nb\n"},
		{"..\r\n...\r\n.x\r\n.\r\n", ".\n..\nx\n"},
		{"bare\nlf\n.\n", "bare\nlf\n"},
		{"cr\rin line\r\n.\r\n", "cr\rin line\n"},
		{"two\r\r\n.\r\n", "two\r\n"},
		{long + "\r\n." + long + "\r\n.\r\n", long + "\n" + long + "\n"},
		{strings.Repeat("y", 31) + "\r\n.\r\n", strings.Repeat("y", 31) + "\n"}, // CR at a buffer boundary
		{".\rX\r\n.\r\n", "\rX\n"},
		{"\r\n\r\n.\r\n", "\n\n"},
	}
	for i, tt := range tests {
		for _, bufSize := range []int{16, 32, 4096} {
			for _, chunk := range []int{1, 3, 1 << 20} {
				got, err := readData([]byte(tt.wire+"NEXT\r\n"), bufSize, chunk)
				if err != nil || string(got) != tt.want {
					t.Errorf("#%d %q buf %d chunk %d: got %q, %v; want %q", i, tt.wire, bufSize, chunk, got, err, tt.want)
				}
			}
		}
		ref, err := textprotoData([]byte(tt.wire))
		if err != nil || string(ref) != tt.want {
			t.Errorf("#%d %q: textproto gives %q, %v; the table disagrees with the reference", i, tt.wire, ref, err)
		}
	}
	// Unterminated data is an error, never a hang or a silent success.
	if _, err := readData([]byte("abc\r\n"), 16, 2); !errors.Is(err, io.ErrUnexpectedEOF) || !errors.Is(err, ErrBotched) {
		t.Errorf("unterminated data: %v", err)
	}
}

func TestDotReaderDoesNotAllocatePerLine(t *testing.T) {
	var wire bytes.Buffer
	for i := 0; i < 2000; i++ {
		wire.WriteString("a line of an ordinary message body, about seventy characters long\r\n")
	}
	wire.WriteString(".\r\n")
	b := wire.Bytes()
	r := bytes.NewReader(b)
	c := New(&memConn{r: r}, nil)
	allocs := testing.AllocsPerRun(20, func() {
		r.Reset(b)
		c.br.Reset(connReader{c})
		if _, err := c.data("RETR 1").WriteTo(io.Discard); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 2 {
		t.Errorf("%v allocations reading 2000 lines, want at most 2 per message", allocs)
	}
}

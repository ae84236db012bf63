package pop3test

import (
	"crypto/tls"
	"encoding/base64"
	"net"
	"net/textproto"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestWireForm(t *testing.T) {
	tests := []struct {
		body, wire string
		size       int64
	}{
		{"a\nb\n", "a\r\nb\r\n", 6},
		{"a\r\nb\r\n", "a\r\nb\r\n", 6},
		{".x\n..y\n.\n", "..x\r\n...y\r\n..\r\n", 12},
		{"no newline", "no newline\r\n", 12},
		{"", "", 0},
	}
	for i, tt := range tests {
		wire, size := wireForm([]byte(tt.body))
		if string(wire) != tt.wire || size != tt.size {
			t.Errorf("wireForm(%q) #%d = %q, %d; want %q, %d", tt.body, i, wire, size, tt.wire, tt.size)
		}
	}
}

func TestTopOf(t *testing.T) {
	wire, _ := wireForm([]byte("A: 1\nB: 2\n\nl1\nl2\nl3\n"))
	tests := []struct {
		k    int
		want string
	}{
		{0, "A: 1\r\nB: 2\r\n\r\n"},
		{2, "A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\n"},
		{10, "A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\nl3\r\n"},
	}
	for _, tt := range tests {
		if got := string(topOf(wire, tt.k)); got != tt.want {
			t.Errorf("topOf(%d) = %q, want %q", tt.k, got, tt.want)
		}
	}
}

// dial opens a raw textproto connection and reads the greeting.
func dial(t *testing.T, s *Server) *textproto.Conn {
	t.Helper()
	c, err := textproto.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	expect(t, c, "+OK")
	return c
}

func expect(t *testing.T, c *textproto.Conn, prefix string) string {
	t.Helper()
	line, err := c.ReadLine()
	if err != nil || !strings.HasPrefix(line, prefix) {
		t.Fatalf("got %q, %v; want a line starting %q", line, err, prefix)
	}
	return line
}

func send(t *testing.T, c *textproto.Conn, line string) {
	t.Helper()
	if err := c.PrintfLine("%s", line); err != nil {
		t.Fatal(err)
	}
}

func TestRawSession(t *testing.T) {
	s := NewServer(t, Config{Expire: "NEVER", LoginDelay: time.Minute})
	s.AddUser("alice", "pw")
	s.AddMessage("alice", "u1", []byte("Subject: 1\n\n.dot\n"))
	s.AddMessage("alice", "", []byte("Subject: 2\n\nbody\n"))
	c := dial(t, s)

	send(t, c, "CAPA")
	expect(t, c, "+OK")
	capa, err := c.ReadDotLines()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"TOP", "UIDL", "PIPELINING", "USER", "SASL PLAIN", "EXPIRE NEVER", "LOGIN-DELAY 60", "RESP-CODES"} {
		if !slices.Contains(capa, want) {
			t.Errorf("CAPA %q lacks %q", capa, want)
		}
	}
	send(t, c, "STAT")
	expect(t, c, "-ERR")
	send(t, c, "USER alice")
	expect(t, c, "+OK")
	send(t, c, "PASS wrong")
	expect(t, c, "-ERR [AUTH]")
	send(t, c, "AUTH PLAIN "+base64.StdEncoding.EncodeToString([]byte("\x00alice\x00pw")))
	expect(t, c, "+OK")
	send(t, c, "STAT")
	expect(t, c, "+OK 2 40")
	send(t, c, "UIDL")
	expect(t, c, "+OK")
	if uidl, err := c.ReadDotLines(); err != nil || !slices.Equal(uidl, []string{"1 u1", "2 gen000002"}) {
		t.Errorf("UIDL = %q, %v", uidl, err)
	}
	send(t, c, "RETR 1")
	expect(t, c, "+OK")
	if body, err := c.ReadDotBytes(); err != nil || string(body) != "Subject: 1\n\n.dot\n" {
		t.Errorf("RETR 1 = %q, %v", body, err)
	}
	send(t, c, "TOP 2 0")
	expect(t, c, "+OK")
	if top, err := c.ReadDotBytes(); err != nil || string(top) != "Subject: 2\n\n" {
		t.Errorf("TOP 2 0 = %q, %v", top, err)
	}
	send(t, c, "DELE 1")
	expect(t, c, "+OK")
	send(t, c, "RETR 1")
	expect(t, c, "-ERR")
	send(t, c, "LIST")
	expect(t, c, "+OK")
	if list, err := c.ReadDotLines(); err != nil || !slices.Equal(list, []string{"2 20"}) {
		t.Errorf("LIST after DELE 1 = %q, %v", list, err)
	}
	if n := len(s.Messages("alice")); n != 2 {
		t.Errorf("DELE took effect before QUIT: %d messages", n)
	}
	send(t, c, "QUIT")
	expect(t, c, "+OK")
	if left := s.Messages("alice"); len(left) != 1 || left[0].UID != "gen000002" {
		t.Errorf("after QUIT: %v", left)
	}
	st := s.Stats()
	if st.Commits != 1 || st.Deleted != 1 || st.LoginsAttempted["alice"] != 2 || st.LoginsSucceeded["alice"] != 1 || st.Connections != 1 {
		t.Errorf("stats %+v", st)
	}
	cmds := s.Commands()
	if !slices.Contains(cmds, "PASS ****") || !slices.Contains(cmds, "AUTH PLAIN ****") || slices.Contains(cmds, "PASS wrong") {
		t.Errorf("commands not masked: %q", cmds)
	}
}

func TestDroppedSessionCommitsNothing(t *testing.T) {
	s := NewServer(t, Config{})
	s.AddUser("alice", "pw")
	s.AddMessage("alice", "u1", []byte("x\n"))
	c := dial(t, s)
	send(t, c, "USER alice")
	expect(t, c, "+OK")
	send(t, c, "PASS pw")
	expect(t, c, "+OK")
	send(t, c, "DELE 1")
	expect(t, c, "+OK")
	c.Close()
	// A new session can log in (the lock is released once the server has
	// seen the close, which takes a moment) and sees the message.
	for try := 0; ; try++ {
		c = dial(t, s)
		send(t, c, "USER alice")
		expect(t, c, "+OK")
		send(t, c, "PASS pw")
		if line := expect(t, c, ""); strings.HasPrefix(line, "+OK") {
			break
		} else if try == 100 || !strings.Contains(line, "[IN-USE]") {
			t.Fatalf("login after the dropped session: %q", line)
		}
		c.Close()
		time.Sleep(10 * time.Millisecond)
	}
	send(t, c, "STAT")
	expect(t, c, "+OK 1 ")
	if s.Stats().Commits != 0 {
		t.Error("a dropped session committed")
	}
}

func TestPipelinedWithDelay(t *testing.T) {
	s := NewServer(t, Config{ReplyDelay: 20 * time.Millisecond})
	s.AddUser("alice", "pw")
	c := dial(t, s)
	// All commands in one write; the replies come back in order.
	if _, err := c.W.WriteString("USER alice\r\nPASS pw\r\nNOOP\r\nSTAT\r\nQUIT\r\n"); err != nil {
		t.Fatal(err)
	}
	c.W.Flush()
	for _, want := range []string{"+OK", "+OK Logged in.", "+OK", "+OK 0 0", "+OK Logging out"} {
		expect(t, c, want)
	}
}

func TestFaultConnAndConfigure(t *testing.T) {
	s := NewServer(nil, Config{FaultConn: 2, GarbageAt: 1})
	defer s.Close()
	c1 := dial(t, s)
	send(t, c1, "NOOP")
	expect(t, c1, "-ERR") // not logged in; no fault on connection 1
	c2 := dial(t, s)
	send(t, c2, "NOOP")
	expect(t, c2, "* HELLO")
	s.Configure(func(c *Config) { c.FaultConn = 0 })
	s.DropAfter(1)
	c3 := dial(t, s)
	send(t, c3, "NOOP")
	if line, err := c3.ReadLine(); err == nil {
		t.Errorf("DropAfter(1): got %q, want the connection closed", line)
	}
}

func TestSTLSAndImplicitTLS(t *testing.T) {
	cert, err := NewTestCert()
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(t, Config{STLS: cert.ServerConfig()})
	c := dial(t, s)
	send(t, c, "STLS")
	expect(t, c, "+OK")
	// The test's textproto.Conn cannot switch to TLS, so open a raw one.
	raw, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	tp := textproto.NewConn(raw)
	expect(t, tp, "+OK")
	send(t, tp, "STLS")
	expect(t, tp, "+OK")
	tc := tls.Client(raw, cert.ClientConfig("127.0.0.1"))
	if err := tc.Handshake(); err != nil {
		t.Fatalf("STLS handshake: %v", err)
	}
	tp = textproto.NewConn(tc)
	send(t, tp, "CAPA")
	expect(t, tp, "+OK")
	if capa, _ := tp.ReadDotLines(); slices.Contains(capa, "STLS") {
		t.Errorf("STLS still offered under TLS: %q", capa)
	}

	s2 := NewServer(t, Config{ImplicitTLS: cert.ServerConfig()})
	tc2, err := tls.Dial("tcp", s2.Addr(), cert.ClientConfig("localhost"))
	if err != nil {
		t.Fatal(err)
	}
	defer tc2.Close()
	expect(t, textproto.NewConn(tc2), "+OK")
}

package pop3

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// scriptServer plays a transcript over net.Pipe: "S: x" lines are written
// with CRLF, "C: x" lines must be exactly what the client sends next. After
// the script it requires the client to send nothing more before closing.
// "X:" hangs up at once.
// Wait returns the first mismatch.
type scriptServer struct {
	done chan error
}

func runScript(t *testing.T, script string, o *Options) (*Client, *scriptServer) {
	t.Helper()
	cconn, sconn := net.Pipe()
	ss := &scriptServer{done: make(chan error, 1)}
	lines := strings.Split(strings.TrimSpace(script), "\n")
	go func() {
		defer sconn.Close()
		br := bufio.NewReader(sconn)
		sconn.SetDeadline(time.Now().Add(10 * time.Second))
		var out bytes.Buffer
		flush := func() error {
			if out.Len() == 0 {
				return nil
			}
			_, err := sconn.Write(out.Bytes())
			out.Reset()
			return err
		}
		for i, l := range lines {
			l = strings.TrimLeft(l, "\t ")
			switch {
			case strings.HasPrefix(l, "S: "), l == "S:":
				out.WriteString(strings.TrimPrefix(strings.TrimPrefix(l, "S:"), " ") + "\r\n")
			case strings.HasPrefix(l, "C: "):
				// Consecutive S lines go out in one write, so pipelined
				// replies arrive together as from a real server.
				if err := flush(); err != nil {
					ss.done <- fmt.Errorf("script line %d: write: %v", i+1, err)
					return
				}
				got, err := br.ReadString('\n')
				if want := strings.TrimPrefix(l, "C: ") + "\r\n"; got != want || err != nil {
					ss.done <- fmt.Errorf("script line %d: client sent %q (%v), want %q", i+1, got, err, want)
					return
				}
			case l == "X:": // the server hangs up
				flush()
				ss.done <- nil
				return
			default:
				ss.done <- fmt.Errorf("script line %d: bad line %q", i+1, l)
				return
			}
		}
		if err := flush(); err != nil {
			ss.done <- fmt.Errorf("final write: %v", err)
			return
		}
		if extra, err := br.ReadString('\n'); err != io.EOF || extra != "" {
			ss.done <- fmt.Errorf("client sent %q after the script (%v)", extra, err)
			return
		}
		ss.done <- nil
	}()
	if o == nil {
		o = &Options{AllowPlaintextAuth: true}
	}
	c := New(cconn, o)
	t.Cleanup(func() { c.Close() })
	return c, ss
}

// wait closes the client and returns the server's verdict.
func (ss *scriptServer) wait(t *testing.T, c *Client) {
	t.Helper()
	c.Close()
	select {
	case err := <-ss.done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("script server did not finish")
	}
}

func TestTranscriptUserPassSession(t *testing.T) {
	var trace bytes.Buffer
	c, ss := runScript(t, `
		S: +OK POP3 ready
		C: CAPA
		S: +OK
		S: USER
		S: UIDL
		S: .
		C: USER alice
		S: +OK
		C: PASS `+testPass+`
		S: +OK maildrop locked and ready
		C: STAT
		S: +OK 2 320
		C: LIST
		S: +OK 2 messages (320 octets)
		S: 1 120
		S: 2 200 extra words allowed
		S: .
		C: UIDL
		S: +OK
		S: 1 whqtswO00WBw418f9t5JxYwZ
		S: 2 QhdPYR:00WBw1Ph7x7
		S: .
		C: DELE 1
		S: +OK message 1 deleted
		C: QUIT
		S: +OK dewey POP3 server signing off (1 message deleted)
	`, &Options{AllowPlaintextAuth: true, Trace: &trace})
	ctx := testCtx(t)
	if banner, err := c.Greeting(ctx); err != nil || banner != "POP3 ready" {
		t.Fatalf("Greeting = %q, %v", banner, err)
	}
	if err := c.Login(ctx, "alice", testPass, AuthAuto); err != nil {
		t.Fatal(err)
	}
	if n, size, err := c.Stat(ctx); n != 2 || size != 320 || err != nil {
		t.Errorf("Stat = %d %d %v", n, size, err)
	}
	list, err := c.List(ctx)
	if err != nil || len(list) != 2 || list[1] != (MsgInfo{2, 200}) {
		t.Errorf("List = %v, %v", list, err)
	}
	uidl, err := c.UIDL(ctx)
	if err != nil || len(uidl) != 2 || uidl[1] != (UIDEntry{2, "QhdPYR:00WBw1Ph7x7"}) {
		t.Errorf("UIDL = %v, %v", uidl, err)
	}
	if err := c.Dele(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := c.Quit(ctx); err != nil {
		t.Fatal(err)
	}
	ss.wait(t, c)
	if !strings.Contains(trace.String(), "C: PASS ****\n") || strings.Contains(trace.String(), testPass) {
		t.Errorf("trace does not mask the password:\n%s", trace.String())
	}
}

func TestTranscriptAPOPRFCExample(t *testing.T) {
	// RFC 1939 section 7's example: shared secret "tanstaaf".
	c, ss := runScript(t, `
		S: +OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>
		C: APOP mrose c4c9334bac560ecc979e58001b3e22fb
		S: +OK maildrop has 1 message (369 octets)
	`, nil)
	if err := c.Login(testCtx(t), "mrose", "tanstaaf", AuthAPOP); err != nil {
		t.Fatal(err)
	}
	ss.wait(t, c)
}

func TestTranscriptAuthPlain(t *testing.T) {
	ir := base64.StdEncoding.EncodeToString([]byte("\x00alice\x00" + testPass))
	c, ss := runScript(t, `
		S: +OK ready
		C: CAPA
		S: +OK
		S: SASL PLAIN LOGIN
		S: USER
		S: .
		C: AUTH PLAIN `+ir+`
		S: +OK Logged in.
	`, nil)
	if err := c.Login(testCtx(t), "alice", testPass, AuthAuto); err != nil {
		t.Fatal(err)
	}
	ss.wait(t, c)

	// An initial response that would make the line longer than 255 octets
	// is sent after an empty challenge (RFC 5034 section 4).
	long := strings.Repeat("p", 200)
	ir = base64.StdEncoding.EncodeToString([]byte("\x00alice\x00" + long))
	c, ss = runScript(t, `
		S: +OK ready
		C: AUTH PLAIN
		S: +
		C: `+ir+`
		S: -ERR [AUTH] Authentication failed.
	`, nil)
	err := c.AuthPlain(testCtx(t), "alice", long)
	if !errors.Is(err, ErrAuth) || strings.Contains(err.Error(), long) {
		t.Fatalf("AuthPlain = %v, want [AUTH] without the password", err)
	}
	ss.wait(t, c)
}

func TestTranscriptPipelining(t *testing.T) {
	body := func(n int) string { return fmt.Sprintf("S: +OK\nS: Subject: %d\nS:\nS: ..dot\nS: .", n) }
	tests := []struct {
		name   string
		capa   string
		window int
		order  string // the exchange after CAPA
	}{
		{"lock-step without PIPELINING", "S: UIDL", 5, "C: RETR 1\n" + body(1) + "\nC: RETR 2\n" + body(2) + "\nC: RETR 3\n" + body(3)},
		{"window 2", "S: PIPELINING", 2, "C: RETR 1\nC: RETR 2\n" + body(1) + "\nC: RETR 3\n" + body(2) + "\n" + body(3)},
		{"window 3: all in flight", "S: PIPELINING", 3, "C: RETR 1\nC: RETR 2\nC: RETR 3\n" + body(1) + "\n" + body(2) + "\n" + body(3)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ss := runScript(t, "S: +OK\nC: CAPA\nS: +OK\n"+tt.capa+"\nS: .\n"+tt.order,
				&Options{PipelineWindow: tt.window})
			ctx := testCtx(t)
			if _, err := c.Greeting(ctx); err != nil {
				t.Fatal(err)
			}
			var got []string
			err := c.RetrEach(ctx, []int{1, 2, 3}, func(n int, r io.Reader) error {
				b, err := io.ReadAll(r)
				got = append(got, string(b))
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			for i, g := range got {
				if want := fmt.Sprintf("Subject: %d\n\n.dot\n", i+1); g != want {
					t.Errorf("message %d = %q, want %q", i+1, g, want)
				}
			}
			ss.wait(t, c)
		})
	}
}

func TestTranscriptInjectionRefused(t *testing.T) {
	calls := []struct {
		name string
		call func(*Client) error
	}{
		{"USER", func(c *Client) error { return c.User(testCtx(t), "alice\r\nDELE 1") }},
		{"PASS", func(c *Client) error { return c.Pass(testCtx(t), testPass+"\nDELE 1") }},
		{"Login user", func(c *Client) error { return c.Login(testCtx(t), "al\rice", testPass, AuthUserPass) }},
		{"Login pass", func(c *Client) error { return c.Login(testCtx(t), "alice", testPass+"\r\n", AuthAuto) }},
		{"APOP", func(c *Client) error { return c.APOP(testCtx(t), "alice\nQUIT", testPass) }},
		{"AuthPlain NUL", func(c *Client) error { return c.AuthPlain(testCtx(t), "alice", testPass+"\x00") }},
		{"empty user", func(c *Client) error { return c.User(testCtx(t), "") }},
		{"RETR 0", func(c *Client) error { _, err := c.Retr(testCtx(t), 0, io.Discard); return err }},
		{"DELE -1", func(c *Client) error { return c.Dele(testCtx(t), -1) }},
		{"TOP lines", func(c *Client) error { _, err := c.Top(testCtx(t), 1, -1, io.Discard); return err }},
		{"DeleEach", func(c *Client) error { _, err := c.DeleEach(testCtx(t), []int{1, 0}); return err }},
		{"too long", func(c *Client) error { return c.User(testCtx(t), strings.Repeat("u", 300)) }},
	}
	for i, tt := range calls {
		t.Run(tt.name, func(t *testing.T) {
			// The only thing the server may see is the NOOP sent after.
			c, ss := runScript(t, "S: +OK\nC: NOOP\nS: +OK", nil)
			if _, err := c.Greeting(testCtx(t)); err != nil {
				t.Fatal(err)
			}
			err := tt.call(c)
			if !errors.Is(err, ErrBadArgument) {
				t.Fatalf("#%d %s = %v, want ErrBadArgument", i, tt.name, err)
			}
			if strings.Contains(err.Error(), testPass) {
				t.Errorf("#%d error %q contains the password", i, err)
			}
			if c.Botched() != nil {
				t.Errorf("#%d a refused argument botched the session", i)
			}
			if err := c.Noop(testCtx(t)); err != nil {
				t.Fatal(err)
			}
			ss.wait(t, c)
		})
	}
}

var errConnGone = errors.New("connection gone")

func TestTranscriptProtocolErrors(t *testing.T) {
	tests := []struct {
		name   string
		script string
		call   func(*Client) error
		want   error
	}{
		{"bad STAT", "C: STAT\nS: +OK many", func(c *Client) error { _, _, err := c.Stat(testCtx(t)); return err }, ErrProtocol},
		{"bad LIST line", "C: LIST\nS: +OK\nS: 1 x\nS: .", func(c *Client) error { _, err := c.List(testCtx(t)); return err }, ErrProtocol},
		{"UIDL with a space", "C: UIDL\nS: +OK\nS: 1 a b\nS: .", func(c *Client) error { _, err := c.UIDL(testCtx(t)); return err }, ErrProtocol},
		{"UIDL too long", "C: UIDL\nS: +OK\nS: 1 " + strings.Repeat("u", 71) + "\nS: .", func(c *Client) error { _, err := c.UIDL(testCtx(t)); return err }, ErrProtocol},
		{"UIDL one for another message", "C: UIDL 2\nS: +OK 3 abc", func(c *Client) error { _, err := c.UIDLOne(testCtx(t), 2); return err }, ErrProtocol},
		{"neither +OK nor -ERR", "C: NOOP\nS: OK fine", func(c *Client) error { return c.Noop(testCtx(t)) }, ErrProtocol},
		{"continuation to NOOP", "C: NOOP\nS: + ", func(c *Client) error { return c.Noop(testCtx(t)) }, ErrProtocol},
		// The hang-up may hit the write (net.Pipe's acknowledgement races
		// with the close) or the read: both are a dropped connection.
		{"connection closed", "C: NOOP\nX:", func(c *Client) error { return c.Noop(testCtx(t)) }, errConnGone},
		{"data after STLS", "C: STLS\nS: +OK go ahead\nS: +OK injected", func(c *Client) error { return c.StartTLS(testCtx(t), nil) }, ErrProtocol},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ss := runScript(t, "S: +OK\n"+tt.script, nil)
			if _, err := c.Greeting(testCtx(t)); err != nil {
				t.Fatal(err)
			}
			err := tt.call(c)
			if tt.want == errConnGone && (errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.ErrClosedPipe)) {
				err = fmt.Errorf("%w (%w)", errConnGone, err)
			}
			if !errors.Is(err, tt.want) || !errors.Is(err, ErrBotched) {
				t.Fatalf("#%d %s = %v, want %v and ErrBotched", i, tt.name, err, tt.want)
			}
			if err := c.Quit(testCtx(t)); !errors.Is(err, ErrBotched) {
				t.Errorf("#%d Quit = %v, want ErrBotched (no QUIT sent)", i, err)
			}
			ss.wait(t, c)
		})
	}
}

func TestTranscriptResponseCodes(t *testing.T) {
	tests := []struct {
		line string
		want error
		code string
	}{
		{"-ERR [SYS/TEMP] try later", ErrSysTemp, "SYS/TEMP"},
		{"-ERR [SYS/TEMP/DISK] disk full", ErrSysTemp, "SYS/TEMP/DISK"},
		{"-ERR [sys/perm] gone", ErrSysPerm, "SYS/PERM"},
		{"-ERR [IN-USE] locked", ErrInUse, "IN-USE"},
		{"-ERR [LOGIN-DELAY] wait", ErrLoginDelay, "LOGIN-DELAY"},
		{"-ERR [AUTH] bad", ErrAuth, "AUTH"},
	}
	for i, tt := range tests {
		c, ss := runScript(t, "S: +OK\nC: USER u\nS: +OK\nC: PASS p\nS: "+tt.line, nil)
		err := c.Login(testCtx(t), "u", "p", AuthUserPass)
		var re *ResponseError
		if !errors.Is(err, tt.want) || !errors.As(err, &re) || re.Code != tt.code || re.Command != "PASS ****" {
			t.Errorf("#%d %q: Login = %v (%+v), want %v", i, tt.line, err, re, tt.want)
		}
		ss.wait(t, c)
	}
	// A -ERR greeting.
	c, ss := runScript(t, "S: -ERR [SYS/TEMP] too many connections", nil)
	_, err := c.Greeting(testCtx(t))
	if !errors.Is(err, ErrSysTemp) {
		t.Errorf("Greeting = %v, want [SYS/TEMP]", err)
	}
	if err := c.Noop(testCtx(t)); !errors.Is(err, ErrBotched) {
		t.Errorf("Noop after a -ERR greeting = %v", err)
	}
	ss.wait(t, c)
}

func TestTranscriptGreetingReadBeforeFirstCommand(t *testing.T) {
	// New does no I/O; the first command reads the greeting first, so it
	// cannot take the banner for its own reply.
	c, ss := runScript(t, `
		S: +OK hello <1.2@host>
		C: USER alice
		S: -ERR [AUTH] no such user
	`, nil)
	err := c.User(testCtx(t), "alice")
	if !errors.Is(err, ErrAuth) {
		t.Fatalf("User = %v, want the -ERR [AUTH] reply", err)
	}
	if banner, err := c.Greeting(testCtx(t)); banner != "hello <1.2@host>" || err != nil {
		t.Errorf("Greeting = %q, %v", banner, err)
	}
	ss.wait(t, c)
}

// LoginList sends the login, CAPA, UIDL and LIST in one flight when the
// server announced PIPELINING before login.
func TestTranscriptLoginListPipelined(t *testing.T) {
	c, ss := runScript(t, `
		S: +OK POP3 ready
		C: CAPA
		S: +OK
		S: USER
		S: PIPELINING
		S: .
		C: USER alice
		C: PASS `+testPass+`
		C: CAPA
		C: UIDL
		C: LIST
		S: +OK
		S: +OK logged in
		S: +OK
		S: PIPELINING
		S: EXPIRE NEVER
		S: .
		S: +OK
		S: 1 uid-a
		S: 2 uid-b
		S: .
		S: +OK
		S: 1 120
		S: 2 200
		S: .
	`, nil)
	l, err := c.LoginList(testCtx(t), "alice", testPass, AuthUserPass)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Authed() || l.Capa == nil || l.Capa.Expire != ExpireNever || len(l.UIDs) != 2 || l.UIDErr != nil ||
		len(l.Sizes) != 2 || l.Sizes[1] != (MsgInfo{2, 200}) || l.ListErr != nil {
		t.Errorf("listing %+v", l)
	}
	if _, logins := c.Stats(); logins != 1 {
		t.Errorf("%d logins", logins)
	}
	ss.wait(t, c)
}

// A refused pipelined login is returned as the server's -ERR; the client
// is botched (replies to the rest are in flight) and sends nothing more.
func TestTranscriptLoginListRefused(t *testing.T) {
	c, ss := runScript(t, `
		S: +OK POP3 ready
		C: CAPA
		S: +OK
		S: SASL PLAIN
		S: PIPELINING
		S: .
		C: AUTH PLAIN `+base64.StdEncoding.EncodeToString([]byte("\x00alice\x00"+testPass))+`
		C: CAPA
		C: UIDL
		C: LIST
		S: -ERR [IN-USE] locked
		S: +OK
		S: SASL PLAIN
		S: .
		S: -ERR not logged in
		S: -ERR not logged in
	`, nil)
	_, err := c.LoginList(testCtx(t), "alice", testPass, AuthAuto)
	if !errors.Is(err, ErrInUse) || c.Authed() || c.Botched() == nil {
		t.Fatalf("LoginList = %v, authed %v, botched %v; want [IN-USE] and a botched client", err, c.Authed(), c.Botched())
	}
	if err := c.Quit(testCtx(t)); err == nil {
		t.Error("Quit after the refused login succeeded")
	}
	ss.wait(t, c)
}

// Without PIPELINING every command waits for the previous reply.
func TestTranscriptLoginListLockStep(t *testing.T) {
	c, ss := runScript(t, `
		S: +OK POP3 ready
		C: CAPA
		S: +OK
		S: USER
		S: .
		C: USER alice
		S: +OK
		C: PASS `+testPass+`
		S: +OK
		C: CAPA
		S: -ERR no CAPA after login
		C: UIDL
		S: -ERR no UIDL
		C: LIST
		S: +OK
		S: .
	`, nil)
	l, err := c.LoginList(testCtx(t), "alice", testPass, AuthAuto)
	if err != nil {
		t.Fatal(err)
	}
	if l.Capa != nil || !errors.Is(l.UIDErr, ErrNoUIDL) || len(l.Sizes) != 0 || l.ListErr != nil {
		t.Errorf("listing %+v", l)
	}
	ss.wait(t, c)
}

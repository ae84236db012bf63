package pop3

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/popdedupe/popdedupe/pop3/pop3test"
)

// testPass is the password used everywhere; TestPasswordNeverLeaks greps
// for it.
const testPass = "s3cr3t-Pa55"

// testCtx bounds a test so a bug shows as a failure, not a hung run.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// fakeMsgs are three small messages, one with a dot-stuffed line and one
// without a final newline.
var fakeMsgs = []struct{ uid, body string }{
	{"uid-a", "Subject: one\nMessage-ID: <1@x>\n\nfirst body\n.dotted line\n..two dots\n"},
	{"uid-b", "Subject: two\r\nMessage-ID: <2@x>\r\n\r\nsecond\r\nbody\r\n"},
	{"uid-c", "Subject: three\n\nno final newline"},
}

// wantBody is what Retr yields for body: LF line ends, a final newline.
func wantBody(body string) string {
	s := strings.ReplaceAll(body, "\r\n", "\n")
	if !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	return s
}

// newFake starts a fake server with user "alice" and fakeMsgs.
func newFake(t *testing.T, cfg pop3test.Config) *pop3test.Server {
	t.Helper()
	srv := pop3test.NewServer(t, cfg)
	srv.AddUser("alice", testPass)
	for _, m := range fakeMsgs {
		srv.AddMessage("alice", m.uid, []byte(m.body))
	}
	return srv
}

// dialFake connects with a trace kept for the test log and plaintext
// logins allowed (the fake server has no TLS unless configured).
func dialFake(t *testing.T, srv *pop3test.Server, o *Options) *Client {
	t.Helper()
	if o == nil {
		o = &Options{}
	}
	if o.Trace == nil {
		var trace bytes.Buffer
		o.Trace = &trace
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("trace:\n%s", trace.String())
			}
		})
	}
	o.AllowPlaintextAuth = true
	c, err := Dial(testCtx(t), srv.Addr(), o)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func loginFake(t *testing.T, srv *pop3test.Server, o *Options) *Client {
	t.Helper()
	c := dialFake(t, srv, o)
	if err := c.Login(testCtx(t), "alice", testPass, AuthAuto); err != nil {
		t.Fatalf("Login: %v", err)
	}
	return c
}

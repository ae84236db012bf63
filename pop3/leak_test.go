package pop3

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/popdedupe/popdedupe/pop3/pop3test"
)

// TestPasswordNeverLeaks runs logins that succeed, fail, break off and are
// refused, and greps every trace, error and client dump for the password.
func TestPasswordNeverLeaks(t *testing.T) {
	var outputs []string
	record := func(label string, err error, c *Client, trace *bytes.Buffer) {
		outputs = append(outputs, label+": "+trace.String())
		if err != nil {
			outputs = append(outputs, fmt.Sprintf("%s: %v | %+v | %#v", label, err, err, err))
		}
		if c != nil {
			outputs = append(outputs, fmt.Sprintf("%s: %#v %+v %+v", label, c.opt, c.dr, c.Botched()))
		}
	}
	secrets := []string{testPass, testPass + "\r\nDELE 1", "pw with spaces " + testPass}
	for _, pass := range secrets {
		for _, method := range []AuthMethod{AuthAuto, AuthUserPass, AuthAPOP, AuthPlain} {
			for name, cfg := range map[string]pop3test.Config{
				"ok":         {APOP: true},
				"drop":       {APOP: true, DropAfter: 2},
				"stall":      {APOP: true, StallAt: 2},
				"garbage":    {APOP: true, GarbageAt: 2},
				"in-use":     {APOP: true, InUse: true},
				"long reply": {APOP: true, LongLineAt: 2},
			} {
				label := fmt.Sprintf("%s/%v/%q", name, method, pass[:4])
				srv := pop3test.NewServer(t, cfg)
				srv.AddUser("alice", pass)
				var trace bytes.Buffer
				c, err := Dial(testCtx(t), srv.Addr(), &Options{Trace: &trace, AllowPlaintextAuth: true, CommandTimeout: 100 * time.Millisecond})
				if err != nil {
					t.Fatal(err)
				}
				err = c.Login(testCtx(t), "alice", pass, method)
				record(label, err, c, &trace)
				// The wrong password too: the -ERR path.
				err = c.Login(testCtx(t), "alice", "x"+pass, method)
				record(label+" wrong", err, c, &trace)
				c.Close()
			}
		}
	}
	// Refused before sending: plaintext, and over-long lines.
	srv := pop3test.NewServer(t, pop3test.Config{})
	var trace bytes.Buffer
	c, err := Dial(testCtx(t), srv.Addr(), &Options{Trace: &trace})
	if err != nil {
		t.Fatal(err)
	}
	record("plaintext", c.Login(testCtx(t), "alice", testPass, AuthAuto), c, &trace)
	c.opt.AllowPlaintextAuth = true
	record("long", c.Pass(testCtx(t), strings.Repeat(testPass, 30)), c, &trace)
	c.Close()

	if len(outputs) < 100 {
		t.Fatalf("only %d outputs collected", len(outputs))
	}
	for _, o := range outputs {
		for _, p := range []string{testPass, "x" + testPass} {
			if strings.Contains(o, p) {
				t.Errorf("password found in output:\n%s", o)
			}
		}
	}
}

package pop3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/popdedupe/popdedupe/pop3/pop3test"
)

func TestFakeSession(t *testing.T) {
	srv := newFake(t, pop3test.Config{})
	c := loginFake(t, srv, nil)
	ctx := testCtx(t)

	n, size, err := c.Stat(ctx)
	if err != nil || n != 3 {
		t.Fatalf("Stat = %d, %d, %v; want 3 messages", n, size, err)
	}
	list, err := c.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for i, m := range list {
		// LIST counts CRLF line ends (RFC 1939 section 11).
		want := int64(len(strings.ReplaceAll(wantBody(fakeMsgs[i].body), "\n", "\r\n")))
		if m.Num != i+1 || m.Size != want {
			t.Errorf("List[%d] = %+v, want {%d %d}", i, m, i+1, want)
		}
		sum += m.Size
	}
	if sum != size {
		t.Errorf("STAT size %d, LIST sizes add to %d", size, sum)
	}
	uidl, err := c.UIDL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range uidl {
		if e.Num != i+1 || e.UID != fakeMsgs[i].uid {
			t.Errorf("UIDL[%d] = %+v, want {%d %s}", i, e, i+1, fakeMsgs[i].uid)
		}
	}
	if uid, err := c.UIDLOne(ctx, 2); err != nil || uid != "uid-b" {
		t.Errorf("UIDLOne(2) = %q, %v", uid, err)
	}
	if m, err := c.ListOne(ctx, 3); err != nil || m != list[2] {
		t.Errorf("ListOne(3) = %+v, %v; want %+v", m, err, list[2])
	}
	for i, m := range fakeMsgs {
		var buf bytes.Buffer
		nw, err := c.Retr(ctx, i+1, &buf)
		if err != nil {
			t.Fatalf("Retr(%d): %v", i+1, err)
		}
		if got, want := buf.String(), wantBody(m.body); got != want || nw != int64(len(want)) {
			t.Errorf("Retr(%d) = %q (%d bytes), want %q", i+1, got, nw, want)
		}
	}
	var top bytes.Buffer
	if _, err := c.Top(ctx, 1, 1, &top); err != nil {
		t.Fatal(err)
	}
	if want := "Subject: one\nMessage-ID: <1@x>\n\nfirst body\n"; top.String() != want {
		t.Errorf("Top(1, 1) = %q, want %q", top.String(), want)
	}
	if err := c.Dele(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if err := c.Noop(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := c.Stat(ctx); n != 2 {
		t.Errorf("Stat after DELE: %d messages, want 2", n)
	}
	if got := len(srv.Messages("alice")); got != 3 {
		t.Errorf("before QUIT the server has %d messages, want 3 (DELE only at QUIT)", got)
	}
	if err := c.Quit(ctx); err != nil {
		t.Fatalf("Quit: %v", err)
	}
	left := srv.Messages("alice")
	if len(left) != 2 || left[0].UID != "uid-b" || left[1].UID != "uid-c" {
		t.Errorf("after QUIT: %v, want uid-b, uid-c", left)
	}
	if st := srv.Stats(); st.Commits != 1 || st.Deleted != 1 {
		t.Errorf("server stats %+v, want 1 commit deleting 1", st)
	}
	cmds, logins := c.Stats()
	if logins != 1 || cmds < 10 {
		t.Errorf("client Stats = %d commands, %d logins", cmds, logins)
	}
	if err := c.Noop(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Noop after Quit = %v, want ErrClosed", err)
	}
}

func TestFakeRsetUndoesDele(t *testing.T) {
	srv := newFake(t, pop3test.Config{})
	c := loginFake(t, srv, nil)
	ctx := testCtx(t)
	if err := c.Dele(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if err := c.Dele(ctx, 2); !isResp(err, "DELE 2") {
		t.Errorf("second DELE 2 = %v, want -ERR", err)
	}
	if err := c.Rset(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Quit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := len(srv.Messages("alice")); got != 3 {
		t.Errorf("after RSET and QUIT: %d messages, want 3", got)
	}
}

func isResp(err error, cmd string) bool {
	var re *ResponseError
	return errors.As(err, &re) && re.Command == cmd
}

func TestFakeAuthMethods(t *testing.T) {
	tests := []struct {
		name   string
		cfg    pop3test.Config
		method AuthMethod
		verb   string // the command the server must have seen
	}{
		{"auto picks SASL PLAIN", pop3test.Config{}, AuthAuto, "AUTH PLAIN ****"},
		{"auto without SASL uses USER", pop3test.Config{NoSASL: true}, AuthAuto, "PASS ****"},
		{"auto without CAPA uses USER", pop3test.Config{NoCAPA: true}, AuthAuto, "PASS ****"},
		{"auto with only APOP", pop3test.Config{NoSASL: true, NoUSER: true, APOP: true}, AuthAuto, "APOP alice ****"},
		{"user/pass", pop3test.Config{}, AuthUserPass, "PASS ****"},
		{"apop", pop3test.Config{APOP: true}, AuthAPOP, "APOP alice ****"},
		{"plain", pop3test.Config{}, AuthPlain, "AUTH PLAIN ****"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newFake(t, tt.cfg)
			c := dialFake(t, srv, nil)
			ctx := testCtx(t)
			if err := c.Login(ctx, "alice", testPass, tt.method); err != nil {
				t.Fatalf("#%d Login(%v): %v", i, tt.method, err)
			}
			if !slices.Contains(srv.Commands(), tt.verb) {
				t.Errorf("#%d server saw %q, want %q among them", i, srv.Commands(), tt.verb)
			}
			if n, _, err := c.Stat(ctx); err != nil || n != 3 {
				t.Errorf("#%d Stat after login = %d, %v", i, n, err)
			}
			if st := srv.Stats(); st.LoginsSucceeded["alice"] != 1 {
				t.Errorf("#%d server counted %v successful logins", i, st.LoginsSucceeded)
			}
		})
	}
}

func TestFakeNoAuthMethod(t *testing.T) {
	srv := newFake(t, pop3test.Config{NoSASL: true, NoUSER: true})
	c := dialFake(t, srv, nil)
	err := c.Login(testCtx(t), "alice", testPass, AuthAuto)
	if !errors.Is(err, ErrNoAuthMethod) {
		t.Fatalf("Login = %v, want ErrNoAuthMethod", err)
	}
	if c.Botched() != nil {
		t.Errorf("botched by a refused login: %v", c.Botched())
	}
}

func TestFakeWrongPassword(t *testing.T) {
	for _, m := range []AuthMethod{AuthUserPass, AuthPlain, AuthAPOP} {
		t.Run(m.String(), func(t *testing.T) {
			srv := newFake(t, pop3test.Config{APOP: true})
			c := dialFake(t, srv, nil)
			ctx := testCtx(t)
			err := c.Login(ctx, "alice", "wrong", m)
			var re *ResponseError
			if !errors.As(err, &re) || !errors.Is(err, ErrAuth) || re.Code != "AUTH" {
				t.Fatalf("Login with a wrong password = %v, want *ResponseError [AUTH]", err)
			}
			if errors.Is(err, ErrInUse) || re.Temporary() {
				t.Errorf("[AUTH] error %v also matches IN-USE or is temporary", err)
			}
			if c.Botched() != nil {
				t.Fatalf("a -ERR botched the session: %v", c.Botched())
			}
			// The session is still in step: a second try works.
			if err := c.Login(ctx, "alice", testPass, m); err != nil {
				t.Fatalf("second Login: %v", err)
			}
		})
	}
}

func TestFakeLoginDelay(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	srv := newFake(t, pop3test.Config{LoginDelay: 300 * time.Second, Now: clock})
	ctx := testCtx(t)

	c := dialFake(t, srv, nil)
	capa, err := c.Capa(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if capa.LoginDelay != 300*time.Second {
		t.Errorf("Capa LoginDelay = %v, want 5m", capa.LoginDelay)
	}
	if err := c.Login(ctx, "alice", testPass, AuthAuto); err != nil {
		t.Fatal(err)
	}
	if err := c.Quit(ctx); err != nil {
		t.Fatal(err)
	}

	now = now.Add(299 * time.Second)
	c = dialFake(t, srv, nil)
	err = c.Login(ctx, "alice", testPass, AuthAuto)
	var re *ResponseError
	if !errors.Is(err, ErrLoginDelay) || !errors.As(err, &re) || !re.Temporary() || errors.Is(err, ErrAuth) {
		t.Fatalf("second login within the delay = %v, want [LOGIN-DELAY]", err)
	}
	c.Close()

	now = now.Add(2 * time.Second)
	c = dialFake(t, srv, nil)
	if err := c.Login(ctx, "alice", testPass, AuthAuto); err != nil {
		t.Fatalf("login after the delay: %v", err)
	}
	st := srv.Stats()
	if st.LoginsAttempted["alice"] != 3 || st.LoginsSucceeded["alice"] != 2 {
		t.Errorf("server counted %v attempts, %v successes; want 3 and 2", st.LoginsAttempted, st.LoginsSucceeded)
	}
}

func TestFakeInUse(t *testing.T) {
	srv := newFake(t, pop3test.Config{})
	ctx := testCtx(t)
	first := loginFake(t, srv, nil)
	second := dialFake(t, srv, nil)
	err := second.Login(ctx, "alice", testPass, AuthUserPass)
	if !errors.Is(err, ErrInUse) {
		t.Fatalf("second session's login = %v, want [IN-USE]", err)
	}
	if err := first.Quit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := second.Login(ctx, "alice", testPass, AuthUserPass); err != nil {
		t.Fatalf("login after the first session ended: %v", err)
	}

	srv2 := newFake(t, pop3test.Config{InUse: true})
	c := dialFake(t, srv2, nil)
	if err := c.Login(ctx, "alice", testPass, AuthPlain); !errors.Is(err, ErrInUse) {
		t.Fatalf("Login with InUse = %v, want [IN-USE]", err)
	}
}

// session is the command sequence used by the drop tests: 8 commands.
func runSession(ctx context.Context, c *Client) error {
	if err := c.Login(ctx, "alice", testPass, AuthUserPass); err != nil { // USER, PASS
		return err
	}
	if _, err := c.UIDL(ctx); err != nil {
		return err
	}
	if err := c.RetrEach(ctx, []int{1}, func(int, io.Reader) error { return nil }); err != nil { // CAPA, RETR
		return err
	}
	if _, err := c.DeleEach(ctx, []int{1, 2}); err != nil {
		return err
	}
	return c.Quit(ctx)
}

func TestFakeDropAfterEveryCommand(t *testing.T) {
	const commands = 8
	for k := 1; k <= commands; k++ {
		t.Run(fmt.Sprint("k=", k), func(t *testing.T) {
			srv := newFake(t, pop3test.Config{DropAfter: k})
			c := dialFake(t, srv, nil)
			err := runSession(testCtx(t), c)
			if !errors.Is(err, ErrBotched) || !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("session dropped at command %d: %v, want botched with unexpected EOF", k, err)
			}
			if !errors.Is(c.Botched(), ErrBotched) {
				t.Errorf("Botched() = %v", c.Botched())
			}
			if err := c.Quit(testCtx(t)); !errors.Is(err, ErrBotched) {
				t.Errorf("Quit on a botched client = %v", err)
			}
			if got := len(srv.Messages("alice")); got != 3 {
				t.Errorf("%d messages left, want 3: nothing may be committed", got)
			}
			if st := srv.Stats(); st.Commits != 0 || st.Commands != k {
				t.Errorf("server: %d commits, %d commands; want 0 and %d", st.Commits, st.Commands, k)
			}
		})
	}
	t.Run("no drop", func(t *testing.T) {
		srv := newFake(t, pop3test.Config{})
		if err := runSession(testCtx(t), dialFake(t, srv, nil)); err != nil {
			t.Fatal(err)
		}
		if st := srv.Stats(); st.Commands != commands || st.Commits != 1 {
			t.Errorf("server saw %d commands and %d commits; the drop table assumes %d and 1", st.Commands, st.Commits, commands)
		}
	})
}

func TestFakeDropInRetr(t *testing.T) {
	big := strings.Repeat("0123456789abcdef\n", 4000)
	srv := pop3test.NewServer(t, pop3test.Config{DropInRetr: 30000})
	srv.AddUser("alice", testPass)
	srv.AddMessage("alice", "big", []byte("Subject: big\n\n"+big))
	srv.AddMessage("alice", "small", []byte("Subject: small\n\n"))
	c := loginFake(t, srv, nil)
	ctx := testCtx(t)
	if err := c.Dele(ctx, 2); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	n, err := c.Retr(ctx, 1, &buf)
	if !errors.Is(err, ErrBotched) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("Retr cut short = %v, want botched with unexpected EOF", err)
	}
	if n <= 0 || n >= int64(len(big)) || n != int64(buf.Len()) {
		t.Errorf("Retr wrote %d bytes (buffer %d) of a %d-byte message", n, buf.Len(), len(big))
	}
	if err := c.Quit(ctx); !errors.Is(err, ErrBotched) {
		t.Errorf("Quit = %v, want ErrBotched", err)
	}
	if got := len(srv.Messages("alice")); got != 2 {
		t.Errorf("the DELE was committed: %d messages left", got)
	}
}

func TestFakeStallTimesOut(t *testing.T) {
	srv := newFake(t, pop3test.Config{StallAt: 3})
	c := loginFake(t, srv, &Options{CommandTimeout: 200 * time.Millisecond})
	err := c.Noop(testCtx(t)) // command 3 after AUTH's CAPA and AUTH
	if !errors.Is(err, ErrTimeout) || !errors.Is(err, ErrBotched) {
		t.Fatalf("stalled NOOP = %v, want ErrTimeout and ErrBotched", err)
	}
	if err := c.Quit(testCtx(t)); !errors.Is(err, ErrBotched) {
		t.Errorf("Quit = %v", err)
	}
	if st := srv.Stats(); slices.Contains(srv.Commands(), "QUIT") || st.Commits != 0 {
		t.Errorf("QUIT reached the server: %v", srv.Commands())
	}
}

func TestFakeContextDeadlineAndCancel(t *testing.T) {
	srv := newFake(t, pop3test.Config{StallAt: 3})
	c := loginFake(t, srv, &Options{CommandTimeout: -1})
	ctx, cancel := context.WithTimeout(testCtx(t), 100*time.Millisecond)
	defer cancel()
	if _, _, err := c.Stat(ctx); !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrBotched) {
		t.Fatalf("Stat past the deadline = %v", err)
	}

	c = loginFake(t, srv, &Options{CommandTimeout: -1})
	ctx, cancel = context.WithCancel(testCtx(t))
	time.AfterFunc(50*time.Millisecond, cancel)
	if _, _, err := c.Stat(ctx); !errors.Is(err, context.Canceled) || !errors.Is(err, ErrBotched) {
		t.Fatalf("cancelled Stat = %v", err)
	}
	if _, _, err := c.Stat(testCtx(t)); !errors.Is(err, ErrBotched) {
		t.Errorf("Stat after cancel = %v, want ErrBotched", err)
	}

	// A context that is already done sends nothing and botches nothing.
	c = loginFake(t, srv, nil)
	done, cancel := context.WithCancel(testCtx(t))
	cancel()
	if err := c.Dele(done, 1); !errors.Is(err, context.Canceled) || errors.Is(err, ErrBotched) {
		t.Errorf("Dele with a done context = %v, want context.Canceled, not botched", err)
	}
}

func TestFakeReplyDelayTimeout(t *testing.T) {
	srv := newFake(t, pop3test.Config{ReplyDelay: 500 * time.Millisecond})
	_, err := Dial(testCtx(t), srv.Addr(), &Options{CommandTimeout: 50 * time.Millisecond})
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("Dial with a slow greeting = %v, want ErrTimeout", err)
	}
}

func TestFakeGarbageAndLongLines(t *testing.T) {
	tests := []struct {
		cfg  pop3test.Config
		want error
	}{
		{pop3test.Config{GarbageAt: 3}, ErrProtocol},
		{pop3test.Config{LongLineAt: 3}, ErrLineTooLong},
	}
	for i, tt := range tests {
		srv := newFake(t, tt.cfg)
		c := loginFake(t, srv, nil) // commands 1, 2: CAPA, AUTH
		ctx := testCtx(t)
		if _, _, err := c.Stat(ctx); !errors.Is(err, tt.want) || !errors.Is(err, ErrBotched) {
			t.Errorf("#%d Stat = %v, want %v and ErrBotched", i, err, tt.want)
		}
		if err := c.Noop(ctx); !errors.Is(err, ErrBotched) || !errors.Is(err, tt.want) {
			t.Errorf("#%d later Noop = %v, want ErrBotched wrapping %v", i, err, tt.want)
		}
		if err := c.Quit(ctx); !errors.Is(err, ErrBotched) {
			t.Errorf("#%d Quit = %v", i, err)
		}
		if slices.Contains(srv.Commands(), "QUIT") {
			t.Errorf("#%d QUIT was sent on a botched session", i)
		}
	}
}

func TestFakeNoUIDL(t *testing.T) {
	srv := newFake(t, pop3test.Config{NoUIDL: true})
	c := loginFake(t, srv, nil)
	ctx := testCtx(t)
	_, err := c.UIDL(ctx)
	var re *ResponseError
	if !errors.Is(err, ErrNoUIDL) || !errors.As(err, &re) {
		t.Fatalf("UIDL on a server without it = %v", err)
	}
	if _, err := c.UIDLOne(ctx, 1); !errors.Is(err, ErrNoUIDL) {
		t.Errorf("UIDLOne = %v", err)
	}
	if capa, err := c.Capa(ctx); err != nil || capa.UIDL {
		t.Errorf("Capa = %+v, %v; want no UIDL", capa, err)
	}
	if _, _, err := c.Stat(ctx); err != nil {
		t.Errorf("session not usable after -ERR to UIDL: %v", err)
	}
}

func TestFakeDuplicateUIDL(t *testing.T) {
	srv := newFake(t, pop3test.Config{})
	srv.AddMessage("alice", "uid-a", []byte("Subject: same uid\n\nx\n"))
	c := loginFake(t, srv, nil)
	list, err := c.UIDL(testCtx(t))
	var de *DuplicateUIDLError
	if !errors.Is(err, ErrDuplicateUIDL) || !errors.As(err, &de) {
		t.Fatalf("UIDL = %v, want ErrDuplicateUIDL", err)
	}
	if de.UID != "uid-a" || !slices.Equal(de.Nums, []int{1, 4}) {
		t.Errorf("duplicate = %+v, want uid-a on 1 and 4", de)
	}
	if len(list) != 4 {
		t.Errorf("the listing is returned with the error: got %d entries", len(list))
	}
	if c.Botched() != nil {
		t.Errorf("duplicate UIDL botched the session")
	}
}

func TestFakeDeleErr(t *testing.T) {
	for _, pipelining := range []bool{true, false} {
		srv := newFake(t, pop3test.Config{DeleErr: []int{2}, NoPipelining: !pipelining})
		c := loginFake(t, srv, nil)
		ctx := testCtx(t)
		errs, err := c.DeleEach(ctx, []int{1, 2, 3})
		if !errors.Is(err, ErrSysTemp) || !isResp(err, "DELE 2") {
			t.Fatalf("pipelining=%v DeleEach err = %v, want -ERR [SYS/TEMP] for DELE 2", pipelining, err)
		}
		if errs[0] != nil || !errors.Is(errs[1], ErrSysTemp) || errs[2] != nil {
			t.Errorf("pipelining=%v per-message errors %v", pipelining, errs)
		}
		if err := c.Quit(ctx); err != nil {
			t.Fatal(err)
		}
		left := srv.Messages("alice")
		if len(left) != 1 || left[0].UID != "uid-b" {
			t.Errorf("pipelining=%v left %v, want only uid-b", pipelining, left)
		}
	}
}

func TestFakeQuitErr(t *testing.T) {
	srv := newFake(t, pop3test.Config{QuitErr: true})
	c := loginFake(t, srv, nil)
	ctx := testCtx(t)
	if err := c.Dele(ctx, 1); err != nil {
		t.Fatal(err)
	}
	err := c.Quit(ctx)
	if !errors.Is(err, ErrUpdateFailed) || !isResp(err, "QUIT") {
		t.Fatalf("Quit = %v, want ErrUpdateFailed", err)
	}
	if got := len(srv.Messages("alice")); got != 3 {
		t.Errorf("%d messages left", got)
	}
}

func TestFakeRetrEachAndTopEach(t *testing.T) {
	for _, cfg := range []pop3test.Config{{}, {NoPipelining: true}, {NoCAPA: true}} {
		srv := newFake(t, cfg)
		c := loginFake(t, srv, &Options{PipelineWindow: 2})
		ctx := testCtx(t)
		var got []string
		err := c.RetrEach(ctx, []int{3, 1, 2, 4}, func(n int, r io.Reader) error {
			b, err := io.ReadAll(r)
			got = append(got, fmt.Sprintf("%d:%s", n, b))
			return err
		})
		var want []string
		for _, n := range []int{3, 1, 2} {
			want = append(want, fmt.Sprintf("%d:%s", n, wantBody(fakeMsgs[n-1].body)))
		}
		if !isResp(err, "RETR 4") {
			t.Errorf("%+v: RetrEach error = %v, want -ERR for RETR 4", cfg, err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%+v: RetrEach got %q, want %q", cfg, got, want)
		}
		// TopEach with callbacks that read nothing: the data is drained.
		var seen []int
		if err := c.TopEach(ctx, []int{1, 2, 3}, 0, func(n int, r io.Reader) error {
			seen = append(seen, n)
			return nil
		}); err != nil {
			t.Errorf("%+v: TopEach: %v", cfg, err)
		}
		if !slices.Equal(seen, []int{1, 2, 3}) {
			t.Errorf("%+v: TopEach saw %v", cfg, seen)
		}
		if _, _, err := c.Stat(ctx); err != nil {
			t.Errorf("%+v: session out of step after the batches: %v", cfg, err)
		}
	}
}

func TestFakeCallbackErrorBotches(t *testing.T) {
	srv := newFake(t, pop3test.Config{})
	c := loginFake(t, srv, nil)
	ctx := testCtx(t)
	if err := c.Dele(ctx, 3); err != nil {
		t.Fatal(err)
	}
	diskFull := errors.New("disk full")
	err := c.RetrEach(ctx, []int{1, 2}, func(n int, r io.Reader) error { return diskFull })
	if !errors.Is(err, diskFull) || !errors.Is(err, ErrBotched) {
		t.Fatalf("RetrEach = %v, want botched wrapping the callback's error", err)
	}
	if err := c.Quit(ctx); !errors.Is(err, ErrBotched) {
		t.Errorf("Quit = %v", err)
	}
	if got := len(srv.Messages("alice")); got != 3 {
		t.Errorf("DELE committed after a failed callback: %d left", got)
	}
}

type failWriter struct{ after int }

func (w *failWriter) Write(p []byte) (int, error) {
	if len(p) > w.after {
		return w.after, errors.New("no space left on device")
	}
	w.after -= len(p)
	return len(p), nil
}

func TestFakeRetrWriterErrorBotches(t *testing.T) {
	srv := newFake(t, pop3test.Config{})
	c := loginFake(t, srv, nil)
	ctx := testCtx(t)
	if _, err := c.Retr(ctx, 1, &failWriter{after: 5}); !errors.Is(err, ErrBotched) {
		t.Fatalf("Retr into a failing writer = %v, want ErrBotched", err)
	}
}

func TestFakeSTLS(t *testing.T) {
	cert, err := pop3test.NewTestCert()
	if err != nil {
		t.Fatal(err)
	}
	srv := newFake(t, pop3test.Config{STLS: cert.ServerConfig()})
	ctx := testCtx(t)

	c, err := Dial(ctx, srv.Addr(), &Options{RootCAs: cert.Pool})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(ctx, "alice", testPass, AuthAuto); !errors.Is(err, ErrPlaintextRefused) {
		t.Fatalf("Login before STLS = %v, want ErrPlaintextRefused", err)
	}
	if st := srv.Stats(); st.Commands != 0 {
		t.Fatalf("a refused login sent %d commands: %v", st.Commands, srv.Commands())
	}
	capa, err := c.Capa(ctx)
	if err != nil || !capa.STLS {
		t.Fatalf("Capa = %+v, %v; want STLS", capa, err)
	}
	if err := c.StartTLS(ctx, nil); err != nil {
		t.Fatalf("StartTLS: %v", err)
	}
	if !c.IsTLS() {
		t.Error("IsTLS false after StartTLS")
	}
	capa, err = c.Capa(ctx)
	if err != nil || capa.STLS {
		t.Errorf("Capa after STLS = %+v, %v; the cache must be refreshed (no STLS)", capa, err)
	}
	if err := c.Login(ctx, "alice", testPass, AuthAuto); err != nil {
		t.Fatalf("Login over TLS: %v", err)
	}
	if n, _, err := c.Stat(ctx); err != nil || n != 3 {
		t.Errorf("Stat = %d, %v", n, err)
	}

	// Without the CA the certificate is not trusted.
	c2, err := Dial(ctx, srv.Addr(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	err = c2.StartTLS(ctx, nil)
	if err == nil || !errors.Is(err, ErrBotched) {
		t.Fatalf("StartTLS with an untrusted certificate = %v, want a botched handshake failure", err)
	}
	// The wrong host name is refused too.
	c3, err := Dial(ctx, srv.Addr(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	if err := c3.StartTLS(ctx, cert.ClientConfig("mail.example.org")); err == nil {
		t.Fatal("StartTLS accepted a certificate for another host")
	}
}

func TestFakeSTLSNotOffered(t *testing.T) {
	srv := newFake(t, pop3test.Config{})
	c := dialFake(t, srv, nil)
	err := c.StartTLS(testCtx(t), nil)
	if !errors.Is(err, ErrTLSRequired) || !isResp(err, "STLS") {
		t.Fatalf("StartTLS on a server without STLS = %v", err)
	}
}

func TestFakeImplicitTLS(t *testing.T) {
	cert, err := pop3test.NewTestCert()
	if err != nil {
		t.Fatal(err)
	}
	srv := newFake(t, pop3test.Config{ImplicitTLS: cert.ServerConfig()})
	ctx := testCtx(t)
	c, err := DialTLS(ctx, srv.Addr(), &Options{RootCAs: cert.Pool})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !c.IsTLS() {
		t.Error("IsTLS false")
	}
	if err := c.Login(ctx, "alice", testPass, AuthAuto); err != nil {
		t.Fatalf("Login over implicit TLS: %v", err)
	}
	if _, err := DialTLS(ctx, srv.Addr(), nil); err == nil {
		t.Error("DialTLS trusted a self-signed certificate without the CA")
	}
	insecure, err := DialTLS(ctx, srv.Addr(), &Options{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("DialTLS with InsecureSkipVerify: %v", err)
	}
	insecure.Close()
}

func TestFakeExpire(t *testing.T) {
	srv := newFake(t, pop3test.Config{Expire: "0"})
	c := loginFake(t, srv, nil)
	ctx := testCtx(t)
	capa, err := c.Capa(ctx)
	if err != nil || capa.Expire != 0 {
		t.Fatalf("Capa = %+v, %v; want EXPIRE 0", capa, err)
	}
	// With EXPIRE 0 a read-only pass inspects with TOP: nothing is removed.
	if err := c.TopEach(ctx, []int{1, 2, 3}, 1<<20, func(int, io.Reader) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Retr(ctx, 2, io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := c.Quit(ctx); err != nil {
		t.Fatal(err)
	}
	left := srv.Messages("alice")
	if len(left) != 2 || left[0].UID != "uid-a" || left[1].UID != "uid-c" {
		t.Errorf("after RETR 2 with EXPIRE 0: %v, want uid-a and uid-c", left)
	}
}

func TestFakeListSizeLie(t *testing.T) {
	srv := newFake(t, pop3test.Config{ListSizeLie: 7})
	c := loginFake(t, srv, nil)
	ctx := testCtx(t)
	list, err := c.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := c.Retr(ctx, 1, &buf); err != nil {
		t.Fatal(err)
	}
	// The client reports what the server says; the caller compares.
	lines := int64(strings.Count(buf.String(), "\n"))
	if real := int64(buf.Len()) + lines; list[0].Size != real+7 {
		t.Errorf("LIST size %d, real wire size %d: the lie is not visible", list[0].Size, real)
	}
}

package reconcile

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/popdedupe/popdedupe/fingerprint"
	"github.com/popdedupe/popdedupe/pop3"
	"github.com/popdedupe/popdedupe/pop3/pop3test"
	"github.com/popdedupe/popdedupe/report"
	"github.com/popdedupe/popdedupe/store"
	"github.com/popdedupe/popdedupe/uidlstate"
)

// faultCase builds a fresh incident: 8 server messages, the even ones
// saved locally, run with --fetch-missing --delete-saved --apply.
type faultCase struct {
	srv    *pop3test.Server
	dir    string
	target string
	before []pop3test.Message
	o      Options
}

func newFaultCase(t *testing.T, cfg pop3test.Config) *faultCase {
	t.Helper()
	var msgs [][]byte
	for i := 0; i < 8; i++ {
		msgs = append(msgs, mail(i))
	}
	fc := &faultCase{srv: newServer(t, cfg, msgs...)}
	root := t.TempDir()
	fc.dir = maildir(t, filepath.Join(root, "Maildir"))
	for i := 0; i < 8; i += 2 {
		put(t, fc.dir, msgs[i], i, "")
	}
	fc.target = filepath.Join(root, "Recovered")
	fc.before = fc.srv.Messages(testUser)
	fc.o = opts(fc.srv)
	fc.o.DeleteSaved, fc.o.Apply, fc.o.FetchMissing = true, true, fc.target
	fc.o.CommandTimeout = 5 * time.Second
	return fc
}

func (fc *faultCase) run(t *testing.T) (*Result, error) {
	t.Helper()
	attempts := fc.srv.Stats().LoginsAttempted[testUser]
	res, err := Run(context.Background(), scanStores(t, fc.dir), fc.o)
	if res == nil {
		t.Fatalf("Run returned no result (err %v)", err)
	}
	fc.check(t, res)
	if n := fc.srv.Stats().LoginsAttempted[testUser] - attempts; n > 1 {
		t.Errorf("%d login attempts in one run: a second login is never allowed", n)
	}
	return res, err
}

// stores are the local stores: the Maildir, and the fetch target once it
// exists.
func (fc *faultCase) stores() []string {
	if _, err := os.Stat(fc.target); err == nil {
		return []string{fc.dir, fc.target}
	}
	return []string{fc.dir}
}

// check asserts what must hold whatever went wrong.
func (fc *faultCase) check(t *testing.T, res *Result) {
	t.Helper()
	after := fc.srv.Messages(testUser)
	checkInvariant(t, fc.before, after, res, fc.stores()...)
	if !res.Session.QuitCommitted && len(after) != len(fc.before) {
		t.Errorf("QUIT not committed but the server lost %d messages", len(fc.before)-len(after))
	}
	serverKeys := map[fingerprint.Key]bool{}
	for _, m := range fc.before {
		serverKeys[keyOf(t, m.Body)] = true
	}
	// A fetched message is never half-written: every message in the
	// target is whole (localKeys fails on unreadable ones) and equal to a
	// server message.
	if _, err := os.Stat(fc.target); err == nil {
		for k := range localKeys(t, fc.target) {
			if !serverKeys[k] {
				t.Errorf("the fetch target holds a message that is no server message (half-written?): %+v", k)
			}
		}
		if ents, _ := os.ReadDir(filepath.Join(fc.target, "tmp")); len(ents) != 0 {
			t.Errorf("%d temporary files left in the fetch target", len(ents))
		}
	}
	for _, m := range res.Messages {
		if m.Verdict == Deleted && !res.Session.QuitCommitted {
			t.Errorf("%s reported deleted without a committed QUIT", m.UIDL)
		}
		if m.Verdict == Deleted {
			for _, a := range after {
				if a.UID == m.UIDL {
					t.Errorf("%s reported deleted but still on the server", m.UIDL)
				}
			}
		}
		if m.Verdict == Fetched || m.Action == FetchDelete && m.Verdict == Deleted {
			if m.Local == nil {
				t.Errorf("%s fetched without a local ref", m.UIDL)
				continue
			}
			if _, err := os.Stat(m.Local.Path); err != nil {
				t.Errorf("%s fetched to %s: %v", m.UIDL, m.Local.Path, err)
			}
		}
	}
	if res.Session.Logins > 1 {
		t.Errorf("%d logins", res.Session.Logins)
	}
}

// TestDropAfterEachCommand drops the connection when command k arrives,
// for every k of a full run.
func TestDropAfterEachCommand(t *testing.T) {
	clean := newFaultCase(t, pop3test.Config{})
	res, err := clean.run(t)
	if err != nil {
		t.Fatalf("clean run: %v", err)
	}
	if len(clean.srv.Messages(testUser)) != 0 || !res.Session.QuitCommitted {
		t.Fatalf("clean run left %d messages", len(clean.srv.Messages(testUser)))
	}
	n := clean.srv.Stats().Commands
	if n < 10 {
		t.Fatalf("only %d commands in a full run", n)
	}
	for k := 1; k <= n; k++ {
		t.Run(fmt.Sprint(k), func(t *testing.T) {
			fc := newFaultCase(t, pop3test.Config{DropAfter: k})
			res, err := fc.run(t)
			if err == nil {
				t.Fatalf("no error although the connection dropped at command %d", k)
			}
			if res.Session.QuitCommitted {
				t.Errorf("QUIT reported committed")
			}
			if len(fc.srv.Messages(testUser)) != 8 {
				t.Errorf("server changed")
			}
			if res.Session.Error == "" {
				t.Errorf("session error not recorded")
			}
			cmds := fc.srv.Commands()
			if k == n && cmds[len(cmds)-1] != "QUIT" {
				t.Errorf("last command %q", cmds[len(cmds)-1])
			}
			if k == n && (!res.Session.QuitSent || !strings.Contains(err.Error(), "may or may not")) {
				t.Errorf("drop at QUIT: sent %v, err %v", res.Session.QuitSent, err)
			}
			for _, m := range res.Messages {
				if m.Dele == DeleMarked && !strings.Contains(m.Note, "not deleted") {
					t.Errorf("%s: DELE marked, note %q", m.UIDL, m.Note)
				}
			}
		})
	}
}

// TestDropInRetr cuts RETR replies at several points while fetching.
func TestDropInRetr(t *testing.T) {
	for _, cut := range []int{1, 40, 300, 2000, 9000} {
		t.Run(fmt.Sprint(cut), func(t *testing.T) {
			fc := newFaultCase(t, pop3test.Config{DropInRetr: cut})
			res, err := fc.run(t)
			if err == nil || res.Session.QuitSent {
				t.Errorf("err %v, quit sent %v", err, res.Session.QuitSent)
			}
			if res.Counts.Fetched != 0 {
				t.Errorf("fetched %d in a session that died during retrieval", res.Counts.Fetched)
			}
		})
	}
}

// TestServerReplies covers -ERR to DELE, -ERR to QUIT, garbage, an
// over-long line and a stalled server.
func TestServerReplies(t *testing.T) {
	t.Run("DeleErr", func(t *testing.T) {
		fc := newFaultCase(t, pop3test.Config{DeleErr: []int{3}})
		res, err := fc.run(t)
		if err != nil {
			t.Fatal(err)
		}
		left := fc.srv.Messages(testUser)
		if len(left) != 1 || left[0].UID != uid(2) {
			t.Errorf("left %v, want %s", uids(left), uid(2))
		}
		for _, m := range res.Messages {
			if m.UIDL == uid(2) && (m.Dele != DeleRefused || m.Verdict != Saved || !strings.Contains(m.Note, "DELE refused")) {
				t.Errorf("%+v", m)
			}
		}
	})
	t.Run("QuitErr", func(t *testing.T) {
		fc := newFaultCase(t, pop3test.Config{QuitErr: true})
		res, err := fc.run(t)
		if !errors.Is(err, pop3.ErrUpdateFailed) {
			t.Errorf("err = %v", err)
		}
		if res.Session.QuitCommitted || !res.Session.QuitSent || res.Counts.Deleted != 0 {
			t.Errorf("session %+v counts %+v", res.Session, res.Counts)
		}
		for _, m := range res.Messages {
			if m.Action == Delete || m.Action == FetchDelete {
				if m.Dele != DeleUncertain {
					t.Errorf("%s: dele %q", m.UIDL, m.Dele)
				}
			}
		}
		// The missing ones were saved anyway and stay reported so.
		if res.Counts.Fetched != 4 {
			t.Errorf("fetched %d, want 4", res.Counts.Fetched)
		}
	})
	for _, tc := range []struct {
		name string
		cfg  pop3test.Config
	}{
		{"garbage at UIDL", pop3test.Config{GarbageAt: 4}},
		{"garbage in RETR phase", pop3test.Config{GarbageAt: 9}},
		{"long line at LIST", pop3test.Config{LongLineAt: 5}},
		{"long line at DELE", pop3test.Config{LongLineAt: 15}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fc := newFaultCase(t, tc.cfg)
			res, err := fc.run(t)
			if err == nil || res.Session.QuitSent {
				t.Errorf("err %v, quit sent %v", err, res.Session.QuitSent)
			}
			if !errors.Is(err, pop3.ErrProtocol) && !errors.Is(err, pop3.ErrLineTooLong) {
				t.Errorf("err = %v, want a protocol error", err)
			}
		})
	}
	t.Run("stall", func(t *testing.T) {
		fc := newFaultCase(t, pop3test.Config{StallAt: 6})
		fc.o.CommandTimeout = 300 * time.Millisecond
		res, err := fc.run(t)
		if !errors.Is(err, pop3.ErrTimeout) || res.Session.QuitSent {
			t.Errorf("err = %v, quit sent %v", err, res.Session.QuitSent)
		}
	})
}

// TestBadInput: wrong password, [IN-USE], no UIDL, a certificate that does
// not verify, STLS required but missing.
func TestBadInput(t *testing.T) {
	dir := maildir(t, t.TempDir())
	put(t, dir, mail(1), 0, "")
	check := func(t *testing.T, srv *pop3test.Server, res *Result, err error, want error) {
		t.Helper()
		if !errors.Is(err, want) {
			t.Errorf("err = %v, want %v", err, want)
		}
		if res.Session.QuitCommitted || countCmd(srv.Commands(), "DELE") != 0 || len(srv.Messages(testUser)) != 2 {
			t.Errorf("session %+v, commands %q", res.Session, srv.Commands())
		}
		if err != nil && strings.Contains(err.Error(), testPass) {
			t.Errorf("error leaks the password: %v", err)
		}
	}
	run := func(srv *pop3test.Server, o Options) (*Result, error) {
		o.DeleteSaved, o.Apply = true, true
		return Run(context.Background(), scanStores(t, dir), o)
	}
	t.Run("wrong password", func(t *testing.T) {
		srv := newServer(t, pop3test.Config{}, mail(1), mail(2))
		o := opts(srv)
		o.Password = "wrong"
		res, err := run(srv, o)
		check(t, srv, res, err, pop3.ErrAuth)
		if res.Session.Logins != 0 || srv.Stats().LoginsAttempted[testUser] != 1 {
			t.Errorf("logins %d, attempts %d", res.Session.Logins, srv.Stats().LoginsAttempted[testUser])
		}
	})
	t.Run("in use", func(t *testing.T) {
		srv := newServer(t, pop3test.Config{InUse: true}, mail(1), mail(2))
		res, err := run(srv, opts(srv))
		check(t, srv, res, err, pop3.ErrInUse)
		if !strings.Contains(err.Error(), "locked by another") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("no UIDL", func(t *testing.T) {
		srv := newServer(t, pop3test.Config{NoUIDL: true}, mail(1), mail(2))
		o := opts(srv)
		st := filepath.Join(t.TempDir(), "fetchids")
		o.State = &uidlstate.Target{Format: uidlstate.Fetchmail, Path: st}
		res, err := run(srv, o)
		check(t, srv, res, err, ErrNoUIDL)
		if res.State == nil || res.State.Written || !strings.Contains(res.State.Error, "no UIDL") {
			t.Errorf("state %+v", res.State)
		}
		if _, err := os.Stat(st); !os.IsNotExist(err) {
			t.Errorf("state file written: %v", err)
		}
		if c := countCmd(srv.Commands(), "RETR"); c != 0 || res.Session.QuitSent {
			t.Errorf("RETR %d, quit sent %v", c, res.Session.QuitSent)
		}
	})
	tc, err := pop3test.NewTestCert()
	if err != nil {
		t.Fatal(err)
	}
	other, err := pop3test.NewTestCert()
	if err != nil {
		t.Fatal(err)
	}
	t.Run("certificate does not verify", func(t *testing.T) {
		srv := newServer(t, pop3test.Config{ImplicitTLS: tc.ServerConfig()}, mail(1), mail(2))
		o := opts(srv)
		o.TLS, o.RootCAs = TLSImplicit, other.Pool
		res, err := run(srv, o)
		var ve *tls.CertificateVerificationError
		if !errors.As(err, &ve) || !strings.Contains(err.Error(), "does not verify") {
			t.Errorf("err = %v", err)
		}
		if res.Session.Logins != 0 || len(srv.Commands()) != 0 {
			t.Errorf("commands sent over an unverified connection: %q", srv.Commands())
		}
	})
	t.Run("certificate verifies", func(t *testing.T) {
		srv := newServer(t, pop3test.Config{ImplicitTLS: tc.ServerConfig()}, mail(1), mail(2))
		o := opts(srv)
		o.TLS, o.RootCAs = TLSImplicit, tc.Pool
		res, err := run(srv, o)
		if err != nil || res.Session.TLS != "implicit" || len(srv.Messages(testUser)) != 1 {
			t.Errorf("err %v, session %+v", err, res.Session)
		}
	})
	t.Run("STLS", func(t *testing.T) {
		srv := newServer(t, pop3test.Config{STLS: tc.ServerConfig()}, mail(1), mail(2))
		o := opts(srv)
		o.TLS, o.RootCAs = TLSAuto, tc.Pool
		res, err := run(srv, o)
		if err != nil || res.Session.TLS != "starttls" || len(srv.Messages(testUser)) != 1 {
			t.Errorf("err %v, session %+v", err, res.Session)
		}
		if cmds := srv.Commands(); cmds[1] != "STLS" {
			t.Errorf("commands %q", cmds)
		}
	})
	t.Run("STLS with a bad certificate", func(t *testing.T) {
		srv := newServer(t, pop3test.Config{STLS: tc.ServerConfig()}, mail(1), mail(2))
		o := opts(srv)
		o.TLS, o.RootCAs = TLSStartTLS, other.Pool
		res, err := run(srv, o)
		check(t, srv, res, err, pop3.ErrBotched)
		if !strings.Contains(fmt.Sprint(err), "does not verify") || res.Session.Logins != 0 {
			t.Errorf("err = %v", err)
		}
		for _, c := range srv.Commands() {
			if strings.HasPrefix(c, "AUTH") || strings.HasPrefix(c, "USER") || strings.HasPrefix(c, "PASS") {
				t.Errorf("credentials sent: %q", srv.Commands())
			}
		}
	})
	t.Run("starttls required, not offered", func(t *testing.T) {
		srv := newServer(t, pop3test.Config{}, mail(1), mail(2))
		o := opts(srv)
		o.TLS = TLSStartTLS
		res, err := run(srv, o)
		check(t, srv, res, err, pop3.ErrTLSRequired)
	})
	t.Run("bad options", func(t *testing.T) {
		for i, o := range []Options{
			{Server: "h:110", User: "a\r\nDELE 1", Password: "p"},
			{Server: "h:110", User: "a", Password: "p\nQUIT"},
			{Server: "h:110", User: "a"},
			{Server: "", User: "a", Password: "p"},
			{Server: "h:99999", User: "a", Password: "p"},
			{Server: "h", User: "a", Password: "p", TLS: "maybe"},
		} {
			if _, err := Run(context.Background(), nil, o); !errors.Is(err, ErrUsage) {
				t.Errorf("#%d %+v: err = %v, want ErrUsage", i, o, err)
			}
		}
	})
}

func TestEndpoint(t *testing.T) {
	for i, tt := range []struct {
		server string
		mode   TLSMode
		host   string
		port   int
		eff    TLSMode
	}{
		{"pop.example.net", TLSAuto, "pop.example.net", 995, TLSImplicit},
		{"pop.example.net:110", TLSAuto, "pop.example.net", 110, TLSAuto},
		{"pop.example.net:995", "", "pop.example.net", 995, TLSImplicit},
		{"pop.example.net", TLSStartTLS, "pop.example.net", 110, TLSStartTLS},
		{"pop.example.net", TLSNone, "pop.example.net", 110, TLSNone},
		{"[::1]:1110", TLSNone, "::1", 1110, TLSNone},
		{"::1", TLSImplicit, "::1", 995, TLSImplicit},
	} {
		o := Options{Server: tt.server, TLS: tt.mode}
		h, p, m, err := o.Endpoint()
		if err != nil || h != tt.host || p != tt.port || m != tt.eff {
			t.Errorf("#%d %q %s: %q %d %s %v; want %q %d %s", i, tt.server, tt.mode, h, p, m, err, tt.host, tt.port, tt.eff)
		}
	}
}

// TestSaveFails: the disk fills up while saving fetched messages: none is
// half-written, none of them is deleted, the saved ones still are.
func TestSaveFails(t *testing.T) {
	t.Setenv(store.ENOSPCEnv, "100")
	fc := newFaultCase(t, pop3test.Config{})
	res, err := fc.run(t)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	left := fc.srv.Messages(testUser)
	if got, want := uids(left), []string{uid(1), uid(3), uid(5), uid(7)}; !slices.Equal(got, want) {
		t.Errorf("left %v, want the unsaved %v", got, want)
	}
	for _, m := range res.Messages {
		if m.Num%2 == 0 && (m.Verdict != Missing || !strings.Contains(m.Note, "not fetched")) {
			t.Errorf("%s: %s %q", m.UIDL, m.Verdict, m.Note)
		}
	}
	for _, sub := range []string{"new", "cur"} {
		if ents, _ := os.ReadDir(filepath.Join(fc.target, sub)); len(ents) != 0 {
			t.Errorf("%d files in %s/%s after failed saves", len(ents), fc.target, sub)
		}
	}
}

// TestExpire0Apply: with EXPIRE 0, even an applied run never sends RETR, so
// the messages it keeps are not expired by the server at QUIT.
func TestExpire0Apply(t *testing.T) {
	fc := newFaultCase(t, pop3test.Config{Expire: "0"})
	fc.o.FetchMissing = ""
	res, err := fc.run(t)
	if err != nil {
		t.Fatal(err)
	}
	if c := countCmd(fc.srv.Commands(), "RETR"); c != 0 {
		t.Errorf("%d RETR on an EXPIRE 0 server", c)
	}
	if got, want := uids(fc.srv.Messages(testUser)), []string{uid(1), uid(3), uid(5), uid(7)}; !slices.Equal(got, want) {
		t.Errorf("left %v, want %v", got, want)
	}
	if res.Counts.Deleted != 4 {
		t.Errorf("counts %+v", res.Counts)
	}
}

// TestRerunAfterLostQuit: the first run fetched and marked everything, but
// its QUIT was lost. The rerun (scanning the fetch target too, as the CLI
// does with Stores) fetches nothing again and finishes the job.
func TestRerunAfterLostQuit(t *testing.T) {
	fc := newFaultCase(t, pop3test.Config{FaultConn: 1, DropAfter: 22})
	res, err := fc.run(t)
	if err == nil || !res.Session.QuitSent || res.Session.QuitCommitted || res.Counts.Fetched != 4 {
		t.Fatalf("first run: err %v, session %+v counts %+v", err, res.Session, res.Counts)
	}
	stores := Stores([]string{fc.dir}, fc.target)
	if len(stores) != 2 {
		t.Fatalf("Stores = %v, want the fetch target added", stores)
	}
	res, err = Run(context.Background(), scanStores(t, stores...), fc.o)
	if err != nil {
		t.Fatal(err)
	}
	fc.check(t, res)
	if len(fc.srv.Messages(testUser)) != 0 || res.Counts.Fetched != 0 || res.Counts.Deleted != 8 {
		t.Errorf("rerun: counts %+v", res.Counts)
	}
	keys := localKeys(t, fc.stores()...)
	for _, m := range fc.before {
		if n := keys[keyOf(t, m.Body)]; n != 1 {
			t.Errorf("%s: %d local copies", m.UID, n)
		}
	}
}

func TestStores(t *testing.T) {
	root := t.TempDir()
	md := maildir(t, filepath.Join(root, "Maildir"))
	inside := maildir(t, filepath.Join(md, ".Recovered"))
	outside := maildir(t, filepath.Join(root, "Recovered"))
	for i, tt := range []struct {
		fetch string
		want  int
	}{
		{"", 1},
		{inside, 1},                        // scanned with the store
		{outside, 1},                       // empty: nothing to see
		{filepath.Join(root, "none"), 1},   // does not exist
		{filepath.Join(root, "x.mbox"), 1}, // does not exist
	} {
		if got := Stores([]string{md}, tt.fetch); len(got) != tt.want {
			t.Errorf("#%d %q: %v", i, tt.fetch, got)
		}
	}
	put(t, outside, mail(1), 0, "")
	put(t, inside, mail(2), 0, "")
	if got := Stores([]string{md}, outside); len(got) != 2 || got[1] != outside {
		t.Errorf("outside with mail: %v", got)
	}
	if got := Stores([]string{md}, "maildir:"+inside); len(got) != 1 {
		t.Errorf("inside with mail: %v", got)
	}
}

// TestLocalCopyVanishes: a local copy that cannot be read when its body is
// hashed is never evidence; the server copy is then missing, not deleted.
func TestLocalCopyVanishes(t *testing.T) {
	big := mail(3)
	for len(big) < 200<<10 {
		big = append(big, []byte("more body text to get past the parser's first read\n")...)
	}
	srv := newServer(t, pop3test.Config{}, big, mail(1))
	dir := maildir(t, t.TempDir())
	put(t, dir, big, 0, "")
	put(t, dir, mail(1), 0, "")
	res := scanStores(t, dir)
	for i := range res.Messages {
		if m := &res.Messages[i]; !m.HasBody {
			if err := os.Remove(res.Path(m)); err != nil {
				t.Fatal(err)
			}
		}
	}
	before := srv.Messages(testUser)
	o := opts(srv)
	o.DeleteSaved, o.Apply = true, true
	out, err := Run(context.Background(), res, o)
	if err != nil {
		t.Fatal(err)
	}
	checkInvariant(t, before, srv.Messages(testUser), out, dir)
	if v := verdicts(out); v[uid(0)] != Missing || v[uid(1)] != Deleted {
		t.Errorf("verdicts %v", v)
	}
	if len(res.Skipped) != 1 {
		t.Errorf("skipped %+v", res.Skipped)
	}
}

func TestDeletableRechecks(t *testing.T) {
	dir := maildir(t, t.TempDir())
	put(t, dir, mail(1), 0, "")
	ents, _ := os.ReadDir(filepath.Join(dir, "cur"))
	path := filepath.Join(dir, "cur", ents[0].Name())
	good := func() *srvMsg {
		return &srvMsg{Message: &Message{Verdict: Saved, Local: &report.Ref{Path: path}, Evidence: &Evidence{Match: "message-id+body"}}, haveFull: true}
	}
	if err := deletable(good()); err != nil {
		t.Fatalf("good: %v", err)
	}
	for i, f := range []func(*srvMsg){
		func(m *srvMsg) { m.DuplicateUIDL = true },
		func(m *srvMsg) { m.Verdict = Conflict },
		func(m *srvMsg) { m.Verdict = Missing },
		func(m *srvMsg) { m.Local = nil },
		func(m *srvMsg) { m.Evidence = nil },
		func(m *srvMsg) { m.haveFull = false },
		func(m *srvMsg) { m.Verdict = Fetched },
		func(m *srvMsg) { m.Local = &report.Ref{Path: path + ".gone"} },
	} {
		m := good()
		f(m)
		if err := deletable(m); err == nil {
			t.Errorf("#%d: deletable accepted %+v", i, m.Message)
		}
	}
}

// TestPlaintextPolicy: without TLS the password goes only to loopback,
// unless --allow-plaintext; nothing of the login is sent otherwise.
func TestPlaintextPolicy(t *testing.T) {
	dir := maildir(t, t.TempDir())
	orig := isLoopback
	t.Cleanup(func() { isLoopback = orig })
	for i, tt := range []struct {
		mode     TLSMode
		loopback bool
		allow    bool
		ok       bool
	}{
		{TLSAuto, true, false, true},
		{TLSNone, true, false, true},
		{TLSAuto, false, false, false},
		{TLSNone, false, false, false},
		{TLSAuto, false, true, true},
		{TLSNone, false, true, true},
	} {
		lb := tt.loopback
		isLoopback = func(net.Addr) bool { return lb }
		srv := newServer(t, pop3test.Config{}, mail(1))
		o := opts(srv)
		o.TLS, o.AllowPlaintext = tt.mode, tt.allow
		res, err := Run(context.Background(), scanStores(t, dir), o)
		sentLogin := slices.ContainsFunc(srv.Commands(), func(c string) bool {
			return strings.HasPrefix(c, "AUTH") || strings.HasPrefix(c, "USER") || strings.HasPrefix(c, "PASS")
		})
		if tt.ok && (err != nil || res.Session.Logins != 1 || res.Session.TLS != "none") {
			t.Errorf("#%d %+v: err %v, session %+v", i, tt, err, res.Session)
		}
		if !tt.ok && (!errors.Is(err, ErrPlaintext) || sentLogin) {
			t.Errorf("#%d %+v: err %v, commands %q", i, tt, err, srv.Commands())
		}
	}
}

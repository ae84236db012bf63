package reliability

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/popdedupe/popdedupe/fingerprint"
	"github.com/popdedupe/popdedupe/internal/dovecottest"
	"github.com/popdedupe/popdedupe/pop3/pop3test"
)

// Network cuts. reconcile's own TestDropAfterEachCommand and TestDropInRetr
// cut the fake server's side in process; here the real binary talks to
// the fake server and to a real Dovecot through a loopback proxy that
// cuts the TCP connection when the client's k-th command line arrives
// (for every k of a full session), or after n octets of the server's
// reply once the first RETR went out. Checked after each cut: nothing the
// server held is lost; nothing is deleted (QUIT never reached the server);
// the fetch target holds only whole messages; exit 1; and the JSON report
// says exactly what was committed (nothing deleted, and "fetched" for
// exactly the messages that are in the fetch target). A rerun without the
// cut then finishes the job.

// cutProxy forwards one POP3 connection at a time to target, cutting it as
// configured.
type cutProxy struct {
	ln     net.Listener
	target string
	// dropAt closes both sides when the client's dropAt-th command line
	// arrives (it is not forwarded); 0: never.
	dropAt int
	// retrCut closes both sides once retrCut octets of server data went
	// to the client after the first RETR was forwarded; 0: never.
	retrCut int

	mu       sync.Mutex
	commands []string
	cut      bool
}

func newCutProxy(t *testing.T, target string, dropAt, retrCut int) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target, dropAt: dropAt, retrCut: retrCut}
	serveConns(t, ln, p.serve)
	return p
}

// serveConns serves every connection accepted on ln with fn, each in a
// goroutine, until the test ends (then it closes ln and waits for them).
func serveConns(t *testing.T, ln net.Listener, fn func(net.Conn)) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); fn(c) }()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
}

func (p *cutProxy) addr() string { return p.ln.Addr().String() }

func (p *cutProxy) serve(c net.Conn) {
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	var once sync.Once
	closeBoth := func(cut bool) {
		once.Do(func() {
			if cut { // before the close the client sees
				p.mu.Lock()
				p.cut = true
				p.mu.Unlock()
			}
			c.Close()
			s.Close()
		})
	}
	var mu sync.Mutex
	retrSeen := false
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 32<<10)
		sent := 0
		for {
			n, err := s.Read(buf)
			if n > 0 {
				mu.Lock()
				counting := retrSeen && p.retrCut > 0
				mu.Unlock()
				if counting && sent+n >= p.retrCut {
					c.Write(buf[:p.retrCut-sent])
					closeBoth(true)
					return
				}
				if counting {
					sent += n
				}
				if _, werr := c.Write(buf[:n]); werr != nil {
					closeBoth(false)
					return
				}
			}
			if err != nil {
				closeBoth(false)
				return
			}
		}
	}()
	br := bufio.NewReader(c)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			break
		}
		p.mu.Lock()
		p.commands = append(p.commands, strings.TrimRight(line, "\r\n"))
		k := len(p.commands)
		p.mu.Unlock()
		if k == p.dropAt {
			closeBoth(true)
			break
		}
		if strings.HasPrefix(strings.ToUpper(line), "RETR ") {
			mu.Lock()
			retrSeen = true
			mu.Unlock()
		}
		if _, err := s.Write([]byte(line)); err != nil {
			break
		}
	}
	closeBoth(false)
	<-done
}

func (p *cutProxy) commandCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.commands)
}

func (p *cutProxy) wasCut() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cut
}

// mailbox is one server account under test, on the fake server or on
// Dovecot.
type mailbox interface {
	addr() string
	user() string
	bodies(t *testing.T) [][]byte
}

type fakeBox struct{ srv *pop3test.Server }

func (f fakeBox) addr() string { return f.srv.Addr() }
func (f fakeBox) user() string { return srvUser }
func (f fakeBox) bodies(t *testing.T) [][]byte {
	var out [][]byte
	for _, m := range f.srv.Messages(srvUser) {
		out = append(out, m.Body)
	}
	return out
}

type dovecotBox struct {
	srv  *dovecottest.Server
	name string
}

func (d dovecotBox) addr() string { return d.srv.Addr }
func (d dovecotBox) user() string { return d.name }

// bodies reads the server's messages from its Maildir. A session the
// proxy cut may still be running in Dovecot, which moves files from new/
// to cur/ as it opens the mailbox: a file gone between the listing and
// the read means the listing is read again (for up to two seconds).
func (d dovecotBox) bodies(t *testing.T) [][]byte {
	t.Helper()
	for try := 0; ; try++ {
		files, err := d.srv.MessageFiles(d.name)
		if err != nil {
			t.Fatal(err)
		}
		var out [][]byte
		moved := false
		for _, f := range files {
			b, err := os.ReadFile(filepath.Join(d.srv.Maildir(d.name), f))
			if errors.Is(err, fs.ErrNotExist) && try < 100 {
				moved = true
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, b)
		}
		if !moved {
			return out
		}
		time.Sleep(20 * time.Millisecond)
	}
}

const netMessages = 8

// netCase is one mailbox with netMessages messages, the even ones saved
// locally.
type netCase struct {
	e      *env
	box    mailbox
	local  string
	target string
	start  map[fingerprint.Key]bool
}

func newNetCase(t *testing.T, box mailbox) *netCase {
	t.Helper()
	e := newEnv(t)
	nc := &netCase{e: e, box: box, local: filepath.Join(e.home, "Maildir"), target: filepath.Join(e.home, "Recovered"), start: map[fingerprint.Key]bool{}}
	for i := 0; i < netMessages; i++ {
		if i%2 == 0 {
			saveLocal(t, nc.local, mailMsg(i), i)
		}
	}
	for _, b := range box.bodies(t) {
		nc.start[keyOf(t, b)] = true
	}
	if len(nc.start) != netMessages {
		t.Fatalf("the server holds %d distinct messages, want %d", len(nc.start), netMessages)
	}
	return nc
}

func (nc *netCase) args(addr string) []string {
	return []string{"reconcile", "--server", addr, "--user", nc.box.user(), "--tls", "none", "--progress", "never", "--timeout", "20s",
		"--apply", "--delete-saved", "--fetch-missing", nc.target, "--json", nc.local}
}

// check verifies the invariants after a run; it returns the report.
func (nc *netCase) check(t *testing.T, r result, cut bool) rcJSON {
	t.Helper()
	j := decodeRC(t, r)
	server := map[fingerprint.Key]bool{}
	for _, b := range nc.box.bodies(t) {
		server[keyOf(t, b)] = true
	}
	stores := []string{nc.local}
	if _, err := os.Stat(nc.target); err == nil {
		stores = append(stores, nc.target)
	}
	local, skipped := keyCounts(t, stores...)
	if len(skipped) > 0 {
		t.Errorf("unreadable local messages (half-written?): %+v", skipped)
	}
	for k := range nc.start {
		if !server[k] && local[k] == 0 {
			t.Errorf("message %q lost: neither on the server nor local", k.MessageID)
		}
	}
	inTarget := map[fingerprint.Key]int{}
	if len(stores) == 2 {
		inTarget, _ = keyCounts(t, nc.target)
	}
	for k, n := range inTarget {
		if !nc.start[k] {
			t.Errorf("the fetch target holds a message the server never had (half-received?): %q", k.MessageID)
		}
		if n != 1 {
			t.Errorf("%q is %d times in the fetch target", k.MessageID, n)
		}
	}
	if !cut {
		return j
	}
	if r.code != 1 || j.ExitCode != 1 || j.Error == "" {
		t.Errorf("a cut session: exit %d, JSON exit %d, error %q; want 1 and the cause", r.code, j.ExitCode, j.Error)
	}
	if len(server) != netMessages {
		t.Errorf("the connection was cut before QUIT, yet the server holds %d of %d messages", len(server), netMessages)
	}
	if j.Session.QuitCommitted || j.Counts.Deleted != 0 {
		t.Errorf("the report claims deletions: quit_committed %v, deleted %d", j.Session.QuitCommitted, j.Counts.Deleted)
	}
	// The report's fetched messages are exactly those in the target.
	reported := 0
	for _, m := range j.Messages {
		if m.Verdict == "deleted" || m.Dele == "committed" {
			t.Errorf("%s reported %s/%s after a cut session", m.UIDL, m.Verdict, m.Dele)
		}
		if m.Verdict == "fetched" {
			reported++
			if m.Local == nil || !strings.HasPrefix(m.Local.Path, nc.target) {
				t.Errorf("%s reported fetched without a copy in the target", m.UIDL)
			} else if _, err := os.Stat(m.Local.Path); err != nil {
				t.Errorf("%s reported fetched to %s: %v", m.UIDL, m.Local.Path, err)
			}
		}
	}
	inT := 0
	for _, n := range inTarget {
		inT += n
	}
	if reported != inT {
		t.Errorf("the report says %d fetched; the target holds %d", reported, inT)
	}
	return j
}

// rerun runs again without a cut: the server ends empty, every message
// local.
func (nc *netCase) rerun(t *testing.T) {
	t.Helper()
	r := nc.e.run(t, nil, nc.args(nc.box.addr())...)
	wantCode(t, r, 0)
	nc.check(t, r, false)
	if left := len(nc.box.bodies(t)); left != 0 {
		t.Errorf("after the rerun %d messages are left on the server", left)
	}
	local, _ := keyCounts(t, nc.local, nc.target)
	for k := range nc.start {
		if local[k] == 0 {
			t.Errorf("after the rerun %q is not local", k.MessageID)
		}
	}
}

// netBackends yields a fresh mailbox per call, on the fake server or on
// Dovecot (one server, a fresh user per call).
func netBackends(t *testing.T, users int) map[string]func(t *testing.T) mailbox {
	out := map[string]func(t *testing.T) mailbox{
		"fake": func(t *testing.T) mailbox {
			srv := pop3test.NewServer(t, pop3test.Config{})
			srv.AddUser(srvUser, password)
			for i := 0; i < netMessages; i++ {
				srv.AddMessage(srvUser, fmt.Sprintf("uid-%04d", i), mailMsg(i))
			}
			return fakeBox{srv}
		},
	}
	if os.Getenv(dovecottest.SkipEnv) == "1" {
		if _, err := dovecottest.Binary(); err != nil {
			t.Logf("Dovecot cases skipped: %v (%s)", err, dovecottest.InstallHint)
			return out
		}
	}
	var cfg dovecottest.Config
	for i := 0; i < users; i++ {
		cfg.Users = append(cfg.Users, dovecottest.User{Name: fmt.Sprintf("u%03d", i), Pass: password})
	}
	srv := dovecottest.Start(t, cfg)
	var mu sync.Mutex
	next := 0
	out["dovecot"] = func(t *testing.T) mailbox {
		mu.Lock()
		defer mu.Unlock()
		if next == users {
			t.Fatalf("more than %d Dovecot mailboxes asked for", users)
		}
		name := fmt.Sprintf("u%03d", next)
		next++
		for i := 0; i < netMessages; i++ {
			if _, err := srv.Deliver(name, mailMsg(i)); err != nil {
				t.Fatal(err)
			}
		}
		return dovecotBox{srv, name}
	}
	return out
}

// TestNetworkCutAfterEveryCommand cuts the session when each command k of
// a full reconcile session arrives, on the fake server and on Dovecot.
func TestNetworkCutAfterEveryCommand(t *testing.T) {
	backends := netBackends(t, 60)
	for _, name := range []string{"fake", "dovecot"} {
		newBox, ok := backends[name]
		if !ok {
			continue
		}
		t.Run(name, func(t *testing.T) {
			// A clean session through the proxy counts the commands.
			nc := newNetCase(t, newBox(t))
			p := newCutProxy(t, nc.box.addr(), 0, 0)
			r := nc.e.run(t, nil, nc.args(p.addr())...)
			wantCode(t, r, 0)
			nc.check(t, r, false)
			n := p.commandCount()
			if n < 2*netMessages {
				t.Fatalf("only %d commands in a full session", n)
			}
			for k := 1; k <= n; k++ {
				t.Run(fmt.Sprint(k), func(t *testing.T) {
					nc := newNetCase(t, newBox(t))
					p := newCutProxy(t, nc.box.addr(), k, 0)
					r := nc.e.run(t, nil, nc.args(p.addr())...)
					if !p.wasCut() {
						t.Fatalf("the session ended before command %d:\n%s", k, r)
					}
					nc.check(t, r, true)
					if k == n && !strings.Contains(r.stdout+r.stderr, "may or may not") {
						t.Errorf("cut at QUIT: the report does not say the deletions are uncertain:\n%s", r)
					}
					if k%5 == 0 || k == n {
						nc.rerun(t)
					}
				})
			}
		})
	}
}

// TestNetworkCutInRetr cuts the server's data at several points after the
// first RETR: in the middle of a message, at its terminating line, in a
// later one.
func TestNetworkCutInRetr(t *testing.T) {
	backends := netBackends(t, 12)
	for _, name := range []string{"fake", "dovecot"} {
		newBox, ok := backends[name]
		if !ok {
			continue
		}
		t.Run(name, func(t *testing.T) {
			for _, cut := range []int{1, 5, 200, 3000, 12000, 30000} {
				t.Run(fmt.Sprint(cut), func(t *testing.T) {
					nc := newNetCase(t, newBox(t))
					p := newCutProxy(t, nc.box.addr(), 0, cut)
					r := nc.e.run(t, nil, nc.args(p.addr())...)
					if !p.wasCut() {
						t.Fatalf("the session ended before %d octets of RETR data:\n%s", cut, r)
					}
					nc.check(t, r, true)
					if cut == 3000 {
						nc.rerun(t)
					}
				})
			}
		})
	}
}

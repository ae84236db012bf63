package uidlstate

// Tests against the real clients (fetchmail, getmail6, mpop from Debian)
// and a real Dovecot on loopback: a state file written by the client comes
// out of Rebuild+Replace byte-identical (fetchmail, mpop) or equivalent
// (getmail), and a state file written here makes the client download
// exactly the messages not marked saved, then nothing.
//
// The clients must be installed (apt-get install -y fetchmail getmail6 mpop
// dovecot-core dovecot-pop3d); with POPDEDUPE_SKIP_CLIENTS=1 these tests
// are skipped instead of failing.

import (
	"bytes"
	"fmt"
	"net"
	"net/textproto"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/popdedupe/popdedupe/internal/dovecottest"
	"github.com/popdedupe/popdedupe/internal/realclient"
)

// testServer is a Dovecot with one user and n test messages.
type testServer struct {
	addr, host, user, pass string
	port                   int
}

func startTestServer(t *testing.T, n int) *testServer {
	t.Helper()
	d := dovecottest.Start(t, dovecottest.Config{Users: []dovecottest.User{{Name: "u", Pass: "p"}}})
	for i := 1; i <= n; i++ {
		if _, err := d.Deliver("u", testMessage(i)); err != nil {
			t.Fatal(err)
		}
	}
	host, portStr, err := net.SplitHostPort(d.Addr)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		t.Fatal(err)
	}
	return &testServer{addr: d.Addr, host: host, port: port, user: "u", pass: "p"}
}

// serverState lists the maildrop's UIDLs in message-number order and the
// test Message-ID ("msgN") of each, over a plain loopback session (USER,
// PASS, UIDL, TOP n 0, QUIT).
func serverState(t *testing.T, srv *testServer) (uidls []string, msgid map[string]string) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", srv.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	c := textproto.NewConn(nc)
	cmd := func(line string) {
		t.Helper()
		if line != "" {
			c.PrintfLine("%s", line)
		}
		reply, err := c.ReadLine()
		if err != nil || !strings.HasPrefix(reply, "+OK") {
			t.Fatalf("POP3 %q: %q %v", strings.Fields(line + " greeting")[0], reply, err)
		}
	}
	cmd("")
	cmd("USER " + srv.user)
	cmd("PASS " + srv.pass)
	cmd("UIDL")
	lines, err := c.ReadDotLines()
	if err != nil {
		t.Fatal(err)
	}
	msgid = map[string]string{}
	for i, l := range lines {
		f := strings.Fields(l)
		if len(f) != 2 || f[0] != strconv.Itoa(i+1) {
			t.Fatalf("UIDL line %q", l)
		}
		uidls = append(uidls, f[1])
	}
	for i, u := range uidls {
		cmd(fmt.Sprintf("TOP %d 0", i+1))
		head, err := c.ReadDotBytes()
		if err != nil {
			t.Fatal(err)
		}
		m := msgIDRe.FindSubmatch(head)
		if m == nil {
			t.Fatalf("message %d has no test Message-ID:\n%s", i+1, head)
		}
		msgid[u] = string(m[1])
	}
	cmd("QUIT")
	return uidls, msgid
}

func testMessage(i int) []byte {
	return []byte(fmt.Sprintf("From: sender@example.com\r\nTo: u@example.com\r\nSubject: test message %d\r\n"+
		"Date: Mon, 1 Jan 2024 00:00:%02d +0000\r\nMessage-ID: <msg%d@uidlstate.test>\r\n\r\nbody of message %d\r\n", i, i%60, i, i))
}

var msgIDRe = regexp.MustCompile(`(?mi)^Message-ID: <(msg\d+)@uidlstate\.test>`)

// client is a real client and how it keys the account in its state file.
type client struct {
	realclient.Client
	format Format
	acct   func(srv *testServer) Account
}

var clients = []client{
	{realclient.Fetchmail, Fetchmail, func(srv *testServer) Account { return Account{Host: srv.host, Port: srv.port, User: srv.user} }},
	{realclient.Getmail, Getmail, func(srv *testServer) Account { return Account{Host: srv.host, Port: srv.port, User: srv.user} }},
	{realclient.Mpop, Mpop, func(srv *testServer) Account { return Account{Host: srv.host, User: srv.user} }},
}

// setup configures cl for srv in dir; it returns the state file and the
// mbox the client delivers to.
func (cl client) setup(t *testing.T, dir string, srv *testServer) (string, string) {
	state := cl.Setup(t, dir, realclient.Server{Host: srv.host, Port: srv.port, User: srv.user, Pass: srv.pass})
	if cl.format == Getmail && filepath.Base(state) != GetmailFileName(cl.acct(srv)) {
		t.Fatalf("getmail state file %s, uidlstate names it %s", state, GetmailFileName(cl.acct(srv)))
	}
	return state, realclient.Mbox(dir)
}

func downloaded(t *testing.T, mbox string) []string { return realclient.Downloaded(t, mbox, msgIDRe) }

// TestRealClientsRoundTrip: each client downloads everything in keep mode
// and writes its state; reading that state and rebuilding it with the same
// server state (every message saved) gives the client's own bytes
// (fetchmail, mpop) or the same entries (getmail, whose order is a hash
// order).
func TestRealClientsRoundTrip(t *testing.T) {
	const n = 5
	for _, cl := range clients {
		realclient.Require(t, cl.Client)
	}
	// Every client keeps mail on the server: one server serves them all.
	srv := startTestServer(t, n)
	server, _ := serverState(t, srv)
	for _, cl := range clients {
		t.Run(cl.Name, func(t *testing.T) {
			dir := t.TempDir()
			statePath, mbox := cl.setup(t, dir, srv)
			cl.Run(t, dir)
			if got := downloaded(t, mbox); len(got) != n {
				t.Fatalf("first run downloaded %v, want %d messages", got, n)
			}
			clientBytes, err := os.ReadFile(statePath)
			if err != nil {
				t.Fatalf("the client wrote no state: %v", err)
			}
			f, err := Read(cl.format, bytes.NewReader(clientBytes), statePath)
			if err != nil {
				t.Fatalf("reading the client's own file: %v\n%q", err, clientBytes)
			}
			old := f.Entries(cl.acct(srv))
			if len(old) != len(server) {
				t.Fatalf("client state has %d entries for %v, server %d:\n%q", len(old), cl.acct(srv), len(server), clientBytes)
			}
			saved := map[string]time.Time{}
			for _, u := range server {
				saved[u] = time.Now()
			}
			entries, diff, err := Rebuild(old, server, saved, time.Now(), cl.format)
			if err != nil {
				t.Fatal(err)
			}
			if len(diff.Added)+len(diff.Removed)+len(diff.Refetch) != 0 {
				t.Errorf("Rebuild changed a complete state: %v", diff)
			}
			if err := f.Replace(cl.acct(srv), entries); err != nil {
				t.Fatal(err)
			}
			ours := f.Bytes()
			if cl.format == Getmail {
				if !sameLines(ours, clientBytes) {
					t.Errorf("rebuilt getmail state differs from getmail's:\nours   %q\ngetmail %q", ours, clientBytes)
				}
			} else if !bytes.Equal(ours, clientBytes) {
				t.Errorf("rebuilt state differs from %s's:\nours   %q\nclient %q", cl.Name, ours, clientBytes)
			}
			// A state built from scratch (no old file) equals the client's
			// too, except for getmail's times (it records when it ran).
			scratch, _ := New(cl.format)
			fresh, _, err := Rebuild(nil, server, saved, time.Now(), cl.format)
			if err != nil {
				t.Fatal(err)
			}
			if err := scratch.Replace(cl.acct(srv), fresh); err != nil {
				t.Fatal(err)
			}
			switch cl.format {
			case Fetchmail:
				if !bytes.Equal(scratch.Bytes(), clientBytes) {
					t.Errorf("state from scratch differs:\nours   %q\nclient %q", scratch.Bytes(), clientBytes)
				}
			case Mpop:
				// Only the comment header names the program.
				if a, b := stripComments(scratch.Bytes()), stripComments(clientBytes); !bytes.Equal(a, b) {
					t.Errorf("state from scratch differs:\nours   %q\nclient %q", a, b)
				}
			}
		})
	}
}

func stripComments(b []byte) []byte {
	var out []byte
	for _, l := range bytes.SplitAfter(b, []byte("\n")) {
		if !bytes.HasPrefix(l, []byte("#")) {
			out = append(out, l...)
		}
	}
	return out
}

func sameLines(a, b []byte) bool {
	la := strings.Split(strings.TrimSuffix(string(a), "\n"), "\n")
	lb := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	slices.Sort(la)
	slices.Sort(lb)
	return slices.Equal(la, lb)
}

// TestRealClientsSeededState proves the point of the feature: with N
// messages on the server and a state file written here saying K of them are
// saved, the client downloads exactly the N-K others, and a second run
// downloads nothing. Lines of another account in a shared file survive.
func TestRealClientsSeededState(t *testing.T) {
	const n = 6
	for _, cl := range clients {
		realclient.Require(t, cl.Client)
	}
	srv := startTestServer(t, n)
	server, msgid := serverState(t, srv)
	if len(server) != n {
		t.Fatalf("server lists %d messages, want %d", len(server), n)
	}
	// Messages msg1, msg3, msg5 are "saved locally"; the others are not.
	saved := map[string]time.Time{}
	var want []string
	for _, u := range server {
		var k int
		fmt.Sscanf(msgid[u], "msg%d", &k)
		if k%2 == 1 {
			saved[u] = time.Now().Add(-time.Hour)
		} else {
			want = append(want, msgid[u])
		}
	}
	slices.Sort(want)
	if len(want) != n/2 {
		t.Fatalf("test messages on the server: %v", msgid)
	}
	for _, cl := range clients {
		t.Run(cl.Name, func(t *testing.T) {
			dir := t.TempDir()
			statePath, mbox := cl.setup(t, dir, srv)
			f, err := New(cl.format)
			if err != nil {
				t.Fatal(err)
			}
			f.name = statePath
			other := Account{Host: "other.example.org", User: "bob"}
			if cl.format != Getmail {
				if err := f.Replace(other, []Entry{{UID: "bob-uid-1"}, {UID: "bob-uid-2"}}); err != nil {
					t.Fatal(err)
				}
			}
			entries, diff, err := Rebuild(nil, server, saved, time.Now(), cl.format)
			if err != nil {
				t.Fatal(err)
			}
			if len(diff.Added) != n/2 || len(diff.Refetch) != n/2 {
				t.Fatalf("diff %v", diff)
			}
			if err := f.Replace(cl.acct(srv), entries); err != nil {
				t.Fatal(err)
			}
			if err := WriteFile(Target{Format: cl.format, Path: statePath}, f.Bytes()); err != nil {
				t.Fatal(err)
			}

			cl.Run(t, dir)
			if got := downloaded(t, mbox); !slices.Equal(got, want) {
				t.Fatalf("first run downloaded %v, want exactly %v", got, want)
			}
			cl.Run(t, dir)
			if got := downloaded(t, mbox); !slices.Equal(got, want) {
				t.Fatalf("second run downloaded more: %v, want still %v", got, want)
			}
			// The client now records all N, and kept the other account.
			after, err := ReadFile(Target{Format: cl.format, Path: statePath})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range after.Entries(cl.acct(srv)) {
				got = append(got, e.UID)
			}
			slices.Sort(got)
			all := slices.Clone(server)
			slices.Sort(all)
			if !slices.Equal(got, all) {
				t.Errorf("client state after the runs: %v, want %v", got, all)
			}
			if cl.format != Getmail {
				if got := after.Entries(other); len(got) != 2 {
					t.Errorf("the client dropped the other account's entries: %v", got)
				}
			}
		})
	}
}

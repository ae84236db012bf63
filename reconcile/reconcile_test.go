package reconcile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/popdedupe/popdedupe/pop3"
	"github.com/popdedupe/popdedupe/pop3/pop3test"
	"github.com/popdedupe/popdedupe/uidlstate"
)

// clock is a settable clock shared by the server's LOGIN-DELAY and Run.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestIncident is the original defect: a server allowing one login every
// 300 s, a local store holding 3 copies of half of the messages. One run
// must delete exactly the saved half in one login; a rerun right away is
// refused by the server, proving the first run needed no second login.
func TestIncident(t *testing.T) {
	clk := &clock{t: time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC)}
	const n = 24
	var msgs [][]byte
	for i := 0; i < n; i++ {
		msgs = append(msgs, mail(i))
	}
	srv := newServer(t, pop3test.Config{LoginDelay: 300 * time.Second, Now: clk.Now}, msgs...)
	dir := maildir(t, t.TempDir())
	for i := 0; i < n; i += 2 {
		for c := 0; c < 3; c++ {
			put(t, dir, msgs[i], c, "")
		}
	}
	before := srv.Messages(testUser)
	o := opts(srv)
	o.DeleteSaved, o.Apply, o.Now = true, true, clk.Now
	res, err := Run(context.Background(), scanStores(t, dir), o)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	after := srv.Messages(testUser)
	checkInvariant(t, before, after, res, dir)
	var want []string
	for i := 1; i < n; i += 2 {
		want = append(want, uid(i))
	}
	if got := uids(after); !slices.Equal(got, want) {
		t.Errorf("left on server: %v, want the unsaved %v", got, want)
	}
	if res.Session.Logins != 1 || srv.Stats().LoginsSucceeded[testUser] != 1 {
		t.Errorf("logins: result %d, server %d; want 1", res.Session.Logins, srv.Stats().LoginsSucceeded[testUser])
	}
	if !res.Session.QuitCommitted || res.Counts.Deleted != n/2 || res.Counts.Missing != n/2 {
		t.Errorf("session %+v counts %+v", res.Session, res.Counts)
	}
	for _, m := range res.Messages {
		want := Missing
		if m.Num%2 == 1 { // message numbers are from 1: uid(0) is number 1
			want = Deleted
		}
		if m.Verdict != want {
			t.Errorf("%s: verdict %s, want %s", m.UIDL, m.Verdict, want)
		}
		if m.Verdict == Deleted && (m.LocalCopies != 3 || m.Local == nil || m.Evidence == nil || m.Evidence.Match != "message-id+body") {
			t.Errorf("%s: evidence %+v local %v copies %d", m.UIDL, m.Evidence, m.Local, m.LocalCopies)
		}
	}
	if res.Session.NextLogin == nil || !res.Session.NextLogin.Equal(clk.Now().Add(300*time.Second)) {
		t.Errorf("next login = %v, want %v", res.Session.NextLogin, clk.Now().Add(300*time.Second))
	}

	clk.Add(10 * time.Second)
	res2, err := Run(context.Background(), scanStores(t, dir), o)
	var lde *LoginDelayError
	if !errors.As(err, &lde) || !errors.Is(err, pop3.ErrLoginDelay) {
		t.Fatalf("rerun: err = %v, want a *LoginDelayError", err)
	}
	if want := clk.Now().Add(300 * time.Second); !lde.Next.Equal(want) || !strings.Contains(err.Error(), want.Format(time.RFC3339)) {
		t.Errorf("rerun: next login %v (%v), want %v", lde.Next, err, want)
	}
	if res2.Session.Logins != 0 || res2.Session.QuitSent {
		t.Errorf("rerun session: %+v", res2.Session)
	}
	if got := uids(srv.Messages(testUser)); !slices.Equal(got, want) {
		t.Errorf("rerun changed the server: %v", got)
	}
}

// TestDryRun: the default changes nothing, sends no DELE, reads with TOP
// what cannot match, and ends with QUIT; the plan says what --apply would do.
func TestDryRun(t *testing.T) {
	var msgs [][]byte
	for i := 0; i < 9; i++ {
		msgs = append(msgs, mail(i))
	}
	srv := newServer(t, pop3test.Config{}, msgs...)
	dir := maildir(t, t.TempDir())
	put(t, dir, msgs[0], 0, "")
	put(t, dir, msgs[1], 1, "")
	put(t, dir, msgs[3], 2, uid(3))
	before := srv.Messages(testUser)
	o := opts(srv)
	o.DeleteSaved = true
	res, err := Run(context.Background(), scanStores(t, dir), o)
	if err != nil {
		t.Fatal(err)
	}
	checkInvariant(t, before, srv.Messages(testUser), res, dir)
	if len(srv.Messages(testUser)) != 9 {
		t.Fatalf("dry run changed the server")
	}
	cmds := srv.Commands()
	if countCmd(cmds, "DELE") != 0 || cmds[len(cmds)-1] != "QUIT" {
		t.Errorf("dry run commands: %q", cmds)
	}
	// Large unsaved messages (6) are never retrieved in full: TOP only.
	for _, c := range cmds {
		if c == "RETR 7" {
			t.Errorf("RETR of a large message that cannot match anything: %q", cmds)
		}
	}
	if countCmd(cmds, "TOP") == 0 {
		t.Errorf("no TOP used: %q", cmds)
	}
	if res.Counts.ToDelete != 3 || res.Counts.Saved != 3 || res.Counts.Missing != 6 || !res.Work() {
		t.Errorf("counts %+v", res.Counts)
	}
	v := verdicts(res)
	for i, want := range map[int]Action{0: Delete, 1: Delete, 3: Delete, 2: Keep, 6: Keep} {
		for _, m := range res.Messages {
			if m.UIDL == uid(i) && m.Action != want {
				t.Errorf("%s: action %s, want %s (verdict %s)", uid(i), m.Action, want, v[uid(i)])
			}
		}
	}
	for _, m := range res.Messages {
		if m.UIDL == uid(3) && (m.Evidence == nil || !m.Evidence.XUIDL) {
			t.Errorf("X-UIDL evidence not recorded: %+v", m.Evidence)
		}
	}
	if res.Session.Logins != 1 || !res.Session.QuitCommitted || res.Session.DeleSent != 0 {
		t.Errorf("session %+v", res.Session)
	}
}

// TestFetchMissing saves what is missing into a Maildir and into an mbox
// and deletes everything; afterwards the local stores hold exactly one
// copy of every message and the server is empty.
func TestFetchMissing(t *testing.T) {
	for _, kind := range []string{"maildir", "mbox"} {
		t.Run(kind, func(t *testing.T) {
			var msgs [][]byte
			for i := 0; i < 10; i++ {
				msgs = append(msgs, mail(i))
			}
			msgs = append(msgs, noIDMail(1), noIDMail(2))
			msgs = append(msgs, mail(4)) // delivered twice on the server, saved
			msgs = append(msgs, mail(5)) // delivered twice on the server, missing
			srv := newServer(t, pop3test.Config{}, msgs...)
			root := t.TempDir()
			dir := maildir(t, filepath.Join(root, "Maildir"))
			for i := 0; i < 10; i += 2 {
				put(t, dir, msgs[i], i, "")
			}
			put(t, dir, msgs[10], 0, "")
			target := filepath.Join(root, "Recovered")
			if kind == "mbox" {
				target = filepath.Join(root, "recovered.mbox")
			}
			before := srv.Messages(testUser)
			o := opts(srv)
			o.DeleteSaved, o.Apply, o.FetchMissing = true, true, target
			res, err := Run(context.Background(), scanStores(t, dir), o)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			checkInvariant(t, before, srv.Messages(testUser), res, dir, target)
			if left := srv.Messages(testUser); len(left) != 0 {
				t.Errorf("left on server: %v", uids(left))
			}
			keys := localKeys(t, dir, target)
			for _, m := range before {
				if n := keys[keyOf(t, m.Body)]; n != 1 {
					t.Errorf("%s: %d local copies, want 1", m.UID, n)
				}
			}
			if res.Counts.Deleted != len(msgs) || res.Counts.ServerDuplicates != 2 {
				t.Errorf("counts %+v", res.Counts)
			}
			fetched := 0
			for _, m := range res.Messages {
				if m.Action == FetchDelete {
					fetched++
				}
			}
			if fetched != 6 {
				t.Errorf("fetched %d, want 6", fetched)
			}
			if kind == "maildir" {
				ents, _ := os.ReadDir(filepath.Join(target, "tmp"))
				if len(ents) != 0 {
					t.Errorf("temporary files left in %s/tmp: %d", target, len(ents))
				}
			}
			if cmds := srv.Commands(); countCmd(cmds, "RETR") != len(msgs) {
				t.Errorf("%d RETR for %d messages: each message must be retrieved once", countCmd(cmds, "RETR"), len(msgs))
			}
		})
	}
}

// TestConflict: same Message-ID, different body: reported, never deleted,
// never fetched.
func TestConflict(t *testing.T) {
	a := mail(1)
	b := append(mail(1), []byte("-- \nmailing list footer\n")...)
	srv := newServer(t, pop3test.Config{}, b, mail(2))
	root := t.TempDir()
	dir := maildir(t, filepath.Join(root, "Maildir"))
	put(t, dir, a, 0, uid(0))
	put(t, dir, mail(2), 0, "")
	before := srv.Messages(testUser)
	o := opts(srv)
	o.DeleteSaved, o.Apply, o.FetchMissing = true, true, filepath.Join(root, "fetch")
	res, err := Run(context.Background(), scanStores(t, dir), o)
	if err != nil {
		t.Fatal(err)
	}
	checkInvariant(t, before, srv.Messages(testUser), res, dir)
	if got := uids(srv.Messages(testUser)); !slices.Equal(got, []string{uid(0)}) {
		t.Errorf("left %v, want the conflict %s", got, uid(0))
	}
	v := verdicts(res)
	if v[uid(0)] != Conflict || v[uid(1)] != Deleted {
		t.Errorf("verdicts %v", v)
	}
	if res.Counts.Conflicts != 1 || res.Counts.Fetched != 0 {
		t.Errorf("counts %+v", res.Counts)
	}
	if n := res.Messages[0].Note; !strings.Contains(n, "X-UIDL") || !strings.Contains(n, "different body") {
		t.Errorf("note %q", n)
	}
}

// TestDuplicateUIDL: a UIDL listed twice is never deleted and blocks the
// state file; the other messages are handled.
func TestDuplicateUIDL(t *testing.T) {
	srv := pop3test.NewServer(t, pop3test.Config{})
	srv.AddUser(testUser, testPass)
	srv.AddMessage(testUser, "same", mail(1))
	srv.AddMessage(testUser, "same", mail(2))
	srv.AddMessage(testUser, "other", mail(3))
	dir := maildir(t, t.TempDir())
	for i := 1; i <= 3; i++ {
		put(t, dir, mail(i), i, "")
	}
	st := filepath.Join(t.TempDir(), "fetchids")
	before := srv.Messages(testUser)
	o := opts(srv)
	o.DeleteSaved, o.Apply = true, true
	o.State = &uidlstate.Target{Format: uidlstate.Fetchmail, Path: st}
	res, err := Run(context.Background(), scanStores(t, dir), o)
	if err == nil || !strings.Contains(err.Error(), "more than one message") {
		t.Errorf("err = %v, want the state file refused", err)
	}
	checkInvariant(t, before, srv.Messages(testUser), res, dir)
	if got := uids(srv.Messages(testUser)); !slices.Equal(got, []string{"same", "same"}) {
		t.Errorf("left %v", got)
	}
	for _, m := range res.Messages {
		if m.UIDL == "same" && (!m.DuplicateUIDL || m.Verdict != Saved || m.Action != Keep) {
			t.Errorf("%+v", m)
		}
	}
	if res.State == nil || res.State.Written || res.State.Error == "" {
		t.Errorf("state %+v", res.State)
	}
	if _, err := os.Stat(st); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state file written: %v", err)
	}
}

// TestExpire0: on a server that may delete retrieved messages at QUIT, a
// dry run reads with TOP, never RETR, and leaves everything.
func TestExpire0(t *testing.T) {
	var msgs [][]byte
	for i := 0; i < 6; i++ {
		msgs = append(msgs, mail(i))
	}
	srv := newServer(t, pop3test.Config{Expire: "0"}, msgs...)
	dir := maildir(t, t.TempDir())
	for i := 0; i < 6; i += 2 {
		put(t, dir, msgs[i], i, "")
	}
	before := srv.Messages(testUser)
	o := opts(srv)
	o.DeleteSaved = true
	res, err := Run(context.Background(), scanStores(t, dir), o)
	if err != nil {
		t.Fatal(err)
	}
	checkInvariant(t, before, srv.Messages(testUser), res, dir)
	cmds := srv.Commands()
	if countCmd(cmds, "RETR") != 0 || countCmd(cmds, "TOP") == 0 {
		t.Errorf("commands %q", cmds)
	}
	if len(srv.Messages(testUser)) != 6 || res.Counts.Saved != 3 || res.Session.Expire != "0" {
		t.Errorf("left %d, counts %+v, expire %q", len(srv.Messages(testUser)), res.Counts, res.Session.Expire)
	}
	// Without TOP, inspecting would delete: refused before any RETR.
	srv2 := newServer(t, pop3test.Config{Expire: "0", NoTOP: true}, msgs...)
	res, err = Run(context.Background(), scanStores(t, dir), opts(srv2))
	if !errors.Is(err, ErrUnsafeExpire) {
		t.Errorf("no TOP: err = %v", err)
	}
	if countCmd(srv2.Commands(), "RETR") != 0 || res.Session.QuitSent || len(srv2.Messages(testUser)) != 6 {
		t.Errorf("no TOP: commands %q", srv2.Commands())
	}
}

// TestMatchMessageID: the weaker mode decides on headers; its evidence is
// named as such.
func TestMatchMessageID(t *testing.T) {
	srv := newServer(t, pop3test.Config{}, mail(1), mail(2), noIDMail(3))
	dir := maildir(t, t.TempDir())
	put(t, dir, mail(1), 1, "")
	put(t, dir, noIDMail(3), 0, "")
	o := opts(srv)
	o.Match = MatchMessageID
	res, err := Run(context.Background(), scanStores(t, dir), o)
	if err != nil {
		t.Fatal(err)
	}
	if c := countCmd(srv.Commands(), "RETR"); c != 1 {
		t.Errorf("%d RETR, want 1 (only the message without Message-ID): %q", c, srv.Commands())
	}
	for _, m := range res.Messages {
		switch m.UIDL {
		case uid(0):
			if m.Verdict != Saved || m.Evidence == nil || m.Evidence.Match != matchWeak || m.Note == "" {
				t.Errorf("weak match: %+v %+v", m, m.Evidence)
			}
		case uid(2):
			if m.Verdict != Saved || m.Evidence.Match != "headers+body" {
				t.Errorf("no Message-ID: %+v", m)
			}
		}
	}
}

// TestStateRebuild: --state with --apply and without --delete-saved
// writes the state (saved UIDLs only, old times kept, new ones from the
// local copy's arrival) and deletes nothing; the old file stays as a
// backup.
func TestStateRebuild(t *testing.T) {
	srv := newServer(t, pop3test.Config{}, mail(0), mail(1), mail(2), mail(3))
	dir := maildir(t, t.TempDir())
	put(t, dir, mail(0), 0, "")
	put(t, dir, mail(2), 1, "")
	put(t, dir, mail(3), 2, "")
	host, port, _ := strings.Cut(srv.Addr(), ":")
	path := filepath.Join(t.TempDir(), "state.json")
	old := fmt.Sprintf(`{"popdedupe_uidl_state": 1, "accounts": [{"host": %q, "port": %s, "user": %q, "entries": [
		{"uid": %q, "seen": "2020-01-02T03:04:05Z"},
		{"uid": %q, "seen": "2020-01-02T03:04:05Z"},
		{"uid": "gone-from-server", "seen": "2020-01-02T03:04:05Z"}]}]}`, host, port, testUser, uid(0), uid(1))
	if err := os.WriteFile(path, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	o := opts(srv)
	o.Apply = true
	o.State = &uidlstate.Target{Format: uidlstate.JSON, Path: path}
	res, err := Run(context.Background(), scanStores(t, dir), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(srv.Messages(testUser)) != 4 || countCmd(srv.Commands(), "DELE") != 0 {
		t.Errorf("--state alone deleted mail: %q", srv.Commands())
	}
	st := res.State
	if st == nil || !st.Written || st.Backup != path+uidlstate.BackupSuffix {
		t.Fatalf("state %+v", st)
	}
	if !slices.Equal(st.Kept, []string{uid(0)}) || !slices.Equal(st.Added, []string{uid(2), uid(3)}) ||
		!slices.Equal(st.Refetch, []string{uid(1)}) || len(st.Removed) != 2 {
		t.Errorf("diff %+v", st)
	}
	if b, err := os.ReadFile(path + uidlstate.BackupSuffix); err != nil || string(b) != old {
		t.Errorf("backup: %v", err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v", fi.Mode(), err)
	}
	f, err := uidlstate.ReadFile(uidlstate.Target{Format: uidlstate.JSON, Path: path})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	ents := f.Entries(uidlstate.Account{Host: host, Port: p, User: testUser})
	seen := map[string]time.Time{}
	for _, e := range ents {
		seen[e.UID] = e.Seen
	}
	arrivals := map[string]int64{}
	for _, m := range res.Messages {
		arrivals[m.UIDL] = m.Arrival
	}
	if len(ents) != 3 || !seen[uid(0)].Equal(time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)) ||
		seen[uid(2)].Unix() != arrivals[uid(2)] || arrivals[uid(2)] < 1741000000 {
		t.Errorf("entries %+v (arrivals %v)", ents, arrivals)
	}
}

// TestFetchRemovesLeftovers: temporary copies that a killed run fetched
// for the target and never committed are removed by the next run (under
// the target's run lock); another target's in the same directory stay.
func TestFetchRemovesLeftovers(t *testing.T) {
	for _, kind := range []string{"maildir", "mbox"} {
		t.Run(kind, func(t *testing.T) {
			srv := newServer(t, pop3test.Config{}, mail(1), mail(2))
			// A directory whose name would be a glob pattern.
			root := filepath.Join(t.TempDir(), "Mail[x]*")
			if err := os.MkdirAll(root, 0o700); err != nil {
				t.Fatal(err)
			}
			dir := maildir(t, filepath.Join(root, "Maildir"))
			put(t, dir, mail(1), 0, "")
			target := filepath.Join(root, "Recovered")
			if kind == "mbox" {
				target = filepath.Join(root, "recovered.mbox")
			}
			probe := &fetcher{path: target, tmp: root}
			if kind == "maildir" {
				maildir(t, target)
				probe.tmp = filepath.Join(target, "tmp")
			}
			dead := probe.targetPrefix() + "0a0b0c0d0e0f-7"
			other := (&fetcher{path: filepath.Join(root, "other.mbox"), tmp: probe.tmp}).targetPrefix() + "0a0b0c0d0e0f-1"
			for _, p := range []string{dead, other} {
				if err := os.WriteFile(p, mail(9), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			o := opts(srv)
			o.DeleteSaved, o.Apply, o.FetchMissing = true, true, target
			if _, err := Run(context.Background(), scanStores(t, dir), o); err != nil {
				t.Fatalf("Run: %v", err)
			}
			if _, err := os.Stat(dead); !os.IsNotExist(err) {
				t.Errorf("the dead run's temporary copy is still there: %v", err)
			}
			if _, err := os.Stat(other); err != nil {
				t.Errorf("another target's temporary copy was touched: %v", err)
			}
			if left := srv.Messages(testUser); len(left) != 0 {
				t.Errorf("left on server: %v", uids(left))
			}
		})
	}
}

package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/popdedupe/popdedupe/dedupe/dedupetest"
	"github.com/popdedupe/popdedupe/fingerprint"
	"github.com/popdedupe/popdedupe/internal/corpusgen"
	"github.com/popdedupe/popdedupe/internal/dovecottest"
	"github.com/popdedupe/popdedupe/journal"
	"github.com/popdedupe/popdedupe/report"
)

// repairJSON is the part of the repair JSON the tests read.
type repairJSON struct {
	Version    int    `json:"version"`
	Command    string `json:"command"`
	Messages   int    `json:"messages"`
	Duplicates int    `json:"duplicates"`
	Applied    bool   `json:"applied"`
	Removed    int    `json:"removed"`
	Quarantine string `json:"quarantine"`
	Journal    string `json:"journal"`
	Undo       string `json:"undo"`
	Report     string `json:"report"`
	Error      string `json:"error"`
	ExitCode   int    `json:"exit_code"`
	NextSteps  []string
	Server     *report.RepairServer `json:"server"`
	State      *report.RepairState  `json:"state"`
	Reconcile  *struct {
		Messages []struct {
			UIDL    string `json:"uidl"`
			Verdict string `json:"verdict"`
			Local   *struct {
				Path string `json:"path"`
			} `json:"local"`
		} `json:"messages"`
	} `json:"reconcile"`
}

func decodeRepair(t *testing.T, out string) repairJSON {
	t.Helper()
	return decodeOne[repairJSON](t, out)
}

// deletedHadEvidence checks the invariant of every reconcile: each deleted
// server message names a local copy that is on disk after the run and is
// not in the quarantine.
func deletedHadEvidence(t *testing.T, j repairJSON) int {
	t.Helper()
	if j.Reconcile == nil {
		t.Fatal("no reconcile object")
	}
	n := 0
	for _, m := range j.Reconcile.Messages {
		if m.Verdict != "deleted" {
			continue
		}
		n++
		if m.Local == nil {
			t.Errorf("UIDL %s deleted without a local copy named", m.UIDL)
			continue
		}
		if _, err := os.Stat(m.Local.Path); err != nil {
			t.Errorf("UIDL %s deleted on the evidence of %s: %v", m.UIDL, m.Local.Path, err)
		}
		if j.Quarantine != "" && strings.HasPrefix(m.Local.Path, j.Quarantine) {
			t.Errorf("UIDL %s deleted on the evidence of a quarantined copy %s", m.UIDL, m.Local.Path)
		}
	}
	return n
}

// TestRepairFakeServer: dry run, apply, undo against the fake server:
// 3 copies of the even messages locally, the odd ones missing.
func TestRepairFakeServer(t *testing.T) {
	home := cliEnv(t)
	const n = 8
	srv := rcServer(t, n)
	local := filepath.Join(home, "Maildir")
	for i := 0; i < n; i += 2 {
		for c := 0; c < 3; c++ {
			rcPut(t, local, rcMail(i))
		}
	}
	fetch := filepath.Join(local, ".Recovered")
	state := filepath.Join(home, "fetchids")
	// The client's old state: one stale entry, so undo has a file to put back.
	if err := os.WriteFile(state, []byte(rcUser+"@127.0.0.1 OLD-UIDL\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	oldState, _ := os.ReadFile(state)
	html := filepath.Join(home, "report.html")
	snap := dedupetest.Snapshot(t, local)
	base := []string{"repair", "--server", srv.Addr(), "--user", rcUser, "--progress", "never",
		"--delete-saved", "--fetch-missing", fetch, "--state", "fetchmail:" + state, "--report", html}

	// Dry run: the combined plan, exit 3, nothing changed anywhere.
	code, out, _ := cli(t, append(base, "--json", local)...)
	j := decodeRepair(t, out)
	if code != exitWork || j.ExitCode != exitWork || j.Applied || j.Command != "repair" || j.Version != report.Version ||
		j.Duplicates != n || j.Server == nil || j.Server.ToDelete != n || j.Server.ToFetch != n/2 || j.Server.Saved != n/2 ||
		j.Server.Missing != n/2 || j.Server.Held != 0 || j.State == nil || j.State.Written || j.Journal != "" {
		t.Fatalf("dry run: exit %d, %+v, server %+v, state %+v", code, j, j.Server, j.State)
	}
	if got := len(srv.Messages(rcUser)); got != n {
		t.Errorf("dry run changed the server: %d messages", got)
	}
	if d := dedupetest.DiffSnapshots(snap, dedupetest.Snapshot(t, local)); d != "" {
		t.Errorf("dry run changed the store:\n%s", d)
	}
	if b, _ := os.ReadFile(state); !bytes.Equal(b, oldState) {
		t.Errorf("dry run changed the state file")
	}

	// Text dry run.
	code, out, _ = cli(t, append(base, local)...)
	for _, want := range []string{"would move 8 extra copies", "would delete 8", "would fetch 4", "With --apply the server would hold 0 messages", "run the same command with --apply"} {
		if !strings.Contains(out, want) {
			t.Errorf("text dry run (exit %d) lacks %q:\n%s", code, want, out)
		}
	}

	// Apply: one login, the server empty, one copy of each message
	// locally, the state rewritten, one journal, the HTML page.
	before := srv.Stats().LoginsSucceeded[rcUser]
	code, out, _ = cli(t, append(base, "--apply", "--json", local)...)
	j = decodeRepair(t, out)
	if code != exitOK || !j.Applied || j.Removed != n || j.Server == nil || j.Server.Deleted != n || j.Server.Fetched != n/2 ||
		!j.Server.QuitCommitted || j.Server.Held != 0 || j.State == nil || !j.State.Written || j.Journal == "" || j.Report != html {
		t.Fatalf("apply: exit %d, %+v, server %+v, state %+v", code, j, j.Server, j.State)
	}
	if got := srv.Stats().LoginsSucceeded[rcUser] - before; got != 1 {
		t.Errorf("apply logged in %d times, want 1", got)
	}
	if got := len(srv.Messages(rcUser)); got != 0 {
		t.Errorf("%d messages left on the server", got)
	}
	if deletedHadEvidence(t, j) != n {
		t.Errorf("not every message was deleted")
	}
	counts := localCounts(t, local)
	if len(counts) != n {
		t.Errorf("%d distinct messages locally, want %d", len(counts), n)
	}
	for k, c := range counts {
		if c != 1 {
			t.Errorf("%d local copies of %v after the repair", c, k)
		}
	}
	page, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<svg", "Incident timeline", "U1", "deleted"} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("HTML report lacks %q", want)
		}
	}
	if bytes.Contains(page, []byte("src=\"http")) || bytes.Contains(page, []byte("href=\"http")) {
		t.Errorf("HTML report fetches from the network")
	}
	entries, err := journal.Read(j.Journal)
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]bool{}
	for _, s := range journal.Steps(entries) {
		ops[s.Op] = true
	}
	for _, op := range []string{"run", "maildir.quarantine", "pop3.fetch", "pop3.dele", "pop3.quit", opStateWrite} {
		if !ops[op] {
			t.Errorf("journal has no %s step: %v", op, ops)
		}
	}

	// Undo restores the local part: the copies and the state file. The
	// fetched messages stay (they are mail the user did not have).
	code, out, _ = cli(t, "undo", j.Journal)
	if code != exitOK || !strings.Contains(out, "server deletions cannot be undone") {
		t.Errorf("undo: exit %d\n%s", code, out)
	}
	if b, _ := os.ReadFile(state); !bytes.Equal(b, oldState) {
		t.Errorf("undo did not put the state file back:\n%s", b)
	}
	after := dedupetest.Snapshot(t, local)
	for p := range after {
		if strings.Contains(p, ".Recovered") {
			delete(after, p)
		}
	}
	if d := dedupetest.DiffSnapshots(snap, after); d != "" {
		t.Errorf("undo did not restore the store:\n%s", d)
	}
}

// TestRepairEvidenceAfterDedupe: a server message whose only local
// evidence is a copy the dedupe removed is never deleted. Two messages
// have two local copies each; between the dedupe and the session the kept
// copy of one of them disappears (another program, a user): its only
// other copy is in the quarantine, and the server copy must stay.
func TestRepairEvidenceAfterDedupe(t *testing.T) {
	home := cliEnv(t)
	srv := rcServer(t, 2)
	local := filepath.Join(home, "Maildir")
	for _, i := range []int{0, 0, 1, 1} {
		rcPut(t, local, rcMail(i))
	}
	lost := keyOf(t, rcMail(1))

	fs := flag.NewFlagSet("repair", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c := &repairConfig{command: "repair"}
	c.register(fs)
	if err := parseFlags(fs, []string{"--server", srv.Addr(), "--user", rcUser, "--progress", "never", "--delete-saved", "--apply", local}); err != nil {
		t.Fatal(err)
	}
	c.stores = fs.Args()
	hooked := false
	c.afterDedupe = func() {
		hooked = true
		// Remove every copy of message 1 left in the store: the one the
		// dedupe kept.
		files, _ := filepath.Glob(filepath.Join(local, "cur", "*"))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if keyOf(t, b) == lost {
				if err := os.Remove(f); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	rep, err := repairAndReport(context.Background(), c, io.Discard)
	if err != nil || rep == nil || !hooked {
		t.Fatalf("repair: %v (hook ran: %v)", err, hooked)
	}
	var b bytes.Buffer
	report.WriteJSON(&b, rep)
	j := decodeRepair(t, b.String())
	if j.Removed != 2 {
		t.Errorf("dedupe removed %d copies, want 2", j.Removed)
	}
	left := srv.Messages(rcUser)
	if len(left) != 1 || left[0].UID != "U1" {
		t.Fatalf("server holds %+v, want U1 only (its only local copy was quarantined)", left)
	}
	if j.Server.Deleted != 1 || j.Server.Missing != 1 || j.Server.Held != 1 {
		t.Errorf("server summary %+v", j.Server)
	}
	deletedHadEvidence(t, j)
	// The quarantine does hold a copy of it: the evidence existed, but
	// not where the mail client reads.
	q := map[fingerprint.Key]int{}
	files, _ := filepath.Glob(filepath.Join(j.Quarantine, "cur", "*"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		q[keyOf(t, b)]++
	}
	if q[lost] != 1 {
		t.Errorf("quarantine holds %d copies of the message, want 1", q[lost])
	}
}

// TestRepairUsage: usage errors exit 2 before anything is read or sent.
func TestRepairUsage(t *testing.T) {
	home := cliEnv(t)
	local := filepath.Join(home, "Maildir")
	rcPut(t, local, rcMail(0))
	for i, args := range [][]string{
		{"repair", local},
		{"repair", "--server", "127.0.0.1:1", "--user", rcUser},
		{"repair", "--server", "127.0.0.1:1", "--user", rcUser, "--bogus", local},
		{"repair", "--accounts", filepath.Join(home, "none.json")},
		{"repair", "--accounts", filepath.Join(home, "a"), "--server", "x", local},
		{"repair", "--server", "127.0.0.1:1", "--user", rcUser, "--delete", "--quarantine", home, local},
		{"repair", "--server", "127.0.0.1:1", "--user", rcUser, "--state", "nosuch:" + home, local},
	} {
		code, out, errOut := cli(t, args...)
		if code != exitUsage {
			t.Errorf("#%d %q: exit %d, want 2\n%s%s", i, args, code, out, errOut)
		}
	}
	// --json on a usage error: one object with the error.
	code, out, _ := cli(t, "repair", "--json", local)
	if j := decodeRepair(t, out); code != exitUsage || j.ExitCode != exitUsage || j.Error == "" {
		t.Errorf("--json usage error: exit %d, %+v", code, j)
	}
}

// TestHelpAndVersion: every command has --help with an example, exit 0;
// --version prints the version.
func TestHelpAndVersion(t *testing.T) {
	for name := range commands {
		var out, errb bytes.Buffer
		code := run(context.Background(), []string{name, "--help"}, &out, &errb)
		help := out.String() + errb.String()
		if code != exitOK || !strings.Contains(help, "popdedupe "+name) || !strings.Contains(strings.ToLower(help), "example") && name != "state" {
			t.Errorf("%s --help: exit %d\n%s", name, code, help)
		}
	}
	for _, name := range []string{"repair", "demo"} {
		var errb bytes.Buffer
		run(context.Background(), []string{name, "--help"}, io.Discard, &errb)
		if !strings.Contains(errb.String(), "Exit codes") {
			t.Errorf("%s --help does not document the exit codes:\n%s", name, errb.String())
		}
	}
	var out bytes.Buffer
	if code := run(context.Background(), []string{"--version"}, &out, io.Discard); code != exitOK || !strings.HasPrefix(out.String(), "popdedupe "+version) {
		t.Errorf("--version: exit %d %q", code, out.String())
	}
}

// TestReportFlag: scan, dedupe and reconcile write the HTML page too.
func TestReportFlag(t *testing.T) {
	home := cliEnv(t)
	srv := rcServer(t, 1)
	local := filepath.Join(home, "Maildir")
	rcPut(t, local, rcMail(0))
	rcPut(t, local, rcMail(0))
	for _, args := range [][]string{
		{"scan", local},
		{"dedupe", "--state-dir", filepath.Join(home, "st"), local},
		{"reconcile", "--server", srv.Addr(), "--user", rcUser, "--delete-saved", local},
	} {
		html := filepath.Join(home, args[0]+".html")
		code, _, _ := cli(t, append([]string{args[0], "--report", html}, args[1:]...)...)
		b, err := os.ReadFile(html)
		if code != exitWork || err != nil || !bytes.Contains(b, []byte("<svg")) || !bytes.Contains(b, []byte("rc0@reconcile.test")) {
			t.Errorf("%s --report: exit %d, %v, %d bytes", args[0], code, err, len(b))
		}
		if fi, err := os.Stat(html); err == nil && fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600 (it names the owner's mail)", html, fi.Mode())
		}
	}
}

// TestRepairDovecot: the whole job against a real Dovecot over STLS with
// its certificate verified, on a generated incident: a Maildir++ and an
// mbox, 2 and 3 copies, some messages never downloaded. One repair
// --apply leaves one copy of everything locally, only the unsaved
// messages on the server, a rebuilt fetchmail state, in one login; a
// second one with --fetch-missing saves those and empties the server.
func TestRepairDovecot(t *testing.T) {
	home := cliEnv(t)
	srv := dovecottest.Start(t, dovecottest.Config{Users: []dovecottest.User{{Name: rcUser, Pass: rcPass}}})
	opts := demoOptions(11, 60, time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC))
	root := filepath.Join(home, "Maildir")
	truth, err := corpusgen.WriteMaildirPP(root, opts)
	if err != nil {
		t.Fatal(err)
	}
	mbox := filepath.Join(home, "mail", "archive.mbox")
	if err := maildirToMbox(filepath.Join(root, ".Archive"), mbox); err != nil {
		t.Fatal(err)
	}
	msgs, err := corpusgen.ServerMessages(opts)
	if err != nil {
		t.Fatal(err)
	}
	unsaved := map[fingerprint.Key]bool{}
	for _, m := range msgs {
		if _, err := srv.Deliver(rcUser, m.Body); err != nil {
			t.Fatal(err)
		}
		if !m.Saved {
			unsaved[keyOf(t, m.Body)] = true
		}
	}
	if len(unsaved) == 0 || truth.Duplicates == 0 {
		t.Fatalf("the incident has %d unsaved messages and %d duplicates", len(unsaved), truth.Duplicates)
	}
	state := filepath.Join(home, ".fetchids")
	html := filepath.Join(home, "report.html")
	base := []string{"repair", "--server", srv.Addr, "--user", rcUser, "--tls", "starttls", "--ca", srv.CAFile,
		"--progress", "never", "--delete-saved", "--state", "fetchmail:" + state, "--report", html, "--apply", "--json"}
	before := logins(srv)
	code, out, _ := cli(t, append(base, root, mbox)...)
	j := decodeRepair(t, out)
	if code != exitOK || !j.Applied || j.Removed == 0 || j.Server == nil || !j.Server.QuitCommitted || j.Server.Logins != 1 ||
		j.Server.Missing != len(unsaved) || j.Server.Held != len(unsaved) || j.State == nil || !j.State.Written {
		t.Fatalf("exit %d: %+v, server %+v, state %+v", code, j, j.Server, j.State)
	}
	if got := logins(srv) - before; got != 1 {
		t.Errorf("Dovecot logged %d logins, want 1", got)
	}
	deletedHadEvidence(t, j)
	files, err := srv.MessageFiles(rcUser)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(unsaved) {
		t.Errorf("%d messages on the server, want the %d unsaved", len(files), len(unsaved))
	}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(srv.Maildir(rcUser), f))
		if err != nil {
			t.Fatal(err)
		}
		if !unsaved[keyOf(t, b)] {
			t.Errorf("a saved message is still on the server: %s", f)
		}
	}
	if b, err := os.ReadFile(html); err != nil || !bytes.Contains(b, []byte("Incident timeline")) {
		t.Errorf("HTML report: %v", err)
	}
	if b, _ := os.ReadFile(state); !bytes.Contains(b, []byte(rcUser+"@127.0.0.1")) {
		t.Errorf("fetchmail state:\n%s", b)
	}

	// Again with --fetch-missing: nothing left to dedupe, the unsaved
	// messages fetched, the server empty.
	fetch := filepath.Join(root, ".Recovered")
	code, out, _ = cli(t, append(base, "--fetch-missing", fetch, root, mbox)...)
	j = decodeRepair(t, out)
	if code != exitOK || j.Removed != 0 || j.Server.Fetched != len(unsaved) || j.Server.Held != 0 {
		t.Errorf("second run: exit %d, %+v, server %+v", code, j, j.Server)
	}
	if files, _ := srv.MessageFiles(rcUser); len(files) != 0 {
		t.Errorf("%d messages left on the server", len(files))
	}
	local := localCounts(t, root, mbox)
	for _, m := range msgs {
		if local[keyOf(t, m.Body)] == 0 {
			t.Errorf("server message %s has no local copy after the repair", m.UID)
		}
	}
}

// TestReportToDevice: --report to a path that is not a regular file
// writes into it and never replaces it (a rename over /dev/null would
// break the whole machine).
func TestReportToDevice(t *testing.T) {
	home := cliEnv(t)
	local := filepath.Join(home, "Maildir")
	rcPut(t, local, rcMail(0))
	before, err := os.Stat(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	if before.Mode().IsRegular() {
		t.Skipf("%s is a regular file here", os.DevNull)
	}
	if code, _, _ := cli(t, "scan", "--report", os.DevNull, local); code != exitOK {
		t.Errorf("scan --report %s: exit %d", os.DevNull, code)
	}
	after, err := os.Stat(os.DevNull)
	if err != nil || after.Mode() != before.Mode() || !os.SameFile(before, after) {
		t.Fatalf("%s was replaced: %v %v", os.DevNull, after.Mode(), err)
	}
	if code, _, _ := cli(t, "scan", "--report", home, local); code != exitFailed {
		t.Errorf("--report DIR: exit %d, want 1", code)
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/popdedupe/popdedupe/fingerprint"
	"github.com/popdedupe/popdedupe/internal/dovecottest"
	"github.com/popdedupe/popdedupe/internal/realclient"
	"github.com/popdedupe/popdedupe/pop3/pop3test"
	"github.com/popdedupe/popdedupe/scan"
)

const (
	rcUser = "alice"
	rcPass = "Tr0ub4dor&3-not-in-any-output"
)

// rcMail is test message i, CRLF line ends (as an MDA stores them).
func rcMail(i int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "From: sender%d@example.org\r\nTo: alice@example.net\r\nSubject: reconcile test %d\r\n", i, i)
	fmt.Fprintf(&b, "Date: Mon, 3 Mar 2025 10:%02d:00 +0000\r\nMessage-ID: <rc%d@reconcile.test>\r\n\r\n", i%60, i)
	lines := 3
	if i%3 == 0 {
		lines = 150
	}
	for l := 0; l < lines; l++ {
		fmt.Fprintf(&b, "body line %d of message %d\r\n", l, i)
	}
	return []byte(b.String())
}

var rcSeq int

// rcPut stores a local copy (LF line ends and a Status header: the form a
// client writes) in the Maildir dir.
func rcPut(t *testing.T, dir string, msg []byte) {
	t.Helper()
	for _, s := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, s), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	rcSeq++
	data := append([]byte("Status: RO\n"), bytes.ReplaceAll(msg, []byte("\r\n"), []byte("\n"))...)
	name := fmt.Sprintf("%d.M%dP7.test:2,S", 1741000000+rcSeq, rcSeq)
	if err := os.WriteFile(filepath.Join(dir, "cur", name), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// cli runs popdedupe in process with the password in the environment and
// a private HOME and state directory.
func cli(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(context.Background(), args, &o, &e)
	t.Logf("popdedupe %s: exit %d\n%s%s", strings.Join(args, " "), code, o.String(), e.String())
	return code, o.String(), e.String()
}

func cliEnv(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_STATE_HOME", filepath.Join(home, "state"))
	t.Setenv("POPDEDUPE_PASSWORD", rcPass)
	return home
}

// rcServer is a fake POP3 server with the test user and n messages,
// U0..U(n-1) holding rcMail(0)..rcMail(n-1).
func rcServer(t *testing.T, n int) *pop3test.Server {
	t.Helper()
	srv := pop3test.NewServer(t, pop3test.Config{})
	srv.AddUser(rcUser, rcPass)
	for i := 0; i < n; i++ {
		srv.AddMessage(rcUser, fmt.Sprintf("U%d", i), rcMail(i))
	}
	return srv
}

// rcJSON is the part of the reconcile JSON the tests read.
type rcJSON struct {
	Version  int    `json:"version"`
	Command  string `json:"command"`
	Apply    bool   `json:"apply"`
	Error    string `json:"error"`
	ExitCode int    `json:"exit_code"`
	Journal  string `json:"journal"`
	Session  struct {
		TLS           string `json:"tls"`
		Logins        int    `json:"logins"`
		Commands      int    `json:"commands"`
		QuitCommitted bool   `json:"quit_committed"`
		QuitSent      bool   `json:"quit_sent"`
	} `json:"session"`
	Counts struct {
		Saved, Missing, Deleted, Fetched int
		ToDelete                         int `json:"to_delete"`
	} `json:"counts"`
	Messages []struct {
		UIDL      string `json:"uidl"`
		Size      int64  `json:"size"`
		MessageID string `json:"message_id"`
		Verdict   string `json:"verdict"`
		Action    string `json:"action"`
		Local     *struct {
			Path string `json:"path"`
		} `json:"local"`
	} `json:"messages"`
	State *struct {
		Added   []string `json:"added"`
		Removed []string `json:"removed"`
		Written bool     `json:"written"`
	} `json:"state"`
}

func decode(t *testing.T, out string) rcJSON { t.Helper(); return decodeOne[rcJSON](t, out) }

// decodeOne decodes stdout, which must hold exactly one JSON object.
func decodeOne[T any](t *testing.T, out string) T {
	t.Helper()
	var j T
	dec := json.NewDecoder(strings.NewReader(out))
	if err := dec.Decode(&j); err != nil {
		t.Fatalf("JSON output: %v\n%s", err, out)
	}
	if dec.More() {
		t.Fatalf("more than one JSON object on stdout:\n%s", out)
	}
	return j
}

// TestReconcileCLI drives the command against the fake server: dry run,
// apply, JSON, exit codes, and the password in no output at all.
func TestReconcileCLI(t *testing.T) {
	home := cliEnv(t)
	srv := rcServer(t, 6)
	local := filepath.Join(home, "Maildir")
	for i := 0; i < 6; i += 2 {
		rcPut(t, local, rcMail(i))
		rcPut(t, local, rcMail(i))
	}
	trace := filepath.Join(home, "trace.txt")
	state := filepath.Join(home, "state.json")
	base := []string{"reconcile", "--server", srv.Addr(), "--user", rcUser, "--tls", "none", "--trace", trace}
	var traces []string
	cli := func(t *testing.T, args ...string) (int, string, string) {
		code, out, errOut := cli(t, args...)
		b, err := os.ReadFile(trace)
		if err != nil {
			t.Errorf("trace: %v", err)
		}
		traces = append(traces, string(b))
		return code, out, errOut
	}

	// Dry run: the plan, exit 3, server untouched, no state written.
	code, out, errOut := cli(t, append(base, "--delete-saved", "--state", "json:"+state, "--json", local)...)
	j := decode(t, out)
	if code != exitWork || j.Apply || j.Counts.ToDelete != 3 || j.Counts.Missing != 3 || j.State == nil || len(j.State.Added) != 3 || j.State.Written {
		t.Errorf("dry run: exit %d, %+v", code, j)
	}
	if len(srv.Messages(rcUser)) != 6 {
		t.Errorf("dry run changed the server")
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("dry run wrote the state file: %v", err)
	}
	if len(j.Messages) != 6 || j.Messages[0].UIDL != "U0" || j.Messages[0].MessageID != "rc0@reconcile.test" || j.Messages[0].Size == 0 || j.Messages[0].Verdict != "saved" {
		t.Errorf("messages: %+v", j.Messages)
	}
	outputs := []string{out, errOut}

	// Text output of a dry run names the plan.
	code, out, errOut = cli(t, append(base, "--delete-saved", local)...)
	if code != exitWork || !strings.Contains(out, "Would delete 3 messages") || !strings.Contains(out, "1 login") {
		t.Errorf("text dry run: exit %d\n%s", code, out)
	}
	outputs = append(outputs, out, errOut)

	// Apply: deleted, state written, exit 0.
	code, out, errOut = cli(t, append(base, "--delete-saved", "--state", "json:"+state, "--apply", "--json", local)...)
	j = decode(t, out)
	if code != exitOK || !j.Session.QuitCommitted || j.Session.Logins != 1 || j.Session.Commands == 0 || j.Counts.Deleted != 3 || j.State == nil || !j.State.Written || j.Journal == "" {
		t.Errorf("apply: exit %d, %+v", code, j)
	}
	if got := len(srv.Messages(rcUser)); got != 3 {
		t.Errorf("%d left on the server, want 3", got)
	}
	outputs = append(outputs, out, errOut)

	// A failure with --json: one object with the error and the session.
	srv.AddUser(rcUser, "changed")
	code, out, errOut = cli(t, append(base, "--delete-saved", "--apply", "--json", local)...)
	j = decode(t, out)
	if code != exitFailed || j.ExitCode != exitFailed || !strings.Contains(j.Error, "refused user") || j.Session.Logins != 0 {
		t.Errorf("wrong password: exit %d, %+v", code, j)
	}
	outputs = append(outputs, out, errOut)

	outputs = append(outputs, traces...)
	for _, f := range []string{state, j.Journal} {
		if f == "" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
		}
		outputs = append(outputs, string(b))
	}
	jfiles, _ := filepath.Glob(filepath.Join(home, "state", "popdedupe", "*"))
	if len(jfiles) == 0 {
		t.Errorf("no journal written")
	}
	for _, f := range jfiles {
		b, _ := os.ReadFile(f)
		outputs = append(outputs, string(b))
	}
	if len(traces) < 2 || !strings.Contains(traces[0], "C: UIDL") || !strings.Contains(traces[2], "C: DELE") {
		t.Errorf("traces have no dialogue:\n%s", traces)
	}
	for i, o := range outputs {
		if strings.Contains(o, rcPass) {
			t.Errorf("output %d contains the password:\n%s", i, o)
		}
	}
}

// TestReconcileCLIUsage: bad flags and arguments exit 2 before anything is
// sent; a password file others can read is refused; no --password flag.
func TestReconcileCLIUsage(t *testing.T) {
	home := cliEnv(t)
	srv := rcServer(t, 0)
	local := filepath.Join(home, "Maildir")
	rcPut(t, local, rcMail(1))
	pwFile := filepath.Join(home, "pw")
	if err := os.WriteFile(pwFile, []byte(rcPass+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for i, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"reconcile", "--user", rcUser, local}, exitUsage},
		{[]string{"reconcile", "--server", srv.Addr(), "--user", rcUser}, exitUsage},
		{[]string{"reconcile", "--server", srv.Addr(), "--user", rcUser, "--password", rcPass, local}, exitUsage},
		{[]string{"reconcile", "--server", srv.Addr(), "--user", rcUser, "--tls", "sometimes", local}, exitUsage},
		{[]string{"reconcile", "--server", srv.Addr(), "--user", rcUser, "--state", "nonsense:x", local}, exitUsage},
		{[]string{"reconcile", "--server", srv.Addr(), "--user", rcUser, "--password-file", pwFile, local}, exitFailed},
	} {
		code, out, errOut := cli(t, tc.args...)
		if code != tc.code {
			t.Errorf("#%d %q: exit %d, want %d", i, tc.args, code, tc.code)
		}
		if strings.Contains(out+errOut, rcPass) {
			t.Errorf("#%d: output contains the password", i)
		}
	}
	if n := srv.Stats().Connections; n != 0 {
		t.Errorf("%d connections made by invalid command lines", n)
	}
}

// TestStateShow reads state files of several formats.
func TestStateShow(t *testing.T) {
	dir := t.TempDir()
	fetchids := filepath.Join(dir, ".fetchids")
	os.WriteFile(fetchids, []byte("alice@pop.example.net 000000016b082e9d\nalice@pop.example.net 000000026b0830d4\nbob@other.example 42\n"), 0o600)
	getmail := filepath.Join(dir, "oldmail-pop.example.net-110-alice")
	os.WriteFile(getmail, []byte("000000026b0830d4\x001795698901\n"), 0o600)
	code, out, _ := cli(t, "state", "show", fetchids)
	if code != exitOK || !strings.Contains(out, "fetchmail") || !strings.Contains(out, "000000026b0830d4") || !strings.Contains(out, "2 messages") {
		t.Errorf("fetchmail: exit %d\n%s", code, out)
	}
	code, out, _ = cli(t, "state", "show", "--json", getmail)
	var j stateShowJSON
	if err := json.Unmarshal([]byte(out), &j); err != nil || code != exitOK {
		t.Fatalf("json: exit %d, %v\n%s", code, err, out)
	}
	if j.Format != "getmail" || len(j.Accounts) != 1 || len(j.Accounts[0].Entries) != 1 || j.Accounts[0].Entries[0].Seen == nil ||
		j.Accounts[0].Entries[0].Seen.Unix() != 1795698901 {
		t.Errorf("getmail: %+v", j)
	}
	os.WriteFile(filepath.Join(dir, "garbage"), []byte("\x00\x01binary"), 0o600)
	if code, _, _ := cli(t, "state", "show", "--format", "fetchmail", filepath.Join(dir, "garbage")); code != exitFailed {
		t.Errorf("garbage: exit %d", code)
	}
	if code, _, _ := cli(t, "state", "list"); code != exitUsage {
		t.Errorf("state list: exit %d", code)
	}
}

// --- Against a real Dovecot -------------------------------------------

func startDovecot(t *testing.T, n int) *dovecottest.Server {
	t.Helper()
	srv := dovecottest.Start(t, dovecottest.Config{Users: []dovecottest.User{{Name: rcUser, Pass: rcPass}}})
	for i := 0; i < n; i++ {
		if _, err := srv.Deliver(rcUser, rcMail(i)); err != nil {
			t.Fatal(err)
		}
	}
	return srv
}

func keyOf(t *testing.T, b []byte) fingerprint.Key {
	t.Helper()
	pr, err := fingerprint.NewParser().Sum(bytes.NewReader(b), -1, true)
	if err != nil {
		t.Fatal(err)
	}
	return pr.Key()
}

func localCounts(t *testing.T, stores ...string) map[fingerprint.Key]int {
	t.Helper()
	res, err := scan.Scan(context.Background(), stores, scan.Options{HashAll: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Skipped) > 0 {
		t.Errorf("unreadable local messages: %+v", res.Skipped)
	}
	out := map[fingerprint.Key]int{}
	for i := range res.Messages {
		out[res.Key(&res.Messages[i])]++
	}
	return out
}

func logins(srv *dovecottest.Server) int {
	return strings.Count(srv.Logs(), "Login: user=<"+rcUser+">")
}

// TestDovecotIncident: the incident against a real Dovecot, over STLS with
// its certificate verified: 3 local copies of half of the messages; one
// run with --delete-saved --apply leaves exactly the unsaved half, in one
// login.
func TestDovecotIncident(t *testing.T) {
	home := cliEnv(t)
	const n = 10
	srv := startDovecot(t, n)
	local := filepath.Join(home, "Maildir")
	for i := 0; i < n; i += 2 {
		for c := 0; c < 3; c++ {
			rcPut(t, local, rcMail(i))
		}
	}
	before := logins(srv)
	code, out, _ := cli(t, "reconcile", "--server", srv.Addr, "--user", rcUser, "--ca", srv.CAFile, "--delete-saved", "--apply", "--json", local)
	j := decode(t, out)
	if code != exitOK || j.Session.Logins != 1 || !j.Session.QuitCommitted || j.Counts.Deleted != n/2 || j.Counts.Missing != n/2 {
		t.Fatalf("exit %d: %+v", code, j)
	}
	if got := logins(srv) - before; got != 1 {
		t.Errorf("Dovecot logged %d logins, want 1", got)
	}
	if j.Session.TLS != "starttls" {
		t.Errorf("--tls auto on a plain port with STLS offered: tls %q", j.Session.TLS)
	}
	// Implicit TLS on the other listener: a dry run with nothing left to do.
	code, out, _ = cli(t, "reconcile", "--server", srv.TLSAddr, "--tls", "implicit", "--user", rcUser, "--ca", srv.CAFile, "--delete-saved", "--json", local)
	if j := decode(t, out); code != exitOK || j.Session.TLS != "implicit" || j.Counts.ToDelete != 0 || j.Counts.Missing != n/2 {
		t.Errorf("implicit TLS: exit %d, %+v", code, j)
	}
	// Without --ca the self-signed certificate does not verify: nothing
	// is sent, exit 1.
	before = logins(srv)
	code, out, _ = cli(t, "reconcile", "--server", srv.TLSAddr, "--tls", "implicit", "--user", rcUser, "--json", local)
	if j := decode(t, out); code != exitFailed || !strings.Contains(j.Error, "does not verify") || logins(srv) != before {
		t.Errorf("unverified certificate: exit %d, %+v", code, j)
	}
	files, err := srv.MessageFiles(rcUser)
	if err != nil {
		t.Fatal(err)
	}
	want := map[fingerprint.Key]bool{}
	for i := 1; i < n; i += 2 {
		want[keyOf(t, rcMail(i))] = true
	}
	if len(files) != n/2 {
		t.Errorf("%d messages left on the server, want %d", len(files), n/2)
	}
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(srv.Maildir(rcUser), f))
		if err != nil {
			t.Fatal(err)
		}
		if !want[keyOf(t, b)] {
			t.Errorf("a saved message is still on the server: %s", f)
		}
	}
}

// TestDovecotFetchMissing: --fetch-missing into a Maildir and into an mbox
// with --delete-saved: the server ends empty and the local stores hold
// exactly one copy of every message.
func TestDovecotFetchMissing(t *testing.T) {
	for _, kind := range []string{"maildir", "mbox"} {
		t.Run(kind, func(t *testing.T) {
			home := cliEnv(t)
			const n = 10
			srv := startDovecot(t, n)
			local := filepath.Join(home, "Maildir")
			for i := 0; i < n; i += 2 {
				rcPut(t, local, rcMail(i))
			}
			target := filepath.Join(local, ".Recovered")
			if kind == "mbox" {
				target = filepath.Join(home, "recovered.mbox")
			}
			code, out, _ := cli(t, "reconcile", "--server", srv.Addr, "--user", rcUser, "--tls", "starttls", "--ca", srv.CAFile,
				"--fetch-missing", target, "--delete-saved", "--apply", "--json", local)
			j := decode(t, out)
			if code != exitOK || j.Session.Logins != 1 || !j.Session.QuitCommitted || j.Counts.Deleted != n {
				t.Fatalf("exit %d: %+v", code, j)
			}
			files, err := srv.MessageFiles(rcUser)
			if err != nil || len(files) != 0 {
				t.Errorf("server still holds %d messages (%v)", len(files), err)
			}
			stores := []string{local}
			if kind == "mbox" {
				stores = append(stores, target)
			}
			counts := localCounts(t, stores...)
			for i := 0; i < n; i++ {
				if c := counts[keyOf(t, rcMail(i))]; c != 1 {
					t.Errorf("message %d: %d local copies, want 1", i, c)
				}
			}
			if len(counts) != n {
				t.Errorf("%d distinct local messages, want %d", len(counts), n)
			}
		})
	}
}

// --- Real clients reading the rebuilt state --------------------------

var rcIDRe = regexp.MustCompile(`(?mi)^Message-ID: <(rc\d+)@reconcile\.test>`)

// TestStateWithRealClients: a real Dovecot holds N messages, some saved
// locally in triplicate and some not. After `reconcile --state FORMAT:FILE
// --apply` (no --delete-saved: nothing is deleted), each real client in
// keep mode downloads exactly the messages missing locally, and a second
// client run downloads nothing.
func TestStateWithRealClients(t *testing.T) {
	const n = 7
	var want []string
	for i := 1; i < n; i += 2 {
		want = append(want, fmt.Sprintf("rc%d", i))
	}
	slices.Sort(want)
	for _, cl := range realclient.Clients {
		t.Run(cl.Name, func(t *testing.T) {
			realclient.Require(t, cl)
			home := cliEnv(t)
			srv := startDovecot(t, n)
			local := filepath.Join(home, "Maildir")
			for i := 0; i < n; i += 2 {
				for c := 0; c < 3; c++ {
					rcPut(t, local, rcMail(i))
				}
			}
			host, portS, _ := strings.Cut(srv.Addr, ":")
			port, _ := strconv.Atoi(portS)
			dir := filepath.Join(home, "client")
			statePath := cl.Setup(t, dir, realclient.Server{Host: host, Port: port, User: rcUser, Pass: rcPass})
			mbox := realclient.Mbox(dir)
			args := []string{"reconcile", "--server", srv.Addr, "--user", rcUser, "--ca", srv.CAFile, "--state", cl.Format + ":" + statePath, "--json"}

			code, out, _ := cli(t, append(args, local)...)
			if j := decode(t, out); code != exitWork || j.State == nil || len(j.State.Added) != (n+1)/2 || j.State.Written {
				t.Fatalf("dry run: exit %d, %+v", code, j)
			}
			if _, err := os.Stat(statePath); !os.IsNotExist(err) {
				t.Fatalf("dry run wrote the state: %v", err)
			}
			code, out, _ = cli(t, append(args, "--apply", local)...)
			j := decode(t, out)
			if code != exitOK || j.State == nil || !j.State.Written || j.Session.Logins != 1 {
				t.Fatalf("apply: exit %d, %+v", code, j)
			}
			if files, _ := srv.MessageFiles(rcUser); len(files) != n {
				t.Fatalf("--state without --delete-saved deleted mail: %d left", len(files))
			}
			if fi, err := os.Stat(statePath); err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("state file: %v %v", fi, err)
			}
			if os.Geteuid() == 0 && cl.Name == "getmail" {
				os.Chmod(statePath, 0o600) // getmail reads it as root; delivery runs as nobody
			}

			cl.Run(t, dir)
			if got := realclient.Downloaded(t, mbox, rcIDRe); !slices.Equal(got, want) {
				t.Fatalf("%s downloaded %v, want exactly the missing %v", cl.Name, got, want)
			}
			cl.Run(t, dir)
			if got := realclient.Downloaded(t, mbox, rcIDRe); !slices.Equal(got, want) {
				t.Fatalf("second %s run downloaded more: %v", cl.Name, got)
			}
		})
	}
}

// TestReconcileRefusedLeavesNoJournal: a reconcile --apply refused before
// its first step (here a fetch target whose last message is torn) leaves
// no empty journal behind (RELIABILITY.md N3); one that did work keeps it.
func TestReconcileRefusedLeavesNoJournal(t *testing.T) {
	home := cliEnv(t)
	srv := rcServer(t, 2)
	local := filepath.Join(home, "Maildir")
	rcPut(t, local, rcMail(0))
	torn := filepath.Join(home, "torn.mbox")
	if err := os.WriteFile(torn, []byte("From a@b Mon Jan  2 15:04:05 2006\nSubject: x\n\ncut sh"), 0o600); err != nil {
		t.Fatal(err)
	}
	journals := func() []string {
		js, _ := filepath.Glob(filepath.Join(home, "state", "popdedupe", "journal-*.jsonl"))
		return js
	}
	base := []string{"reconcile", "--server", srv.Addr(), "--user", rcUser, "--tls", "none", "--apply", "--delete-saved"}
	code, out, _ := cli(t, append(base, "--fetch-missing", torn, "--json", local)...)
	if j := decode(t, out); code == exitOK || j.Journal != "" || len(journals()) != 0 {
		t.Errorf("refused run: exit %d, journal %q, journals on disk %v", code, j.Journal, journals())
	}
	if len(srv.Messages(rcUser)) != 2 {
		t.Errorf("the refused run changed the server")
	}
	code, out, _ = cli(t, append(base, "--json", local)...)
	if j := decode(t, out); code != exitOK || j.Journal == "" || len(journals()) != 1 {
		t.Errorf("run that deleted: exit %d, journal %q, journals on disk %v", code, j.Journal, journals())
	}
}

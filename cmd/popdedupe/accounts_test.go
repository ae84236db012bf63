package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/popdedupe/popdedupe/internal/dovecottest"
	"github.com/popdedupe/popdedupe/pop3/pop3test"
	"github.com/popdedupe/popdedupe/report"
)

// acctLine is one JSON line of repair --accounts --json.
type acctLine struct {
	Version  int             `json:"version"`
	Command  string          `json:"command"`
	Account  string          `json:"account"`
	ExitCode int             `json:"exit_code"`
	Error    string          `json:"error"`
	Result   json.RawMessage `json:"result"`
	Summary  *summaryCount   `json:"summary"`
}

func decodeLines(t *testing.T, out string) []acctLine {
	t.Helper()
	var lines []acctLine
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		var a acctLine
		if err := json.Unmarshal([]byte(l), &a); err != nil {
			t.Fatalf("not a JSON line: %q: %v", l, err)
		}
		lines = append(lines, a)
	}
	return lines
}

func writePassword(t *testing.T, dir, name, pass string) string {
	t.Helper()
	p := filepath.Join(dir, name+".pw")
	if err := os.WriteFile(p, []byte(pass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestAccountsDovecot: three Dovecot users repaired concurrently from a
// JSON accounts file; carol's password file is wrong. Alice and bob are
// repaired (one login each), carol fails with the server's answer and
// her server mailbox is untouched; the exit code is the worst, 1.
func TestAccountsDovecot(t *testing.T) {
	home := cliEnv(t)
	t.Setenv("POPDEDUPE_PASSWORD", "") // only the password files count
	users := []dovecottest.User{{Name: "alice", Pass: "alice-pw-1"}, {Name: "bob", Pass: "bob-pw-2"}, {Name: "carol", Pass: "carol-pw-3"}}
	srv := dovecottest.Start(t, dovecottest.Config{Users: users})
	const n = 6
	var accts []map[string]any
	for u, user := range users {
		local := filepath.Join(home, user.Name, "Maildir")
		for i := 0; i < n; i++ {
			msg := rcMail(100*u + i)
			if _, err := srv.Deliver(user.Name, msg); err != nil {
				t.Fatal(err)
			}
			if i%2 == 0 { // saved twice
				rcPut(t, local, msg)
				rcPut(t, local, msg)
			}
		}
		pass := user.Pass
		if user.Name == "carol" {
			pass = "not-carols-password"
		}
		accts = append(accts, map[string]any{
			"server": srv.Addr, "user": user.Name, "password_file": writePassword(t, home, user.Name, pass),
			"stores": []string{local}, "state": "fetchmail:" + filepath.Join(home, user.Name, ".fetchids"),
			"tls": "starttls", "ca": srv.CAFile, "delete_saved": true,
		})
	}
	file := filepath.Join(home, "accounts.json")
	b, _ := json.Marshal(accts)
	if err := os.WriteFile(file, b, 0o600); err != nil {
		t.Fatal(err)
	}
	reports := filepath.Join(home, "reports")
	code, out, _ := cli(t, "repair", "--accounts", file, "--parallel", "3", "--json", "--apply", "--progress", "never", "--report", reports)
	lines := decodeLines(t, out)
	if code != exitFailed || len(lines) != 4 {
		t.Fatalf("exit %d, %d lines, want 1 and 3 accounts + a summary", code, len(lines))
	}
	for i, user := range users {
		l := lines[i]
		want := user.Name + "@" + srv.Addr
		if l.Account != want || l.Version != report.Version || l.Command != "repair" {
			t.Errorf("line %d: account %q (want %q, in file order), %+v", i, l.Account, want, l)
		}
		files, err := srv.MessageFiles(user.Name)
		if err != nil {
			t.Fatal(err)
		}
		if user.Name == "carol" {
			if l.ExitCode != exitFailed || !strings.Contains(l.Error, "uthentication failed") {
				t.Errorf("carol: exit %d, error %q", l.ExitCode, l.Error)
			}
			if len(files) != n {
				t.Errorf("carol's server mailbox changed: %d messages", len(files))
			}
			continue
		}
		var r repairJSON
		if err := json.Unmarshal(l.Result, &r); err != nil {
			t.Fatal(err)
		}
		if l.ExitCode != exitOK || l.Error != "" || r.Server == nil || r.Server.Logins != 1 || r.Server.Deleted != n/2 || r.Removed != n/2 || r.State == nil || !r.State.Written {
			t.Errorf("%s: exit %d %q, %+v, server %+v", user.Name, l.ExitCode, l.Error, r, r.Server)
		}
		if len(files) != n/2 {
			t.Errorf("%s: %d messages on the server, want %d", user.Name, len(files), n/2)
		}
		if _, err := os.Stat(filepath.Join(reports, strings.ReplaceAll(want, ":", "_")+".html")); err != nil {
			t.Errorf("%s: no HTML report: %v", user.Name, err)
		}
	}
	s := lines[3].Summary
	if s == nil || s.Accounts != 3 || s.Done != 2 || s.Failed != 1 || len(s.FailedAt) != 1 || !strings.HasPrefix(s.FailedAt[0], "carol@") || lines[3].ExitCode != exitFailed {
		t.Errorf("summary %+v, exit %d", s, lines[3].ExitCode)
	}
	if strings.Contains(out, "not-carols-password") || strings.Contains(out, "alice-pw-1") {
		t.Errorf("a password is in the output")
	}
}

// TestAccountsLineFormat: the line format, two accounts sharing one
// Maildir and one fetchmail state file (they take turns), text output,
// a dry run's exit code 3.
func TestAccountsLineFormat(t *testing.T) {
	home := cliEnv(t)
	srv := pop3test.NewServer(t, pop3test.Config{})
	srv.AddUser("alice", "pa")
	srv.AddUser("bob", "pb")
	local := filepath.Join(home, "Maildir")
	for i := 0; i < 4; i++ {
		srv.AddMessage("alice", fmt.Sprintf("A%d", i), rcMail(i))
		srv.AddMessage("bob", fmt.Sprintf("B%d", i), rcMail(10+i))
		rcPut(t, local, rcMail(i))
		rcPut(t, local, rcMail(i))
		rcPut(t, local, rcMail(10+i))
	}
	state := filepath.Join(home, ".fetchids")
	file := filepath.Join(home, "accounts.txt")
	text := fmt.Sprintf(`# server user password-file stores... options
%[1]s alice %[2]s %[3]s state=fetchmail:%[4]s delete-saved
%[1]s bob   %[5]s %[3]s state=fetchmail:%[4]s delete-saved name=bob
`, srv.Addr(), writePassword(t, home, "alice", "pa"), local, state, writePassword(t, home, "bob", "pb"))
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	// Dry run: both have work, exit 3, nothing changed.
	code, out, _ := cli(t, "repair", "--accounts", file, "--progress", "never")
	if code != exitWork || !strings.Contains(out, "=== alice@"+srv.Addr()) || !strings.Contains(out, "=== bob (") || !strings.Contains(out, "2 with work to do") {
		t.Errorf("dry run: exit %d\n%s", code, out)
	}
	if len(srv.Messages("alice")) != 4 || len(srv.Messages("bob")) != 4 {
		t.Errorf("dry run changed the server")
	}
	// Apply in parallel: the shared store and state make them take turns,
	// so both succeed and the state file holds both accounts.
	code, out, _ = cli(t, "repair", "--accounts", file, "--parallel", "2", "--apply", "--json", "--progress", "never")
	lines := decodeLines(t, out)
	if code != exitOK || len(lines) != 3 || lines[0].ExitCode != 0 || lines[1].ExitCode != 0 || lines[2].Summary.Done != 2 {
		t.Fatalf("apply: exit %d\n%s", code, out)
	}
	if len(srv.Messages("alice")) != 0 || len(srv.Messages("bob")) != 0 {
		t.Errorf("server not emptied: alice %d, bob %d", len(srv.Messages("alice")), len(srv.Messages("bob")))
	}
	b, _ := os.ReadFile(state)
	if !strings.Contains(string(b), "alice@") || !strings.Contains(string(b), "bob@") {
		t.Errorf("state file lost an account:\n%s", b)
	}
	for k, c := range localCounts(t, local) {
		if c != 1 {
			t.Errorf("%d copies of %v left", c, k)
		}
	}
}

// TestReadAccounts: what the file formats accept and how errors point at
// the entry.
func TestReadAccounts(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	p := write("ok.txt", "\n# c\npop.example.net alice ~/a.pw ~/Maildir ~/mail/x.mbox state=fetchmail:~/.fetchids tls=implicit ca=/ca.pem fetch-missing=maildir:~/R delete-saved\npop.example.net:110 bob - /m tls=none\n")
	accts, err := readAccounts(p)
	if err != nil {
		t.Fatal(err)
	}
	a := accts[0]
	if len(accts) != 2 || a.Name != "alice@pop.example.net" || a.PasswordFile != dir+"/a.pw" || len(a.Stores) != 2 || a.Stores[0] != dir+"/Maildir" ||
		a.state == nil || a.state.Path != dir+"/.fetchids" || a.tls != "implicit" || a.CA != "/ca.pem" || a.FetchMissing != "maildir:"+dir+"/R" || !a.DeleteSaved || a.where != p+":3" {
		t.Errorf("line format: %+v", a)
	}
	if b := accts[1]; b.PasswordFile != "" || b.tls != "none" || b.DeleteSaved || b.where != p+":4" {
		t.Errorf("second account: %+v", b)
	}
	j := write("ok.json", `[{"server": "pop.example.net", "user": "a", "stores": ["/m"], "delete_saved": true, "tls": "starttls"}]`)
	if accts, err := readAccounts(j); err != nil || len(accts) != 1 || !accts[0].DeleteSaved || accts[0].tls != "starttls" {
		t.Errorf("JSON: %v %+v", err, accts)
	}
	for i, tc := range []struct{ name, text, want string }{
		{"empty", "# nothing\n", "no accounts"},
		{"short", "pop.example.net alice pw\n", ":1:"},
		{"badopt", "\npop.example.net alice pw /m color=blue\n", ":2: unknown option"},
		{"badtls", "pop.example.net alice pw /m tls=maybe\n", "tls"},
		{"badstate", "pop.example.net alice pw /m state=nosuch:/x\n", "state"},
		{"dup", "h alice pw /m\nh alice pw /n\n", "also at"},
		{"json-unknown", `[{"server": "h", "user": "a", "stores": ["/m"], "pasword_file": "x"}]`, "pasword_file"},
		{"json-nostore", `[{"server": "h", "user": "a"}]`, "account 1: name at least one store"},
		{"json-null", `[null]`, "null"},
	} {
		_, err := readAccounts(write(tc.name, tc.text))
		if err == nil || exitCode(err) != exitUsage || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("#%d %s: %v, want a usage error with %q", i, tc.name, err, tc.want)
		}
	}
}

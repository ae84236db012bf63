package reliability

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/popdedupe/popdedupe/pop3/pop3test"
)

// Security (issue #9): the password never leaves the process in any
// output, file or trace; credentials are never sent before TLS when TLS
// was asked for, nor in clear to a non-loopback address unless allowed;
// CR/LF in arguments is refused before anything is sent; everything
// popdedupe writes about mail is private (0600 files, 0700 directories).

// leakForms are the forms of the password a leak could take: itself, and
// the base64 of AUTH PLAIN's initial response and of the password alone.
func leakForms(user, pass string) []string {
	return []string{
		pass,
		base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass)),
		base64.StdEncoding.EncodeToString([]byte(pass)),
	}
}

// grepTree fails for every file under root holding one of the forms.
func grepTree(t *testing.T, root string, forms []string, skip map[string]bool) int {
	t.Helper()
	files := 0
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() || skip[p] {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil
		}
		files++
		for _, f := range forms {
			if bytes.Contains(b, []byte(f)) {
				t.Errorf("%s holds the password (form %q)", p, f)
			}
		}
		return nil
	})
	return files
}

// TestPasswordNeverWritten runs every command, successful and failing,
// with a distinctive password from the environment and from a 0600 file,
// with --json, --trace, --report, journals, state files, quarantine and
// fetched mail; then greps every byte written: stdout, stderr and every
// file under the user's home.
func TestPasswordNeverWritten(t *testing.T) {
	w := serverIncident(t, pop3test.Config{}, 8)
	home := w.e.home
	pwFile := filepath.Join(home, "pw")
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The password file itself is the one place the password may be.
	skip := map[string]bool{pwFile: true}
	plain := pop3test.NewServer(t, pop3test.Config{NoUSER: true}) // AUTH PLAIN only
	plain.AddUser(srvUser, password)
	plain.AddMessage(srvUser, "p-1", mailMsg(1))
	wrong := pop3test.NewServer(t, pop3test.Config{})
	wrong.AddUser(srvUser, "not the password")
	drop := pop3test.NewServer(t, pop3test.Config{DropAfter: 6})
	drop.AddUser(srvUser, password)
	drop.AddMessage(srvUser, "d-1", mailMsg(1))

	f := func(name string) string { return filepath.Join(home, name) }
	rc := func(addr string, extra ...string) []string {
		a := []string{"reconcile", "--server", addr, "--user", srvUser, "--tls", "none", "--progress", "never", "--timeout", "5s"}
		return append(append(a, extra...), w.stores...)
	}
	runs := []struct {
		args  [][]string
		codes []int
		env   []string
	}{
		{[][]string{{"scan", "--json", "--report", f("scan.html"), w.stores[0]}}, []int{0, 3, 4}, nil},
		{[][]string{w.dedupeArgs("--apply", "--json", "--report", f("dedupe.html"))}, []int{0, 4}, nil},
		{[][]string{rc(w.srv.Addr(), "--json", "--trace", f("t1"), "--report", f("r1.html"), "--state", "fetchmail:"+f("fetchids1"))}, []int{3}, nil},
		{[][]string{rc(w.srv.Addr(), "--apply", "--delete-saved", "--fetch-missing", f("Recovered"), "--json", "--trace", f("t2"), "--state", "fetchmail:"+f("fetchids2"), "--password-file", pwFile)}, []int{0}, []string{"POPDEDUPE_PASSWORD="}},
		{[][]string{rc(plain.Addr(), "--apply", "--delete-saved", "--fetch-missing", "mbox:"+f("plain.mbox"), "--trace", f("t3"), "--verbose")}, []int{0}, nil},
		{[][]string{rc(wrong.Addr(), "--apply", "--delete-saved", "--json", "--trace", f("t4"))}, []int{1}, nil},
		{[][]string{rc(wrong.Addr(), "--trace", f("t5"))}, []int{1}, nil},
		{[][]string{rc(drop.Addr(), "--apply", "--delete-saved", "--fetch-missing", f("Recovered2"), "--json", "--trace", f("t6"))}, []int{1}, nil},
		{[][]string{{"state", "show", "--json", f("fetchids2")}}, []int{0}, nil},
		{[][]string{{"reconcile", "--password", password, "--server", w.srv.Addr(), "--user", srvUser, w.stores[0]}}, []int{2}, nil},
	}
	if r := w.e.run(t, nil, "repair", "--help"); r.code == 0 {
		runs = append(runs, struct {
			args  [][]string
			codes []int
			env   []string
		}{[][]string{{"repair", "--server", w.srv.Addr(), "--user", srvUser, "--tls", "none", "--progress", "never", "--state-dir", w.e.state,
			"--apply", "--delete-saved", "--json", "--trace", f("t7"), "--report", f("repair.html"), w.stores[0]}}, []int{0, 4}, nil})
	}
	var outputs int
	for _, run := range runs {
		for _, args := range run.args {
			r := w.e.run(t, run.env, args...)
			wantCode(t, r, run.codes...)
			for _, form := range leakForms(srvUser, password) {
				if strings.Contains(r.stdout, form) || strings.Contains(r.stderr, form) {
					t.Errorf("the output of %q holds the password (form %q)", args, form)
				}
			}
			outputs++
		}
	}
	// The undo of every journal too.
	for _, j := range w.journals() {
		r := w.e.run(t, nil, "undo", "--json", j)
		for _, form := range leakForms(srvUser, password) {
			if strings.Contains(r.stdout+r.stderr, form) {
				t.Errorf("undo output holds the password")
			}
		}
		outputs++
	}
	for _, tr := range []string{"t1", "t2", "t3", "t4", "t6"} {
		if fi, err := os.Stat(f(tr)); err != nil || fi.Size() == 0 {
			t.Errorf("trace %s was not written (%v): the grep would prove nothing", tr, err)
		}
	}
	// The traces hold the login (masked): the grep looks where a leak
	// would be.
	for _, tr := range []string{"t2", "t3"} {
		if b, _ := os.ReadFile(f(tr)); !bytes.Contains(b, []byte("PASS")) && !bytes.Contains(b, []byte("AUTH PLAIN")) {
			t.Errorf("trace %s shows no login:\n%s", tr, clip(string(b), 500))
		}
	}
	files := grepTree(t, home, leakForms(srvUser, password), skip)
	t.Logf("grepped %d outputs and %d files", outputs, files)
	if files < 10 {
		t.Errorf("only %d files written: the grep proves little", files)
	}
}

// TestPrivateFiles: after a dedupe, a reconcile that fetches and writes a
// state file, and their undo, nothing popdedupe wrote under the home is
// readable by others: journals, locks, quarantine, fetched mail, state
// files, traces and reports are 0600 in 0700 directories. (The stores'
// own files keep the modes they had.)
func TestPrivateFiles(t *testing.T) {
	w := serverIncident(t, pop3test.Config{}, 8)
	hand := handIncident(t)
	// Put the hand incident's stores in the same home, world-readable as
	// many Maildirs are.
	for _, s := range hand.stores {
		to := filepath.Join(w.dir, "hand", filepath.Base(s))
		os.MkdirAll(filepath.Dir(to), 0o755)
		if err := os.Rename(s, to); err != nil {
			t.Fatal(err)
		}
	}
	handStores := []string{filepath.Join(w.dir, "hand", "Maildir"), filepath.Join(w.dir, "hand", "inbox.mbox")}
	// What exists now: paths, and inodes (a message renamed by
	// popdedupe, into the quarantine or to merge flags, is the user's own
	// file with the user's mode, not a copy).
	before := map[string]bool{}
	inodes := map[uint64]bool{}
	filepath.WalkDir(w.e.home, func(p string, d fs.DirEntry, err error) error {
		before[p] = true
		if fi, err := os.Lstat(p); err == nil {
			inodes[fi.Sys().(*syscall.Stat_t).Ino] = true
		}
		return nil
	})
	home := w.e.home
	wantCode(t, w.e.run(t, nil, append([]string{"dedupe", "--progress", "never", "--state-dir", w.e.state, "--apply", "--report", filepath.Join(home, "d.html")}, handStores...)...), 0, 4)
	r := w.e.run(t, nil, "reconcile", "--server", w.srv.Addr(), "--user", srvUser, "--tls", "none", "--progress", "never",
		"--apply", "--delete-saved", "--fetch-missing", filepath.Join(home, "Recovered"), "--state", "fetchmail:"+filepath.Join(home, "fetchids"),
		"--trace", filepath.Join(home, "trace"), "--report", filepath.Join(home, "r.html"), w.stores[0])
	wantCode(t, r, 0)
	wantCode(t, w.e.run(t, nil, "reconcile", "--server", w.srv.Addr(), "--user", srvUser, "--tls", "none", "--progress", "never",
		"--apply", "--fetch-missing", "mbox:"+filepath.Join(home, "fetched.mbox"), w.stores[0]), 0)
	checked := 0
	filepath.WalkDir(home, func(p string, d fs.DirEntry, err error) error {
		if err != nil || before[p] || d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		if !fi.IsDir() && inodes[fi.Sys().(*syscall.Stat_t).Ino] {
			return nil // the user's file, moved
		}
		checked++
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			t.Errorf("%s is mode %v: open to others", p, perm)
		}
		return nil
	})
	if checked < 10 {
		t.Errorf("only %d new files and directories: the check proves little", checked)
	}
	// Undo puts messages back with their own modes (checked by
	// TestDiskFull/undo_across_file_systems_keeps_mode_and_owner).
}

// TestInjectionRefused: CR, LF or NUL in the user name (or a password
// from the environment) is refused before anything is sent: the server
// never sees a connection.
func TestInjectionRefused(t *testing.T) {
	srv := pop3test.NewServer(t, pop3test.Config{})
	srv.AddUser(srvUser, password)
	e := newEnv(t)
	md := filepath.Join(e.home, "Maildir")
	saveLocal(t, md, mailMsg(1), 1)
	for _, tc := range []struct {
		name string
		user string
		env  []string
	}{
		{"CRLF in the user", "alice\r\nDELE 1", nil},
		{"LF in the user", "alice\nQUIT", nil},
		{"CRLF in the password", srvUser, []string{"POPDEDUPE_PASSWORD=" + password + "\r\nDELE 1"}},
		{"NUL in a password file", srvUser, []string{"POPDEDUPE_PASSWORD=", "PWFILE=" + password + "\x00DELE 1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := srv.Stats().Connections
			args := []string{"reconcile", "--server", srv.Addr(), "--user", tc.user, "--tls", "none", "--progress", "never", "--apply", "--delete-saved"}
			env := tc.env
			// argv and the environment cannot carry a NUL: a password file can.
			if len(env) == 2 && strings.HasPrefix(env[1], "PWFILE=") {
				pw := filepath.Join(e.home, "pw")
				os.WriteFile(pw, []byte(strings.TrimPrefix(env[1], "PWFILE=")), 0o600)
				args = append(args, "--password-file", pw)
				env = env[:1]
			}
			r := e.run(t, env, append(args, md)...)
			wantCode(t, r, 1, 2)
			if low := strings.ToLower(r.stderr); !strings.Contains(low, "line") && !strings.Contains(low, "cr") && !strings.Contains(low, "nul") {
				t.Errorf("the refusal does not say why:\n%s", r)
			}
			if n := srv.Stats().Connections - before; n != 0 {
				t.Errorf("%d connections made with an injected argument", n)
			}
		})
	}
}

// TestTLSPolicy: a certificate that does not verify aborts before any
// credential is sent, with the system roots by default and with a --ca
// that is not the signer; --ca of the signer works; --tls starttls
// against a server that does not offer STLS (a downgrade) aborts before
// the credentials.
func TestTLSPolicy(t *testing.T) {
	cert, err := pop3test.NewTestCert()
	if err != nil {
		t.Fatal(err)
	}
	other, err := pop3test.NewTestCert()
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	ca := filepath.Join(e.home, "ca.pem")
	otherCA := filepath.Join(e.home, "other.pem")
	os.WriteFile(ca, cert.CertPEM, 0o600)
	os.WriteFile(otherCA, other.CertPEM, 0o600)
	md := filepath.Join(e.home, "Maildir")
	saveLocal(t, md, mailMsg(1), 1)
	credentials := func(srv *pop3test.Server) bool {
		for _, c := range srv.Commands() {
			u := strings.ToUpper(c)
			if strings.HasPrefix(u, "USER") || strings.HasPrefix(u, "PASS") || strings.HasPrefix(u, "AUTH") || strings.HasPrefix(u, "APOP") {
				return true
			}
		}
		return false
	}
	for _, tc := range []struct {
		name  string
		cfg   pop3test.Config
		args  []string
		ok    bool
		cause string
	}{
		{"implicit TLS, system roots", pop3test.Config{ImplicitTLS: cert.ServerConfig()}, []string{"--tls", "implicit"}, false, "verif"},
		{"implicit TLS, another CA", pop3test.Config{ImplicitTLS: cert.ServerConfig()}, []string{"--tls", "implicit", "--ca", otherCA}, false, "verif"},
		{"implicit TLS, the signer as --ca", pop3test.Config{ImplicitTLS: cert.ServerConfig()}, []string{"--tls", "implicit", "--ca", ca}, true, ""},
		{"STLS, system roots", pop3test.Config{STLS: cert.ServerConfig()}, []string{"--tls", "starttls"}, false, "verif"},
		{"STLS, the signer as --ca", pop3test.Config{STLS: cert.ServerConfig()}, []string{"--tls", "starttls", "--ca", ca}, true, ""},
		{"STLS asked for, not offered (downgrade)", pop3test.Config{}, []string{"--tls", "starttls", "--ca", ca}, false, "tls"},
		{"STLS asked for, no CAPA at all", pop3test.Config{NoCAPA: true}, []string{"--tls", "starttls", "--ca", ca}, false, "tls"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := pop3test.NewServer(t, tc.cfg)
			srv.AddUser(srvUser, password)
			srv.AddMessage(srvUser, "u1", mailMsg(1))
			args := append([]string{"reconcile", "--server", srv.Addr(), "--user", srvUser, "--progress", "never", "--apply", "--delete-saved"}, tc.args...)
			r := e.run(t, nil, append(args, md)...)
			if tc.ok {
				wantCode(t, r, 0)
				return
			}
			wantCode(t, r, 1)
			if !strings.Contains(strings.ToLower(r.stderr), tc.cause) {
				t.Errorf("the error does not name the cause %q:\n%s", tc.cause, r)
			}
			if credentials(srv) {
				t.Errorf("credentials sent: %q", srv.Commands())
			}
			if len(srv.Messages(srvUser)) != 1 {
				t.Errorf("the server lost its message")
			}
		})
	}
}

// TestPlaintextOnlyToLoopback runs popdedupe in a network namespace of
// its own where the server listens on 10.99.0.1, an address that is not
// loopback: without TLS the password is not sent there (neither with
// --tls none nor with --tls auto when STLS is not offered) unless
// --allow-plaintext says so. Needs root, unshare(1) and ip(8).
func TestPlaintextOnlyToLoopback(t *testing.T) {
	needRoot(t)
	for _, tool := range []string{"unshare", "ip"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found: the non-loopback case is covered in process by reconcile's TestPlaintextPolicy", tool)
		}
	}
	e := newEnv(t)
	md := filepath.Join(e.home, "Maildir")
	saveLocal(t, md, mailMsg(1), 1)
	cmd := exec.Command("unshare", "--net", "--", "sh", "-c", `ip link set lo up && ip addr add 10.99.0.1/32 dev lo && exec "$0" "$@"`, os.Args[0], bin, md, e.home)
	cmd.Env = append(baseEnv(), helperEnv+"=plaintext", "HOME="+e.home, "XDG_STATE_HOME="+filepath.Join(e.home, "state"), "POPDEDUPE_PASSWORD="+password)
	out, err := cmd.CombinedOutput()
	if err != nil {
		if bytes.Contains(out, []byte("unshare failed")) || bytes.Contains(out, []byte("Operation not permitted")) {
			t.Skipf("cannot make a network namespace here: %s", out)
		}
		t.Fatalf("helper in a network namespace: %v\n%s", err, out)
	}
	var results []plaintextResult
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var r plaintextResult
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("helper output %q: %v", line, err)
		}
		results = append(results, r)
	}
	if len(results) != 3 {
		t.Fatalf("helper results: %s", out)
	}
	for _, r := range results {
		t.Logf("%+v", r)
		switch r.Case {
		case "none", "auto":
			if r.Credentials || r.Code == 0 || !strings.Contains(strings.ToLower(r.Stderr), "plaintext") {
				t.Errorf("--tls %s to a non-loopback address: exit %d, credentials sent %v:\n%s", r.Case, r.Code, r.Credentials, r.Stderr)
			}
		case "allowed":
			if !r.Credentials {
				t.Errorf("--allow-plaintext: no credentials sent (exit %d):\n%s", r.Code, r.Stderr)
			}
		}
		if strings.Contains(r.Stderr, password) {
			t.Errorf("the password is in the output")
		}
	}
}

type plaintextResult struct {
	Case        string `json:"case"`
	Code        int    `json:"code"`
	Credentials bool   `json:"credentials"`
	Stderr      string `json:"stderr"`
}

// plaintextHelper runs inside the network namespace: a POP3 server on
// 10.99.0.1 that offers no STLS and notes whether credentials arrive,
// and popdedupe against it three times.
func plaintextHelper(args []string) error {
	if len(args) != 3 {
		return fmt.Errorf("plaintext BIN MAILDIR HOME")
	}
	popdedupe, md := args[0], args[1]
	ln, err := net.Listen("tcp", "10.99.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	creds := make(chan bool, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				fmt.Fprint(c, "+OK not loopback\r\n")
				br := bufio.NewReader(c)
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					u := strings.ToUpper(line)
					switch {
					case strings.HasPrefix(u, "CAPA"):
						fmt.Fprint(c, "+OK\r\nUSER\r\nSASL PLAIN\r\nUIDL\r\n.\r\n")
					case strings.HasPrefix(u, "USER"), strings.HasPrefix(u, "PASS"), strings.HasPrefix(u, "AUTH"), strings.HasPrefix(u, "APOP"):
						creds <- true
						fmt.Fprint(c, "-ERR [AUTH] no\r\n")
					case strings.HasPrefix(u, "QUIT"):
						fmt.Fprint(c, "+OK\r\n")
						return
					default:
						fmt.Fprint(c, "-ERR no\r\n")
					}
				}
			}(c)
		}
	}()
	for _, tc := range []struct{ name, tls string }{{"none", "none"}, {"auto", "auto"}, {"allowed", "none"}} {
		a := []string{"reconcile", "--server", ln.Addr().String(), "--user", srvUser, "--tls", tc.tls, "--progress", "never", "--timeout", "5s"}
		if tc.name == "allowed" {
			a = append(a, "--allow-plaintext")
		}
		cmd := exec.Command(popdedupe, append(a, md)...)
		var eb bytes.Buffer
		cmd.Stderr = &eb
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			return err
		}
		sent := false
	drain:
		for {
			select {
			case <-creds:
				sent = true
			default:
				break drain
			}
		}
		b, _ := json.Marshal(plaintextResult{tc.name, code, sent, eb.String()})
		fmt.Println(string(b))
	}
	return nil
}

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/popdedupe/popdedupe/internal/runlock"
	"github.com/popdedupe/popdedupe/pop3/pop3test"
)

// An unverifiable certificate is refused unless the user says, by the
// flag's long name, to skip the check; then it works with a loud warning.
// --ca and the skip flag exclude each other.
func TestTLSInsecureSkipVerify(t *testing.T) {
	cert, err := pop3test.NewTestCert("127.0.0.1", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	srv := pop3test.NewServer(t, pop3test.Config{ImplicitTLS: cert.ServerConfig()})
	srv.AddUser("alice", "s3cret-pw")
	srv.AddMessage("alice", "u1", []byte("Message-ID: <a@x>\nSubject: s\n\nbody\n"))
	home := t.TempDir()
	t.Setenv("XDG_STATE_HOME", filepath.Join(home, "state"))
	t.Setenv("POPDEDUPE_PASSWORD", "s3cret-pw")
	md := filepath.Join(home, "Maildir")
	for _, s := range []string{"cur", "new", "tmp"} {
		os.MkdirAll(filepath.Join(md, s), 0o700)
	}
	base := []string{"reconcile", "--server", srv.Addr(), "--user", "alice", "--tls", "implicit"}

	code, _, errs := runCLI(t, append(base, md)...)
	if code != exitFailed || !strings.Contains(strings.ToLower(errs), "certificate") {
		t.Fatalf("unverifiable certificate: exit %d, stderr %q", code, errs)
	}
	if st := srv.Stats(); st.LoginsSucceeded["alice"] != 0 {
		t.Fatalf("logged in over an unverified connection: %+v", st)
	}
	code, out, errs := runCLI(t, append(base, "--"+insecureFlag, md)...)
	// A dry run with no --fetch-missing or --delete-saved has no work: 0.
	if code != exitOK || !strings.Contains(errs, "WARNING: --"+insecureFlag) || !strings.Contains(out, "1 missing") {
		t.Fatalf("with --%s: exit %d, stdout %q, stderr %q", insecureFlag, code, out, errs)
	}
	caFile := filepath.Join(home, "ca.pem")
	os.WriteFile(caFile, cert.CertPEM, 0o600)
	if code, _, _ := runCLI(t, append(base, "--"+insecureFlag, "--ca", caFile, md)...); code != exitUsage {
		t.Fatalf("--ca with --%s: exit %d, want %d", insecureFlag, code, exitUsage)
	}
	if code, _, errs := runCLI(t, append(base, "--ca", caFile, md)...); code != exitOK || strings.Contains(errs, "WARNING") {
		t.Fatalf("--ca: exit %d, stderr %q", code, errs)
	}
}

// reconcile --apply takes the stores' run lock: while another popdedupe
// holds one, it refuses before touching the server.
func TestReconcileApplyTakesRunLock(t *testing.T) {
	srv := pop3test.NewServer(t, pop3test.Config{})
	srv.AddUser("alice", "pw")
	srv.AddMessage("alice", "u1", []byte("Message-ID: <a@x>\nSubject: s\n\nbody\n"))
	home := t.TempDir()
	state := filepath.Join(home, "state")
	t.Setenv("XDG_STATE_HOME", state)
	t.Setenv("POPDEDUPE_PASSWORD", "pw")
	md := filepath.Join(home, "Maildir")
	for _, s := range []string{"cur", "new", "tmp"} {
		os.MkdirAll(filepath.Join(md, s), 0o700)
	}
	held, err := runlock.AcquireAll(filepath.Join(state, "popdedupe"), []string{md}, "popdedupe dedupe")
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"reconcile", "--server", srv.Addr(), "--user", "alice", "--delete-saved", "--apply", md}
	code, _, errs := runCLI(t, args...)
	if code != exitFailed || !strings.Contains(errs, "popdedupe dedupe") {
		t.Fatalf("with the store locked: exit %d, stderr %q", code, errs)
	}
	if st := srv.Stats(); st.Connections != 0 {
		t.Fatalf("connected to the server while the store was locked: %+v", st)
	}
	held.Release()
	if code, _, errs := runCLI(t, args...); code != exitOK {
		t.Fatalf("after the lock was released: exit %d, stderr %q", code, errs)
	}
}

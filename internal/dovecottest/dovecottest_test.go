package dovecottest

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestStartGreetsOnBothListeners(t *testing.T) {
	s := Start(t, Config{Users: []User{{"alice", "pw-alice"}}})
	conn, err := net.DialTimeout("tcp", s.Addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "+OK") {
		t.Fatalf("plain greeting %q, %v", line, err)
	}
	tc, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", s.TLSAddr,
		&tls.Config{RootCAs: s.CACertPool(), ServerName: "localhost"})
	if err != nil {
		t.Fatalf("implicit TLS with the CA: %v", err)
	}
	defer tc.Close()
	tc.SetDeadline(time.Now().Add(5 * time.Second))
	line, err = bufio.NewReader(tc).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "+OK") {
		t.Fatalf("TLS greeting %q, %v", line, err)
	}
	name, err := s.Deliver("alice", []byte("Subject: x\n\nhello\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.Maildir("alice"), "new", name)); err != nil {
		t.Errorf("delivered file not in new/: %v", err)
	}
	if _, err := s.Deliver("nobody-here", []byte("x")); err == nil {
		t.Error("Deliver to an unknown user succeeded")
	}
}

// recordTB stands in for a test to see whether Start fails or skips.
type recordTB struct {
	testing.TB
	fatal, skip string
}

type stop struct{}

func (r *recordTB) Helper() {}
func (r *recordTB) Fatalf(format string, args ...any) {
	r.fatal = fmt.Sprintf(format, args...)
	panic(stop{})
}
func (r *recordTB) Skipf(format string, args ...any) {
	r.skip = fmt.Sprintf(format, args...)
	panic(stop{})
}

func startRecorded(cfg Config) (r *recordTB) {
	r = &recordTB{}
	defer func() {
		if v := recover(); v != nil && v != (stop{}) {
			panic(v)
		}
	}()
	Start(r, cfg)
	return r
}

func TestMissingDovecotFailsOrSkips(t *testing.T) {
	t.Setenv(BinaryEnv, filepath.Join(t.TempDir(), "no-dovecot-here"))
	t.Setenv(SkipEnv, "")
	r := startRecorded(Config{})
	if r.skip != "" || !strings.Contains(r.fatal, "apt-get install dovecot-core dovecot-pop3d") {
		t.Errorf("without dovecot: fatal %q, skip %q; want a failure naming the apt-get command", r.fatal, r.skip)
	}
	t.Setenv(SkipEnv, "1")
	r = startRecorded(Config{})
	if r.fatal != "" || !strings.Contains(r.skip, SkipEnv) {
		t.Errorf("with %s=1: fatal %q, skip %q; want a skip", SkipEnv, r.fatal, r.skip)
	}
}

func TestSeveralServersAtOnce(t *testing.T) {
	a := Start(t, Config{Users: []User{{"alice", "a"}}})
	b := Start(t, Config{Users: []User{{"bob", "b"}}, LockSession: true, UIDLFormat: "%g"})
	if a.Addr == b.Addr || a.TLSAddr == b.TLSAddr || a.Dir == b.Dir {
		t.Fatalf("servers share an address or directory: %+v %+v", a, b)
	}
	for _, s := range []*Server{a, b} {
		for _, addr := range []string{s.Addr, s.TLSAddr} {
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			c.Close()
		}
	}
	a.Stop()
	a.Stop() // twice is fine
	// Nothing of a is left. (Its port may answer again: packages are
	// tested in parallel, and another test's server can take a port
	// as soon as it is free, so the port alone proves nothing.)
	deadline := time.Now().Add(3 * time.Second)
	for live := liveInGroup(a.cmd.Process.Pid); len(live) > 0; live = liveInGroup(a.cmd.Process.Pid) {
		if time.Now().After(deadline) {
			t.Errorf("processes of the stopped server still run: %v", live)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if c, err := net.DialTimeout("tcp", a.Addr, time.Second); err == nil {
		c.Close()
		t.Logf("%s answers after Stop: another server took the free port", a.Addr)
	}
	conf, err := os.ReadFile(filepath.Join(b.Dir, "dovecot.conf"))
	if err != nil || !strings.Contains(string(conf), "pop3_lock_session = yes") || !strings.Contains(string(conf), "pop3_uidl_format = %g") {
		t.Errorf("config lacks the requested settings: %v\n%s", err, conf)
	}
}

// liveInGroup lists the processes of process group pgid that are not
// zombies (a killed child waits as a zombie until someone reaps it).
func liveInGroup(pgid int) []string {
	var live []string
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		stat, err := os.ReadFile(filepath.Join("/proc", d.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...: comm may hold spaces.
		i := strings.LastIndexByte(string(stat), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) >= 3 && f[2] == fmt.Sprint(pgid) && f[0] != "Z" {
			live = append(live, d.Name()+" "+string(stat[:i+1])+" "+f[0])
		}
	}
	return live
}

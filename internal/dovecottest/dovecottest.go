// Package dovecottest runs a real Dovecot POP3 server for tests.
//
// Start writes a configuration in a temporary directory (passwd-file users,
// one Maildir per user, a self-signed certificate for localhost and
// 127.0.0.1), starts "dovecot -F -c CONF" listening on 127.0.0.1 on two free
// ports (plain with STLS, RFC 2595, and implicit TLS) and stops it when the
// test ends. Dovecot serves POP3 as in RFC 1939, RFC 2449 and RFC 5034
// (AUTH PLAIN, LOGIN, CRAM-MD5) and APOP.
//
// When Dovecot is not installed the test fails with the command that
// installs it (apt-get install dovecot-core dovecot-pop3d), unless the
// environment sets POPDEDUPE_SKIP_DOVECOT=1, which skips the test instead.
//
// As root, Dovecot's login processes run as dovenull, its internal ones as
// dovecot, and mail is owned by nobody (POP3-NOTES.md). As another user,
// everything runs as that user with chroot disabled.
package dovecottest

import (
	"bufio"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/popdedupe/popdedupe/pop3/pop3test"
)

// SkipEnv is the environment variable that turns a missing Dovecot into a
// skip instead of a failure.
const SkipEnv = "POPDEDUPE_SKIP_DOVECOT"

// InstallHint says how to get Dovecot on Debian.
const InstallHint = "apt-get install dovecot-core dovecot-pop3d"

// User is a mail account.
type User struct {
	Name string
	Pass string
}

// Config describes the server to start.
type Config struct {
	Users []User
	// LockSession sets pop3_lock_session = yes: a second session of the
	// same user gets -ERR [IN-USE] (after Dovecot's lock wait, about 11 s).
	LockSession bool
	// UIDLFormat sets pop3_uidl_format; "" keeps Dovecot's default
	// "%08Xu%08Xv" (which changes when Dovecot's index files are lost).
	UIDLFormat string
	// Extra is appended to dovecot.conf verbatim.
	Extra string
}

// Server is a running Dovecot.
type Server struct {
	// Addr is the plain POP3 listener ("127.0.0.1:port"), which offers STLS.
	Addr string
	// TLSAddr is the implicit-TLS listener (the port 995 kind).
	TLSAddr string
	// CAFile is the PEM certificate the server presents (self-signed for
	// localhost and 127.0.0.1): trust it to verify the server.
	CAFile string
	// Dir holds the configuration, the logs and the mail.
	Dir string
	// LogFile is Dovecot's log.
	LogFile string

	cert   *pop3test.TestCert
	uid    int
	gid    int
	cmd    *exec.Cmd
	waited chan struct{}
	once   sync.Once
	seq    atomic.Int64
	users  map[string]bool
}

// BinaryEnv names an environment variable that, when set, is the path of
// the dovecot executable to use.
const BinaryEnv = "POPDEDUPE_DOVECOT"

// Binary finds the dovecot executable: $POPDEDUPE_DOVECOT, else
// /usr/sbin/dovecot, else dovecot on PATH.
func Binary() (string, error) {
	if p := os.Getenv(BinaryEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", BinaryEnv, p, err)
		}
		return p, nil
	}
	if _, err := os.Stat("/usr/sbin/dovecot"); err == nil {
		return "/usr/sbin/dovecot", nil
	}
	return exec.LookPath("dovecot")
}

// Start starts Dovecot for the test and registers its stop with t.Cleanup.
// A missing Dovecot fails the test with InstallHint, or skips it when
// POPDEDUPE_SKIP_DOVECOT=1.
func Start(t testing.TB, cfg Config) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		if os.Getenv(SkipEnv) == "1" {
			t.Skipf("dovecot not installed and %s=1: skipping (install: %s)", SkipEnv, InstallHint)
		}
		t.Fatalf("dovecot not found (%v): install it with `%s`, or set %s=1 to skip the tests that need it", err, InstallHint, SkipEnv)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		s, err := start(t, bin, cfg)
		if err == nil {
			return s
		}
		lastErr = err
		if !strings.Contains(err.Error(), "in use") {
			break // not a port race: do not retry
		}
	}
	t.Fatalf("dovecottest: %v", lastErr)
	return nil
}

func start(t testing.TB, bin string, cfg Config) (*Server, error) {
	// A short path of our own: Dovecot's UNIX sockets live under base_dir
	// and socket paths are limited to about 107 bytes.
	dir, err := os.MkdirTemp("", "dovecot-")
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// Dovecot's unprivileged processes must reach their sockets and the
	// mail below dir.
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, err
	}
	s := &Server{Dir: dir, LogFile: filepath.Join(dir, "dovecot.log"), users: map[string]bool{}, waited: make(chan struct{})}

	root := os.Geteuid() == 0
	var loginUser, internalUser string
	if root {
		s.uid, s.gid = 65534, 65534
		if u, err := user.Lookup("nobody"); err == nil {
			s.uid, _ = strconv.Atoi(u.Uid)
			s.gid, _ = strconv.Atoi(u.Gid)
		}
		loginUser, internalUser = "dovenull", "dovecot"
	} else {
		u, err := user.Current()
		if err != nil {
			return nil, err
		}
		s.uid, s.gid = os.Geteuid(), os.Getegid()
		loginUser, internalUser = u.Username, u.Username
	}

	if s.cert, err = pop3test.NewTestCert("localhost", "127.0.0.1"); err != nil {
		return nil, err
	}
	s.CAFile = filepath.Join(dir, "cert.pem")
	keyFile := filepath.Join(dir, "key.pem")
	if err := os.WriteFile(s.CAFile, s.cert.CertPEM, 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(keyFile, s.cert.KeyPEM, 0o600); err != nil {
		return nil, err
	}

	if err := os.Mkdir(filepath.Join(dir, "home"), 0o755); err != nil {
		return nil, err
	}
	var passwd strings.Builder
	for _, u := range cfg.Users {
		if u.Name == "" || strings.ContainsAny(u.Name+u.Pass, ":\n\r") {
			return nil, fmt.Errorf("user %q: names and passwords must be non-empty and free of ':' and line breaks", u.Name)
		}
		home := filepath.Join(dir, "home", u.Name)
		for _, d := range []string{"cur", "new", "tmp"} {
			if err := os.MkdirAll(filepath.Join(home, "Maildir", d), 0o700); err != nil {
				return nil, err
			}
		}
		if err := s.chownTree(filepath.Join(dir, "home", u.Name)); err != nil {
			return nil, err
		}
		s.users[u.Name] = true
		fmt.Fprintf(&passwd, "%s:{PLAIN}%s:%d:%d::%s::\n", u.Name, u.Pass, s.uid, s.gid, home)
	}
	passwdFile := filepath.Join(dir, "passwd")
	if err := os.WriteFile(passwdFile, []byte(passwd.String()), 0o644); err != nil {
		return nil, err
	}

	plainPort, err := freePort()
	if err != nil {
		return nil, err
	}
	tlsPort, err := freePort()
	if err != nil {
		return nil, err
	}
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(plainPort))
	s.TLSAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(tlsPort))

	conf := s.config(cfg, root, loginUser, internalUser, keyFile, passwdFile, plainPort, tlsPort)
	confFile := filepath.Join(dir, "dovecot.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o644); err != nil {
		return nil, err
	}

	s.cmd = exec.Command(bin, "-F", "-c", confFile)
	out, err := os.Create(filepath.Join(dir, "master.out"))
	if err != nil {
		return nil, err
	}
	defer out.Close()
	s.cmd.Stdout, s.cmd.Stderr = out, out
	// Own process group, so Stop reaches every Dovecot process at once;
	// stop the master if the test binary dies without running its cleanups
	// (its children exit when the master goes).
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() { s.cmd.Wait(); close(s.waited) }()
	t.Cleanup(s.Stop)

	if err := s.waitReady(10 * time.Second); err != nil {
		s.Stop()
		return nil, fmt.Errorf("%w\n%s", err, s.logs())
	}
	return s, nil
}

func (s *Server) config(cfg Config, root bool, loginUser, internalUser, keyFile, passwdFile string, plainPort, tlsPort int) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# written by popdedupe's dovecottest")
	w("protocols = pop3")
	w("listen = 127.0.0.1")
	w("base_dir = %s/run", s.Dir)
	w("state_dir = %s/state", s.Dir)
	w("log_path = %s", s.LogFile)
	w("info_log_path = %s", s.LogFile)
	w("default_login_user = %s", loginUser)
	w("default_internal_user = %s", internalUser)
	if !root {
		// Sockets are chowned to this group; a non-root master can only
		// use its own.
		if g, err := user.LookupGroupId(strconv.Itoa(s.gid)); err == nil {
			w("default_internal_group = %s", g.Name)
		}
	}
	w("first_valid_uid = %d", min(s.uid, 500))
	w("first_valid_gid = 0")
	w("ssl = yes")
	w("ssl_cert = <%s", s.CAFile)
	w("ssl_key = <%s", keyFile)
	if _, err := os.Stat("/usr/share/dovecot/dh.pem"); err == nil {
		w("ssl_dh = </usr/share/dovecot/dh.pem")
	}
	w("ssl_min_protocol = TLSv1.2")
	w("disable_plaintext_auth = no")
	w("auth_mechanisms = plain login cram-md5 apop")
	w("auth_failure_delay = 0")
	w("mail_location = maildir:~/Maildir")
	w("pop3_lock_session = %s", yesNo(cfg.LockSession))
	if cfg.UIDLFormat != "" {
		w("pop3_uidl_format = %s", cfg.UIDLFormat)
	}
	w("passdb {\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%%u %s\n}", passwdFile)
	w("userdb {\n  driver = passwd-file\n  args = username_format=%%u %s\n}", passwdFile)
	w("service pop3-login {")
	w("  inet_listener pop3 {\n    address = 127.0.0.1\n    port = %d\n  }", plainPort)
	w("  inet_listener pop3s {\n    address = 127.0.0.1\n    port = %d\n    ssl = yes\n  }", tlsPort)
	if !root {
		w("  chroot =")
	}
	w("}")
	// Tests log in with wrong passwords on purpose; Dovecot's auth penalty
	// (anvil, per client IP: 2 s, 4 s, ... up to 15 s) would slow every
	// later login from 127.0.0.1. The auth process cannot open a socket of
	// mode 0, so the penalty is disabled.
	w("service anvil {\n  unix_listener anvil-auth-penalty {\n    mode = 0\n  }")
	if !root {
		w("  chroot =")
	}
	w("}")
	b.WriteString(cfg.Extra)
	b.WriteString("\n")
	return b.String()
}

func yesNo(v bool) string {
	if v {
		return "yes"
	}
	return "no"
}

// freePort asks the kernel for a free port on 127.0.0.1. Another process
// may take it before Dovecot binds it; Start retries then.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitReady waits until both listeners greet.
func (s *Server) waitReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for _, addr := range []string{s.Addr, s.TLSAddr} {
		for {
			select {
			case <-s.waited:
				return fmt.Errorf("dovecot exited at start (%v)", s.cmd.ProcessState)
			default:
			}
			if strings.Contains(s.logs(), "in use") {
				return fmt.Errorf("dovecot: address in use")
			}
			conn, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil && addr == s.Addr {
				// Listening is not enough: the master may still fail
				// to start its services. Wait for a greeting.
				conn.SetDeadline(time.Now().Add(2 * time.Second))
				var line string
				line, err = bufio.NewReader(conn).ReadString('\n')
				if err == nil && !strings.HasPrefix(line, "+OK") {
					err = fmt.Errorf("greeting %q", line)
				}
			}
			if conn != nil {
				conn.Close()
			}
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("dovecot not listening on %s after %v: %v", addr, limit, err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	return nil
}

// logs returns Dovecot's log and the master's output.
func (s *Server) logs() string {
	a, _ := os.ReadFile(s.LogFile)
	b, _ := os.ReadFile(filepath.Join(s.Dir, "master.out"))
	return string(a) + string(b)
}

// Logs returns what Dovecot logged so far.
func (s *Server) Logs() string { return s.logs() }

// Stop stops Dovecot and waits for the master to exit: SIGTERM to its
// process group (master, login, auth and pop3 processes), SIGKILL after
// 500 ms (the master otherwise waits for busy children). Start registers
// it with t.Cleanup; calling it twice is fine.
func (s *Server) Stop() {
	s.once.Do(func() {
		if s.cmd == nil || s.cmd.Process == nil {
			return
		}
		pgid := s.cmd.Process.Pid
		syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-s.waited:
		case <-time.After(500 * time.Millisecond):
			syscall.Kill(-pgid, syscall.SIGKILL)
			<-s.waited
		}
		// Children that outlived the master (none normally).
		syscall.Kill(-pgid, syscall.SIGKILL)
	})
}

// CACertPool returns a pool trusting the server's certificate.
func (s *Server) CACertPool() *x509.CertPool { return s.cert.Pool }

// Maildir returns user's Maildir (with cur/, new/ and tmp/).
func (s *Server) Maildir(user string) string {
	return filepath.Join(s.Dir, "home", user, "Maildir")
}

// Deliver puts msg into user's Maildir the way an MDA does: written to
// tmp/, synced, then renamed into new/, owned by the mail user. It returns
// the file name. The bytes are stored as given (LF or CRLF).
func (s *Server) Deliver(user string, msg []byte) (string, error) {
	if !s.users[user] {
		return "", fmt.Errorf("dovecottest: no user %q", user)
	}
	md := s.Maildir(user)
	host, _ := os.Hostname()
	host = strings.NewReplacer("/", "\\057", ":", "\\072").Replace(host)
	now := time.Now()
	name := fmt.Sprintf("%d.M%dP%dQ%d.%s", now.Unix(), now.Nanosecond()/1000, os.Getpid(), s.seq.Add(1), host)
	tmp := filepath.Join(md, "tmp", name)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	_, err = f.Write(msg)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Lchown(tmp, s.uid, s.gid)
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(md, "new", name))
	}
	if err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("dovecottest: deliver to %s: %w", user, err)
	}
	return name, nil
}

// MessageFiles lists the message files in user's Maildir (new/ and cur/).
func (s *Server) MessageFiles(user string) ([]string, error) {
	var out []string
	for _, sub := range []string{"new", "cur"} {
		ents, err := os.ReadDir(filepath.Join(s.Maildir(user), sub))
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			out = append(out, filepath.Join(sub, e.Name()))
		}
	}
	return out, nil
}

// chownTree gives dir and everything below it to the mail user.
func (s *Server) chownTree(dir string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	return filepath.Walk(dir, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, s.uid, s.gid)
	})
}

// GrepLog reports whether Dovecot's log has a line containing substr.
func (s *Server) GrepLog(substr string) bool {
	sc := bufio.NewScanner(strings.NewReader(s.logs()))
	for sc.Scan() {
		if strings.Contains(sc.Text(), substr) {
			return true
		}
	}
	return false
}

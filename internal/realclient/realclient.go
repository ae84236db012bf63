// Package realclient runs the real POP3 clients from Debian (fetchmail,
// getmail6, mpop) against a test server in "keep mail on the server"
// mode, so tests can prove what a rebuilt UIDL state file makes them do.
//
// Each client is set up in a directory of its own with plain POP3 on
// loopback (Dovecot offers STLS with a self-signed certificate, which the
// clients would refuse) and delivers to an mbox file. The quirks met on
// the way are in ../../../shared/POP3-NOTES.md ("Client quirks").
package realclient

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// SkipEnv, set to 1, makes tests skip (not fail) when a client is missing.
const SkipEnv = "POPDEDUPE_SKIP_CLIENTS"

// Server is the account a client polls.
type Server struct {
	Host       string
	Port       int
	User, Pass string
}

// Client is one real POP3 client.
type Client struct {
	Name    string // command name
	Package string // Debian package
	Format  string // its UIDL state format, as uidlstate names it
	// write puts the client's configuration in dir and returns its state
	// file; the client delivers to Mbox(dir).
	write func(t testing.TB, dir string, s Server) string
	args  func(dir string) (ok []int, args []string)
	// nudgeSIGCHLD: the client loses its delivery children's exits (see
	// run).
	nudgeSIGCHLD bool
}

// Clients are the three clients tests run.
var Clients = []Client{Fetchmail, Getmail, Mpop}

// Fetchmail: `keep`, `uidl`, `auth password` (not CRAM-MD5), no STLS, an
// MDA appending to the mbox; exit 1 means "no new mail".
var Fetchmail = Client{Name: "fetchmail", Package: "fetchmail", Format: "fetchmail",
	write: func(t testing.TB, dir string, s Server) string {
		rc := fmt.Sprintf("set no syslog\npoll %s proto pop3 port %d uidl auth password\n"+
			"  user %q there with password %q is root here\n  keep\n  sslproto ''\n  mda \"cat >> %s\"\n",
			s.Host, s.Port, s.User, s.Pass, Mbox(dir))
		writeFile(t, filepath.Join(dir, "fetchmailrc"), rc)
		return filepath.Join(dir, ".fetchids")
	},
	args: func(dir string) ([]int, []string) {
		return []int{0, 1}, []string{"-f", filepath.Join(dir, "fetchmailrc"), "--idfile", filepath.Join(dir, ".fetchids"),
			"--pidfile", filepath.Join(dir, "fetchmail.pid"), "--nodetach", "-v"}
	}}

// Getmail: getmail6 has no STLS, and as root it delivers only as another
// user (nobody), who must reach the mbox.
var Getmail = Client{Name: "getmail", Package: "getmail6", Format: "getmail", nudgeSIGCHLD: true,
	write: func(t testing.TB, dir string, s Server) string {
		writeFile(t, Mbox(dir), "")
		dest := ""
		if os.Geteuid() == 0 {
			dest = "user = nobody\n"
			if err := os.Chown(Mbox(dir), 65534, 65534); err != nil {
				t.Fatal(err)
			}
			OpenToNobody(t, dir)
		}
		rc := fmt.Sprintf("[retriever]\ntype = SimplePOP3Retriever\nserver = %s\nport = %d\nusername = %s\npassword = %s\n\n"+
			"[destination]\ntype = Mboxrd\npath = %s\n%s\n[options]\nread_all = false\ndelete = false\nverbose = 1\n",
			s.Host, s.Port, s.User, s.Pass, Mbox(dir), dest)
		writeFile(t, filepath.Join(dir, "getmailrc"), rc)
		// getmail's own name for the file: oldmail-SERVER-PORT-USER.
		return filepath.Join(dir, fmt.Sprintf("oldmail-%s-%d-%s", s.Host, s.Port, s.User))
	},
	args: func(dir string) ([]int, []string) {
		return []int{0}, []string{"--getmaildir=" + dir, "--rcfile=" + filepath.Join(dir, "getmailrc")}
	}}

// Mpop: `auth user` and `tls off`, else it refuses a cleartext login.
var Mpop = Client{Name: "mpop", Package: "mpop", Format: "mpop",
	write: func(t testing.TB, dir string, s Server) string {
		state := filepath.Join(dir, "uidls")
		rc := fmt.Sprintf("defaults\naccount t\nhost %s\nport %d\nuser %s\npassword %s\nauth user\ntls off\nkeep on\n"+
			"delivery mbox %s\nuidls_file %s\n", s.Host, s.Port, s.User, s.Pass, Mbox(dir), state)
		writeFile(t, filepath.Join(dir, "mpoprc"), rc)
		return state
	},
	args: func(dir string) ([]int, []string) {
		return []int{0}, []string{"-C", filepath.Join(dir, "mpoprc"), "t"}
	}}

// Mbox is where a client set up in dir delivers.
func Mbox(dir string) string { return filepath.Join(dir, "out.mbox") }

// Setup writes the client's configuration for s into dir (created) and
// returns the path of its UIDL state file.
func (c Client) Setup(t testing.TB, dir string, s Server) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return c.write(t, dir, s)
}

// Run polls the server once with the client set up in dir.
func (c Client) Run(t testing.TB, dir string) {
	t.Helper()
	ok, args := c.args(dir)
	run(t, ok, c.nudgeSIGCHLD, Require(t, c), args...)
}

// Require returns the client's path, or fails the test saying how to
// install it (skips it when SkipEnv is 1).
func Require(t testing.TB, c Client) string {
	t.Helper()
	p, err := exec.LookPath(c.Name)
	if err == nil {
		return p
	}
	msg := fmt.Sprintf("%s not found (%v): install it with: apt-get install -y %s (all real-client tests need: apt-get install -y fetchmail getmail6 mpop dovecot-core dovecot-pop3d), or set %s=1 to skip",
		c.Name, err, c.Package, SkipEnv)
	if os.Getenv(SkipEnv) == "1" {
		t.Skip(msg)
	}
	t.Fatal(msg)
	return ""
}

// Command runs name with args in the C locale and fails the test unless
// its exit code is in ok; the output goes to the test log.
func Command(t testing.TB, ok []int, name string, args ...string) {
	t.Helper()
	run(t, ok, false, name, args...)
}

// run is Command; with nudge, the process is sent SIGCHLD every 250 ms
// while it runs. getmail6 (6.18) forks a delivery child and only then
// installs its SIGCHLD handler: a child that exits before that is never
// seen, and getmail waits out its whole timeout (180 s) and fails with
// "waiting child pid N timed out" (it did under a loaded CI run). A later
// SIGCHLD makes the handler reap the child; with no child waited for,
// getmail ignores SIGCHLD.
func run(t testing.TB, ok []int, nudge bool, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Start()
	if err == nil {
		done := make(chan struct{})
		if nudge {
			go func() {
				tick := time.NewTicker(250 * time.Millisecond)
				defer tick.Stop()
				for {
					select {
					case <-done:
						return
					case <-tick.C:
						cmd.Process.Signal(syscall.SIGCHLD)
					}
				}
			}()
		}
		err = cmd.Wait()
		close(done)
	}
	code := 0
	if ee, isExit := err.(*exec.ExitError); isExit {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	t.Logf("%s %s: exit %d\n%s", name, strings.Join(args, " "), code, out.String())
	if !slices.Contains(ok, code) {
		t.Fatalf("%s exited %d:\n%s", name, code, out.String())
	}
}

// Downloaded returns the sorted first submatches of re (a Message-ID
// pattern with one group) in the mbox a client delivered to.
func Downloaded(t testing.TB, mbox string, re *regexp.Regexp) []string {
	t.Helper()
	data, err := os.ReadFile(mbox)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range re.FindAllSubmatch(data, -1) {
		ids = append(ids, string(m[1]))
	}
	slices.Sort(ids)
	return ids
}

// OpenToNobody lets a delivery running as nobody reach dir: the
// directories from the temp dir down to dir become 0755.
func OpenToNobody(t testing.TB, dir string) {
	t.Helper()
	tmp := filepath.Clean(os.TempDir())
	for d := filepath.Clean(dir); strings.HasPrefix(d, tmp) && d != tmp; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func writeFile(t testing.TB, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

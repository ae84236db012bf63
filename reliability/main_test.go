// Package reliability holds black-box tests of popdedupe under crashes,
// faults, hostile input and a hostile network (issue #9). There is no
// non-test code: TestMain builds the popdedupe binary once with `go build`
// and the tests run it as a user would, killing it, cutting its network,
// filling its disk and feeding it bad stores and bad servers; a few tests
// call packages in process. RELIABILITY.md at the repository root indexes
// which test proves which promise.
//
// Environment:
//
//	POPDEDUPE_SOAK=1   many more random crash trials and longer loops
//	POPDEDUPE_SEED=n   the seed of the random trials (default: fixed)
package reliability

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// bin is the popdedupe binary built by TestMain.
var bin string

// helperEnv makes the test binary act as a helper process (an MDA, a
// lock holder); see helperMain.
const helperEnv = "POPDEDUPE_RELIABILITY_HELPER"

func TestMain(m *testing.M) {
	if h := os.Getenv(helperEnv); h != "" {
		os.Exit(helperMain(h, os.Args[1:]))
	}
	for _, a := range os.Args[1:] {
		if strings.HasPrefix(a, "-test.fuzz") {
			// Fuzzing (the coordinator and its workers): the fuzz
			// targets need no binary, and building one per worker
			// would cost seconds each.
			os.Exit(m.Run())
		}
	}
	dir, err := os.MkdirTemp("", "popdedupe-reliability-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Chmod(dir, 0o755) // runs as nobody need to reach it
	bin = filepath.Join(dir, "popdedupe")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/popdedupe/popdedupe/cmd/popdedupe")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "reliability: go build of cmd/popdedupe failed: %v\n", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// soak reports whether the long runs were asked for.
func soak() bool { return os.Getenv("POPDEDUPE_SOAK") == "1" }

// seed is the base seed of the random trials.
func seed(t *testing.T) int64 {
	if s := os.Getenv("POPDEDUPE_SEED"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("POPDEDUPE_SEED: %v", err)
		}
		return n
	}
	return 20260309
}

// env is the environment of one user: a private HOME and state
// directory, and the password in the environment.
type env struct {
	home, state string
	vars        []string
}

const password = "Zq7#reliability-secret-41c9"

func newEnv(t *testing.T) *env {
	t.Helper()
	home := t.TempDir()
	e := &env{home: home, state: filepath.Join(home, "state", "popdedupe")}
	e.vars = []string{"HOME=" + home, "XDG_STATE_HOME=" + filepath.Join(home, "state"), "POPDEDUPE_PASSWORD=" + password, "LC_ALL=C"}
	return e
}

// result is one run of the binary.
type result struct {
	args           []string
	code           int // -1 when killed
	killed         bool
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("popdedupe %s: exit %d (killed %v)\nstdout:\n%s\nstderr:\n%s", strings.Join(r.args, " "), r.code, r.killed, r.stdout, r.stderr)
}

// run runs the binary with the env's variables plus extra ones. It fails
// the test on any sign of a panic, whatever the exit.
func (e *env) run(t *testing.T, extra []string, args ...string) result {
	t.Helper()
	if bin == "" {
		t.Skip("the popdedupe binary is not built while fuzzing")
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(append(baseEnv(), e.vars...), extra...)
	cmd.Dir = e.home
	var o, eb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &eb
	err := cmd.Run()
	r := result{args: args, stdout: o.String(), stderr: eb.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			r.code, r.killed = -1, ws.Signal() == syscall.SIGKILL
			if !r.killed {
				t.Fatalf("killed by %v, not by the fault hook:\n%s", ws.Signal(), r)
			}
		} else {
			r.code = ee.ExitCode()
		}
	case err != nil:
		t.Fatalf("running %s: %v", bin, err)
	}
	noPanic(t, r)
	return r
}

// runAsNobody runs the binary as user nobody (65534), for cases that need
// a file the run cannot read: as root every file is readable. Everything
// under the env's home is given to nobody, except files of mode 000.
func (e *env) runAsNobody(t *testing.T, args ...string) result {
	t.Helper()
	if os.Geteuid() != 0 {
		return e.run(t, nil, args...)
	}
	for d := e.home; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	filepath.Walk(e.home, func(p string, fi os.FileInfo, err error) error {
		if err == nil && (fi.IsDir() || fi.Mode().Perm() != 0) {
			os.Lchown(p, 65534, 65534)
		}
		return nil
	})
	cmd := exec.Command(bin, args...)
	cmd.Env = append(baseEnv(), e.vars...)
	cmd.Dir = e.home
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var o, eb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &eb
	err := cmd.Run()
	r := result{args: args, stdout: o.String(), stderr: eb.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running %s as nobody: %v", bin, err)
	}
	noPanic(t, r)
	return r
}

// start starts the binary without waiting, for kills at a random instant
// and for concurrent runs.
func (e *env) start(t *testing.T, extra []string, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	if bin == "" {
		t.Skip("the popdedupe binary is not built while fuzzing")
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(append(baseEnv(), e.vars...), extra...)
	cmd.Dir = e.home
	var o, eb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &eb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &o, &eb
}

// wait waits for a started run and returns its result.
func wait(t *testing.T, cmd *exec.Cmd, o, eb *bytes.Buffer) result {
	t.Helper()
	err := cmd.Wait()
	r := result{args: cmd.Args[1:], stdout: o.String(), stderr: eb.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			r.code, r.killed = -1, ws.Signal() == syscall.SIGKILL
		} else {
			r.code = ee.ExitCode()
		}
	case err != nil:
		t.Fatal(err)
	}
	noPanic(t, r)
	return r
}

// baseEnv is the test's environment without the variables a run must
// not inherit (the fault hooks, a real password, the user's state).
func baseEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "POPDEDUPE_") || k == "HOME" || k == "XDG_STATE_HOME" || k == "GOFLAGS" {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// noPanic fails when a run printed a Go panic or a goroutine dump.
func noPanic(t *testing.T, r result) {
	t.Helper()
	for _, s := range []string{r.stdout, r.stderr} {
		if strings.Contains(s, "panic:") || strings.Contains(s, "goroutine ") {
			t.Fatalf("the run panicked:\n%s", r)
		}
	}
}

// wantCode fails unless the run exited with one of codes.
func wantCode(t *testing.T, r result, codes ...int) {
	t.Helper()
	for _, c := range codes {
		if r.code == c {
			return
		}
	}
	t.Fatalf("exit %d, want one of %v:\n%s", r.code, codes, r)
}

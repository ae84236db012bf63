package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/popdedupe/popdedupe/dedupe/dedupetest"
	"github.com/popdedupe/popdedupe/internal/runlock"
	"github.com/popdedupe/popdedupe/journal"
	"github.com/popdedupe/popdedupe/store"
)

// testMainEnv makes the test binary act as popdedupe itself, so that the
// crash tests can run (and kill) the real command in a subprocess without
// building it first.
const testMainEnv = "POPDEDUPE_TEST_RUN_MAIN"

func init() {
	if os.Getenv(testMainEnv) == "1" {
		os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
}

// runCLI runs one command line in process.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// subprocess runs the command in a child process with extra environment;
// it reports whether the child was killed by SIGKILL.
func subprocess(t *testing.T, env []string, args ...string) (code int, killed bool, stderr string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), testMainEnv+"=1"), env...)
	var eb bytes.Buffer
	cmd.Stderr = &eb
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return -1, true, eb.String()
		}
		return ee.ExitCode(), false, eb.String()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, false, eb.String()
}

type incident struct {
	dir, state string
	stores     []string
	snap       map[string]string
	contents   map[[32]byte]int
}

func newIncident(t *testing.T) *incident {
	dir := t.TempDir()
	in := &incident{dir: dir, state: filepath.Join(dir, "state")}
	in.stores = dedupetest.Incident(t, dir)
	in.snap = dedupetest.Snapshot(t, in.stores...)
	in.contents = dedupetest.Contents(t, in.stores...)
	return in
}

func (in *incident) args(extra ...string) []string {
	return append(append([]string{"dedupe", "--progress", "never", "--state-dir", in.state}, extra...), in.stores...)
}

// quarantines are every quarantine Maildir of the state directory.
func (in *incident) quarantines() []string {
	q, _ := filepath.Glob(filepath.Join(in.state, "quarantine", "*"))
	return q
}

func (in *incident) journals() []string {
	j, _ := filepath.Glob(filepath.Join(in.state, "journal-*.jsonl"))
	return j
}

// noLoss checks that every mbox still parses as before and that every
// original message is in the stores or a quarantine.
func (in *incident) noLoss(t *testing.T, when string) {
	t.Helper()
	_, res := dedupetest.Keys(t, in.stores)
	if len(res.Skipped) != 2 {
		t.Errorf("%s: %d skipped messages, want the incident's 2 (an mbox no longer parses?)", when, len(res.Skipped))
	}
	if n := dedupetest.Missing(in.contents, dedupetest.Contents(t, append(in.stores, in.quarantines()...)...)); n > 0 {
		t.Errorf("%s: %d messages lost", when, n)
	}
}

func (in *incident) restored(t *testing.T, when string) {
	t.Helper()
	if d := dedupetest.DiffSnapshots(in.snap, dedupetest.Snapshot(t, in.stores...)); d != "" {
		t.Errorf("%s: stores not restored:\n%s", when, d)
	}
}

func TestDedupeCLI(t *testing.T) {
	in := newIncident(t)
	// Dry run: exit 3, a plan, nothing changed.
	code, out, errs := runCLI(t, in.args("--json")...)
	if code != exitWork {
		t.Fatalf("dry run: exit %d, want %d\n%s", code, exitWork, errs)
	}
	var plan struct {
		Applied bool   `json:"applied"`
		Journal string `json:"journal"`
		Removed int    `json:"removed"`
		Actions []struct {
			Ref    struct{ Path string } `json:"ref"`
			Action string                `json:"action"`
			To     string                `json:"to"`
		} `json:"actions"`
		Groups []json.RawMessage `json:"groups"`
	}
	if err := json.Unmarshal([]byte(out), &plan); err != nil {
		t.Fatalf("dry run JSON: %v\n%s", err, out)
	}
	kinds := map[string]int{}
	for _, a := range plan.Actions {
		kinds[a.Action]++
		if a.Action == "quarantine" && !strings.HasPrefix(a.To, filepath.Join(in.state, "quarantine")) {
			t.Errorf("quarantine target %s is not in the state dir", a.To)
		}
	}
	if plan.Applied || plan.Journal != "" || kinds["quarantine"] != plan.Removed || plan.Removed == 0 || kinds["keep"] == 0 || len(plan.Groups) == 0 {
		t.Errorf("dry run plan: applied %v journal %q removed %d actions %v", plan.Applied, plan.Journal, plan.Removed, kinds)
	}
	in.restored(t, "after the dry run")

	// Apply: exit 4 (the incident has unreadable messages), a journal.
	code, out, errs = runCLI(t, in.args("--apply")...)
	if code != exitSkipped {
		t.Fatalf("apply: exit %d, want %d\n%s\n%s", code, exitSkipped, out, errs)
	}
	js := in.journals()
	if len(js) != 1 || !strings.Contains(out, "Undo with: popdedupe undo "+js[0]) {
		t.Fatalf("apply output does not name the journal %v:\n%s", js, out)
	}
	if fi, err := os.Stat(js[0]); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("journal mode: %v %v, want 0600", fi.Mode(), err)
	}
	in.noLoss(t, "after apply")
	// A second run finds nothing.
	code, out, _ = runCLI(t, in.args("--apply", "--json")...)
	if code != exitSkipped || !strings.Contains(out, `"removed": 0`) || len(in.journals()) != 1 {
		t.Errorf("second apply: exit %d, %d journals:\n%s", code, len(in.journals()), out)
	}
	// Undo restores the start; undo again is a no-op.
	if code, out, errs := runCLI(t, "undo", js[0]); code != exitOK {
		t.Fatalf("undo: exit %d\n%s\n%s", code, out, errs)
	}
	in.restored(t, "after undo")
	if code, out, _ := runCLI(t, "undo", "--json", js[0]); code != exitOK || !strings.Contains(out, `"undone": 0`) {
		t.Errorf("second undo: exit %d\n%s", code, out)
	}
	in.restored(t, "after the second undo")
}

func TestDedupeUsage(t *testing.T) {
	in := newIncident(t)
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"dedupe"}, exitUsage},
		{in.args("--delete", "--quarantine", "/tmp/q"), exitUsage},
		{in.args("--quarantine", filepath.Join(in.stores[0], ".Q")), exitUsage},
		{in.args("--keep", "largest"), exitUsage},
		{[]string{"undo"}, exitUsage},
		{[]string{"undo", filepath.Join(in.dir, "no-such-journal")}, exitFailed},
	} {
		if code, _, errs := runCLI(t, tc.args...); code != tc.want {
			t.Errorf("%q: exit %d, want %d (%s)", tc.args, code, tc.want, errs)
		}
	}
	in.restored(t, "after usage errors")
}

// TestDedupeLocked: a store held by another popdedupe is refused, naming
// the holder; nothing changes.
func TestDedupeLocked(t *testing.T) {
	in := newIncident(t)
	l, err := runlock.Acquire(in.state, in.stores[1], "test holder")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	code, _, errs := runCLI(t, in.args("--apply")...)
	if code != exitFailed || !strings.Contains(errs, "in use by another popdedupe") || !strings.Contains(errs, "test holder") {
		t.Errorf("locked store: exit %d, %s", code, errs)
	}
	in.restored(t, "after a refused run")
}

// crashPoints are the kills of one run: after each journal line, and at
// the fault points inside steps.
func crashPoints(t *testing.T) []string {
	in := newIncident(t)
	if code, _, errs := runCLI(t, in.args("--apply")...); code != exitSkipped {
		t.Fatalf("apply: exit %d: %s", code, errs)
	}
	entries, err := journal.Read(in.journals()[0])
	if err != nil {
		t.Fatal(err)
	}
	var env []string
	for k := 1; k <= len(entries); k++ {
		env = append(env, journal.KillAfterEnv+"="+strconv.Itoa(k))
	}
	for _, p := range []string{"maildir.quarantine:1", "maildir.quarantine:4", "mbox.quarantine:1", "mbox.quarantine:2", "mbox.rename", "mbox.renamed"} {
		env = append(env, journal.KillAtEnv+"="+p)
	}
	return env
}

// TestDedupeCrash kills `dedupe --apply` with SIGKILL at every journal
// line and inside the steps. After each kill no message is lost and every
// mbox parses; then on one copy of the incident a rerun finishes the job
// (and a third run finds nothing), and on another undo restores the start
// exactly.
func TestDedupeCrash(t *testing.T) {
	for _, fault := range crashPoints(t) {
		t.Run(fault, func(t *testing.T) {
			for _, branch := range []string{"rerun", "undo"} {
				in := newIncident(t)
				code, killed, errs := subprocess(t, []string{fault}, in.args("--apply")...)
				if !killed {
					t.Fatalf("%s: the run was not killed (exit %d): %s", branch, code, errs)
				}
				in.noLoss(t, "after the kill")
				switch branch {
				case "rerun":
					if code, out, errs := runCLI(t, in.args("--apply")...); code != exitSkipped {
						t.Fatalf("rerun: exit %d\n%s\n%s", code, out, errs)
					}
					in.noLoss(t, "after the rerun")
					if code, out, _ := runCLI(t, in.args("--json")...); code != exitSkipped || !strings.Contains(out, `"removed": 0`) {
						t.Errorf("after the rerun a dry run still finds work (exit %d)", code)
					}
					if _, err := os.Stat(in.stores[1] + ".lock"); err == nil {
						t.Errorf("a dot-lock was left behind")
					}
				case "undo":
					js := in.journals()
					if len(js) != 1 {
						t.Fatalf("%d journals", len(js))
					}
					if code, out, errs := runCLI(t, "undo", js[0]); code != exitOK {
						t.Fatalf("undo: exit %d\n%s\n%s", code, out, errs)
					}
					in.restored(t, "after undo of the killed run")
				}
			}
		})
	}
}

// TestUndoCrash kills undo itself at each of its journal lines and inside
// its mbox step; undo run again restores the start.
func TestUndoCrash(t *testing.T) {
	faults := []string{journal.KillAtEnv + "=undo.mbox.rename", journal.KillAtEnv + "=undo.mbox.renamed"}
	for k := 1; k <= 4; k++ {
		faults = append(faults, journal.KillAfterEnv+"="+strconv.Itoa(k))
	}
	for _, fault := range faults {
		t.Run(fault, func(t *testing.T) {
			in := newIncident(t)
			if code, _, errs := runCLI(t, in.args("--apply")...); code != exitSkipped {
				t.Fatalf("apply: exit %d: %s", code, errs)
			}
			j := in.journals()[0]
			if _, killed, errs := subprocess(t, []string{fault}, "undo", j); !killed {
				t.Fatalf("undo was not killed: %s", errs)
			}
			in.noLoss(t, "after the kill")
			if code, out, errs := runCLI(t, "undo", j); code != exitOK {
				t.Fatalf("undo again: exit %d\n%s\n%s", code, out, errs)
			}
			in.restored(t, "after the second undo")
		})
	}
}

// TestConcurrentDelivery delivers into the Maildir and appends to the
// mbox while dedupe runs: a run may refuse the changed mbox, but no
// delivered message is lost, and a later run finishes.
func TestConcurrentDelivery(t *testing.T) {
	in := newIncident(t)
	const n = 40
	var wg sync.WaitGroup
	wg.Add(1)
	errc := make(chan error, 2*n)
	go func() {
		defer wg.Done()
		for i := 0; i < n; i++ {
			msg := dedupetest.Msg(fmt.Sprintf("late%d@example.org", i), "late", fmt.Sprintf("delivered during the run %d\n", i))
			if _, err := store.DeliverMaildir(in.stores[0], strings.NewReader(msg), 0); err != nil {
				errc <- err
			}
			if err := store.AppendMbox(in.stores[1], strings.NewReader(msg), "bob@example.org", time.Now()); err != nil {
				errc <- err
			}
		}
	}()
	code, _, errs := runCLI(t, in.args("--apply")...)
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	if code != exitSkipped && !(code == exitFailed && strings.Contains(errs, "changed since the scan")) {
		t.Fatalf("apply during delivery: exit %d: %s", code, errs)
	}
	if code, _, errs := runCLI(t, in.args("--apply")...); code != exitSkipped {
		t.Fatalf("apply after delivery: exit %d: %s", code, errs)
	}
	keys, _ := dedupetest.Keys(t, in.stores)
	late := 0
	for k := range keys {
		if strings.HasPrefix(k.MessageID, "late") {
			late++
		}
	}
	if late != n {
		t.Errorf("%d of %d delivered messages are in the stores", late, n)
	}
	// Each was delivered twice (Maildir and mbox): one copy stays.
	in.noLoss(t, "after delivery")
}

// TestNotWritable: a store the user cannot write is a clear error and
// nothing changes. As root the run is made as nobody in a subprocess.
func TestNotWritable(t *testing.T) {
	base, err := os.MkdirTemp("", "popdedupe-ro-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	os.Chmod(base, 0o755)
	in := &incident{dir: base, state: filepath.Join(base, "state")}
	in.stores = dedupetest.Incident(t, base)
	os.MkdirAll(in.state, 0o700)
	if os.Geteuid() != 0 {
		filepath.Walk(in.stores[0], func(p string, fi os.FileInfo, err error) error {
			if err == nil && fi.IsDir() {
				os.Chmod(p, 0o555)
			}
			return nil
		})
		t.Cleanup(func() {
			filepath.Walk(in.stores[0], func(p string, fi os.FileInfo, err error) error {
				if err == nil && fi.IsDir() {
					os.Chmod(p, 0o755)
				}
				return nil
			})
		})
	}
	in.snap = dedupetest.Snapshot(t, in.stores...)
	var code int
	var errs string
	if os.Geteuid() == 0 {
		bin := filepath.Join(base, "popdedupe.test")
		b, err := os.ReadFile(os.Args[0])
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(bin, b, 0o755)
		os.Chown(in.state, 65534, 65534)
		cmd := exec.Command(bin, in.args("--apply")...)
		cmd.Env = append(os.Environ(), testMainEnv+"=1", "HOME="+base)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		var eb bytes.Buffer
		cmd.Stderr = &eb
		err = cmd.Run()
		errs = eb.String()
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("run as nobody: %v %s", err, errs)
		}
		code = ee.ExitCode()
	} else {
		code, _, errs = runCLI(t, in.args("--apply")...)
	}
	if code != exitFailed || !strings.Contains(errs, "permission denied") {
		t.Fatalf("read-only store: exit %d, %s", code, errs)
	}
	if !strings.Contains(errs, "undo with: popdedupe undo") {
		t.Errorf("the error does not say how to undo what was done: %s", errs)
	}
	in.restored(t, "after the refused run")
}

package reliability

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/popdedupe/popdedupe/internal/runlock"
	"github.com/popdedupe/popdedupe/journal"
	"github.com/popdedupe/popdedupe/pop3/pop3test"
	"github.com/popdedupe/popdedupe/reconcile"
	"github.com/popdedupe/popdedupe/scan"
	"github.com/popdedupe/popdedupe/store"
)

// Concurrency. cmd/popdedupe's TestConcurrentDelivery delivers from a
// goroutine of the same process (where fcntl locks do not exclude each
// other); here the MDAs are separate processes honouring dot-lock + fcntl
// (procmail's way) or fcntl alone (Dovecot LDA's possible setting), and
// the second popdedupe is a real second process.

// helper starts the test binary as a helper process.
func helper(t *testing.T, mode string, args ...string) (*exec.Cmd, io.WriteCloser, *bufio.Reader, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(baseEnv(), helperEnv+"="+mode)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var eb bytes.Buffer
	cmd.Stderr = &eb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Process.Kill(); cmd.Wait() })
	return cmd, stdin, bufio.NewReader(stdout), &eb
}

// TestConcurrentMDA runs `dedupe --apply` again and again while two MDA
// processes deliver into the Maildir and append to the mbox. Runs may
// refuse a store that changed under them; no delivered message is ever
// lost, each is in the stores exactly once, none is in a quarantine, and
// every original message is still somewhere.
func TestConcurrentMDA(t *testing.T) {
	rounds := 4
	if soak() {
		rounds = 40
	}
	for _, mboxKind := range []string{"mbox-dotlock", "mbox-fcntl"} {
		t.Run(mboxKind, func(t *testing.T) {
			w := genIncident(t, 77, 40)
			w.foreignLocks = true
			stop := filepath.Join(w.e.home, "stop")
			type mdaRun struct {
				cmd    *exec.Cmd
				out    *bufio.Reader
				errb   *bytes.Buffer
				prefix string
			}
			var mdas []mdaRun
			for _, m := range []struct{ kind, path, prefix string }{
				{"maildir", w.stores[0], "md"},
				{mboxKind, w.stores[1], "mb"},
			} {
				cmd, _, out, eb := helper(t, "mda", m.kind, m.path, m.prefix, stop)
				mdas = append(mdas, mdaRun{cmd, out, eb, m.prefix})
			}
			refused, runs := 0, 0
			for i := 0; i < rounds || i-refused < 2; i++ {
				runs++
				if i == 50 {
					t.Fatalf("50 runs, %d refused a changed store: no run was let through", refused)
				}
				r := w.e.run(t, nil, w.dedupeArgs("--apply")...)
				switch {
				case r.code == 0 || r.code == 4:
				case r.code == 1 && strings.Contains(r.stderr, "changed since the scan"):
					refused++
				default:
					t.Fatalf("round %d during delivery: %s", i, r)
				}
				w.noLoss(t, fmt.Sprintf("round %d", i))
			}
			os.WriteFile(stop, nil, 0o600)
			delivered := map[string]int{}
			for _, m := range mdas {
				line, _ := m.out.ReadString('\n')
				err := m.cmd.Wait()
				n, perr := strconv.Atoi(strings.TrimSpace(line))
				if err != nil || perr != nil {
					t.Fatalf("MDA %s: %v %v: %s", m.prefix, err, perr, m.errb)
				}
				delivered[m.prefix] = n
			}
			w.foreignLocks = false
			t.Logf("delivered %v during %d runs (%d refused a changed store)", delivered, runs, refused)
			wantCode(t, w.e.run(t, nil, w.dedupeArgs("--apply")...), 0, 4)
			w.noLoss(t, "after delivery")
			inStores := messageIDs(t, w.stores...)
			inQuarantine := messageIDs(t, w.quarantines()...)
			for prefix, n := range delivered {
				for i := 1; i <= n; i++ {
					id := fmt.Sprintf("%s-%d@mda.test", prefix, i)
					if inStores[id] != 1 || inQuarantine[id] != 0 {
						t.Errorf("%s: %d copies in the stores, %d in a quarantine; want 1 and 0", id, inStores[id], inQuarantine[id])
					}
				}
			}
			if _, err := os.Stat(w.stores[1] + ".lock"); err == nil {
				t.Errorf("a dot-lock was left behind")
			}
		})
	}
}

// messageIDs counts the copies of each Message-ID under roots.
func messageIDs(t *testing.T, roots ...string) map[string]int {
	t.Helper()
	out := map[string]int{}
	if len(roots) == 0 {
		return out
	}
	keys, _ := keyCounts(t, roots...)
	for k, n := range keys {
		out[k.MessageID] += n
	}
	return out
}

// TestSecondPopdedupe: a second popdedupe on the same stores refuses,
// naming the holder (pid, host, time, command); a lock left by a killed
// run is taken over with a note naming the dead holder; an MDA's dot-lock
// is waited for; two runs started together never both act.
func TestSecondPopdedupe(t *testing.T) {
	t.Run("live holder", func(t *testing.T) {
		w := handIncident(t)
		_, stdin, out, eb := helper(t, "holdlock", w.e.state, w.stores[1])
		if line, err := out.ReadString('\n'); err != nil || line != "held\n" {
			t.Fatalf("lock holder: %q %v %s", line, err, eb)
		}
		files, _ := filepath.Glob(filepath.Join(w.e.state, "locks", "*.lock"))
		if len(files) != 1 {
			t.Fatalf("lock files %v", files)
		}
		var h runlock.Holder
		b, _ := os.ReadFile(files[0])
		if err := json.Unmarshal(b, &h); err != nil || h.PID == 0 || h.Host == "" || h.Time.IsZero() {
			t.Errorf("the lock file does not say who holds it: %q %v", b, err)
		}
		r := w.e.run(t, nil, w.dedupeArgs("--apply")...)
		wantCode(t, r, 1)
		for _, want := range []string{"in use by another popdedupe", "pid " + strconv.Itoa(h.PID), h.Host, "reliability lock holder"} {
			if !strings.Contains(r.stderr, want) {
				t.Errorf("the refusal does not say %q:\n%s", want, r)
			}
		}
		w.unchanged(t, "after the refusal")
		stdin.Close()
	})
	t.Run("stale lock of a killed run", func(t *testing.T) {
		w := handIncident(t)
		r := w.e.run(t, []string{journal.KillAfterEnv + "=1"}, w.dedupeArgs("--apply")...)
		if !r.killed {
			t.Fatalf("not killed: %s", r)
		}
		files, _ := filepath.Glob(filepath.Join(w.e.state, "locks", "*.lock"))
		var dead runlock.Holder
		for _, f := range files {
			b, _ := os.ReadFile(f)
			if json.Unmarshal(b, &dead) == nil && dead.PID != 0 {
				break
			}
		}
		if dead.PID == 0 {
			t.Fatalf("the killed run left no lock naming it: %v", files)
		}
		r = w.e.run(t, nil, w.dedupeArgs("--apply")...)
		wantCode(t, r, 0, 4)
		if !strings.Contains(r.stdout+r.stderr, "pid "+strconv.Itoa(dead.PID)) || !strings.Contains(r.stdout+r.stderr, "no longer running") {
			t.Errorf("the takeover of the stale lock is not reported:\n%s", r)
		}
		w.noLoss(t, "after the takeover")
	})
	t.Run("MDA dot-lock", func(t *testing.T) {
		// An MDA holds the mbox's dot-lock: dedupe waits for it and
		// then does its work.
		w := handIncident(t)
		_, stdin, out, eb := helper(t, "holddot", w.stores[1])
		if line, err := out.ReadString('\n'); err != nil || line != "held\n" {
			t.Fatalf("dot-lock holder: %q %v %s", line, err, eb)
		}
		cmd, o, e := w.e.start(t, nil, w.dedupeArgs("--apply")...)
		time.Sleep(300 * time.Millisecond) // not an assertion: the run must wait however long this is
		before, _ := os.ReadFile(w.stores[1])
		if string(before)+"\x00mode:-rw-r--r--" != w.snap[w.stores[1]] {
			t.Errorf("the mbox changed while an MDA held its dot-lock")
		}
		stdin.Close()
		r := wait(t, cmd, o, e)
		wantCode(t, r, 0, 4)
		w.noLoss(t, "after waiting for the dot-lock")
	})
	t.Run("stale MDA dot-lock", func(t *testing.T) {
		w := handIncident(t)
		dot := w.stores[1] + ".lock"
		os.WriteFile(dot, []byte("99999\n"), 0o644)
		old := time.Now().Add(-10 * time.Minute)
		os.Chtimes(dot, old, old)
		r := w.e.run(t, nil, w.dedupeArgs("--apply")...)
		wantCode(t, r, 0, 4)
		if _, err := os.Stat(dot); err == nil {
			t.Errorf("the stale dot-lock is still there")
		}
		w.noLoss(t, "after removing a stale dot-lock")
	})
	t.Run("two at once", func(t *testing.T) {
		trials := 3
		if soak() {
			trials = 30
		}
		for i := 0; i < trials; i++ {
			w := genIncident(t, int64(500+i), 80)
			var wg sync.WaitGroup
			res := make([]result, 2)
			for k := range res {
				cmd, o, e := w.e.start(t, nil, w.dedupeArgs("--apply", "--json")...)
				wg.Add(1)
				go func() { defer wg.Done(); res[k] = waitNoFatal(cmd, o, e) }()
			}
			wg.Wait()
			acted := 0
			for _, r := range res {
				noPanic(t, r)
				switch {
				case r.code == 0 || r.code == 4:
					if !strings.Contains(r.stdout, `"removed": 0`) {
						acted++
					}
				case r.code == 1 && strings.Contains(r.stderr, "in use by another popdedupe"):
				default:
					t.Fatalf("concurrent run: %s", r)
				}
			}
			if acted == 0 {
				t.Errorf("neither run removed anything")
			}
			w.noLoss(t, "after two concurrent runs")
			if r := w.e.run(t, nil, w.dedupeArgs("--json")...); !strings.Contains(r.stdout, `"removed": 0`) {
				t.Errorf("duplicates left after two concurrent runs:\n%s", r)
			}
		}
	})
}

// waitNoFatal is wait for use off the test goroutine.
func waitNoFatal(cmd *exec.Cmd, o, eb *bytes.Buffer) result {
	err := cmd.Wait()
	r := result{args: cmd.Args[1:], stdout: o.String(), stderr: eb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		r.code = -2
		r.stderr += err.Error()
	}
	return r
}

// TestKilledHoldingDotLock: reconcile killed the instant it holds the dot-lock
// of the mbox it fetches into. The dot-lock it leaves names its (dead)
// holder, so the rerun takes it over at once and finishes. (Found by
// TestKillReconcileRandom: the dot-lock used to be created empty and then
// written, and a kill in between left an empty lock that looked alive for
// 5 minutes; the rerun then waited 30 s per message to fetch.)
func TestKilledHoldingDotLock(t *testing.T) {
	w := serverIncident(t, pop3test.Config{}, 8)
	mbox := filepath.Join(w.dir, "recovered.mbox")
	r := w.e.run(t, []string{journal.KillAtEnv + "=mbox.dotlock:2"}, w.reconcileArgs("mbox:"+mbox)...)
	if !r.killed {
		t.Fatalf("not killed at the second dot-lock: %s", r)
	}
	b, err := os.ReadFile(mbox + ".lock")
	if err != nil || len(strings.Fields(string(b))) != 2 {
		t.Fatalf("dot-lock left by the killed run: %q %v; want \"PID HOST\"", b, err)
	}
	if left, _ := filepath.Glob(mbox + ".lock.*"); len(left) > 0 {
		t.Errorf("temporary dot-lock files left: %v", left)
	}
	r = w.e.run(t, nil, w.reconcileArgs("mbox:"+mbox)...)
	wantCode(t, r, 0)
	if left := w.uids(); len(left) != 0 {
		t.Errorf("left on the server: %v", left)
	}
	if _, err := os.Stat(mbox + ".lock"); err == nil {
		t.Errorf("the dead run's dot-lock is still there")
	}
	w.noLoss(t, "after the rerun", mbox)
	w.checkFetchTarget(t, mbox, "after the rerun")
}

// TestFetchIntoLockedMbox: another program holds the fetch target's
// dot-lock for the whole run. Reconcile waits once (store.LockTimeout, cut
// to 100 ms here, in process), then gives up on every message, which stay
// on the server; it used to wait the full timeout again for each message.
func TestFetchIntoLockedMbox(t *testing.T) {
	old := store.LockTimeout
	store.LockTimeout = 100 * time.Millisecond
	t.Cleanup(func() { store.LockTimeout = old })
	w := serverIncident(t, pop3test.Config{}, 10)
	mbox := filepath.Join(w.dir, "recovered.mbox")
	if err := os.WriteFile(mbox+".lock", []byte("4242 mda.example.org\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := scan.Scan(context.Background(), w.stores, scan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	j, err := journal.Create(w.e.state, journal.NewRunID())
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	out, err := reconcile.Run(context.Background(), res, reconcile.Options{
		Server: w.srv.Addr(), User: srvUser, Password: password, TLS: reconcile.TLSNone,
		Apply: true, DeleteSaved: true, FetchMissing: "mbox:" + mbox, Journal: j,
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	notFetched := 0
	for _, m := range out.Messages {
		if m.Verdict == reconcile.Missing {
			notFetched++
			if !strings.Contains(m.Note, "locked by another program") {
				t.Errorf("%s: note %q", m.UIDL, m.Note)
			}
		}
	}
	if notFetched != 5 || len(w.srv.Messages(srvUser)) != 5 {
		t.Errorf("%d not fetched, %d left on the server; want the 5 missing in both", notFetched, len(w.srv.Messages(srvUser)))
	}
	es, _ := journal.Read(j.Path())
	tries := 0
	for _, e := range es {
		if e.Op == reconcile.OpFetch && e.State == journal.Begin {
			tries++
		}
	}
	if tries != 1 {
		t.Errorf("%d fetch attempts on a locked mbox, want 1 (each waits the lock timeout)", tries)
	}
}

package realclient

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// lostChild follows getmail6's delivery: fork, then install the SIGCHLD
// handler, then wait for the handler's notice. The child exits at once
// and the parent is slow, so the child's SIGCHLD comes before the handler.
const lostChild = `
import os, signal, sys, time, threading
cond = threading.Condition()
def handler(sig, frame):
    os.waitpid(pid, 0)
    with cond:
        cond.notify_all()
pid = os.fork()
if pid == 0:
    os._exit(0)
time.sleep(0.5)
signal.signal(signal.SIGCHLD, handler)
with cond:
    if not cond.wait(2):
        print("waiting child pid %d timed out" % pid)
        sys.exit(1)
print("reaped")
`

// TestNudgeFindsLostChild: without the nudge such a process waits out its
// timeout and fails (getmail's 180 s hang); with it, the child is reaped.
func TestNudgeFindsLostChild(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found (getmail6 needs it too)")
	}
	script := filepath.Join(t.TempDir(), "lost.py")
	if err := os.WriteFile(script, []byte(lostChild), 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, []int{1}, false, py, script) // the race, without the nudge
	run(t, []int{0}, true, py, script)
}

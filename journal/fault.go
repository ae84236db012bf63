package journal

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Environment variables of the fault-injection hooks (see the package
// documentation). Tests only.
const (
	KillAfterEnv = "POPDEDUPE_FAULT_KILL_AFTER"
	KillAtEnv    = "POPDEDUPE_FAULT_KILL_AT"
)

var fault struct {
	sync.Mutex
	lines  int
	points map[string]int
}

// lineWritten counts journal lines and kills the process after the k-th
// when KillAfterEnv=k.
func lineWritten() {
	v := os.Getenv(KillAfterEnv)
	if v == "" {
		return
	}
	fault.Lock()
	fault.lines++
	n := fault.lines
	fault.Unlock()
	if k, err := strconv.Atoi(v); err == nil && k == n {
		die()
	}
}

// FaultPoint marks an instant inside a step (for example between writing
// the quarantine copies of an mbox and renaming its new version into
// place) where the crash tests may kill the process: it does so at the
// k-th passage when KillAtEnv is "name:k". Without the variable it does
// nothing.
func FaultPoint(name string) {
	v := os.Getenv(KillAtEnv)
	if v == "" {
		return
	}
	want, ks, _ := strings.Cut(v, ":")
	if want != name {
		return
	}
	k := 1
	if ks != "" {
		if n, err := strconv.Atoi(ks); err == nil {
			k = n
		}
	}
	fault.Lock()
	if fault.points == nil {
		fault.points = map[string]int{}
	}
	fault.points[name]++
	n := fault.points[name]
	fault.Unlock()
	if n == k {
		die()
	}
}

func die() {
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {} // SIGKILL cannot be caught; never return into the step
}

package runlock

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestAcquire(t *testing.T) {
	state := t.TempDir()
	store := t.TempDir()
	l, err := Acquire(state, store, "first")
	if err != nil {
		t.Fatal(err)
	}
	if l.Stale != nil {
		t.Errorf("fresh lock reported stale: %v", l.Stale)
	}
	_, err = Acquire(state, store+"/", "second") // same store, spelled differently
	var he *HeldError
	if !errors.As(err, &he) || !errors.Is(err, ErrHeld) || he.Holder.PID != os.Getpid() || he.Holder.Command != "first" {
		t.Fatalf("second Acquire: %v, want a HeldError naming pid %d", err, os.Getpid())
	}
	if other, err := Acquire(state, t.TempDir(), "other store"); err != nil {
		t.Errorf("another store: %v", err)
	} else {
		other.Release()
	}
	l.Release()
	l.Release()
	l2, err := Acquire(state, store, "third")
	if err != nil || l2.Stale != nil {
		t.Fatalf("after release: %v stale %v", err, l2.Stale)
	}
	l2.Release()
}

// TestStale: a lock file left with content by a process that died (so
// its flock is gone) is taken over with a note naming it.
func TestStale(t *testing.T) {
	state := t.TempDir()
	store := t.TempDir()
	l, err := Acquire(state, store, "x")
	if err != nil {
		t.Fatal(err)
	}
	file := l.File
	l.Release()
	dead := Holder{PID: 999999, Host: "h", Time: time.Now(), Store: store, Command: "killed run"}
	b, _ := json.Marshal(dead)
	os.WriteFile(file, b, 0o600)
	l, err = Acquire(state, store, "y")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if l.Stale == nil || l.Stale.PID != 999999 || !strings.Contains(l.Note(), "killed run") {
		t.Errorf("stale lock not reported: %+v %q", l.Stale, l.Note())
	}
	if filepath.Dir(l.File) != filepath.Join(state, "locks") {
		t.Errorf("lock file %s not under the state dir", l.File)
	}
}

func TestAcquireAll(t *testing.T) {
	state := t.TempDir()
	a, b := t.TempDir(), t.TempDir()
	held, _ := Acquire(state, b, "holder")
	if _, err := AcquireAll(state, []string{a, b}, "all"); !errors.Is(err, ErrHeld) {
		t.Fatalf("AcquireAll with one held: %v", err)
	}
	// a was released again.
	if l, err := Acquire(state, a, "x"); err != nil {
		t.Errorf("a stayed locked after a failed AcquireAll: %v", err)
	} else {
		l.Release()
	}
	held.Release()
	s, err := AcquireAll(state, []string{a, b, a}, "all")
	if err != nil || len(s) != 2 {
		t.Fatalf("AcquireAll: %v, %d locks", err, len(s))
	}
	s.Release()
}

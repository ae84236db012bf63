// Package runlock owns the rule "one popdedupe per store": a lock file in
// the state directory, keyed by the store's absolute path, that says who
// holds it (pid, host, time, command).
//
// The lock itself is a flock(2) on that file, which the kernel drops when
// the holder dies, however it dies; the JSON inside is only for messages.
// So a lock left by a process that was killed is taken over at once, with
// a note naming the dead holder, and a live holder is named in the error.
// The file is never removed (removing a locked file lets two processes
// lock two different files of the same name); an empty file means free.
package runlock

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Holder is what a lock file says about the process holding it.
type Holder struct {
	PID     int       `json:"pid"`
	Host    string    `json:"host"`
	Time    time.Time `json:"time"`
	Store   string    `json:"store"`
	Command string    `json:"command,omitempty"`
}

func (h Holder) String() string {
	s := fmt.Sprintf("pid %d on %s since %s", h.PID, h.Host, h.Time.Local().Format(time.RFC3339))
	if h.Command != "" {
		s += " (" + h.Command + ")"
	}
	return s
}

// ErrHeld is wrapped by the error of Acquire when another process holds
// the lock.
var ErrHeld = errors.New("store is in use by another popdedupe")

// HeldError says who holds a store.
type HeldError struct {
	Store  string
	Holder Holder // zero when the lock file could not be read
}

func (e *HeldError) Error() string {
	if e.Holder.PID == 0 {
		return fmt.Sprintf("%s: %v", e.Store, ErrHeld)
	}
	return fmt.Sprintf("%s: %v: %s", e.Store, ErrHeld, e.Holder)
}

func (e *HeldError) Unwrap() error { return ErrHeld }

// Lock is a held store lock.
type Lock struct {
	f     *os.File
	Store string  // absolute path of the store
	File  string  // the lock file
	Stale *Holder // the dead holder whose lock was taken over, if any
}

// Note says that a stale lock was taken over, or "".
func (l *Lock) Note() string {
	if l.Stale == nil {
		return ""
	}
	return fmt.Sprintf("took over the lock of %s: left by %s, which is no longer running", l.Store, *l.Stale)
}

// Acquire locks store for this process, with the lock file under
// stateDir/locks. It does not wait: a store in use is an error naming its
// holder. command is recorded for that message.
func Acquire(stateDir, store, command string) (*Lock, error) {
	abs, err := filepath.Abs(store)
	if err != nil {
		return nil, fmt.Errorf("runlock: %w", err)
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		abs = r
	}
	dir := filepath.Join(stateDir, "locks")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("runlock: %w", err)
	}
	sum := sha256.Sum256([]byte(abs))
	name := hex.EncodeToString(sum[:8]) + "-" + sanitize(filepath.Base(abs)) + ".lock"
	p := filepath.Join(dir, name)
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("runlock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		h, _ := readHolder(f)
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, &HeldError{Store: abs, Holder: h}
		}
		return nil, fmt.Errorf("runlock %s: %w", p, err)
	}
	l := &Lock{f: f, Store: abs, File: p}
	if h, err := readHolder(f); err == nil && h.PID != 0 {
		l.Stale = &h
	}
	host, _ := os.Hostname()
	b, _ := json.Marshal(Holder{PID: os.Getpid(), Host: host, Time: time.Now().UTC(), Store: abs, Command: command})
	err = f.Truncate(0)
	if err == nil {
		_, err = f.WriteAt(append(b, '\n'), 0)
	}
	if err != nil {
		l.Release()
		return nil, fmt.Errorf("runlock %s: %w", p, err)
	}
	return l, nil
}

// Release empties the lock file and unlocks it. Safe to call twice.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Truncate(0)
	if cerr := l.f.Close(); err == nil { // closing drops the flock
		err = cerr
	}
	l.f = nil
	return err
}

func readHolder(f *os.File) (Holder, error) {
	var h Holder
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 {
		return h, err
	}
	b := make([]byte, min(fi.Size(), 1<<16))
	n, _ := f.ReadAt(b, 0)
	err = json.Unmarshal(b[:n], &h)
	return h, err
}

func sanitize(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '/' || r < ' ' || r == ':' {
			return '_'
		}
		return r
	}, s)
	if len(s) > 64 {
		s = s[:64]
	}
	return s
}

// Set is a set of locks taken together.
type Set []*Lock

// AcquireAll locks every store, or none: on the first failure it releases
// what it took.
func AcquireAll(stateDir string, stores []string, command string) (Set, error) {
	var s Set
	seen := map[string]bool{}
	for _, st := range stores {
		l, err := Acquire(stateDir, st, command)
		if err != nil {
			var he *HeldError
			if errors.As(err, &he) && seen[he.Store] {
				continue // the same store named twice
			}
			s.Release()
			return nil, err
		}
		seen[l.Store] = true
		s = append(s, l)
	}
	return s, nil
}

// Notes are the stale-lock notes of the set.
func (s Set) Notes() []string {
	var out []string
	for _, l := range s {
		if n := l.Note(); n != "" {
			out = append(out, n)
		}
	}
	return out
}

// Release releases every lock.
func (s Set) Release() {
	for _, l := range s {
		l.Release()
	}
}

// Package journal owns the run journal: an append-only file of JSON lines
// that records every step popdedupe takes on a store before it takes it,
// and the driver that undoes a run by replaying its journal backwards.
//
// A journal is written as $XDG_STATE_HOME/popdedupe/journal-<run-id>.jsonl
// (default ~/.local/state/popdedupe/), mode 0600 in a 0700 directory. Each
// line is one Entry. A step is written twice: state "begin" before it is
// taken (and fsync'd, so the record survives a crash that interrupts the
// step), and state "done" after it succeeded. Undo appends state "undone"
// lines as it goes, so an interrupted undo can be run again.
//
// The package knows nothing about stores: operations are named in
// namespaces ("maildir.", "mbox.", "pop3.") by the packages that take
// them, which put their details in Entry.Data and register an undo
// Handler per operation or namespace. So reconcile and repair can share
// one journal with dedupe.
//
// # Fault injection (tests only)
//
// Two environment variables make the process kill itself with SIGKILL, so
// that tests can crash a run at chosen instants:
//
//	POPDEDUPE_FAULT_KILL_AFTER=k   right after the k-th journal line this process wrote is on disk
//	POPDEDUPE_FAULT_KILL_AT=name:k at the k-th time the code passes FaultPoint(name) (":k" may be left out: 1)
//
// They are never set in normal use.
package journal

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// State is the state a journal line records for its step.
type State string

const (
	Begin  State = "begin"  // written before the step is taken
	Done   State = "done"   // the step succeeded
	Failed State = "failed" // the step failed; Error says why (it may have been partly taken)
	Undone State = "undone" // undo reversed the step
)

// Entry is one line of a journal.
type Entry struct {
	Seq   int       `json:"seq"`   // step number, from 1; every line of a step carries it
	Op    string    `json:"op"`    // "namespace.operation", e.g. "maildir.quarantine"
	State State     `json:"state"` // begin, done, failed or undone
	Time  time.Time `json:"time"`
	From  string    `json:"from,omitempty"` // the file the step takes from or changes
	To    string    `json:"to,omitempty"`   // where it puts it
	// Data holds the operation's own details (flags, mbox offsets, ...).
	Data  json.RawMessage `json:"data,omitempty"`
	Error string          `json:"error,omitempty"`
}

// Decode unmarshals e.Data into v.
func (e *Entry) Decode(v any) error {
	if len(e.Data) == 0 {
		return fmt.Errorf("journal step %d (%s): no data", e.Seq, e.Op)
	}
	if err := json.Unmarshal(e.Data, v); err != nil {
		return fmt.Errorf("journal step %d (%s): %w", e.Seq, e.Op, err)
	}
	return nil
}

// Journal is an open journal file. Its methods are safe for concurrent
// use; lines are written whole, one write each, and fsync'd.
type Journal struct {
	mu   sync.Mutex
	f    *os.File
	path string
	seq  int
}

// DefaultStateDir is $XDG_STATE_HOME/popdedupe, or
// ~/.local/state/popdedupe when XDG_STATE_HOME is unset or not absolute
// (XDG Base Directory Specification).
func DefaultStateDir() (string, error) {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "popdedupe"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("journal: no state directory: %w", err)
	}
	return filepath.Join(home, ".local", "state", "popdedupe"), nil
}

// NewRunID returns a run id that sorts by time and is unique:
// 20260102T150405Z-1a2b3c.
func NewRunID() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	// Microseconds, so that runs in the same second sort in order.
	return time.Now().UTC().Format("20060102T150405.000000Z") + "-" + hex.EncodeToString(b[:])
}

// Path returns the journal file of a run in stateDir.
func Path(stateDir, runID string) string {
	return filepath.Join(stateDir, "journal-"+runID+".jsonl")
}

// Create creates the journal of a new run in stateDir (made 0700 if
// missing). It fails if that journal exists.
func Create(stateDir, runID string) (*Journal, error) {
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	p := Path(stateDir, runID)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	if err := syncDir(stateDir); err != nil {
		f.Close()
		return nil, fmt.Errorf("journal: %w", err)
	}
	return &Journal{f: f, path: p}, nil
}

// OpenAppend opens an existing journal to add lines (undo does).
func OpenAppend(path string) (*Journal, error) {
	entries, err := Read(path)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	j := &Journal{f: f, path: path}
	for _, e := range entries {
		j.seq = max(j.seq, e.Seq)
	}
	if err := j.terminate(); err != nil {
		f.Close()
		return nil, err
	}
	return j, nil
}

// terminate cuts a last line torn by a crash (never a committed record:
// Read ignores it) so that the next line starts on its own.
func (j *Journal) terminate() error {
	b, err := os.ReadFile(j.path)
	if err != nil || len(b) == 0 || b[len(b)-1] == '\n' {
		return err
	}
	if err := j.f.Truncate(int64(bytes.LastIndexByte(b, '\n') + 1)); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return j.f.Sync()
}

// Path is the journal's file name.
func (j *Journal) Path() string { return j.path }

// Close closes the file.
func (j *Journal) Close() error { return j.f.Close() }

// DiscardIfEmpty removes the journal when nothing was recorded in it (a
// run refused before its first step), so that no empty journal is left
// for an admin to wonder about, and reports whether it did. A journal
// with any line is kept.
func (j *Journal) DiscardIfEmpty() (bool, error) {
	fi, err := j.f.Stat()
	if err != nil || fi.Size() > 0 {
		return false, err
	}
	if err := os.Remove(j.path); err != nil {
		return false, fmt.Errorf("journal: %w", err)
	}
	return true, syncDir(filepath.Dir(j.path))
}

// Begin records that the step e is about to be taken: it gives e the next
// step number, state Begin and the time, and returns it once it is on
// disk. data, when not nil, is marshalled into e.Data.
func (j *Journal) Begin(e Entry, data any) (Entry, error) {
	if data != nil {
		b, err := json.Marshal(data)
		if err != nil {
			return e, fmt.Errorf("journal: %w", err)
		}
		e.Data = b
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.seq++
	e.Seq, e.State = j.seq, Begin
	return e, j.write(e)
}

// Finish records the outcome of a begun step: Done when err is nil, else
// Failed with the error. It returns the error it was given, or the
// journal's own error when the line could not be written.
func (j *Journal) Finish(e Entry, err error) error {
	e.State, e.Data, e.Error = Done, nil, ""
	if err != nil {
		e.State, e.Error = Failed, err.Error()
	}
	j.mu.Lock()
	werr := j.write(e)
	j.mu.Unlock()
	if err != nil {
		return err
	}
	return werr
}

// Mark appends a line for step e with the given state (Undone).
func (j *Journal) Mark(e Entry, s State) error {
	e.State, e.Data, e.Error = s, nil, ""
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.write(e)
}

// write appends one line and fsyncs it. Called with j.mu held.
func (j *Journal) write(e Entry) error {
	e.Time = time.Now().UTC()
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	b = append(b, '\n')
	if _, err := j.f.Write(b); err != nil {
		return fmt.Errorf("journal %s: %w", j.path, err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("journal %s: %w", j.path, err)
	}
	lineWritten()
	return nil
}

// Read returns the lines of a journal. A last line cut short by a crash
// (no final newline, not valid JSON) is ignored; any other bad line is an
// error.
func Read(path string) ([]Entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var out []Entry
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("journal %s: %w", path, err)
		}
		complete := bytes.HasSuffix(line, []byte("\n"))
		if t := bytes.TrimSpace(line); len(t) > 0 {
			var e Entry
			if jerr := json.Unmarshal(t, &e); jerr != nil {
				if !complete {
					break // torn by a crash while it was being written
				}
				return nil, fmt.Errorf("journal %s:%d: %v", path, n, jerr)
			}
			if e.Seq <= 0 || e.Op == "" {
				return nil, fmt.Errorf("journal %s:%d: not a journal line", path, n)
			}
			out = append(out, e)
		}
		if err == io.EOF {
			break
		}
	}
	return out, nil
}

// Step is one step of a journal with what became of it.
type Step struct {
	Entry          // the Begin line (Data included)
	Done    bool   // a Done line follows
	Failed  string // the error of a Failed line
	Undone  bool   // an Undone line follows
	Started bool   // false for a step seen only through later lines (should not happen)
}

// Steps folds the lines of a journal into steps, in step order.
func Steps(entries []Entry) []Step {
	idx := map[int]int{}
	var steps []Step
	for _, e := range entries {
		i, ok := idx[e.Seq]
		if !ok {
			i = len(steps)
			idx[e.Seq] = i
			steps = append(steps, Step{Entry: e})
		}
		s := &steps[i]
		switch e.State {
		case Begin:
			s.Entry, s.Started = e, true
		case Done:
			s.Done = true
		case Failed:
			s.Failed = e.Error
			if s.Failed == "" {
				s.Failed = "failed"
			}
		case Undone:
			s.Undone = true
		}
	}
	return steps
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return err
	}
	return nil
}

// namespace is the part of an op before its first dot.
func namespace(op string) string {
	if i := strings.IndexByte(op, '.'); i >= 0 {
		return op[:i]
	}
	return op
}

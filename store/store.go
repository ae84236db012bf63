// Package store owns every change popdedupe makes to a mail store: moving
// a Maildir message into the quarantine or deleting it, merging flags
// onto a kept Maildir copy, rewriting an mbox file without its extra
// copies, and delivering new messages (DeliverMaildir, AppendMbox).
//
// Every destructive change goes through one choke point, a Mutator, which
// for each step
//
//  1. re-reads the copy to remove and checks that its fingerprint is still
//     the one the plan saw, and re-reads and re-checks the copy that is
//     kept, so that no step can remove the last copy of a message;
//  2. writes the step to the journal (fsync'd) before touching anything;
//  3. takes the step so that nothing half-written is ever visible: new
//     files are written under another name, fsync'd, renamed into place
//     without replacing anything, and their directory fsync'd, as restic
//     does (internal/backend/local);
//  4. records that the step is done.
//
// Undo for each operation is in UndoHandlers; the journal package replays
// a journal backwards with them.
//
// # Maildir
//
// Files are moved by rename(2). go-maildir's Message.SetFlags and MoveTo
// are not used for the moves because they rename without fsyncing the
// directory and cannot be told the target before the rename (which the
// journal needs); go-maildir's Create and Delivery are not used for
// writing because Create commits on Close even after a failed write and
// neither fsyncs. Flags are go-maildir's Flag letters, and names are
// formed as go-maildir forms them: the unique part, ":2,", the flags in
// ASCII order.
//
// # mbox
//
// An mbox is rewritten into a hidden temporary file beside it
// (".NAME.popdedupe-tmp": hidden so that a scan of the directory never
// takes it for a mailbox), fsync'd and renamed over the original while
// the locks mail programs honour are held: the dot-lock NAME.lock, an
// fcntl write lock and a flock. Kept messages are copied byte for byte
// (From_ line included); mode and owner are kept. If the file changed
// since the scan (size or modification time, for example new mail), the
// rewrite is refused. One residual risk is documented in AppendMbox's
// comment.
package store

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"

	"github.com/popdedupe/popdedupe/fingerprint"
	"github.com/popdedupe/popdedupe/journal"
	"github.com/popdedupe/popdedupe/scan"
)

var (
	// ErrChanged says a copy is not what the scan saw: its fingerprint,
	// size or modification time differ. Rescan.
	ErrChanged = errors.New("changed since the scan")
	// ErrVanished says a file the plan names is gone.
	ErrVanished = errors.New("vanished since the scan")
	// ErrSymlink says a message or mbox path is a symbolic link, which
	// popdedupe never follows when changing a store.
	ErrSymlink = errors.New("is a symbolic link (not followed)")
)

// Journal operations written by this package.
const (
	OpRun             = "run"                // the header of a run: stores, quarantine
	OpMaildirFlags    = "maildir.flags"      // rename a kept copy to merged flags
	OpMaildirQuarant  = "maildir.quarantine" // move an extra copy into the quarantine
	OpMaildirDelete   = "maildir.delete"     // delete an extra copy for good (--delete)
	OpMboxRewrite     = "mbox.rewrite"       // rewrite an mbox without extra copies
	tmpSuffix         = ".popdedupe-tmp"
	quarantineTmpPerm = 0o600
)

// Copy locates one stored copy of a message.
type Copy struct {
	Path string // the Maildir file, or the mbox file
	// For an mbox copy: the offset of its From_ line and its length up to
	// the next message. Length 0 means a Maildir file.
	Offset int64 `json:",omitempty"`
	Length int64 `json:",omitempty"`
}

// IsMbox reports whether c is a message inside an mbox file.
func (c Copy) IsMbox() bool { return c.Length > 0 }

func (c Copy) String() string {
	if c.IsMbox() {
		return fmt.Sprintf("%s@%d", c.Path, c.Offset)
	}
	return c.Path
}

// Run is the header of a run's journal: undo locks Stores and cleans up
// after the mbox files in Mboxes.
type Run struct {
	RunID      string   `json:"run_id"`
	Command    string   `json:"command"`
	Stores     []string `json:"stores"`
	Mboxes     []string `json:"mboxes,omitempty"`
	Quarantine string   `json:"quarantine,omitempty"`
	Delete     bool     `json:"delete,omitempty"`
}

// Mutator is the choke point. Its methods are not safe for concurrent use.
type Mutator struct {
	j          *journal.Journal
	quarantine string
	qReady     bool
	parser     *fingerprint.Parser
}

// NewMutator returns the choke point writing to j, with quarantine as the
// quarantine Maildir (created on first use; may be "" when every removal
// is a deletion).
func NewMutator(j *journal.Journal, quarantine string) *Mutator {
	return &Mutator{j: j, quarantine: quarantine, parser: fingerprint.NewParser()}
}

// Journal returns the journal the mutator writes.
func (m *Mutator) Journal() *journal.Journal { return m.j }

// Quarantine returns the quarantine Maildir.
func (m *Mutator) Quarantine() string { return m.quarantine }

// StartRun writes the run header, the journal's first step.
func (m *Mutator) StartRun(r Run) error {
	e, err := m.j.Begin(journal.Entry{Op: OpRun}, r)
	if err != nil {
		return err
	}
	return m.j.Finish(e, nil)
}

// initQuarantine makes the quarantine Maildir (cur, new, tmp; 0700).
func (m *Mutator) initQuarantine() error {
	if m.qReady {
		return nil
	}
	if m.quarantine == "" {
		return errors.New("store: no quarantine directory")
	}
	if err := initMaildir(m.quarantine); err != nil {
		return fmt.Errorf("quarantine %s: %w", m.quarantine, err)
	}
	m.qReady = true
	return nil
}

func initMaildir(dir string) error {
	for _, d := range []string{dir, filepath.Join(dir, "cur"), filepath.Join(dir, "new"), filepath.Join(dir, "tmp")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	if err := syncDir(dir); err != nil {
		return err
	}
	return syncDir(filepath.Dir(dir))
}

// openMessage opens a Maildir message file for reading without following
// a symbolic link, and checks it is a regular file.
func openMessage(path string) (*os.File, os.FileInfo, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		switch {
		case errors.Is(err, syscall.ELOOP):
			return nil, nil, fmt.Errorf("%s: %w", path, ErrSymlink)
		case errors.Is(err, os.ErrNotExist):
			return nil, nil, fmt.Errorf("%s: %w", path, ErrVanished)
		}
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, fmt.Errorf("%s: not a regular file", path)
	}
	return f, fi, nil
}

// Verify re-reads a copy and checks its fingerprint is want.
func (m *Mutator) Verify(c Copy, want fingerprint.Key) error {
	return verifyCopy(m.parser, c, want)
}

func verifyCopy(p *fingerprint.Parser, c Copy, want fingerprint.Key) error {
	if c.IsMbox() {
		f, err := os.Open(c.Path)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("%s: %w", c.Path, ErrVanished)
			}
			return err
		}
		defer f.Close()
		return verifyMboxCopy(p, f, c, want)
	}
	f, fi, err := openMessage(c.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	return checkPrint(p, f, fi.Size(), c, want)
}

// verifyMboxCopy checks the message at c.Offset of the open mbox f: a
// From_ line there, c.Length bytes long, with fingerprint want.
func verifyMboxCopy(p *fingerprint.Parser, f io.ReaderAt, c Copy, want fingerprint.Key) error {
	mr := scan.NewMboxReader(io.NewSectionReader(f, c.Offset, c.Length))
	env, body, err := mr.Next()
	if err != nil {
		return fmt.Errorf("%s: no message at offset %d (%v): %w", c.Path, c.Offset, err, ErrChanged)
	}
	if err := checkPrint(p, body, -1, c, want); err != nil {
		return err
	}
	if _, err := io.Copy(io.Discard, body); err != nil {
		return err
	}
	if env.Length != c.Length {
		return fmt.Errorf("%s: message at offset %d is %d bytes, the scan saw %d: %w", c.Path, c.Offset, env.Length, c.Length, ErrChanged)
	}
	return nil
}

func checkPrint(p *fingerprint.Parser, r io.Reader, size int64, c Copy, want fingerprint.Key) error {
	pr, err := p.Sum(r, size, true)
	if err != nil {
		return fmt.Errorf("%s: %v: %w", c, err, ErrChanged)
	}
	if pr.Key() != want {
		return fmt.Errorf("%s: fingerprint differs from the scan's: %w", c, ErrChanged)
	}
	return nil
}

package reconcile

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/popdedupe/popdedupe/report"
	"github.com/popdedupe/popdedupe/scan"
	"github.com/popdedupe/popdedupe/store"
)

// fetcher saves missing messages into the --fetch-missing target. During
// retrieval a message's bytes go to a temporary file next to the target
// (a Maildir's tmp/, or the mbox file's directory), so no message is
// retrieved twice; commit then saves it durably with package store.
type fetcher struct {
	kind   fetchKind
	path   string
	tmp    string          // directory for temporary files
	temps  map[string]bool // temporary files still to remove
	prefix string          // of the temporary files' names
	seq    int
	mbox   int // messages in the mbox so far (for ordinals)
}

// newFetcher checks the target and prepares it: a new Maildir is created
// (cur/, new/, tmp/, mode 0700), a new mbox file created empty (0600).
// Nothing is created in a dry run.
// halfMadeMaildir reports whether a directory holds nothing but some of
// cur/, new/ and tmp/, all empty (a run killed while creating the Maildir
// leaves that): it is completed, not refused.
func halfMadeMaildir(dir string, ents []os.DirEntry) bool {
	for _, e := range ents {
		if n := e.Name(); !e.IsDir() || n != "cur" && n != "new" && n != "tmp" {
			return false
		}
		if sub, err := os.ReadDir(filepath.Join(dir, e.Name())); err != nil || len(sub) > 0 {
			return false
		}
	}
	return true
}

func newFetcher(spec string, apply bool) (*fetcher, string, error) {
	kind, path, err := fetchTarget(spec)
	if err != nil {
		return nil, "", err
	}
	f := &fetcher{kind: kind, path: path}
	switch kind {
	case fetchMaildir:
		f.tmp = filepath.Join(path, "tmp")
		if fi, err := os.Stat(path); err == nil {
			if !fi.IsDir() {
				return nil, path, fmt.Errorf("%w: --fetch-missing %s is not a directory", ErrUsage, path)
			}
			if !scan.IsMaildir(path) {
				if ents, _ := os.ReadDir(path); !halfMadeMaildir(path, ents) {
					return nil, path, fmt.Errorf("%w: --fetch-missing %s is a directory but not a Maildir (no cur/ and new/)", ErrUsage, path)
				}
			}
		}
		if !apply {
			return f, path, nil
		}
		for _, sub := range []string{"", "cur", "new", "tmp"} {
			if err := os.MkdirAll(filepath.Join(path, sub), 0o700); err != nil {
				return nil, path, fmt.Errorf("reconcile: creating Maildir %s: %w", path, err)
			}
		}
	case fetchMbox:
		f.tmp = filepath.Dir(path)
		fi, err := os.Lstat(path)
		switch {
		case err == nil && !fi.Mode().IsRegular():
			return nil, path, fmt.Errorf("%w: --fetch-missing %s is not a regular file", ErrUsage, path)
		case err == nil:
			if fi.Size() > 0 {
				if err := f.countMbox(); err != nil {
					return nil, path, err
				}
				if torn, err := endsTorn(path, fi.Size()); err != nil || torn {
					if err == nil {
						err = fmt.Errorf("reconcile: --fetch-missing %s: its last message has no final newline (cut short by a killed run, or still being written); undo that run (popdedupe undo JOURNAL cuts it off) or end the file after its last whole message, then run again", path)
					}
					return nil, path, err
				}
			}
		case errors.Is(err, os.ErrNotExist):
			if !apply {
				return f, path, nil
			}
			nf, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return nil, path, fmt.Errorf("reconcile: creating mbox: %w", err)
			}
			nf.Close()
		default:
			return nil, path, fmt.Errorf("reconcile: --fetch-missing: %w", err)
		}
	}
	if apply {
		f.removeLeftovers()
		// Fail now, before the login, if the target is not writable.
		t, err := f.tempFile()
		if err != nil {
			return nil, path, err
		}
		t.Close()
		os.Remove(t.Name())
	}
	return f, path, nil
}

// endsTorn reports whether the mbox at path (size bytes) does not end
// with a line feed: its last message was cut short.
func endsTorn(path string, size int64) (bool, error) {
	fh, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer fh.Close()
	b := make([]byte, 1)
	if _, err := fh.ReadAt(b, size-1); err != nil {
		return false, err
	}
	return b[0] != '\n', nil
}

// countMbox counts the messages of an existing mbox (refusing a file that
// is not one), so that fetched messages get their ordinals.
func (f *fetcher) countMbox() error {
	fh, err := os.Open(f.path)
	if err != nil {
		return fmt.Errorf("reconcile: --fetch-missing: %w", err)
	}
	defer fh.Close()
	mr := scan.NewMboxReader(fh)
	for {
		_, _, err := mr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reconcile: --fetch-missing %s: %w", f.path, err)
		}
		f.mbox++
	}
}

// tempFile is the temporary file of one retrieved message, written with
// plain system calls: an os.File costs five more per file (fcntl to probe
// and set non-blocking mode, an epoll registration a regular file
// refuses), 100,000 for 20,000 messages.
type tempFile struct {
	fd   int
	name string
}

func (t *tempFile) Write(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k, err := unix.Write(t.fd, p[n:])
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return n, &os.PathError{Op: "write", Path: t.name, Err: err}
		}
		n += k
	}
	return n, nil
}

// Close closes the file (its data is made durable later, by the commit).
func (t *tempFile) Close() error {
	if err := unix.Close(t.fd); err != nil {
		return &os.PathError{Op: "close", Path: t.name, Err: err}
	}
	return nil
}

// Name is the file's path.
func (t *tempFile) Name() string { return t.name }

// targetPrefix starts the names of the temporary files fetched for this
// target: ".popdedupe-fetch-", a hash of the target's name, "-". Two mbox
// files in one directory get different ones.
func (f *fetcher) targetPrefix() string {
	h := fnv.New32a()
	h.Write([]byte(filepath.Base(f.path)))
	return filepath.Join(f.tmp, fmt.Sprintf(".popdedupe-fetch-%08x-", h.Sum32()))
}

// removeLeftovers removes the temporary files a killed run fetched for
// this target and never committed (RELIABILITY.md K2). It runs under the
// target's run lock (the caller holds it), so no live run owns them; and
// nothing was deleted on the server for them, since a DELE waits for the
// commit. A Maildir's tmp/ is only searched for our own names.
// Names are matched as strings, not as a glob: the directory's own path
// may hold '*', '?' or '['.
func (f *fetcher) removeLeftovers() {
	prefix := filepath.Base(f.targetPrefix())
	ents, _ := os.ReadDir(f.tmp)
	for _, e := range ents {
		if e.Type().IsRegular() && strings.HasPrefix(e.Name(), prefix) {
			os.Remove(filepath.Join(f.tmp, e.Name()))
		}
	}
}

// tempFile creates a temporary file for one retrieved message, named
// after its target and this run (a random part drawn once), so O_EXCL
// fails only on a name another program took.
func (f *fetcher) tempFile() (*tempFile, error) {
	if f.prefix == "" {
		var b [6]byte
		rand.Read(b[:])
		f.prefix = f.targetPrefix() + hex.EncodeToString(b[:]) + "-"
	}
	var err error
	for try := 0; try < 100; try++ {
		f.seq++
		name := f.prefix + strconv.Itoa(f.seq)
		var fd int
		fd, err = unix.Open(name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0o600)
		if err == nil {
			return &tempFile{fd: fd, name: name}, nil
		}
		if err != unix.EEXIST && err != unix.EINTR {
			break
		}
	}
	return nil, fmt.Errorf("reconcile: temporary file for a fetched message: %w", &os.PathError{Op: "open", Path: f.tmp, Err: err})
}

// commit saves the message in the temporary file tmp durably and returns
// where it is. The temporary file is removed either way.
func (f *fetcher) commit(tmp string, at time.Time) (report.Ref, error) {
	defer f.drop(tmp)
	src, err := os.Open(tmp)
	if err != nil {
		return report.Ref{}, err
	}
	defer src.Close()
	switch f.kind {
	case fetchMaildir:
		p, err := store.DeliverMaildir(f.path, src, 0)
		if err != nil {
			return report.Ref{}, err
		}
		return report.Ref{Path: p}, nil
	default:
		if err := store.AppendMbox(f.path, src, "MAILER-DAEMON", at); err != nil {
			return report.Ref{}, err
		}
		f.mbox++
		return report.Ref{Path: f.path, Index: f.mbox}, nil
	}
}

// drop removes one temporary file.
func (f *fetcher) drop(tmp string) {
	os.Remove(tmp)
	f.forget(tmp)
}

// forget stops tracking a temporary file (it was renamed into place). A
// map: removing from a slice made a batch of 20,000 quadratic.
func (f *fetcher) forget(tmp string) { delete(f.temps, tmp) }

// keep tracks a temporary file until it is committed or removed.
func (f *fetcher) keep(tmp string) {
	if f.temps == nil {
		f.temps = map[string]bool{}
	}
	f.temps[tmp] = true
}

// cleanup removes every temporary file left.
func (f *fetcher) cleanup() {
	if f == nil {
		return
	}
	for t := range f.temps {
		os.Remove(t)
	}
	f.temps = nil
}

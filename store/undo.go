package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"syscall"

	"github.com/cespare/xxhash/v2"

	"github.com/popdedupe/popdedupe/journal"
)

// UndoHandlers returns the undo of every operation this package journals.
// Each finds out how far its step got and is idempotent.
func UndoHandlers() journal.Handlers {
	return journal.Handlers{
		OpRun:            undoRun,
		OpMaildirFlags:   undoFlags,
		OpMaildirQuarant: undoQuarantine,
		OpMaildirDelete:  undoDelete,
		OpMboxRewrite:    undoRewrite,
	}
}

func exists(p string) (bool, error) {
	_, err := os.Lstat(p)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return false, err
}

// ends reports which ends of a rename step exist now: where the file
// was (From) and where the step put it (To).
func ends(s journal.Step) (fromOK, toOK bool, err error) {
	if fromOK, err = exists(s.From); err != nil {
		return false, false, err
	}
	toOK, err = exists(s.To)
	return fromOK, toOK, err
}

// Recover cleans up after a crashed run on the given mbox files: a
// dot-lock left by a popdedupe that is gone, and a half-written new
// version (".NAME.popdedupe-tmp"). It takes the mbox locks to do so.
func Recover(mboxes []string) error {
	for _, p := range mboxes {
		tmpThere, err := exists(tmpPath(p))
		if err != nil {
			return err
		}
		lockThere, err := exists(p + ".lock")
		if err != nil {
			return err
		}
		if !tmpThere && !lockThere {
			continue
		}
		if ok, _ := exists(p); !ok {
			continue
		}
		lk, err := lockMbox(p)
		if err != nil {
			return err
		}
		err = os.Remove(tmpPath(p))
		lk.unlock()
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

func undoRun(_ context.Context, s journal.Step) (string, error) {
	var r Run
	if err := s.Decode(&r); err != nil {
		return "", err
	}
	if err := Recover(r.Mboxes); err != nil {
		return "", err
	}
	// An empty quarantine is removed; one holding anything stays.
	if r.Quarantine != "" {
		empty := true
		for _, d := range []string{"cur", "new", "tmp"} {
			ents, err := os.ReadDir(filepath.Join(r.Quarantine, d))
			if err == nil && len(ents) > 0 {
				empty = false
			}
		}
		if empty {
			for _, d := range []string{"cur", "new", "tmp"} {
				os.Remove(filepath.Join(r.Quarantine, d))
			}
			os.Remove(r.Quarantine)
		}
	}
	return "", nil
}

func undoFlags(_ context.Context, s journal.Step) (string, error) {
	fromOK, toOK, err := ends(s)
	if err != nil {
		return "", err
	}
	switch {
	case fromOK && !toOK:
		return "", nil // never renamed, or already undone
	case fromOK && toOK:
		return "", fmt.Errorf("both %s and %s exist; left as they are", s.From, s.To)
	case !toOK:
		return fmt.Sprintf("kept copy %s was renamed since (flags changed by a mail client?); left as it is", s.To), nil
	}
	if err := renameNoReplace(s.To, s.From); err != nil {
		return "", err
	}
	if err := syncDir(filepath.Dir(s.From)); err != nil {
		return "", err
	}
	return "", syncDir(filepath.Dir(s.To))
}

func undoQuarantine(_ context.Context, s journal.Step) (string, error) {
	fromOK, toOK, err := ends(s)
	if err != nil {
		return "", err
	}
	switch {
	case fromOK && !toOK:
		return "", nil
	case fromOK && toOK:
		// A move across file systems cut between copy and remove.
		same, err := sameBytes(s.From, s.To)
		if err != nil {
			return "", err
		}
		if !same {
			return "", fmt.Errorf("%s and its quarantined copy %s differ; both left as they are", s.From, s.To)
		}
		if err := os.Remove(s.To); err != nil {
			return "", err
		}
		return "", syncDir(filepath.Dir(s.To))
	case !toOK:
		return "", fmt.Errorf("quarantined copy %s is gone (quarantine emptied?): %s cannot be put back", s.To, s.From)
	}
	err = renameNoReplace(s.To, s.From)
	if isCrossDevice(err) {
		tmp := filepath.Join(filepath.Dir(s.From), "."+filepath.Base(s.From)+tmpSuffix)
		os.Remove(tmp)
		if err = moveAcross(s.To, s.From, tmp); err == nil {
			err = restoreOwner(s)
		}
	}
	if err != nil {
		return "", err
	}
	if err := syncDir(filepath.Dir(s.From)); err != nil {
		return "", err
	}
	return "", syncDir(filepath.Dir(s.To))
}

// restoreOwner gives a message copied back from a quarantine on another
// file system the mode and owner the journal recorded for it.
func restoreOwner(s journal.Step) error {
	var d removeData
	if err := s.Decode(&d); err != nil || d.Mode == 0 {
		return err
	}
	if err := os.Chmod(s.From, os.FileMode(d.Mode)); err != nil {
		return err
	}
	if st, err := os.Lstat(s.From); err == nil {
		if x, ok := st.Sys().(*syscall.Stat_t); ok && (int(x.Uid) != d.UID || int(x.Gid) != d.GID) {
			return os.Lchown(s.From, d.UID, d.GID)
		}
	}
	return nil
}

func undoDelete(_ context.Context, s journal.Step) (string, error) {
	if ok, err := exists(s.From); err != nil || ok {
		return "", err // never deleted
	}
	var d removeData
	s.Decode(&d)
	return fmt.Sprintf("%s was deleted for good (--delete) and cannot be put back; its kept copy is %s", s.From, d.Kept), nil
}

func sameBytes(a, b string) (bool, error) {
	x, err := os.ReadFile(a)
	if err != nil {
		return false, err
	}
	y, err := os.ReadFile(b)
	if err != nil {
		return false, err
	}
	return bytes.Equal(x, y), nil
}

// prefixHashes hashes r and returns the hash of its first n bytes for each
// n in at (0 when r is shorter).
func prefixHashes(r io.Reader, at ...int64) (map[int64]uint64, error) {
	sort.Slice(at, func(i, j int) bool { return at[i] < at[j] })
	out := map[int64]uint64{}
	h := xxhash.New()
	var pos int64
	for _, n := range at {
		c, err := io.CopyN(h, r, n-pos)
		pos += c
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		out[n] = h.Sum64()
	}
	return out, nil
}

func undoRewrite(_ context.Context, s journal.Step) (string, error) {
	var d rewriteData
	if err := s.Decode(&d); err != nil {
		return "", err
	}
	path, q := s.From, s.To
	qfile := func(r removed) string { return filepath.Join(q, "cur", r.To) }
	lk, err := lockMbox(path)
	if err != nil {
		return "", err
	}
	defer lk.unlock()
	f := lk.f
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	hs, err := prefixHashes(io.NewSectionReader(f, 0, fi.Size()), d.NewSize, d.OrigSize)
	if err != nil {
		return "", err
	}
	os.Remove(tmpPath(path))
	if h, ok := hs[d.OrigSize]; ok && h == d.OrigHash {
		// The original (never rewritten, or already put back): the
		// quarantine copies, if any, are extra.
		if !d.Delete {
			for _, r := range d.Removed {
				if ok, err := quarantineHolds(qfile(r), r); err != nil {
					return "", err
				} else if ok {
					if err := os.Remove(qfile(r)); err != nil {
						return "", err
					}
				}
			}
			syncDir(filepath.Join(q, "cur"))
		}
		return "", nil
	}
	if h, ok := hs[d.NewSize]; !ok || h != d.NewHash {
		return "", fmt.Errorf("mbox %s changed since dedupe rewrote it: its %d removed messages stay in the quarantine %s", path, len(d.Removed), q)
	}
	if d.Delete {
		return fmt.Sprintf("%d messages were deleted for good from %s (--delete) and cannot be put back", len(d.Removed), path), nil
	}
	for _, r := range d.Removed {
		if ok, err := quarantineHolds(qfile(r), r); err != nil {
			return "", err
		} else if !ok {
			return "", fmt.Errorf("quarantined copy %s of %s#%d is gone: %s not restored", qfile(r), path, r.Index, path)
		}
	}
	rm := append([]removed(nil), d.Removed...)
	sort.Slice(rm, func(i, j int) bool { return rm[i].Offset < rm[j].Offset })
	tmp := tmpPath(path)
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	err = func() error {
		defer out.Close()
		h := &prefixWriter{h: xxhash.New(), left: d.OrigSize}
		w := io.MultiWriter(faultWriter(out), h)
		var cur, orig int64 // positions in the current and the original file
		for _, r := range rm {
			n := r.Offset - orig
			if _, err := io.Copy(w, io.NewSectionReader(f, cur, n)); err != nil {
				return err
			}
			cur += n
			if _, err := io.WriteString(w, r.FromLine); err != nil {
				return err
			}
			qf, err := os.Open(qfile(r))
			if err != nil {
				return err
			}
			_, err = io.Copy(w, qf)
			qf.Close()
			if err != nil {
				return err
			}
			orig = r.Offset + r.Length
		}
		if _, err := io.Copy(w, io.NewSectionReader(f, cur, fi.Size()-cur)); err != nil {
			return err
		}
		if h.h.Sum64() != d.OrigHash || h.left != 0 {
			return fmt.Errorf("the rebuilt mbox does not match the original: %w", ErrChanged)
		}
		st, _ := fi.Sys().(*syscall.Stat_t)
		if st != nil {
			if err := keepOwner(out, int(st.Uid), int(st.Gid)); err != nil {
				return err
			}
		}
		if err := out.Chmod(fi.Mode().Perm()); err != nil {
			return err
		}
		if err := out.Sync(); err != nil {
			return err
		}
		if err := out.Close(); err != nil {
			return err
		}
		journal.FaultPoint("undo.mbox.rename")
		if err := os.Rename(tmp, path); err != nil {
			return err
		}
		return syncDir(filepath.Dir(path))
	}()
	if err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("put back messages of %s: %w", path, err)
	}
	journal.FaultPoint("undo.mbox.renamed")
	for _, r := range rm {
		if err := os.Remove(qfile(r)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
	}
	return "", syncDir(filepath.Join(q, "cur"))
}

// prefixWriter hashes the first left bytes written to it.
type prefixWriter struct {
	h    *xxhash.Digest
	left int64
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	n := int64(len(b))
	if n > p.left {
		n = p.left
	}
	p.h.Write(b[:n])
	p.left -= n
	return len(b), nil
}

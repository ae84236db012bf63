package store

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// syncDir fsyncs a directory, so that a rename or unlink in it survives a
// crash (restic's internal/backend/local does the same).
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}

// renameNoReplace renames from to to, failing with os.ErrExist when to
// exists: a quarantine or a Maildir never has a file silently replaced.
// It uses renameat2(RENAME_NOREPLACE) where the kernel and file system
// have it, else a check before a plain rename (the caller holds the store
// lock, so only a foreign program could race it).
func renameNoReplace(from, to string) error {
	err := unix.Renameat2(unix.AT_FDCWD, from, unix.AT_FDCWD, to, unix.RENAME_NOREPLACE)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EEXIST):
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: os.ErrExist}
	case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOSYS), errors.Is(err, unix.ENOTSUP):
		if _, err := os.Lstat(to); err == nil {
			return &os.LinkError{Op: "rename", Old: from, New: to, Err: os.ErrExist}
		}
		return os.Rename(from, to)
	}
	return &os.LinkError{Op: "rename", Old: from, New: to, Err: err}
}

// isCrossDevice reports whether err is the EXDEV of a rename across file
// systems.
func isCrossDevice(err error) bool { return errors.Is(err, unix.EXDEV) }

// writeDurable writes the bytes of r to dst without ever showing a partial
// file there: it writes tmp (which must be in dst's file system, and is
// created exclusively), checks the size when want >= 0, fsyncs it,
// renames it to dst without replacing anything, and fsyncs dst's
// directory. On any error tmp is removed and dst does not exist.
func writeDurable(tmp, dst string, r io.Reader, want int64, perm os.FileMode) (err error) {
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	n, err := io.Copy(faultWriter(f), r)
	if err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if want >= 0 && n != want {
		return fmt.Errorf("write %s: wrote %d bytes, want %d", tmp, n, want)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := renameNoReplace(tmp, dst); err != nil {
		return err
	}
	return syncDir(filepath.Dir(dst))
}

// ENOSPCEnv is a fault-injection hook for tests: when set to n, every
// file this package writes (quarantine copies, new mbox versions,
// deliveries) fails with ENOSPC after n bytes, as on a full disk.
const ENOSPCEnv = "POPDEDUPE_FAULT_ENOSPC_AFTER"

type enospcWriter struct {
	w    io.Writer
	left int64
}

func (e *enospcWriter) Write(p []byte) (int, error) {
	if int64(len(p)) > e.left {
		n, _ := e.w.Write(p[:e.left])
		e.left = 0
		return n, &os.PathError{Op: "write", Path: "(fault injection)", Err: syscall.ENOSPC}
	}
	e.left -= int64(len(p))
	return e.w.Write(p)
}

// faultWriter wraps w with the ENOSPC hook when it is set.
func faultWriter(w io.Writer) io.Writer {
	v := os.Getenv(ENOSPCEnv)
	if v == "" {
		return w
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return w
	}
	return &enospcWriter{w: w, left: n}
}

// SyncDir fsyncs a directory: renames and unlinks in it survive a crash.
func SyncDir(dir string) error { return syncDir(dir) }

// SyncFS makes everything written to the file system holding path
// durable with one syncfs(2): a group commit for many new files, where a
// fsync per file would cost a disk flush each. Callers still fsync the
// directories whose entries they changed afterwards.
func SyncFS(path string) error {
	d, err := os.Open(path)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := unix.Syncfs(int(d.Fd())); err != nil {
		return fmt.Errorf("syncfs %s: %w", path, err)
	}
	return nil
}

// RenameNoReplace renames from to to and fails with os.ErrExist when to
// exists: mail is never silently replaced.
func RenameNoReplace(from, to string) error { return renameNoReplace(from, to) }

// FaultWriter wraps w with the ENOSPC fault-injection hook when it is set
// (tests only; see ENOSPCEnv), else returns w.
func FaultWriter(w io.Writer) io.Writer { return faultWriter(w) }

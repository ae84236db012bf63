package uidlstate

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// testHookBeforeRename, when set by a test, runs just before the backup and
// rename; an error simulates a failure at the last moment.
var testHookBeforeRename func() error

// BackupSuffix is appended to a state file's name to keep the previous
// version when WriteFile replaces it.
const BackupSuffix = ".popdedupe-bak"

// WriteFile replaces t.Path with data, durably and atomically: a temporary
// file in the same directory, mode 0600 and the old file's owner, fsync,
// size check, rename over the target, fsync of the directory. The previous
// file stays as t.Path+BackupSuffix (a hard link, or a copy where links are
// not possible). A symbolic link is followed and its target replaced.
//
// It refuses, leaving everything as it was, a target whose mode has no
// owner write bit (ErrReadOnly, even for root), one that is not a regular
// file, and one locked with fcntl by a running client (ErrLocked; mpop
// locks its uidls file while it runs). On any error the target is
// unchanged and no temporary file is left behind.
func WriteFile(t Target, data []byte) (err error) {
	path := t.Path
	if path == "" {
		return &WriteError{Path: path, Op: "check", Err: errors.New("empty path")}
	}
	if resolved, rerr := filepath.EvalSymlinks(path); rerr == nil {
		path = resolved
	} else if !errors.Is(rerr, fs.ErrNotExist) {
		return &WriteError{Path: t.Path, Op: "resolve", Err: rerr}
	}
	werr := func(op string, e error) error { return &WriteError{Path: path, Op: op, Err: e} }

	st, serr := os.Lstat(path)
	exists := serr == nil
	var old *os.File
	if exists {
		if !st.Mode().IsRegular() {
			return werr("check", fmt.Errorf("not a regular file (%v)", st.Mode().Type()))
		}
		if st.Mode().Perm()&0o200 == 0 {
			return werr("check", fmt.Errorf("%w (mode %04o); make it writable or choose another path", ErrReadOnly, st.Mode().Perm()))
		}
		old, serr = os.OpenFile(path, os.O_RDWR, 0)
		if serr != nil {
			if errors.Is(serr, fs.ErrPermission) || errors.Is(serr, syscall.EROFS) {
				return werr("open", fmt.Errorf("%w: %v", ErrReadOnly, serr))
			}
			return werr("open", serr)
		}
		defer old.Close()
		// Take the lock mpop takes (fcntl write lock), so that a running
		// client and this write do not interleave.
		lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: io.SeekStart}
		if lerr := syscall.FcntlFlock(old.Fd(), syscall.F_SETLK, &lk); lerr != nil {
			if errors.Is(lerr, syscall.EAGAIN) || errors.Is(lerr, syscall.EACCES) {
				return werr("lock", fmt.Errorf("%w; is the client running?", ErrLocked))
			}
			// Locks not supported here (some network file systems): go on.
		}
	} else if !errors.Is(serr, fs.ErrNotExist) {
		return werr("stat", serr)
	}

	dir := filepath.Dir(path)
	tmp, terr := os.CreateTemp(dir, "."+filepath.Base(path)+".popdedupe-tmp-*")
	if terr != nil {
		if errors.Is(terr, fs.ErrPermission) || errors.Is(terr, syscall.EROFS) {
			return werr("create temporary file", fmt.Errorf("%w: %v", ErrReadOnly, terr))
		}
		return werr("create temporary file", terr)
	}
	tmpName := tmp.Name()
	committed := false
	defer func() {
		if !committed {
			tmp.Close()
			os.Remove(tmpName)
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return werr("chmod", err)
	}
	if exists {
		if sys, ok := st.Sys().(*syscall.Stat_t); ok && (int(sys.Uid) != os.Geteuid() || int(sys.Gid) != os.Getegid()) {
			if err := tmp.Chown(int(sys.Uid), int(sys.Gid)); err != nil {
				return werr("chown", fmt.Errorf("cannot give the new file the old one's owner %d:%d, the client could not read it: %w", sys.Uid, sys.Gid, err))
			}
		}
	}
	n, err := tmp.Write(data)
	if err == nil && n != len(data) {
		err = io.ErrShortWrite
	}
	if err != nil {
		return werr("write", err)
	}
	if err := tmp.Sync(); err != nil {
		return werr("fsync", err)
	}
	if err := tmp.Close(); err != nil {
		return werr("close", err)
	}
	if fi, err := os.Stat(tmpName); err != nil {
		return werr("stat temporary file", err)
	} else if fi.Size() != int64(len(data)) {
		return werr("size check", fmt.Errorf("wrote %d bytes, file has %d", len(data), fi.Size()))
	}
	if testHookBeforeRename != nil {
		if err := testHookBeforeRename(); err != nil {
			return werr("rename", err)
		}
	}
	if exists {
		if err := backup(path, path+BackupSuffix); err != nil {
			return werr("backup", err)
		}
	}
	if err := os.Rename(tmpName, path); err != nil {
		return werr("rename", err)
	}
	committed = true
	if err := syncDir(dir); err != nil {
		// The new file is in place; only its durability is in doubt.
		return &WriteError{Path: path, Op: "fsync directory", Err: err}
	}
	return nil
}

// backup makes bak a durable copy of path: a hard link when possible.
func backup(path, bak string) error {
	if err := os.Remove(bak); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.Link(path, bak); err == nil {
		return nil
	}
	src, err := os.Open(path)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(bak, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		os.Remove(bak)
		return err
	}
	if err := dst.Sync(); err != nil {
		dst.Close()
		os.Remove(bak)
		return err
	}
	return dst.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	return nil
}

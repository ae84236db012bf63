package store

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/popdedupe/popdedupe/journal"
)

// DotLockStale is the age after which another program's dot-lock is
// taken to be left over from a crash and removed (procmail and mutt use
// minutes too). A dot-lock written by popdedupe names its pid and host,
// and is removed at once when that process is gone.
const DotLockStale = 5 * time.Minute

// LockTimeout is how long popdedupe waits for an mbox that another
// program has locked.
var LockTimeout = 30 * time.Second

// ErrLocked is wrapped by the error of a lock that another program held
// for all of LockTimeout.
var ErrLocked = errors.New("locked by another program")

// createDotLock creates the dot-lock dot holding content, atomically: the
// content is written to a unique file beside it, which is then hard-linked
// to dot (the NFS-safe way of liblockfile). A crash never leaves an empty
// dot-lock, which would name no holder and so look alive for DotLockStale.
// Where hard links are not supported it falls back to O_EXCL.
func createDotLock(dot, content string) error {
	tmp := dot + "." + UniqueName()
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(content)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Link(tmp, dot)
	}
	os.Remove(tmp)
	var le *os.LinkError
	if err == nil || errors.Is(err, os.ErrExist) || !errors.As(err, &le) {
		return err
	}
	// No hard links here (some FUSE and FAT file systems).
	f, err = os.OpenFile(dot, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(content)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(dot)
	}
	return err
}

// mboxLock holds the locks mail programs honour on an mbox file, taken in
// this order: the dot-lock PATH.lock (created with O_EXCL), then an fcntl
// write lock and a flock on the file itself. f is the locked descriptor:
// all reads of the file while it is locked go through f, because closing
// any other descriptor of the same file would drop the process's fcntl
// locks (POSIX record-lock semantics).
type mboxLock struct {
	f   *os.File
	dot string
}

// lockMbox locks the mbox at path (which must be a regular file, not a
// symbolic link) and returns the locked descriptor, open read-write.
func lockMbox(path string) (*mboxLock, error) {
	deadline := time.Now().Add(LockTimeout)
	dot := path + ".lock"
	host, _ := os.Hostname()
	for {
		err := createDotLock(dot, fmt.Sprintf("%d %s\n", os.Getpid(), host))
		if err == nil {
			journal.FaultPoint("mbox.dotlock")
			break
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("mbox %s: cannot create dot-lock %s: %w", path, dot, err)
		}
		if staleDotLock(dot, host) {
			os.Remove(dot)
			continue
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("mbox %s: %w (%s exists; waited %s)", path, ErrLocked, dot, LockTimeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
	l := &mboxLock{dot: dot}
	f, err := os.OpenFile(path, os.O_RDWR|syscall.O_NOFOLLOW, 0)
	if err != nil {
		l.unlock()
		if errors.Is(err, syscall.ELOOP) {
			return nil, fmt.Errorf("mbox %s: %w", path, ErrSymlink)
		}
		return nil, fmt.Errorf("mbox %s: %w", path, err)
	}
	l.f = f
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: 0, Len: 0}
	for {
		err := unix.FcntlFlock(f.Fd(), unix.F_SETLK, &lk)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EACCES) {
			l.unlock()
			return nil, fmt.Errorf("mbox %s: fcntl lock: %w", path, err)
		}
		if time.Now().After(deadline) {
			l.unlock()
			return nil, fmt.Errorf("mbox %s: %w (fcntl lock held; waited %s)", path, ErrLocked, LockTimeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			l.unlock()
			return nil, fmt.Errorf("mbox %s: flock: %w", path, err)
		}
		if time.Now().After(deadline) {
			l.unlock()
			return nil, fmt.Errorf("mbox %s: %w (flock held; waited %s)", path, ErrLocked, LockTimeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return l, nil
}

// unlock releases the locks in the reverse order.
func (l *mboxLock) unlock() {
	if l.f != nil {
		unix.Flock(int(l.f.Fd()), unix.LOCK_UN)
		lk := unix.Flock_t{Type: unix.F_UNLCK}
		unix.FcntlFlock(l.f.Fd(), unix.F_SETLK, &lk)
		l.f.Close()
		l.f = nil
	}
	if l.dot != "" {
		os.Remove(l.dot)
		l.dot = ""
	}
}

// staleDotLock reports whether a dot-lock was left over: written by a
// popdedupe on this host that is gone, or older than DotLockStale.
func staleDotLock(dot, host string) bool {
	fi, err := os.Stat(dot)
	if err != nil {
		return false
	}
	if b, err := os.ReadFile(dot); err == nil {
		f := strings.Fields(string(b))
		if len(f) == 2 && f[1] == host {
			if pid, err := strconv.Atoi(f[0]); err == nil && pid > 0 {
				if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
					return true
				}
			}
		}
	}
	return time.Since(fi.ModTime()) > DotLockStale
}

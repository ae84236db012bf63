package reliability

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/popdedupe/popdedupe/internal/runlock"
)

// helperMain runs the test binary as a helper process:
//
//	mda KIND PATH PREFIX STOPFILE   deliver messages PREFIX-1, PREFIX-2, ...
//	                                until STOPFILE exists (at least 5), then
//	                                print how many; KIND is maildir,
//	                                mbox-dotlock (dot-lock, then fcntl) or
//	                                mbox-fcntl (fcntl only, as Dovecot's LDA
//	                                can be set up)
//	holdlock STATE STORE            take popdedupe's run lock on STORE, print
//	                                "held", hold it until stdin closes
//	holddot MBOX                    create MBOX.lock as an MDA would, print
//	                                "held", remove it when stdin closes
//	plaintext BIN MAILDIR HOME      inside a network namespace: see
//	                                TestPlaintextOnlyToLoopback
func helperMain(mode string, args []string) int {
	var err error
	switch mode {
	case "mda":
		if len(args) != 4 {
			err = errors.New("mda KIND PATH PREFIX STOPFILE")
			break
		}
		var n int
		n, err = mda(args[0], args[1], args[2], args[3])
		fmt.Println(n)
	case "holdlock":
		var l *runlock.Lock
		if l, err = runlock.Acquire(args[0], args[1], "reliability lock holder"); err == nil {
			fmt.Println("held")
			io.Copy(io.Discard, os.Stdin)
			err = l.Release()
		}
	case "holddot":
		var f *os.File
		if f, err = os.OpenFile(args[0]+".lock", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644); err == nil {
			fmt.Fprintf(f, "%d\n", os.Getpid()) // procmail's form: no host, so never taken for popdedupe's
			f.Close()
			fmt.Println("held")
			io.Copy(io.Discard, os.Stdin)
			err = os.Remove(args[0] + ".lock")
		}
	case "plaintext":
		err = plaintextHelper(args)
	default:
		err = fmt.Errorf("unknown helper %q", mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 1
	}
	return 0
}

// mdaMessage is delivered message i of prefix.
func mdaMessage(prefix string, i int) []byte {
	return []byte(fmt.Sprintf("From: list@example.org\nTo: alice@example.net\nDate: Tue, 11 Mar 2025 10:%02d:%02d +0000\nSubject: delivered while popdedupe runs %d\nMessage-ID: <%s-%d@mda.test>\n\nbody of %s %d\n\nFrom the MDA, a line to quote.\n",
		i/60%60, i%60, i, prefix, i, prefix, i))
}

func mda(kind, path, prefix, stop string) (int, error) {
	rng := rand.New(rand.NewSource(int64(os.Getpid())))
	n := 0
	for {
		if _, err := os.Stat(stop); err == nil && n >= 5 {
			return n, nil
		}
		n++
		msg := mdaMessage(prefix, n)
		var err error
		switch kind {
		case "maildir":
			err = deliverMaildir(path, msg, n)
		case "mbox-dotlock":
			err = appendMbox(path, msg, true)
		case "mbox-fcntl":
			err = appendMbox(path, msg, false)
		default:
			err = fmt.Errorf("unknown MDA kind %q", kind)
		}
		if err != nil {
			return n - 1, fmt.Errorf("delivering %s-%d: %w", prefix, n, err)
		}
		// Bursts and pauses, so that some runs scan and rewrite between
		// deliveries while others are caught by one.
		time.Sleep(time.Duration(rng.Intn(40)) * time.Millisecond)
	}
}

// deliverMaildir delivers as qmail's maildir(5) says: a unique name in
// tmp/, written and fsync'd, then linked into new/.
func deliverMaildir(dir string, msg []byte, i int) error {
	host, _ := os.Hostname()
	name := fmt.Sprintf("%d.M%dP%dQ%d.%s", time.Now().Unix(), time.Now().Nanosecond()/1000, os.Getpid(), i, host)
	tmp := filepath.Join(dir, "tmp", name)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(msg); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, "new", name))
}

// appendMbox appends one message as an MDA does: optionally the dot-lock
// first (O_EXCL, waiting while it exists), then open, an fcntl write lock
// (F_SETLKW: wait), and a check that the locked file is still the one the
// name points to (a rewrite renames a new version into place: an MDA that
// appended to the old inode would lose the message), then append, fsync,
// unlock.
func appendMbox(path string, msg []byte, dotlock bool) error {
	if dotlock {
		dot := path + ".lock"
		for {
			f, err := os.OpenFile(dot, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
			if err == nil {
				fmt.Fprintf(f, "%d\n", os.Getpid())
				f.Close()
				break
			}
			if !errors.Is(err, os.ErrExist) {
				return err
			}
			time.Sleep(time.Millisecond)
		}
		defer os.Remove(dot)
	}
	for {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND, 0)
		if err != nil {
			return err
		}
		lk := unix.Flock_t{Type: unix.F_WRLCK}
		for {
			err = unix.FcntlFlock(f.Fd(), unix.F_SETLKW, &lk)
			if !errors.Is(err, unix.EINTR) {
				break
			}
		}
		if err != nil {
			f.Close()
			return err
		}
		var a, b syscall.Stat_t
		if err := syscall.Fstat(int(f.Fd()), &a); err != nil {
			f.Close()
			return err
		}
		if err := syscall.Stat(path, &b); err != nil || a.Ino != b.Ino || a.Dev != b.Dev {
			f.Close() // replaced while we waited: lock the new one
			continue
		}
		var tail [2]byte
		prefix := ""
		if a.Size > 0 {
			k, _ := f.ReadAt(tail[:], a.Size-int64(min(a.Size, 2)))
			switch {
			case k < 1 || tail[k-1] != '\n':
				prefix = "\n\n"
			case k == 2 && tail[0] != '\n':
				prefix = "\n"
			}
		}
		data := []byte(prefix + "From list@example.org " + time.Now().UTC().Format("Mon Jan _2 15:04:05 2006") + "\n")
		data = append(data, quoteFrom(msg)...)
		data = append(data, '\n')
		_, werr := f.Write(data)
		if werr == nil {
			werr = f.Sync()
		}
		f.Close() // drops the fcntl lock
		return werr
	}
}

// quoteFrom adds a '>' to body lines matching ^>*From (mboxrd).
func quoteFrom(msg []byte) []byte {
	var out []byte
	for len(msg) > 0 {
		line := msg
		if i := bytes.IndexByte(msg, '\n'); i >= 0 {
			line = msg[:i+1]
		}
		j := 0
		for j < len(line) && line[j] == '>' {
			j++
		}
		if len(line)-j >= 5 && string(line[j:j+5]) == "From " {
			out = append(out, '>')
		}
		out = append(out, line...)
		msg = msg[len(line):]
	}
	return out
}

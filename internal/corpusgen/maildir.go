package corpusgen

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
)

// WriteMaildir writes the local copies of the incident into a Maildir at
// dir (created with cur/, new/ and tmp/; it must not exist or be empty).
// Copies read before the incident sit in cur/ as
// SECONDS.M<usec>P<pid>Q<n>.HOST,S=<size>:2,FLAGS; some re-downloads of
// the last bursts sit unseen in new/ without the ":2," info. Each file's
// mtime is its delivery time.
func WriteMaildir(dir string, opts Options) (*Truth, error) {
	return writeMaildir(dir, opts, false)
}

// WriteMaildirPP writes the local copies into a Maildir++ tree at root: the
// INBOX is root itself and each of Options.Folders is a Maildir in
// root/.NAME (with a maildirfolder file). Copies of one message are spread
// across folders, as when a user filed some of them.
func WriteMaildirPP(root string, opts Options) (*Truth, error) {
	return writeMaildir(root, opts, true)
}

func writeMaildir(dir string, opts Options, pp bool) (*Truth, error) {
	g, err := New(opts)
	if err != nil {
		return nil, err
	}
	if err := emptyOrAbsent(dir); err != nil {
		return nil, err
	}
	format := "maildir"
	folders := []string{""}
	if pp {
		format = "maildir++"
		for _, f := range g.opts.Folders {
			folders = append(folders, "."+f)
		}
	}
	for k, f := range folders {
		for _, sub := range []string{"cur", "new", "tmp"} {
			if err := os.MkdirAll(filepath.Join(dir, f, sub), 0o700); err != nil {
				return nil, fmt.Errorf("corpusgen: %w", err)
			}
		}
		if k > 0 {
			mf := filepath.Join(dir, f, "maildirfolder")
			if err := writeNew(mf, nil); err != nil {
				return nil, err
			}
			// Created when the account was set up: keeps the tree
			// byte-for-byte and time-for-time reproducible.
			if err := os.Chtimes(mf, g.histStart, g.histStart); err != nil {
				return nil, fmt.Errorf("corpusgen: %w", err)
			}
		}
	}

	tb := newTruth(g, format)
	w := &worker{g: g}
	queue := map[int]int{} // pid -> deliveries so far, for the Q<n> part
	var data, name []byte
	a := startAhead(g, false, func(yield func(i, tag int) bool) {
		for i := range g.opts.Messages {
			if !yield(i, 0) {
				return
			}
		}
	})
	defer a.close()
	for j := range a.jobs {
		p := &j.p
		gi := tb.message(p)
		if gi < 0 {
			a.done(j)
			continue
		}
		msg := j.msg
		uid := g.UID(p.i)
		for c := range j.cps {
			cp := &j.cps[c]
			data = w.appendCopy(data[:0], msg, cp, uid, false, 0)
			queue[cp.pid]++
			folder := ""
			if pp && cp.folder >= 0 {
				folder = folders[cp.folder+1] + "/"
			}
			name = append(name[:0], folder...)
			if cp.newDir {
				name = append(name, "new/"...)
			} else {
				name = append(name, "cur/"...)
			}
			name = strconv.AppendInt(name, cp.time.Unix(), 10)
			name = append(name, ".M"...)
			name = strconv.AppendInt(name, int64(cp.time.Nanosecond()/1000), 10)
			name = append(name, 'P')
			name = strconv.AppendInt(name, int64(cp.pid), 10)
			name = append(name, 'Q')
			name = strconv.AppendInt(name, int64(queue[cp.pid]), 10)
			name = append(name, '.')
			name = append(name, g.host...)
			name = append(name, ",S="...)
			name = strconv.AppendInt(name, int64(len(data)), 10)
			flags := ""
			if !cp.newDir {
				name = append(name, ":2,"...)
				name = append(name, cp.flags...)
				flags = cp.flags
			}
			rel := string(name)
			path := filepath.Join(dir, filepath.FromSlash(rel))
			if err := writeNew(path, data); err != nil {
				return tb.t, err
			}
			if err := os.Chtimes(path, cp.time, cp.time); err != nil {
				return tb.t, fmt.Errorf("corpusgen: %w", err)
			}
			tb.t.Bytes += int64(len(data))
			tb.copy(gi, Copy{
				Path: rel, Size: len(data), Time: cp.time, Burst: cp.burst,
				Client: cp.client.String(), CRLF: cp.crlf, Flags: flags,
			})
		}
		a.done(j)
	}
	return tb.t, nil
}

// writeNew creates path, which must not exist, with data.
func writeNew(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("corpusgen: %w", err)
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("corpusgen: write %s: %w", path, err)
	}
	return nil
}

// emptyOrAbsent refuses to write into a directory that already holds
// something: the Truth would not describe it.
func emptyOrAbsent(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("corpusgen: %w", err)
	}
	if len(entries) > 0 {
		return fmt.Errorf("corpusgen: %s is not empty", dir)
	}
	return nil
}

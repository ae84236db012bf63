package corpusgen

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// WriteServerMaildir writes the server's side of the incident as Dovecot
// keeps it: every server message, LF line ends, in dir/cur (dir must not
// exist or be empty), plus a dovecot-uidlist that gives each file the IMAP
// UID and UIDVALIDITY behind Generator.UID. A Dovecot serving this Maildir
// with pop3_uidl_format = %08Xu%08Xv (its default) answers UIDL with
// exactly the UIDs of ServerMessages (checked with Dovecot 2.3.19). The
// files must be owned by the mail user. It returns the bytes written.
func WriteServerMaildir(dir string, opts Options) (int64, error) {
	g, err := New(opts)
	if err != nil {
		return 0, err
	}
	if err := emptyOrAbsent(dir); err != nil {
		return 0, err
	}
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return 0, fmt.Errorf("corpusgen: %w", err)
		}
	}
	var list bytes.Buffer
	// Dovecot panics on an all-zero mailbox GUID; any other value works.
	guid := splitmix64(uint64(g.opts.Seed) ^ 0x5eed)
	fmt.Fprintf(&list, "3 V%d N%d G%016x%016x\n", g.uidValidity, g.imapUID(g.opts.Messages-1)+1, guid, splitmix64(guid))
	var total int64
	var name []byte
	a := startAhead(g, true, func(yield func(i, tag int) bool) {
		for i := range g.opts.Messages {
			if !yield(i, 0) {
				return
			}
		}
	})
	defer a.close()
	for j := range a.jobs {
		msg := j.msg
		t := j.p.recv
		name = strconv.AppendInt(name[:0], t.Unix(), 10)
		name = append(name, ".M"...)
		name = strconv.AppendInt(name, int64(t.Nanosecond()/1000), 10)
		name = append(name, "P"...)
		name = strconv.AppendInt(name, int64(3000+j.p.i%20000), 10)
		name = append(name, "Q1.pop.example.net,S="...)
		name = strconv.AppendInt(name, int64(len(msg)), 10)
		name = append(name, ",W="...)
		name = strconv.AppendInt(name, int64(len(msg)+bytes.Count(msg, []byte("\n"))), 10)
		fmt.Fprintf(&list, "%d :%s\n", g.imapUID(j.p.i), name)
		path := filepath.Join(dir, "cur", string(name)+":2,")
		if err := writeNew(path, msg); err != nil {
			return total, err
		}
		if err := os.Chtimes(path, t, t); err != nil {
			return total, fmt.Errorf("corpusgen: %w", err)
		}
		total += int64(len(msg))
		a.done(j)
	}
	f, err := os.OpenFile(filepath.Join(dir, "dovecot-uidlist"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return total, fmt.Errorf("corpusgen: %w", err)
	}
	_, err = f.Write(list.Bytes())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return total, fmt.Errorf("corpusgen: %w", err)
	}
	return total, nil
}

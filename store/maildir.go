package store

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/emersion/go-maildir"

	"github.com/popdedupe/popdedupe/fingerprint"
	"github.com/popdedupe/popdedupe/journal"
	"github.com/popdedupe/popdedupe/scan"
)

// MergedFlags are the flags carried from every copy of a message to the
// one kept: passed, replied, seen, flagged. Trashed is never carried (a
// user who trashed one copy of a duplicate did not ask to lose the
// message: carrying T would make the mail client expunge the only copy
// left), and draft is not a state of received mail.
var MergedFlags = []maildir.Flag{maildir.FlagPassed, maildir.FlagReplied, maildir.FlagSeen, maildir.FlagFlagged}

// FromMaildirFlags converts go-maildir flags to a scan.Flags set.
func FromMaildirFlags(fl []maildir.Flag) scan.Flags {
	return scan.ParseFlags(":2," + string(fl))
}

// ToMaildirFlags converts a flag set to go-maildir flags, in ASCII order.
func ToMaildirFlags(f scan.Flags) []maildir.Flag {
	return []maildir.Flag(f.String())
}

// mergeMask is MergedFlags as a set.
var mergeMask = FromMaildirFlags(MergedFlags)

// MergeFlags returns the flags a kept copy should carry: its own, plus
// the MergedFlags of every other copy, plus the keyword letters (a-z,
// Dovecot) of copies in the same Maildir folder as the kept one (keyword
// letters are defined per folder, so another folder's 'a' may mean
// something else).
func MergeFlags(kept scan.Flags, keptFolder string, others []scan.Flags, folders []string) scan.Flags {
	const keywords = scan.Flags(((1 << 26) - 1) << 26)
	out := kept
	for i, f := range others {
		out |= f & mergeMask
		if i < len(folders) && folders[i] == keptFolder {
			out |= f & keywords
		}
	}
	return out
}

// FlagName returns the Maildir file name of base with its info replaced by
// flags, as go-maildir forms names: the unique part, ":2,", the flags in
// ASCII order. A name without info and without flags stays as it is.
func FlagName(base string, flags scan.Flags) string {
	key := base
	if i := strings.LastIndex(base, ":2,"); i >= 0 {
		key = base[:i]
	} else if flags == 0 {
		return base
	}
	return key + ":2," + flags.String()
}

// FlagPath returns where the Maildir message at path goes when its flags
// become flags: the new name, in cur/ (a message in new/ with flags to
// set moves to cur/, as a mail client does when it shows it).
func FlagPath(path string, flags scan.Flags) string {
	dir, base := filepath.Split(path)
	dir = filepath.Clean(dir)
	if filepath.Base(dir) == "new" {
		if flags == 0 {
			return path
		}
		dir = filepath.Join(filepath.Dir(dir), "cur")
	}
	return filepath.Join(dir, FlagName(base, flags))
}

type flagsData struct {
	OldFlags string `json:"old_flags"`
	NewFlags string `json:"new_flags"`
}

// SetFlags gives the kept Maildir copy at path the flags, by renaming it
// (journalled first). It returns the new path; when the name does not
// change nothing is done.
func (m *Mutator) SetFlags(path string, flags scan.Flags) (string, error) {
	to := FlagPath(path, flags)
	if to == path {
		return path, nil
	}
	fi, err := os.Lstat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("%s: %w", path, ErrVanished)
		}
		return "", err
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		return "", fmt.Errorf("%s: %w", path, ErrSymlink)
	}
	e, err := m.j.Begin(journal.Entry{Op: OpMaildirFlags, From: path, To: to},
		flagsData{OldFlags: scan.ParseFlags(filepath.Base(path)).String(), NewFlags: flags.String()})
	if err != nil {
		return "", err
	}
	err = renameNoReplace(path, to)
	if err == nil {
		err = syncDir(filepath.Dir(to))
	}
	if err == nil && filepath.Dir(to) != filepath.Dir(path) {
		err = syncDir(filepath.Dir(path))
	}
	if err != nil {
		err = fmt.Errorf("set flags of %s: %w", path, err)
	}
	return to, m.j.Finish(e, err)
}

type removeData struct {
	Key      fingerprint.Key `json:"key"`
	Size     int64           `json:"size"`
	Kept     Copy            `json:"kept"`
	CrossDev bool            `json:"cross_device,omitempty"`
	// Mode, UID and GID are the file's, for undo to give back when the
	// quarantine is on another file system (it then holds a 0600 copy).
	// Mode 0: not recorded (an older journal).
	Mode uint32 `json:"mode,omitempty"`
	UID  int    `json:"uid,omitempty"`
	GID  int    `json:"gid,omitempty"`
}

// QuarantineFile moves the extra Maildir copy at path into the quarantine
// as file name (in its cur/), after checking that the copy still has
// fingerprint want and that the kept copy still exists with it.
func (m *Mutator) QuarantineFile(path, name string, want fingerprint.Key, kept Copy) (string, error) {
	if err := m.initQuarantine(); err != nil {
		return "", err
	}
	f, fi, err := openMessage(path)
	if err != nil {
		return "", err
	}
	err = checkPrint(m.parser, f, fi.Size(), Copy{Path: path}, want)
	f.Close()
	if err != nil {
		return "", err
	}
	if err := m.Verify(kept, want); err != nil {
		return "", fmt.Errorf("kept copy: %w", err)
	}
	to := filepath.Join(m.quarantine, "cur", name)
	data := removeData{Key: want, Size: fi.Size(), Kept: kept, Mode: uint32(fi.Mode().Perm())}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		data.UID, data.GID = int(st.Uid), int(st.Gid)
	}
	e, err := m.j.Begin(journal.Entry{Op: OpMaildirQuarant, From: path, To: to}, data)
	if err != nil {
		return "", err
	}
	err = renameNoReplace(path, to)
	if isCrossDevice(err) {
		err = moveAcross(path, to, filepath.Join(m.quarantine, "tmp", name))
	}
	if err == nil {
		journal.FaultPoint("maildir.quarantine")
		if err = syncDir(filepath.Dir(to)); err == nil {
			err = syncDir(filepath.Dir(path))
		}
	}
	if err != nil {
		err = fmt.Errorf("quarantine %s: %w", path, err)
	}
	return to, m.j.Finish(e, err)
}

// moveAcross moves a file to another file system: copy to tmp beside to,
// fsync, rename to to, fsync, then remove from. A crash leaves both
// copies, never none.
func moveAcross(from, to, tmp string) error {
	f, fi, err := openMessage(from)
	if err != nil {
		return err
	}
	err = writeDurable(tmp, to, f, fi.Size(), quarantineTmpPerm)
	f.Close()
	if err != nil {
		return err
	}
	os.Chtimes(to, fi.ModTime(), fi.ModTime())
	journal.FaultPoint("maildir.copied")
	if err := os.Remove(from); err != nil {
		return err
	}
	return nil
}

// DeleteFile removes the extra Maildir copy at path for good, after
// re-reading it and the kept copy and checking both fingerprints.
func (m *Mutator) DeleteFile(path string, want fingerprint.Key, kept Copy) error {
	f, fi, err := openMessage(path)
	if err != nil {
		return err
	}
	err = checkPrint(m.parser, f, fi.Size(), Copy{Path: path}, want)
	f.Close()
	if err != nil {
		return err
	}
	if err := m.Verify(kept, want); err != nil {
		return fmt.Errorf("kept copy: %w", err)
	}
	e, err := m.j.Begin(journal.Entry{Op: OpMaildirDelete, From: path}, removeData{Key: want, Size: fi.Size(), Kept: kept})
	if err != nil {
		return err
	}
	err = os.Remove(path)
	if err == nil {
		err = syncDir(filepath.Dir(path))
	}
	if err != nil {
		err = fmt.Errorf("delete %s: %w", path, err)
	}
	return m.j.Finish(e, err)
}

var deliveries atomic.Int64

// UniqueName returns a new Maildir unique name ("time.MusecPpidQn_rand.host",
// the Maildir convention).
func UniqueName() string {
	host := maildirHost()
	var b [4]byte
	_, _ = rand.Read(b[:])
	now := time.Now()
	return fmt.Sprintf("%d.M%dP%dQ%d_%s.%s", now.Unix(), now.Nanosecond()/1000, pid, deliveries.Add(1), hex.EncodeToString(b[:]), host)
}

// maildirHost is the host name part of unique names, found once (a
// uname call and a replacer per name were a tenth of a fetch's CPU).
var maildirHost = sync.OnceValue(func() string {
	host, _ := os.Hostname()
	host = strings.NewReplacer("/", `\057`, ":", `\072`).Replace(host)
	if host == "" {
		host = "localhost"
	}
	return host
})

// pid is this process's id, for unique names.
var pid = os.Getpid()

// DeliverMaildir delivers the message read from r into the Maildir dir:
// written to tmp/ (created if missing), fsync'd, then moved without
// replacing anything into new/ (no flags) or cur/ with ":2,FLAGS", and
// the directory fsync'd. A half-written message is never visible in new/
// or cur/. It returns the message's path.
func DeliverMaildir(dir string, r io.Reader, flags scan.Flags) (string, error) {
	if !scan.IsMaildir(dir) {
		return "", fmt.Errorf("deliver: %s is not a Maildir (no cur/ and new/)", dir)
	}
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o700); err != nil {
		return "", fmt.Errorf("deliver: %w", err)
	}
	name := UniqueName()
	dst := filepath.Join(dir, "new", name)
	if flags != 0 {
		dst = filepath.Join(dir, "cur", FlagName(name, flags))
	}
	if err := writeDurable(filepath.Join(dir, "tmp", name), dst, r, -1, 0o600); err != nil {
		return "", fmt.Errorf("deliver to %s: %w", dir, err)
	}
	return dst, nil
}

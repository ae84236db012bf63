package store

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/popdedupe/popdedupe/fingerprint"
	"github.com/popdedupe/popdedupe/journal"
	"github.com/popdedupe/popdedupe/scan"
)

// MboxCopy is one message of an mbox named by a rewrite.
type MboxCopy struct {
	Index  int             `json:"index"`  // ordinal of its From_ line, from 1
	Offset int64           `json:"offset"` // of its From_ line
	Length int64           `json:"length"` // up to the next From_ line
	Key    fingerprint.Key `json:"key"`
	// For a removed copy: the quarantine file name ("" with Delete) and
	// the copy kept instead.
	To   string `json:"to,omitempty"`
	Kept Copy   `json:"kept"`
}

// MboxRewrite asks for an mbox file to be rewritten without some of its
// messages.
type MboxRewrite struct {
	Path    string
	Size    int64     // as scanned
	ModTime time.Time // as scanned
	Remove  []MboxCopy
	Delete  bool // remove for good instead of quarantining
}

// removed is a removed message as the journal records it, with what undo
// needs to put it back byte for byte.
type removed struct {
	MboxCopy
	FromLine string `json:"from_line"` // the From_ line with its line end
	Hash     uint64 `json:"hash"`      // xxhash of the whole message, From_ line included
}

type rewriteData struct {
	OrigSize  int64     `json:"orig_size"`
	OrigMTime time.Time `json:"orig_mtime"`
	OrigHash  uint64    `json:"orig_hash"`
	NewSize   int64     `json:"new_size"`
	NewHash   uint64    `json:"new_hash"`
	Mode      uint32    `json:"mode"`
	UID       int       `json:"uid"`
	GID       int       `json:"gid"`
	Delete    bool      `json:"delete,omitempty"`
	Removed   []removed `json:"removed"`
}

func tmpPath(path string) string {
	return filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+tmpSuffix)
}

// RewriteMbox removes the messages req.Remove from an mbox file. Under the
// mbox locks it checks that the file is the one scanned (same size and
// modification time), splits it again and checks that every removed
// message is where the scan saw it with the same fingerprint, and that
// its kept copy is still there with it too. Then it writes the new file
// beside the old one, journals the step, writes the removed messages to
// the quarantine (one Maildir file each: the bytes after the From_ line),
// and renames the new file into place.
func (m *Mutator) RewriteMbox(req MboxRewrite) error {
	if len(req.Remove) == 0 {
		return nil
	}
	if !req.Delete {
		if err := m.initQuarantine(); err != nil {
			return err
		}
	}
	rm := append([]MboxCopy(nil), req.Remove...)
	sort.Slice(rm, func(i, j int) bool { return rm[i].Offset < rm[j].Offset })
	// Kept copies elsewhere are checked before this file is locked:
	// reading another descriptor of a locked file would drop our lock.
	for _, r := range rm {
		if r.Kept.Path != req.Path {
			if err := m.Verify(r.Kept, r.Key); err != nil {
				return fmt.Errorf("kept copy of %s#%d: %w", req.Path, r.Index, err)
			}
		}
	}
	if fi, err := os.Lstat(req.Path); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("mbox %s: %w", req.Path, ErrVanished)
		}
		return err
	} else if fi.Mode()&os.ModeSymlink != 0 {
		return fmt.Errorf("mbox %s: %w; name the file it points to", req.Path, ErrSymlink)
	}
	lk, err := lockMbox(req.Path)
	if err != nil {
		return err
	}
	defer lk.unlock()
	f := lk.f
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() != req.Size || !fi.ModTime().Equal(req.ModTime) {
		return fmt.Errorf("mbox %s: %w (size %d, now %d; modified %s, now %s; new mail?): not rewritten, run dedupe again to rescan",
			req.Path, ErrChanged, req.Size, fi.Size(), req.ModTime.Format(time.RFC3339Nano), fi.ModTime().Format(time.RFC3339Nano))
	}
	size := fi.Size()
	// Split again and check every removed message and every kept copy
	// that lives in this file, hashing the whole file on the way.
	want := map[int64]MboxCopy{}
	verify := map[int64]fingerprint.Key{}
	for _, r := range rm {
		want[r.Offset] = r
		if r.Kept.Path == req.Path {
			verify[r.Kept.Offset] = r.Key
		}
	}
	oh := xxhash.New()
	mr := scan.NewMboxReader(io.TeeReader(io.NewSectionReader(f, 0, size), oh))
	found := 0
	for {
		env, body, err := mr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("mbox %s: %w", req.Path, err)
		}
		r, isRm := want[env.Offset]
		k, isKept := verify[env.Offset]
		if isRm {
			k = r.Key
		}
		if isRm || isKept {
			if err := checkPrint(m.parser, body, -1, Copy{Path: req.Path, Offset: env.Offset, Length: 1}, k); err != nil {
				return err
			}
		}
		if _, err := io.Copy(io.Discard, body); err != nil {
			return err
		}
		if isRm {
			if env.Index != r.Index || env.Length != r.Length {
				return fmt.Errorf("mbox %s: message at offset %d is #%d, %d bytes; the plan says #%d, %d bytes: %w", req.Path, env.Offset, env.Index, env.Length, r.Index, r.Length, ErrChanged)
			}
			found++
		}
		if isKept {
			for _, r := range rm {
				if r.Kept.Path == req.Path && r.Kept.Offset == env.Offset && r.Kept.Length != env.Length {
					return fmt.Errorf("mbox %s: kept message at offset %d: %w", req.Path, env.Offset, ErrChanged)
				}
			}
			delete(verify, env.Offset)
		}
	}
	if found != len(rm) || len(verify) > 0 {
		return fmt.Errorf("mbox %s: messages of the plan are not where the scan saw them: %w", req.Path, ErrChanged)
	}
	data := rewriteData{OrigSize: size, OrigMTime: fi.ModTime(), OrigHash: oh.Sum64(), Delete: req.Delete}
	st, _ := fi.Sys().(*syscall.Stat_t)
	data.Mode = uint32(fi.Mode().Perm())
	if st != nil {
		data.UID, data.GID = int(st.Uid), int(st.Gid)
	}
	for _, r := range rm {
		rd := removed{MboxCopy: r}
		if req.Delete {
			rd.To = ""
		}
		line, h, err := readRange(f, r.Offset, r.Length)
		if err != nil {
			return fmt.Errorf("mbox %s: %w", req.Path, err)
		}
		rd.FromLine, rd.Hash = line, h
		data.Removed = append(data.Removed, rd)
	}
	// The new version, beside the old one.
	tmp := tmpPath(req.Path)
	os.Remove(tmp) // left by a crashed run; we hold the locks
	var ranges [][2]int64
	pos := int64(0)
	for _, r := range rm {
		ranges = append(ranges, [2]int64{pos, r.Offset})
		pos = r.Offset + r.Length
	}
	ranges = append(ranges, [2]int64{pos, size})
	nh := xxhash.New()
	n, err := writeTemp(tmp, f, ranges, nh, fi, data.UID, data.GID)
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("mbox %s: %w", req.Path, err)
	}
	data.NewSize, data.NewHash = n, nh.Sum64()
	to := ""
	if !req.Delete {
		to = m.quarantine
	}
	e, err := m.j.Begin(journal.Entry{Op: OpMboxRewrite, From: req.Path, To: to}, data)
	if err != nil {
		os.Remove(tmp)
		return err
	}
	err = func() error {
		if !req.Delete {
			for _, r := range data.Removed {
				if err := m.quarantineRange(f, r); err != nil {
					return err
				}
				journal.FaultPoint("mbox.quarantine")
			}
		}
		journal.FaultPoint("mbox.rename")
		if err := os.Rename(tmp, req.Path); err != nil {
			return err
		}
		journal.FaultPoint("mbox.renamed")
		return syncDir(filepath.Dir(req.Path))
	}()
	if err != nil {
		os.Remove(tmp)
		err = fmt.Errorf("rewrite mbox %s: %w", req.Path, err)
	}
	return m.j.Finish(e, err)
}

// readRange returns the From_ line (with its line end) of the message at
// off and the hash of all its bytes.
func readRange(f io.ReaderAt, off, n int64) (string, uint64, error) {
	h := xxhash.New()
	br := bufio.NewReader(io.NewSectionReader(f, off, n))
	line, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "From ") {
		return "", 0, fmt.Errorf("no From_ line at offset %d: %w", off, ErrChanged)
	}
	h.WriteString(line)
	if _, err := io.Copy(h, br); err != nil {
		return "", 0, err
	}
	return line, h.Sum64(), nil
}

// writeTemp writes the given byte ranges of src to a new file tmp, with
// the mode and owner of the original, and fsyncs it. It returns the size.
func writeTemp(tmp string, src io.ReaderAt, ranges [][2]int64, h io.Writer, orig os.FileInfo, uid, gid int) (int64, error) {
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, err
	}
	defer out.Close()
	w := faultWriter(out)
	var n int64
	for _, r := range ranges {
		if r[1] <= r[0] {
			continue
		}
		c, err := io.Copy(io.MultiWriter(w, h), io.NewSectionReader(src, r[0], r[1]-r[0]))
		n += c
		if err != nil {
			return n, err
		}
	}
	if err := keepOwner(out, uid, gid); err != nil {
		return n, err
	}
	if err := out.Chmod(orig.Mode().Perm()); err != nil {
		return n, err
	}
	if err := out.Sync(); err != nil {
		return n, err
	}
	return n, out.Close()
}

// keepOwner gives f the owner of the original when it differs from ours;
// failing that (not root) the rewrite is refused rather than hand the
// user's mailbox to another owner.
func keepOwner(f *os.File, uid, gid int) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || (int(st.Uid) == uid && int(st.Gid) == gid) {
		return nil
	}
	if err := f.Chown(uid, gid); err != nil {
		return fmt.Errorf("cannot keep the owner %d:%d of the mbox: %w", uid, gid, err)
	}
	return nil
}

// quarantineRange writes one removed mbox message into the quarantine:
// its bytes after the From_ line, checked against the journal's hash.
func (m *Mutator) quarantineRange(f io.ReaderAt, r removed) error {
	q := filepath.Join(m.quarantine, "cur", r.To)
	if ok, err := quarantineHolds(q, r); ok || err != nil {
		return err // written before a crash: keep it
	}
	body := io.NewSectionReader(f, r.Offset+int64(len(r.FromLine)), r.Length-int64(len(r.FromLine)))
	h := xxhash.New()
	h.WriteString(r.FromLine)
	tmp := filepath.Join(m.quarantine, "tmp", r.To)
	os.Remove(tmp)
	if err := writeDurable(tmp, q, io.TeeReader(body, h), r.Length-int64(len(r.FromLine)), quarantineTmpPerm); err != nil {
		return err
	}
	if h.Sum64() != r.Hash {
		return fmt.Errorf("message #%d changed while it was copied: %w", r.Index, ErrChanged)
	}
	return nil
}

// quarantineHolds reports whether the quarantine file q holds exactly the
// removed message r (after its From_ line).
func quarantineHolds(q string, r removed) (bool, error) {
	f, err := os.Open(q)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		return false, err
	}
	defer f.Close()
	h := xxhash.New()
	h.WriteString(r.FromLine)
	if _, err := io.Copy(h, f); err != nil {
		return false, err
	}
	if h.Sum64() != r.Hash {
		return false, fmt.Errorf("quarantine file %s does not hold mbox message #%d", q, r.Index)
	}
	return true, nil
}

// MboxFromLine returns an mbox envelope line (without line end) for a
// message from sender received at t: "From sender asctime" (RFC 4155).
func MboxFromLine(sender string, t time.Time) string {
	if sender == "" || strings.ContainsAny(sender, " \t\r\n") {
		sender = "MAILER-DAEMON"
	}
	if t.IsZero() {
		t = time.Now()
	}
	return "From " + sender + " " + t.UTC().Format(time.ANSIC)
}

// AppendMbox appends the message read from r to the mbox at path (which
// must exist; an empty file is allowed), under the same locks as a
// rewrite: a From_ line for from and t, the message with mboxrd quoting
// (every line matching ^>*From gets one more '>', which readers undo
// exactly, RFC 4155 appendix), a final line end if missing and the
// separating empty line; then fsync. If the file does not end with an
// empty line, one is added first so the new From_ line starts a message.
// On any error the file is truncated back to its old size, so no
// half-written message stays visible; a power cut in the middle of the
// write can still leave a torn last message, which scan reports as
// skipped (no final newline) and never removes.
//
// go-mbox's Writer is not used: it quotes only "From " lines (mboxo,
// which readers cannot undo exactly) and changes CRLF line ends to LF.
//
// Residual risk of every mbox writer that honours locks: a program that
// opened the mbox before a rewrite renamed a new version into place, and
// then waited for an fcntl lock without a dot-lock, appends to the old,
// unlinked file. Delivery agents that take the dot-lock first (procmail,
// Postfix local, Dovecot LDA with dotlock) are safe.
func AppendMbox(path string, r io.Reader, from string, t time.Time) (err error) {
	if fi, err := os.Lstat(path); err != nil {
		return fmt.Errorf("append to mbox: %w", err)
	} else if fi.Mode()&os.ModeSymlink != 0 {
		return fmt.Errorf("append to mbox %s: %w", path, ErrSymlink)
	}
	lk, err := lockMbox(path)
	if err != nil {
		return err
	}
	defer lk.unlock()
	f := lk.f
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	defer func() {
		if err != nil {
			f.Truncate(size)
			f.Sync()
			err = fmt.Errorf("append to mbox %s: %w", path, err)
		}
	}()
	var prefix string
	if size > 0 {
		tail := make([]byte, min(size, 3))
		if _, err := f.ReadAt(tail, size-int64(len(tail))); err != nil {
			return err
		}
		switch {
		case !bytes.HasSuffix(tail, []byte("\n")):
			prefix = "\n\n"
		case !bytes.HasSuffix(tail, []byte("\n\n")) && !bytes.HasSuffix(tail, []byte("\n\r\n")):
			prefix = "\n"
		}
	}
	if _, err := f.Seek(size, io.SeekStart); err != nil {
		return err
	}
	bw := bufio.NewWriterSize(faultWriter(f), 64<<10)
	bw.WriteString(prefix + MboxFromLine(from, t) + "\n")
	n, last, err := quoteMboxrd(bw, r)
	if err != nil {
		return err
	}
	if n == 0 {
		return errors.New("empty message")
	}
	if last != '\n' {
		bw.WriteString("\n")
	}
	bw.WriteString("\n")
	if err := bw.Flush(); err != nil {
		return err
	}
	return f.Sync()
}

// quoteMboxrd copies r to w adding one '>' to every line matching
// ^>*From . It returns the bytes read and the last byte.
func quoteMboxrd(w *bufio.Writer, r io.Reader) (int64, byte, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var n int64
	var last byte
	atStart := true
	for {
		chunk, err := br.ReadSlice('\n')
		if len(chunk) > 0 {
			if atStart {
				i := 0
				for i < len(chunk) && chunk[i] == '>' {
					i++
				}
				if bytes.HasPrefix(chunk[i:], []byte("From ")) {
					w.WriteByte('>')
				}
			}
			w.Write(chunk)
			n += int64(len(chunk))
			last = chunk[len(chunk)-1]
			atStart = last == '\n'
		}
		switch {
		case err == nil, errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == io.EOF:
			return n, last, nil
		default:
			return n, last, err
		}
	}
}

// CutTornTail removes a message cut short at the end of the mbox at path,
// if the bytes from size on are exactly that: one message (its From_
// line, perhaps after the blank lines AppendMbox puts first) with no
// final newline, what a process killed while appending to a file of size
// bytes leaves. Anything else there (a complete message, more than one)
// is left alone and reported. It takes the mbox locks. It returns whether
// it cut.
func CutTornTail(path string, size int64) (bool, error) {
	lk, err := lockMbox(path)
	if err != nil {
		return false, err
	}
	defer lk.unlock()
	f := lk.f
	fi, err := f.Stat()
	if err != nil {
		return false, err
	}
	if fi.Size() <= size {
		return false, nil // nothing was appended, or it was cut already
	}
	tail := make([]byte, fi.Size()-size)
	if _, err := f.ReadAt(tail, size); err != nil {
		return false, err
	}
	rest := bytes.TrimLeft(tail, "\n")
	if !bytes.HasPrefix(rest, []byte("From ")) || bytes.HasSuffix(tail, []byte("\n")) {
		return false, fmt.Errorf("mbox %s: the %d bytes after offset %d are not a message cut short; left as they are", path, len(tail), size)
	}
	mr := scan.NewMboxReader(bytes.NewReader(rest))
	n := 0
	for {
		_, _, err := mr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return false, err
		}
		n++
	}
	if n != 1 {
		return false, fmt.Errorf("mbox %s: %d messages after offset %d, not one cut short; left as they are", path, n, size)
	}
	if err := f.Truncate(size); err != nil {
		return false, err
	}
	return true, f.Sync()
}

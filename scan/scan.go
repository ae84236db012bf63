// Package scan reads local mail stores and finds duplicate messages.
//
// It owns reading: store detection (Maildir, Maildir++ folders, mbox files,
// directories holding any of these), listing Maildir messages, splitting
// mbox files byte-exactly (RFC 4155), and feeding every message through
// package fingerprint with a bounded pool of workers. It never changes a
// store: it does not move files from new/ to cur/ (go-maildir's Unseen
// would), it does not take locks, and it opens files read-only.
//
// Scan returns a Result with a small fixed record per message. A Maildir
// file's header block is read first; its body is hashed in the same pass
// when the header identity was met before, when the whole file came in
// the first read, or once duplicates are common in the store (see read);
// Result.Duplicates hashes the rest of the bodies whose identities
// collide. Options.HashAll hashes every body in the first pass. An mbox
// file is mapped into memory read-only where the system allows it and
// split and hashed in place, one segment per core (see readMboxMapped);
// elsewhere it is read with read calls.
package scan

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/cespare/xxhash/v2"
	"github.com/popdedupe/popdedupe/fingerprint"
	"golang.org/x/sys/unix"
)

// Kind is the kind of a message source.
type Kind uint8

const (
	Maildir Kind = iota + 1 // one Maildir folder (cur/, new/, tmp/)
	Mbox                    // one mbox file
)

func (k Kind) String() string {
	switch k {
	case Maildir:
		return "maildir"
	case Mbox:
		return "mbox"
	}
	return "unknown"
}

// Source is one Maildir folder or one mbox file found under a store
// argument.
type Source struct {
	Path  string // the Maildir folder (holding cur/ and new/) or the mbox file
	Kind  Kind
	Store int // index of the command-line store argument it was found under
	// For mbox: the file's size and modification time when it was scanned,
	// so a later rewrite can refuse when it changed.
	Size    int64
	ModTime time.Time
	// Skipped counts messages of this source that could not be
	// fingerprinted. An mbox with skipped messages is never rewritten.
	Skipped int
}

// Message is the record kept for every message: small, fixed and free of
// pointers (its strings are references into Result's arena), so that
// memory grows by about 200 bytes per message, not by message size, and
// the garbage collector never scans the records.
type Message struct {
	Source   int32  // index into Result.Sources
	Index    int32  // mbox ordinal from 1; 0 for Maildir
	nameOff  uint32 // the Maildir file name in Result's arena (see Name)
	xuidlOff uint32 // the X-UIDL value (see XUIDL)
	idOff    uint32 // the normalised Message-ID (see MessageID)
	nameLen  uint16
	xuidlLen uint16
	idLen    uint16
	Sub      uint8 // Maildir: 0 = cur, 1 = new
	HasBody  bool
	Flags    Flags // Maildir info flags
	Offset   int64 // mbox: offset of the From_ line
	Size     int64 // bytes on disk (mbox: From_ line to next message)
	Arrival  int64 // Unix seconds: Maildir delivery time, mbox From_ date
	KeyHash  uint64
	BodyHash uint64
}

// Skipped is a message that could not be read or fingerprinted.
type Skipped struct {
	Path   string
	Index  int
	Reason string
}

// Result is what a scan found.
type Result struct {
	Stores   []string // the store arguments, in order
	Sources  []Source
	Messages []Message
	Skipped  []Skipped
	Bytes    int64 // bytes of all messages read

	strs arena // Maildir names and X-UIDL values of the records

	longMu sync.Mutex
	long   []string // Message-IDs of 65535 bytes or more (see setPrint)

	dirsOnce  sync.Once
	dirPrefix []string // see prepareDirs
	dirRank   []int32
}

// XUIDL returns the value of m's X-UIDL header (a POP3 client's note of
// the server UIDL it came from), or "".
func (r *Result) XUIDL(m *Message) string { return r.strs.get(strRef{m.xuidlOff, m.xuidlLen}) }

// Name returns a Maildir message's file name (under cur/ or new/), or ""
// for an mbox message.
func (r *Result) Name(m *Message) string { return r.strs.get(strRef{m.nameOff, m.nameLen}) }

// setPrint stores a Print made by one of r's parsers (see parser): its
// strings are in the arena already.
func (r *Result) setPrint(m *Message, pr fingerprint.Print) {
	if len(pr.MessageID) >= longID {
		// Too long for an arena reference (hostile or broken mail): kept
		// whole beside the records, so that identity stays exact.
		r.longMu.Lock()
		r.long = append(r.long, strings.Clone(pr.MessageID))
		m.idOff, m.idLen = uint32(len(r.long)-1), longID
		r.longMu.Unlock()
	} else {
		id := r.strs.ref(pr.MessageID)
		m.idOff, m.idLen = id.off, id.n
	}
	m.KeyHash = pr.KeyHash
	m.BodyHash, m.HasBody = pr.BodyHash, pr.HasBody
	if pr.XUIDL != "" && m.xuidlLen == 0 {
		ref := r.strs.ref(pr.XUIDL)
		m.xuidlOff, m.xuidlLen = ref.off, ref.n
	}
}

// MessageID returns m's normalised Message-ID, or "" when it has none.
func (r *Result) MessageID(m *Message) string {
	if m.idLen == longID {
		r.longMu.Lock()
		defer r.longMu.Unlock()
		return r.long[m.idOff]
	}
	return r.strs.get(strRef{m.idOff, m.idLen})
}

// longID is the length at which a Message-ID is kept in Result.long: a
// record's idLen then says so, and idOff is the index there.
const longID = 0xffff

// parser returns a Parser whose strings go straight into r's arena.
func (r *Result) parser() *fingerprint.Parser {
	p := fingerprint.NewParser()
	p.Intern = (&arenaBlock{a: &r.strs}).intern
	return p
}

// Progress receives counts as the scan goes; it must be safe for
// concurrent use. A nil Progress is allowed.
type Progress interface {
	Add(messages int, bytes int64)
}

// Options tune a scan.
type Options struct {
	Workers  int  // parallel file readers; 0 means 8 (disk latency wants many in flight)
	HashAll  bool // hash every body now, not only where identities collide
	Progress Progress
}

// Path returns the file that holds m.
func (r *Result) Path(m *Message) string {
	s := &r.Sources[m.Source]
	if s.Kind == Mbox {
		return s.Path
	}
	return filepath.Join(s.Path, subdirs[m.Sub], r.Name(m))
}

// pathParts returns Path(m) in two pieces whose concatenation it is, a
// directory with its final slash and the file name, without building it:
// orders compare paths millions of times.
func (r *Result) pathParts(m *Message) (string, string) {
	s := &r.Sources[m.Source]
	if s.Kind == Mbox {
		return s.Path, ""
	}
	r.dirsOnce.Do(r.prepareDirs)
	return r.dirPrefix[2*int(m.Source)+int(m.Sub)], r.Name(m)
}

// prepareDirs sets dirPrefix, the path of every source's cur/ and new/
// with its final slash (for mbox files the file's path), and dirRank,
// their ranks in byte order, so that cmpFirst can compare two paths by a
// rank and a name. That holds unless a Maildir directory's path is a
// proper prefix of another one's (a Maildir named inside another's cur/):
// dirRank is left nil then and paths are compared whole.
func (r *Result) prepareDirs() {
	r.dirPrefix = make([]string, 2*len(r.Sources))
	for i := range r.Sources {
		for sub, name := range subdirs {
			if r.Sources[i].Kind == Mbox {
				r.dirPrefix[2*i+sub] = r.Sources[i].Path
			} else {
				r.dirPrefix[2*i+sub] = filepath.Join(r.Sources[i].Path, name) + string(filepath.Separator)
			}
		}
	}
	ord := make([]int, len(r.dirPrefix))
	for i := range ord {
		ord[i] = i
	}
	slices.SortFunc(ord, func(a, b int) int { return strings.Compare(r.dirPrefix[a], r.dirPrefix[b]) })
	rank := make([]int32, len(ord))
	for k, i := range ord {
		if k > 0 {
			prev, cur := r.dirPrefix[ord[k-1]], r.dirPrefix[i]
			rank[i] = rank[ord[k-1]]
			if prev != cur {
				rank[i]++
			}
			if prev != cur && strings.HasPrefix(cur, prev) && r.Sources[ord[k-1]/2].Kind == Maildir {
				return // names would decide between these: compare whole paths
			}
		}
	}
	r.dirRank = rank
}

// PathParts returns Path(m) in two pieces, a directory ending in a slash
// (or the mbox file's path) and a name (or ""), without building it.
func (r *Result) PathParts(m *Message) (dir, name string) { return r.pathParts(m) }

// Kind returns the kind of m's source.
func (r *Result) Kind(m *Message) Kind { return r.Sources[m.Source].Kind }

var subdirs = [...]string{"cur", "new"}

// Scan reads every store. Unreadable or malformed messages are listed in
// Result.Skipped and the scan goes on; an error is returned only when a
// store argument itself cannot be used.
func Scan(ctx context.Context, stores []string, opts Options) (*Result, error) {
	if opts.Workers <= 0 {
		opts.Workers = 8
	}
	r := &Result{Stores: stores}
	for i, s := range stores {
		if err := r.discover(s, i); err != nil {
			return nil, err
		}
	}
	r.dropRepeatedSources()
	if err := r.list(); err != nil {
		return nil, err
	}
	if err := r.read(ctx, opts); err != nil {
		return r, err
	}
	if r.strs.Full() {
		// Names or identities would be missing: refuse rather than act
		// on a partial picture.
		return nil, ErrTooLarge
	}
	return r, nil
}

// ErrTooLarge says that one scan met more file names and Message-IDs than
// its records can reference (4 GiB of them, some 35 million messages).
var ErrTooLarge = errors.New("too many messages for one scan (over 4 GiB of file names and Message-IDs): scan the stores in parts")

// dropRepeatedSources keeps one source per Maildir or mbox file: a store
// named twice, a Maildir++ folder named again beside its root, or one
// reached through a symbolic link as a store argument would otherwise
// make each of its messages a duplicate of itself, and removing "the
// extra copy" would remove the only one.
func (r *Result) dropRepeatedSources() {
	type fileID struct{ dev, ino uint64 }
	seen := map[fileID]bool{}
	kept := r.Sources[:0]
	for _, src := range r.Sources {
		if fi, err := os.Stat(src.Path); err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				id := fileID{uint64(st.Dev), uint64(st.Ino)}
				if seen[id] {
					continue
				}
				seen[id] = true
			}
		}
		kept = append(kept, src)
	}
	r.Sources = kept
}

// discover classifies a store argument and appends its sources.
func (r *Result) discover(path string, store int) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("store %s: %w", path, err)
	}
	if !fi.IsDir() {
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("store %s: not a Maildir, an mbox file or a directory", path)
		}
		if fi.Size() == 0 {
			// An empty file named as a store is an empty mbox (for
			// example one that a dedupe emptied); in a directory walk an
			// empty file proves nothing and is passed over.
			r.Sources = append(r.Sources, Source{Path: path, Kind: Mbox, Store: store, ModTime: fi.ModTime()})
			return nil
		}
		ok, err := isMbox(path)
		if err != nil {
			return fmt.Errorf("store %s: %w", path, err)
		}
		if !ok {
			return fmt.Errorf("store %s: %w", path, ErrNotMbox)
		}
		r.Sources = append(r.Sources, Source{Path: path, Kind: Mbox, Store: store, Size: fi.Size(), ModTime: fi.ModTime()})
		return nil
	}
	before := len(r.Sources)
	if err := r.walk(path, store, 0); err != nil {
		return err
	}
	if len(r.Sources) == before {
		return fmt.Errorf("store %s: no Maildir or mbox file found in it", path)
	}
	return nil
}

// walk finds sources in a directory: a Maildir (and its Maildir++
// folders), or mbox files and Maildirs below it. Symbolic links are not
// followed, so a scan never leaves the store.
func (r *Result) walk(dir string, store, depth int) error {
	if depth > 32 {
		return nil
	}
	if IsMaildir(dir) {
		r.Sources = append(r.Sources, Source{Path: dir, Kind: Maildir, Store: store})
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("store %s: %w", dir, err)
	}
	maildir := IsMaildir(dir)
	for _, e := range ents {
		name := e.Name()
		p := filepath.Join(dir, name)
		if maildir && (name == "cur" || name == "new" || name == "tmp") {
			continue
		}
		switch {
		case e.Type()&fs.ModeSymlink != 0:
			continue
		case e.IsDir():
			if maildir && !(strings.HasPrefix(name, ".") && IsMaildir(p)) {
				continue // inside a Maildir only Maildir++ ".Folder"s hold mail
			}
			if !maildir && strings.HasPrefix(name, ".") && !IsMaildir(p) {
				continue
			}
			if err := r.walk(p, store, depth+1); err != nil {
				return err
			}
		case e.Type().IsRegular() && !maildir && !strings.HasPrefix(name, "."):
			if ok, _ := isMbox(p); ok {
				fi, err := e.Info()
				if err != nil {
					continue
				}
				r.Sources = append(r.Sources, Source{Path: p, Kind: Mbox, Store: store, Size: fi.Size(), ModTime: fi.ModTime()})
			}
		}
	}
	return nil
}

// IsMaildir reports whether dir holds cur/ and new/ directories.
func IsMaildir(dir string) bool {
	for _, s := range []string{"cur", "new"} {
		fi, err := os.Lstat(filepath.Join(dir, s))
		if err != nil || !fi.IsDir() {
			return false
		}
	}
	return true
}

// isMbox reports whether the file starts with an envelope line.
func isMbox(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	buf := make([]byte, 512)
	n, err := io.ReadFull(f, buf)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return false, err
	}
	line := buf[:n]
	if i := strings.IndexByte(string(line), '\n'); i >= 0 {
		line = line[:i]
	}
	return looksLikeFromLine(line), nil
}

// list enumerates Maildir messages in cur/ and new/ (never tmp/, where
// deliveries are still being written).
//
// Directories are read with getdents64 into one reused buffer, in chunks
// and unsorted (every order that matters is imposed later): a cur/ of a
// million entries is never held whole, and no object is allocated per
// entry (os.File.ReadDir allocates one). The entries are gathered small
// first, so that the records are allocated once at their exact count.
func (r *Result) list() error {
	type entry struct {
		name     strRef
		src, sub int32
	}
	var ents chunked[entry]
	buf := make([]byte, 64<<10)
	for si := range r.Sources {
		s := &r.Sources[si]
		if s.Kind != Maildir {
			continue
		}
		for sub, name := range subdirs {
			dir := filepath.Join(s.Path, name)
			err := readDir(dir, buf, func(n []byte, typ uint8) {
				if n[0] == '.' || typ == unix.DT_DIR {
					return
				}
				if typ != unix.DT_REG {
					r.Skipped = append(r.Skipped, Skipped{Path: filepath.Join(dir, string(n)), Reason: "not a regular file (symbolic link or special file): not followed"})
					s.Skipped++
					return
				}
				ents.add(entry{r.strs.add(unsafe.String(&n[0], len(n))), int32(si), int32(sub)})
			})
			if err != nil {
				r.Skipped = append(r.Skipped, Skipped{Path: dir, Reason: "cannot list folder: " + err.Error()})
				s.Skipped++
			}
		}
	}
	msgs := make([]Message, 0, ents.n+len(r.Messages))
	ents.drain(func(e entry) {
		msgs = append(msgs, Message{Source: e.src, nameOff: e.name.off, nameLen: e.name.n, Sub: uint8(e.sub), Flags: ParseFlags(r.strs.get(e.name))})
	})
	r.Messages = append(msgs, r.Messages...)
	return nil
}

// chunked gathers values in fixed chunks, for records counted in the
// millions: a growing slice would copy itself and leave garbage several
// times its final size. drain hands them out in order, letting each chunk
// go once it is read, so that they can be moved into one slice of their
// exact count without being held twice over.
type chunked[T any] struct {
	chunks [][]T
	n      int
}

func (c *chunked[T]) add(v T) {
	if len(c.chunks) == 0 || len(c.chunks[len(c.chunks)-1]) == cap(c.chunks[len(c.chunks)-1]) {
		c.chunks = append(c.chunks, make([]T, 0, 16<<10))
	}
	last := &c.chunks[len(c.chunks)-1]
	*last = append(*last, v)
	c.n++
}

func (c *chunked[T]) drain(fn func(T)) {
	for i, ch := range c.chunks {
		for _, v := range ch {
			fn(v)
		}
		c.chunks[i] = nil
	}
	c.chunks, c.n = nil, 0
}

// readDir calls fn with the name and type (DT_REG, DT_DIR, ...) of every
// entry of dir but "." and "..", reading with getdents64 into buf. The
// name is only valid during the call. An entry whose type the file
// system does not report (DT_UNKNOWN) is looked up with fstatat, without
// following a symbolic link.
func readDir(dir string, buf []byte, fn func(name []byte, typ uint8)) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	for {
		n, err := unix.Getdents(fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n <= 0 {
			return nil
		}
		// struct linux_dirent64: ino u64, off s64, reclen u16, type u8,
		// name NUL-terminated.
		for off := 0; off+19 < n; {
			reclen := int(binary.NativeEndian.Uint16(buf[off+16:]))
			if reclen == 0 || off+reclen > n {
				return errors.New("malformed directory entry")
			}
			typ := buf[off+18]
			name := buf[off+19 : off+reclen]
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			off += reclen
			if len(name) == 0 || string(name) == "." || string(name) == ".." {
				continue
			}
			if typ == unix.DT_UNKNOWN {
				var st unix.Stat_t
				if err := unix.Fstatat(fd, string(name), &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
					continue // gone since it was listed
				}
				switch st.Mode & unix.S_IFMT {
				case unix.S_IFREG:
					typ = unix.DT_REG
				case unix.S_IFDIR:
					typ = unix.DT_DIR
				default:
					typ = unix.DT_LNK // not regular: reported as not followed
				}
			}
			fn(name, typ)
		}
	}
}

// read fingerprints every listed Maildir message with a worker pool, and
// every mbox in one sequential pass each.
func (r *Result) read(ctx context.Context, opts Options) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		jobs = make(chan int, 1024)
	)
	skip := func(s Skipped, src int32) {
		mu.Lock()
		r.Skipped = append(r.Skipped, s)
		r.Sources[src].Skipped++
		mu.Unlock()
	}
	bad := make([]bool, len(r.Messages))
	var total int64
	// Header first: a body is read and hashed when its header identity
	// was met before, or everywhere once duplicates are common (HashAll
	// from the start); Duplicates later hashes the first copies of the
	// identities that collide, at the cost of reading them again. That
	// second read costs more than hashing while the file is open (it
	// repeats the open and the header), so it pays only in stores where
	// few identities collide: after a duplicate-download incident nearly
	// every message has copies, and every body is hashed in one pass.
	//
	// Whether duplicates are common is judged early: in a store read in
	// no particular order, the share of messages met before grows with
	// the share read, so after n of N messages with h met before, about
	// h*N/n^2 of the store are later copies. From one in commonDuplicates
	// on, every body is hashed.
	head, want := headRead, wantAll
	var common atomic.Bool // duplicates are common: read and hash everything
	if !opts.HashAll {
		seen := newSeenSet(len(r.Messages))
		var met, hits atomic.Int64
		all := int64(len(r.Messages))
		want = func(messageID string, keyHash uint64) bool {
			if common.Load() {
				return true // judged: the set and counters are done with
			}
			n := met.Add(1)
			if seen.add(candidateHash(messageID, keyHash)) {
				hits.Add(1)
				return true
			}
			if n >= minJudged && hits.Load()*all*commonDuplicates >= n*n {
				common.Store(true) // from now on files are read whole at once
				return true
			}
			return false
		}
	} else {
		common.Store(true)
	}
	dirs := r.openDirs()
	defer closeDirs(dirs)
	workers := min(opts.Workers, max(1, len(r.Messages)))
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &fileReader{p: r.parser(), dirs: dirs}
			var n int64
			for i := range jobs {
				m := &r.Messages[i]
				h := head
				if common.Load() {
					h = wholeRead // everything is read: in as few calls as possible
				}
				if pr, err := r.readMaildir(w, m, h, want); err != nil {
					bad[i] = true
					skip(Skipped{Path: r.Path(m), Reason: err.Error()}, m.Source)
				} else {
					r.setPrint(m, pr)
				}
				n += m.Size
				if opts.Progress != nil {
					opts.Progress.Add(1, m.Size)
				}
			}
			mu.Lock()
			total += n
			mu.Unlock()
		}()
	}
	var mboxMsgs []Message
	var mboxErr error
	mboxDone := make(chan struct{})
	go func() {
		defer close(mboxDone)
		for si := range r.Sources {
			if r.Sources[si].Kind != Mbox {
				continue
			}
			msgs, skipped, err := r.readMbox(ctx, r.Sources[si].Path, int32(si), opts.Progress)
			if err != nil && mboxErr == nil {
				mboxErr = err
			}
			if mboxMsgs == nil {
				mboxMsgs = msgs // the only mbox, most often: no copy
			} else {
				mboxMsgs = append(mboxMsgs, msgs...)
			}
			for _, s := range skipped {
				skip(s, int32(si))
			}
		}
	}()
	var err error
feed:
	for i := range r.Messages {
		select {
		case jobs <- i:
		case <-ctx.Done():
			err = ctx.Err()
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	<-mboxDone
	if err == nil {
		err = mboxErr
	}
	// Keep only fingerprinted Maildir messages, then the mbox ones.
	kept := r.Messages[:0]
	for i := range r.Messages {
		if !bad[i] {
			kept = append(kept, r.Messages[i])
		}
	}
	// Filtered in place: a second, exact-size copy would double the
	// records at this instant (the peak of a million-message scan).
	if len(kept) == 0 {
		r.Messages = mboxMsgs // mbox files only: no copy
	} else {
		r.Messages = append(kept, mboxMsgs...)
	}
	if len(mboxMsgs) >= 1<<17 {
		// The mbox records were gathered in chunks and moved (see
		// readMbox): collect the chunks now and give their memory back,
		// so that the collector's next goal is set by the records, not
		// by the records twice over (a million records: 80 MB).
		debug.FreeOSMemory()
	}
	for i := range mboxMsgs {
		total += mboxMsgs[i].Size
	}
	r.Bytes = total
	sort.SliceStable(r.Skipped, func(i, j int) bool {
		if r.Skipped[i].Path != r.Skipped[j].Path {
			return r.Skipped[i].Path < r.Skipped[j].Path
		}
		return r.Skipped[i].Index < r.Skipped[j].Index
	})
	return err
}

// headRead is how much of a Maildir file the first pass reads when bodies
// are hashed only where header identities collide: enough for almost every
// header block (a longer one is read on), little enough that a message
// whose identity turns out unique costs one small copy, not its size.
const headRead = 8 << 10

// wholeRead is the first read of a file whose body will be hashed: the
// parser's whole buffer, which holds most messages.
const wholeRead = 64 << 10

// wantAll asks for every body.
func wantAll(string, uint64) bool { return true }

// commonDuplicates: when at least one message in this many looks like a
// later copy, the first pass hashes every body (see read); minJudged
// messages are read before that is judged.
const (
	commonDuplicates = 32
	minJudged        = 256
)

// readMaildir fingerprints one Maildir file with as few system calls as
// possible (a scan makes millions of them): open, one read into the
// parser's buffer, close. wantBody decides after the header whether the
// rest of a file larger than that read is read and hashed (a file that
// fits is hashed where it lies). An fstat is made only for a file larger
// than the read or a name without a delivery time. O_NOFOLLOW: a message
// replaced by a symbolic link since the listing is not followed;
// O_NONBLOCK: a FIFO cannot hang the scan (it reads as empty and is
// skipped).
func (r *Result) readMaildir(w *fileReader, m *Message, head int, wantBody func(string, uint64) bool) (fingerprint.Print, error) {
	p := w.p
	fd, err := w.open(r, m)
	if err != nil {
		if err == unix.ELOOP {
			return fingerprint.Print{}, errors.New("not a regular file (symbolic link): not followed")
		}
		return fingerprint.Print{}, fmt.Errorf("cannot read: %w", err)
	}
	defer unix.Close(fd)
	buf := p.Buffer()
	head = min(head, len(buf))
	name := r.Name(m)
	n, err := readFull(fd, buf[:head], nameSize(name))
	if err != nil {
		return fingerprint.Print{}, fmt.Errorf("cannot read: %w", err)
	}
	arr, timed := nameTime(name)
	size := int64(n)
	if n == head || !timed {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			return fingerprint.Print{}, fmt.Errorf("cannot stat: %w", err)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFREG {
			return fingerprint.Print{}, errors.New("not a regular file")
		}
		if !timed {
			arr = st.Mtim.Sec
		}
		if n == head {
			size = st.Size
		}
	}
	m.Size, m.Arrival = size, arr
	return p.SumRead(n, fdReader(fd), size, wantBody)
}

// fileReader is one worker's means of reading Maildir files: its parser,
// and the cur/ and new/ directories of every Maildir held open, so that a
// file is opened by its name alone (openat) without building its path:
// the kernel walks one path component, not the whole store path, and no
// string is allocated per message.
type fileReader struct {
	p    *fingerprint.Parser
	dirs []int  // directory descriptors by source*2+sub; nil: open by path
	name []byte // the NUL-terminated name being opened
	// atime: O_NOATIME was refused (the files are not ours). A scan
	// otherwise leaves even the access times of the store alone, and
	// saves the inode writes that updating them would cost.
	atime bool
}

const openFlags = unix.O_RDONLY | unix.O_NOFOLLOW | unix.O_NONBLOCK | unix.O_CLOEXEC

func (w *fileReader) open(r *Result, m *Message) (int, error) {
	dir := -1
	if w.dirs != nil {
		dir = w.dirs[int(m.Source)*2+int(m.Sub)]
	}
	if dir < 0 {
		return unix.Open(r.Path(m), openFlags, 0)
	}
	w.name = append(append(w.name[:0], r.Name(m)...), 0)
	for {
		flags := openFlags
		if !w.atime {
			flags |= unix.O_NOATIME
		}
		fd, _, errno := unix.Syscall6(unix.SYS_OPENAT, uintptr(dir), uintptr(unsafe.Pointer(&w.name[0])), uintptr(flags), 0, 0, 0)
		if errno == unix.EINTR {
			continue
		}
		if errno == unix.EPERM && !w.atime {
			w.atime = true // not the files' owner: O_NOATIME is refused
			continue
		}
		if errno != 0 {
			return -1, errno
		}
		return int(fd), nil
	}
}

// openDirs opens the cur/ and new/ directories of every Maildir source
// for fileReader; a directory that cannot be opened gets -1 (its files
// are then opened by path, and fail there with a clear error).
func (r *Result) openDirs() []int {
	r.dirsOnce.Do(r.prepareDirs)
	dirs := make([]int, len(r.dirPrefix))
	for i, dir := range r.dirPrefix {
		dirs[i] = -1
		if r.Sources[i/2].Kind != Maildir {
			continue
		}
		if fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err == nil {
			dirs[i] = fd
		}
	}
	return dirs
}

func closeDirs(dirs []int) {
	for _, fd := range dirs {
		if fd >= 0 {
			unix.Close(fd)
		}
	}
}

// candidateHash is the 64-bit hash of a header identity: copies can be
// duplicates only when theirs are equal.
func candidateHash(messageID string, keyHash uint64) uint64 {
	if messageID != "" {
		return xxhash.Sum64String(messageID)
	}
	return keyHash
}

// seenSet remembers, approximately and without locks, which header
// identities the first pass has met: a message whose identity was met
// before is a likely duplicate, so its body is hashed while its file is
// open. It is a Bloom filter of two bits per identity in 32 per message:
// a false "seen" (about 1 in 250) only costs a body hash and nudges the
// judgement of whether duplicates are common; the exact grouping is done
// later by Duplicates. Four bytes per message, while the pass runs.
type seenSet struct {
	words []uint64
	mask  uint64
}

func newSeenSet(n int) *seenSet {
	bits := uint64(1 << 16)
	for bits < uint64(n)*32 {
		bits <<= 1
	}
	return &seenSet{words: make([]uint64, bits/64), mask: bits - 1}
}

// add marks h and reports whether it was marked before.
func (s *seenSet) add(h uint64) bool {
	seen := true
	for _, i := range [2]uint64{h & s.mask, (h>>32 ^ h*0x9e3779b97f4a7c15) & s.mask} {
		bit := uint64(1) << (i & 63)
		if atomic.OrUint64(&s.words[i>>6], bit)&bit == 0 {
			seen = false
		}
	}
	return seen
}

// readFull reads from fd into buf until it is full or the file ends.
// When the file's size is known (want >= 0) and that many bytes arrived,
// it stops without the read that would only report the end: a million
// small files, a million system calls.
func readFull(fd int, buf []byte, want int64) (int, error) {
	n := 0
	for n < len(buf) && int64(n) != want {
		k, err := unix.Read(fd, buf[n:])
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN { // a FIFO with no writer behind O_NONBLOCK
			return n, nil
		}
		if err != nil {
			return n, err
		}
		if k == 0 {
			break
		}
		n += k
	}
	return n, nil
}

// fdReader reads the rest of a file by its descriptor.
type fdReader int

func (f fdReader) Read(p []byte) (int, error) {
	for {
		n, err := unix.Read(int(f), p)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, err
		}
		if n == 0 && len(p) > 0 {
			return 0, io.EOF
		}
		return n, nil
	}
}

// nameSize is the size a Maildir name states (",S=1234", written by
// Dovecot, Courier and others), or -1. It is only a hint: a file that
// turns out longer is read to its end.
func nameSize(name string) int64 {
	i := strings.Index(name, ",S=")
	if i < 0 {
		return -1
	}
	var v int64
	j := i + 3
	for ; j < len(name) && name[j] >= '0' && name[j] <= '9' && j-i < 3+15; j++ {
		v = v*10 + int64(name[j]-'0')
	}
	if j == i+3 {
		return -1
	}
	return v
}

// nameTime is the delivery time at the start of a Maildir name (the
// seconds before the first dot), if there is one.
func nameTime(name string) (int64, bool) {
	if i := strings.IndexByte(name, '.'); i > 0 {
		if s, err := strconv.ParseInt(name[:i], 10, 64); err == nil && s > 0 {
			return s, true
		}
	}
	return 0, false
}

// mboxInline is the largest message the mbox splitter hands to a worker
// as a copy; larger ones it hashes itself while streaming, so memory stays
// bounded by mboxBuffers copies, never by message size.
const (
	mboxInline  = 1 << 20
	mboxBuffers = 16
)

var errNoFinalNewline = errors.New("last message has no final newline (truncated, or still being written)")

type mboxJob struct {
	m         Message
	buf       []byte
	seg       int // the segment it was split from (see mboxSegments)
	truncated bool
}

type mboxResult struct {
	m   Message
	pr  fingerprint.Print
	seg int
	err error
}

// readMbox fingerprints every message of one mbox file in one sequential
// pass: this goroutine reads and splits, workers hash copies of the
// messages, so hashing does not slow the read.
func (r *Result) readMbox(ctx context.Context, path string, src int32, prog Progress) ([]Message, []Skipped, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, []Skipped{{Path: path, Reason: "cannot read: " + err.Error()}}, nil
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, []Skipped{{Path: path, Reason: "cannot stat: " + err.Error()}}, nil
	}
	if data := mapFile(f, fi.Size()); data != nil {
		defer unmapFile(data)
		return r.readMboxMapped(ctx, path, src, data, fi.ModTime(), prog)
	}
	var (
		jobs     = make(chan mboxJob, mboxBuffers)
		results  = make(chan mboxResult, 2*mboxBuffers)
		pool     = make(chan []byte, mboxBuffers)
		wg       sync.WaitGroup
		split    []Skipped // splitting errors, from the splitter goroutines
		splitSeg []int     // the segment of each
	)
	for range mboxBuffers {
		pool <- nil
	}
	for range max(1, runtime.GOMAXPROCS(0)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			wp := r.parser()
			for j := range jobs {
				pr, err := wp.SumBytes(j.buf)
				if err == nil && j.truncated {
					err = errNoFinalNewline
				}
				pool <- j.buf[:0]
				results <- mboxResult{j.m, pr, j.seg, err}
			}
		}()
	}
	// Large files are split at message boundaries into one segment per
	// core, each read by its own splitter: finding the boundaries is the
	// serial part of the pass. Ordinals are numbered per segment and made
	// global below.
	segs := mboxSegments(f, fi.Size(), runtime.GOMAXPROCS(0))
	counts := make([]int, len(segs)) // messages met per segment
	failed := len(segs)              // the first segment that could not be split to its end
	var splitMu sync.Mutex
	var splitters sync.WaitGroup
	for si := range segs {
		splitters.Add(1)
		go func() {
			defer splitters.Done()
			seg := segs[si]
			p := r.parser()
			mr := NewMboxReader(io.NewSectionReader(f, seg.off, seg.end-seg.off))
			defer func() { counts[si] = mr.n }()
			for ctx.Err() == nil {
				env, body, err := mr.Next()
				if err == io.EOF {
					return
				}
				if err != nil {
					splitMu.Lock()
					split = append(split, Skipped{Path: path, Index: mr.n, Reason: "cannot split mbox: " + err.Error()})
					splitSeg = append(splitSeg, si)
					failed = min(failed, si)
					splitMu.Unlock()
					return
				}
				off := seg.off + env.Offset
				// The file's last message? (env.Length is known once the
				// body has been read.)
				last := func() bool { return off+env.Length == fi.Size() }
				buf := <-pool
				buf, complete, rerr := readUpTo(body, buf, mboxInline)
				m := Message{Source: src, Index: int32(env.Index), Offset: off}
				m.Arrival = arrivalOf([]byte(env.From), fi.ModTime())
				if complete && rerr == nil {
					m.Size = env.Length
					jobs <- mboxJob{m, buf, si, last() && !endsWithNewline(f, fi.Size())}
					continue
				}
				// Too large to copy: hash it here as it streams by.
				var pr fingerprint.Print
				if rerr == nil {
					pr, rerr = p.Sum(io.MultiReader(bytes.NewReader(buf), body), -1, true)
				}
				if _, err := io.Copy(io.Discard, body); err != nil && rerr == nil {
					rerr = err
				}
				pool <- buf[:0]
				m.Size = env.Length
				if rerr == nil && last() && !endsWithNewline(f, fi.Size()) {
					rerr = errNoFinalNewline
				}
				results <- mboxResult{m, pr, si, rerr}
			}
		}()
	}
	go func() {
		defer func() { wg.Wait(); close(results) }()
		defer close(jobs)
		splitters.Wait()
	}()
	// Gathered in fixed chunks and moved into one slice of their exact
	// count at the end, each chunk let go as it is copied: a million
	// records never exist twice over, nor with regrowth slack.
	type segMessage struct {
		m   Message
		seg int
	}
	var gathered chunked[segMessage]
	var skipped []Skipped
	var skipSeg []int
	for res := range results {
		if prog != nil {
			prog.Add(1, res.m.Size)
		}
		if res.err != nil {
			skipped = append(skipped, Skipped{Path: path, Index: int(res.m.Index), Reason: res.err.Error()})
			skipSeg = append(skipSeg, res.seg)
			continue
		}
		r.setPrint(&res.m, res.pr)
		gathered.add(segMessage{res.m, res.seg})
	}
	skipped = append(skipped, split...)
	skipSeg = append(skipSeg, splitSeg...)
	// Global ordinals; a segment that could not be split to its end ends
	// the file's messages there, as one sequential pass would have.
	base := make([]int, len(segs)+1)
	for i, n := range counts {
		base[i+1] = base[i] + n
	}
	msgs := make([]Message, 0, gathered.n)
	gathered.drain(func(sm segMessage) {
		if sm.seg <= failed {
			sm.m.Index += int32(base[sm.seg])
			msgs = append(msgs, sm.m)
		}
	})
	keptSkips := skipped[:0]
	for i, sk := range skipped {
		if skipSeg[i] <= failed {
			sk.Index += base[skipSeg[i]]
			keptSkips = append(keptSkips, sk)
		}
	}
	skipped = keptSkips
	sort.Slice(msgs, func(i, j int) bool { return msgs[i].Index < msgs[j].Index })
	return msgs, skipped, ctx.Err()
}

// mboxSegment is a byte range of an mbox file that starts at a message
// boundary and ends at one (or at the end of the file).
type mboxSegment struct{ off, end int64 }

// mboxMinSegment: files smaller than this many bytes per core are read
// by one splitter.
var mboxMinSegment int64 = 16 << 20 // a variable for the tests

// mboxSegments cuts an mbox into up to n segments at boundaries where a
// sequential pass surely splits too (see splitPoint); where none is found
// near a cut, the neighbouring segments stay one.
func mboxSegments(f io.ReaderAt, size int64, n int) []mboxSegment {
	n = min(n, int(size/mboxMinSegment))
	starts := []int64{0}
	for i := 1; i < n; i++ {
		if x, ok := splitPoint(f, size*int64(i)/int64(n), size); ok && x > starts[len(starts)-1] {
			starts = append(starts, x)
		}
	}
	segs := make([]mboxSegment, len(starts))
	for i, s := range starts {
		end := size
		if i+1 < len(starts) {
			end = starts[i+1]
		}
		segs[i] = mboxSegment{s, end}
	}
	return segs
}

// splitPoint finds, within 1 MiB after from, the offset of a From_ line
// that any sequential pass of MboxReader takes for a message boundary: it
// looks like an envelope line, follows an empty line, and the line before
// that empty line is neither missing nor a "From " line (so the empty
// line is body, not the start of a message right after its From_ line,
// which MboxReader treats differently).
func splitPoint(f io.ReaderAt, from, size int64) (int64, bool) {
	// A small window first: the first boundary is usually a few KB
	// away, and the larger window, read only when the small one has
	// none, finds the same first one (a candidate the small window cuts
	// short has no other candidate after it there).
	const back = 64 << 10
	lo := max(from-back, 0)
	for _, window := range []int64{64 << 10, 1 << 20} {
		end := min(size, from+window)
		buf := make([]byte, end-lo)
		n, err := f.ReadAt(buf, lo)
		if err != nil && err != io.EOF {
			return 0, false
		}
		if at, ok := firstSplit(buf[:n], int(from-lo), lo > 0); ok {
			return lo + int64(at), true
		}
		if end == size {
			break
		}
	}
	return 0, false
}

// firstSplit is splitPoint's search in buf from index i on; cut says
// that buf does not start at the start of the file.
func firstSplit(buf []byte, i int, cut bool) (int, bool) {
	for i < len(buf) {
		x := bytes.Index(buf[i:], []byte("\nFrom "))
		if x < 0 {
			return 0, false
		}
		at := i + x + 1 // the From_ line
		i = at
		eol := bytes.IndexByte(buf[at:], '\n')
		if eol < 0 || !looksLikeFromLine(bytes.TrimRight(buf[at:at+eol], "\r")) {
			continue
		}
		// The empty line before: "\n\n" or "\n\r\n" ending at at-1.
		blank := at - 2
		if blank >= 0 && buf[blank] == '\r' {
			blank--
		}
		if blank < 0 || buf[blank] != '\n' {
			continue
		}
		// The line before the empty one: whole, not empty, not "From ".
		prev := bytes.LastIndexByte(buf[:blank], '\n') + 1
		if prev == 0 && cut {
			continue // longer than the look-back: take no risk
		}
		line := bytes.TrimRight(buf[prev:blank], "\r")
		if len(line) == 0 || bytes.HasPrefix(line, []byte("From ")) {
			continue
		}
		return at, true
	}
	return 0, false
}

// readUpTo appends r's bytes to buf until EOF (complete) or limit bytes.
func readUpTo(r io.Reader, buf []byte, limit int) ([]byte, bool, error) {
	for len(buf) < limit {
		if len(buf) == cap(buf) {
			nb := make([]byte, len(buf), min(max(2*cap(buf), 64<<10), limit))
			copy(nb, buf)
			buf = nb
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, true, nil
		}
		if err != nil {
			return buf, false, err
		}
	}
	return buf, false, nil
}

func endsWithNewline(f *os.File, size int64) bool {
	if size == 0 {
		return true
	}
	b := make([]byte, 1)
	_, err := f.ReadAt(b, size-1)
	return err == nil && b[0] == '\n'
}

// HashBodies makes sure the messages at the given indices have body
// hashes, reading them again where the first pass stopped at the header.
// A message that can no longer be read is moved to Skipped and reported
// in the returned slice (indices into the old Messages are then invalid:
// callers must re-derive them).
func (r *Result) HashBodies(ctx context.Context, idx []int, workers int) error {
	var need []int
	for _, i := range idx {
		if !r.Messages[i].HasBody {
			need = append(need, i)
		}
	}
	if len(need) == 0 {
		return nil
	}
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0) * 4
	}
	dirs := r.openDirs()
	defer closeDirs(dirs)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		jobs = make(chan int)
		bad  = map[int]string{}
	)
	for w := 0; w < min(workers, len(need)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Not interning: the strings are only compared with the record's.
			w := &fileReader{p: fingerprint.NewParser(), dirs: dirs}
			for i := range jobs {
				if err := r.rehash(w, &r.Messages[i]); err != nil {
					mu.Lock()
					bad[i] = err.Error()
					mu.Unlock()
				}
			}
		}()
	}
	for _, i := range need {
		if ctx.Err() != nil {
			break
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if len(bad) > 0 {
		kept := r.Messages[:0]
		for i := range r.Messages {
			if reason, ok := bad[i]; ok {
				m := &r.Messages[i]
				r.Skipped = append(r.Skipped, Skipped{Path: r.Path(m), Index: int(m.Index), Reason: reason})
				r.Sources[m.Source].Skipped++
				continue
			}
			kept = append(kept, r.Messages[i])
		}
		r.Messages = kept
	}
	return ctx.Err()
}

var errChanged = errors.New("message changed while it was being scanned")

// rehash reads a message again and hashes its body. The header identity
// must not have changed since the first read.
func (r *Result) rehash(w *fileReader, m *Message) error {
	if r.Kind(m) == Maildir {
		// The raw read path of the first pass, reading everything now.
		again := *m
		pr, err := r.readMaildir(w, &again, wholeRead, wantAll)
		if err != nil {
			return err
		}
		if pr.MessageID != r.MessageID(m) || pr.KeyHash != m.KeyHash || again.Size != m.Size {
			return errChanged
		}
		m.BodyHash, m.HasBody = pr.BodyHash, true
		return nil
	}
	rc, err := r.Open(m)
	if err != nil {
		return err
	}
	defer rc.Close()
	pr, err := w.p.Sum(rc, m.Size, true)
	if err != nil {
		return err
	}
	if pr.MessageID != r.MessageID(m) || pr.KeyHash != m.KeyHash {
		return errChanged
	}
	m.BodyHash, m.HasBody = pr.BodyHash, true
	return nil
}

// Open returns the bytes of one message as they are stored: the Maildir
// file, or the mbox slice after its From_ line.
func (r *Result) Open(m *Message) (io.ReadCloser, error) {
	f, err := os.Open(r.Path(m))
	if err != nil {
		return nil, err
	}
	if r.Kind(m) == Maildir {
		return f, nil
	}
	sr := io.NewSectionReader(f, m.Offset, m.Size)
	_, body, err := newMboxReaderSize(sr, m.Size).Next()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("mbox message %d at offset %d: %w", m.Index, m.Offset, err)
	}
	return struct {
		io.Reader
		io.Closer
	}{body, f}, nil
}

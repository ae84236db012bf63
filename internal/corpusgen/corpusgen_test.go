package corpusgen

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// smallOptions is a quick incident with every feature switched on strongly
// enough to show up in a few hundred messages.
func smallOptions(seed int64, n int) Options {
	o := DefaultOptions(seed, n)
	o.ConflictShare = 0.05
	o.NoMessageIDShare = 0.05
	o.UnsavedShare = 0.1
	o.CRLFShare = 0.2
	o.TrailingBlankShare = 0.2
	o.MaxCopies = 6
	o.MaxSize = 60 << 10
	o.MeanSize = 12 << 10
	return o
}

// treeHash hashes every file's relative path, contents and mtime under dir.
func treeHash(t *testing.T, dir string) [32]byte {
	t.Helper()
	h := sha256.New()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		h.Write([]byte(rel + "\x00"))
		if d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		h.Write(b)
		h.Write([]byte(fi.ModTime().UTC().String()))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

func truthJSON(t *testing.T, tr *Truth) []byte {
	t.Helper()
	b, err := json.Marshal(tr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDeterministic(t *testing.T) {
	opts := smallOptions(7, 150)
	dir := t.TempDir()
	var hashes [3][32]byte
	var truths [3][]byte
	for k, seed := range []int64{7, 7, 8} {
		o := opts
		o.Seed = seed
		root := filepath.Join(dir, strconv.Itoa(k))
		tr, err := WriteMaildirPP(filepath.Join(root, "pp"), o)
		if err != nil {
			t.Fatal(err)
		}
		tm, err := WriteMbox(filepath.Join(root, "x.mbox"), o)
		if err != nil {
			t.Fatal(err)
		}
		hashes[k] = treeHash(t, root)
		truths[k] = append(truthJSON(t, tr), truthJSON(t, tm)...)
	}
	if hashes[0] != hashes[1] {
		t.Errorf("seed 7 twice: tree hashes %x and %x differ", hashes[0], hashes[1])
	}
	if !bytes.Equal(truths[0], truths[1]) {
		t.Errorf("seed 7 twice: truths differ")
	}
	if hashes[0] == hashes[2] {
		t.Errorf("seeds 7 and 8 gave the same tree")
	}

	// Any message alone equals the same message in a full run.
	g, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	all, err := ServerMessages(opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{149, 0, 77, 3} {
		if got := g.Message(i); !bytes.Equal(got, all[i].Body) {
			t.Errorf("Message(%d) alone differs from the streamed one", i)
		}
	}
}

// headerEnd returns the index of the blank line ending the header of an LF
// message, or -1.
func headerEnd(m []byte) int { return bytes.Index(m, []byte("\n\n")) }

// headerValue returns the first value of field name in the header of an LF
// message.
func headerValue(m []byte, name string) (string, bool) {
	end := headerEnd(m)
	if end < 0 {
		return "", false
	}
	for _, line := range strings.Split(string(m[:end]), "\n") {
		k := strings.IndexByte(line, ':')
		if k > 0 && strings.EqualFold(line[:k], name) {
			return strings.TrimSpace(line[k+1:]), true
		}
	}
	return "", false
}

var uidRE = regexp.MustCompile(`^[0-9a-f]{16}$`)

func TestServerMessages(t *testing.T) {
	opts := DefaultOptions(3, 3000)
	opts.ConflictShare = 0.04
	msgs, err := ServerMessages(opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != opts.Messages {
		t.Fatalf("got %d server messages, want %d", len(msgs), opts.Messages)
	}
	var total int64
	ids := map[string][]int{}
	noID, saved := 0, 0
	lastUID := ""
	bodies := map[[32]byte]int{}
	var sawFrom, sawGtFrom, sawDot, sawMultipart, saw8bit, sawQP, sawBase64 bool
	for i, m := range msgs {
		b := m.Body
		if m.Index != i {
			t.Fatalf("message %d has Index %d", i, m.Index)
		}
		if !uidRE.MatchString(m.UID) || m.UID <= lastUID {
			t.Fatalf("message %d: UID %q after %q, want rising 16 hex digits", i, m.UID, lastUID)
		}
		lastUID = m.UID
		if headerEnd(b) < 0 {
			t.Fatalf("message %d has no header/body separator", i)
		}
		if bytes.IndexByte(b, '\r') >= 0 || !bytes.HasSuffix(b, []byte("\n")) {
			t.Fatalf("message %d: want LF line ends and a final LF", i)
		}
		if len(b) < opts.MinSize || len(b) > opts.MaxSize {
			t.Errorf("message %d: size %d outside [%d, %d]", i, len(b), opts.MinSize, opts.MaxSize)
		}
		total += int64(len(b))
		if id, ok := headerValue(b, "Message-ID"); ok {
			ids[id] = append(ids[id], i)
		} else {
			noID++
		}
		if m.Saved {
			saved++
			if m.Copies < 1 || m.Copies > opts.MaxCopies {
				t.Errorf("message %d: %d copies", i, m.Copies)
			}
		} else if m.Copies != 0 {
			t.Errorf("message %d: not saved but %d copies", i, m.Copies)
		}
		body := b[headerEnd(b)+2:]
		sum := sha256.Sum256(body)
		if j, ok := bodies[sum]; ok {
			t.Errorf("messages %d and %d have the same body", j, i)
		}
		bodies[sum] = i
		sawFrom = sawFrom || bytes.HasPrefix(body, []byte("From ")) || bytes.Contains(body, []byte("\nFrom "))
		sawGtFrom = sawGtFrom || bytes.Contains(body, []byte("\n>From "))
		sawDot = sawDot || bytes.Contains(body, []byte("\n.\n"))
		sawMultipart = sawMultipart || bytes.Contains(b, []byte("Content-Type: multipart/"))
		saw8bit = saw8bit || bytes.Contains(b, []byte("Content-Transfer-Encoding: 8bit"))
		sawQP = sawQP || bytes.Contains(b, []byte("Content-Transfer-Encoding: quoted-printable"))
		sawBase64 = sawBase64 || bytes.Contains(b, []byte("Content-Transfer-Encoding: base64"))
	}
	for what, ok := range map[string]bool{
		"From line": sawFrom, ">From line": sawGtFrom, "lone dot line": sawDot, "multipart": sawMultipart,
		"8bit": saw8bit, "quoted-printable": sawQP, "base64": sawBase64,
	} {
		if !ok {
			t.Errorf("no message has a %s", what)
		}
	}
	mean := float64(total) / float64(len(msgs))
	if math.Abs(mean-float64(opts.MeanSize))/float64(opts.MeanSize) > 0.15 {
		t.Errorf("mean size %.0f, want within 15%% of %d", mean, opts.MeanSize)
	}
	if share := float64(noID) / float64(len(msgs)); math.Abs(share-opts.NoMessageIDShare) > 0.015 {
		t.Errorf("share without Message-ID %.3f, want about %.3f", share, opts.NoMessageIDShare)
	}
	conflicts := 0
	for _, ms := range ids {
		conflicts += len(ms) - 1
	}
	if share := float64(conflicts) / float64(len(msgs)); math.Abs(share-opts.ConflictShare) > 0.015 {
		t.Errorf("conflict share %.3f, want about %.3f", share, opts.ConflictShare)
	}
	if saved != len(msgs) {
		t.Errorf("UnsavedShare 0 but %d of %d saved", saved, len(msgs))
	}
}

// normalise undoes what a local copy adds: CRLF line ends, the client
// header fields and trailing blank lines. Mbox quoting is not undone (mboxo
// cannot be); callers quote the original instead.
func normalise(t *testing.T, copy []byte) []byte {
	t.Helper()
	c := bytes.ReplaceAll(copy, []byte("\r\n"), []byte("\n"))
	end := headerEnd(c)
	if end < 0 {
		t.Fatalf("copy has no header/body separator: %.200q", c)
	}
	var out []byte
	for _, line := range bytes.SplitAfter(c[:end+1], []byte("\n")) {
		k := bytes.IndexByte(line, ':')
		if k > 0 && slices.Contains(ClientHeaders, string(line[:k])) {
			continue
		}
		out = append(out, line...)
	}
	out = append(out, c[end+1:]...)
	for bytes.HasSuffix(out, []byte("\n\n")) {
		out = out[:len(out)-1]
	}
	return out
}

// quote applies mbox quoting to the body lines of an LF message.
func quote(m []byte, q Quoting) []byte {
	end := headerEnd(m)
	out := append([]byte(nil), m[:end+2]...)
	for _, line := range bytes.SplitAfter(m[end+2:], []byte("\n")) {
		l := line
		if q == MboxRD {
			l = bytes.TrimLeft(l, ">")
		}
		if bytes.HasPrefix(l, []byte("From ")) {
			out = append(out, '>')
		}
		out = append(out, line...)
	}
	return out
}

// checkGroups checks every group's copies against the server messages:
// copies differ from the original only in the allowed ways.
func checkGroups(t *testing.T, tr *Truth, opts Options, copyBytes func(Copy) []byte, q *Quoting) {
	t.Helper()
	server, err := ServerMessages(opts)
	if err != nil {
		t.Fatal(err)
	}
	savedUIDs, unsavedUIDs := []string{}, []string{}
	for _, m := range server {
		if m.Saved {
			savedUIDs = append(savedUIDs, m.UID)
		} else {
			unsavedUIDs = append(unsavedUIDs, m.UID)
		}
	}
	if !slices.Equal(tr.SavedUIDs, savedUIDs) || !slices.Equal(tr.UnsavedUIDs, unsavedUIDs) {
		t.Errorf("saved/unsaved UIDs in Truth differ from ServerMessages")
	}
	if len(tr.Groups) != len(savedUIDs) || tr.Distinct != len(tr.Groups) {
		t.Fatalf("%d groups, Distinct %d, %d saved server messages", len(tr.Groups), tr.Distinct, len(savedUIDs))
	}
	copies, noID := 0, 0
	for _, gr := range tr.Groups {
		orig := server[gr.Message].Body
		if gr.UID != server[gr.Message].UID || len(gr.Copies) != server[gr.Message].Copies {
			t.Fatalf("group of message %d: UID %s, %d copies; server says %s, %d", gr.Message, gr.UID, len(gr.Copies), server[gr.Message].UID, server[gr.Message].Copies)
		}
		want := orig
		if q != nil {
			want = quote(orig, *q)
		}
		want = normalise(t, want)
		id, ok := headerValue(orig, "Message-ID")
		if id != gr.MessageID {
			t.Errorf("group of message %d: MessageID %q, server copy has %q", gr.Message, gr.MessageID, id)
		}
		if !ok {
			noID++
		}
		for k, c := range gr.Copies {
			b := copyBytes(c)
			if len(b) != c.Size {
				t.Errorf("copy %+v: %d bytes", c, len(b))
			}
			if c.CRLF != bytes.Contains(b, []byte("\r\n")) {
				t.Errorf("copy %+v: CRLF %v is wrong", c, c.CRLF)
			}
			if (k == 0) != (c.Burst < 0) {
				t.Errorf("copy %d of message %d in burst %d", k, gr.Message, c.Burst)
			}
			if k > 0 && !c.Time.After(gr.Copies[k-1].Time) {
				t.Errorf("copies of message %d not in time order", gr.Message)
			}
			if got := normalise(t, b); !bytes.Equal(got, want) {
				t.Errorf("copy %+v of message %d differs from the server copy beyond client headers, line ends and trailing blank lines", c, gr.Message)
			}
			if c.Client != "raw" && c.Client != "mutt" && !bytes.Contains(b, []byte("X-UIDL: "+gr.UID)) {
				t.Errorf("copy %+v (%s) lacks X-UIDL: %s", c, c.Client, gr.UID)
			}
			copies++
		}
	}
	if copies != tr.Copies || tr.Duplicates != tr.Copies-tr.Distinct || noID != tr.NoMessageID {
		t.Errorf("Truth counts: Copies %d (groups hold %d), Duplicates %d, NoMessageID %d (want %d)", tr.Copies, copies, tr.Duplicates, tr.NoMessageID, noID)
	}
	// Conflicts: members share the Message-ID, bodies differ.
	for _, c := range tr.Conflicts {
		if len(c.Messages) < 2 || len(c.UIDs) != len(c.Messages) {
			t.Errorf("conflict %+v has too few members", c)
			continue
		}
		for k, i := range c.Messages {
			id, _ := headerValue(server[i].Body, "Message-ID")
			if id != c.MessageID || server[i].UID != c.UIDs[k] {
				t.Errorf("conflict %s: member %d has Message-ID %s, UID %s", c.MessageID, i, id, server[i].UID)
			}
			if k > 0 {
				a, b := server[c.Messages[0]].Body, server[i].Body
				if bytes.Equal(a[headerEnd(a):], b[headerEnd(b):]) {
					t.Errorf("conflict %s: messages %d and %d have the same body", c.MessageID, c.Messages[0], i)
				}
			}
		}
	}
}

func TestMaildir(t *testing.T) {
	opts := smallOptions(11, 400)
	dir := filepath.Join(t.TempDir(), "Maildir")
	tr, err := WriteMaildir(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Format != "maildir" || tr.Duplicates == 0 || len(tr.Conflicts) == 0 || tr.NoMessageID == 0 || len(tr.UnsavedUIDs) == 0 {
		t.Fatalf("incident lacks a feature: format %s, %d duplicates, %d conflicts, %d without Message-ID, %d unsaved",
			tr.Format, tr.Duplicates, len(tr.Conflicts), tr.NoMessageID, len(tr.UnsavedUIDs))
	}
	for _, sub := range []string{"cur", "new", "tmp"} {
		if fi, err := os.Stat(filepath.Join(dir, sub)); err != nil || !fi.IsDir() {
			t.Fatalf("%s/ missing: %v", sub, err)
		}
	}
	onDisk := map[string]bool{}
	var bytesOnDisk int64
	nameRE := regexp.MustCompile(`^(cur|new)/(\d+)\.M(\d+)P(\d+)Q(\d+)\.[a-z0-9.-]+,S=(\d+)(:2,[A-Z]*)?$`)
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		rel = filepath.ToSlash(rel)
		onDisk[rel] = true
		m := nameRE.FindStringSubmatch(rel)
		if m == nil {
			t.Errorf("bad Maildir name %q", rel)
			return nil
		}
		if (m[1] == "cur") != (m[7] != "") {
			t.Errorf("%q: cur/ names need :2, and new/ names must not have it", rel)
		}
		fi, _ := d.Info()
		bytesOnDisk += fi.Size()
		if strconv.FormatInt(fi.Size(), 10) != m[6] {
			t.Errorf("%q: S= does not match size %d", rel, fi.Size())
		}
		if strconv.FormatInt(fi.ModTime().Unix(), 10) != m[2] {
			t.Errorf("%q: mtime %v does not match the name", rel, fi.ModTime())
		}
		return nil
	})
	if len(onDisk) != tr.Copies || bytesOnDisk != tr.Bytes {
		t.Errorf("%d files, %d bytes on disk; Truth says %d, %d", len(onDisk), bytesOnDisk, tr.Copies, tr.Bytes)
	}
	byPath := tr.GroupByPath()
	for p := range onDisk {
		if _, ok := byPath[p]; !ok {
			t.Errorf("file %s is in no group", p)
		}
	}
	bursts := map[int]bool{}
	for _, gr := range tr.Groups {
		for _, c := range gr.Copies {
			bursts[c.Burst] = true
			if c.Burst >= 0 && (c.Time.Before(tr.Bursts[c.Burst].Start) || c.Time.After(tr.Bursts[c.Burst].End)) {
				t.Errorf("copy %s at %v outside burst %d", c.Path, c.Time, c.Burst)
			}
			if c.Burst < 0 && !c.Time.Before(tr.Options.Start) {
				t.Errorf("first download %s at %v, after the incident start", c.Path, c.Time)
			}
		}
	}
	if len(bursts) < 3 {
		t.Errorf("copies fall in %d bursts, want several", len(bursts)-1)
	}
	checkGroups(t, tr, opts, func(c Copy) []byte {
		b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(c.Path)))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}, nil)

	if _, err := WriteMaildir(dir, opts); err == nil {
		t.Errorf("WriteMaildir into a non-empty directory succeeded")
	}
}

func TestMaildirPP(t *testing.T) {
	opts := smallOptions(12, 200)
	root := filepath.Join(t.TempDir(), "Maildir")
	tr, err := WriteMaildirPP(root, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range append([]string{""}, ".Archive", ".Archive.2024", ".Lists.go-nuts", ".Receipts") {
		for _, sub := range []string{"cur", "new", "tmp"} {
			if _, err := os.Stat(filepath.Join(root, f, sub)); err != nil {
				t.Fatal(err)
			}
		}
		if f != "" {
			if _, err := os.Stat(filepath.Join(root, f, "maildirfolder")); err != nil {
				t.Error(err)
			}
		}
	}
	folders := map[string]int{}
	spread := 0
	for _, gr := range tr.Groups {
		seen := map[string]bool{}
		for _, c := range gr.Copies {
			f, _, _ := strings.Cut(c.Path, "/")
			if f == "cur" || f == "new" {
				f = "INBOX"
			}
			folders[f]++
			seen[f] = true
		}
		if len(seen) > 1 {
			spread++
		}
	}
	if len(folders) != 5 || spread == 0 {
		t.Errorf("copies per folder %v, %d groups spread over folders; want all 5 used and some spread", folders, spread)
	}
	checkGroups(t, tr, opts, func(c Copy) []byte {
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(c.Path)))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}, nil)
}

// splitMbox splits an mbox at From_ lines that open the file or follow a
// blank line; it returns each entry without its From_ line and without the
// separating blank line.
func splitMbox(t *testing.T, data []byte) (entries [][]byte, fromLines []string) {
	t.Helper()
	if !bytes.HasPrefix(data, []byte("From ")) {
		t.Fatalf("mbox does not start with a From_ line")
	}
	var cur []byte
	start := true
	prevBlank := false
	for len(data) > 0 {
		k := bytes.IndexByte(data, '\n')
		if k < 0 {
			t.Fatalf("mbox does not end with a line end")
		}
		line := data[:k+1]
		data = data[k+1:]
		if (start || prevBlank) && bytes.HasPrefix(line, []byte("From ")) {
			if cur != nil {
				cur = cur[:len(cur)-len(sep(cur))]
				entries = append(entries, cur)
			}
			cur = []byte{}
			fromLines = append(fromLines, strings.TrimRight(string(line), "\r\n"))
			start, prevBlank = false, false
			continue
		}
		cur = append(cur, line...)
		prevBlank = string(line) == "\n" || string(line) == "\r\n"
	}
	cur = cur[:len(cur)-len(sep(cur))]
	return append(entries, cur), fromLines
}

// sep returns the separator blank line at the end of an entry.
func sep(b []byte) string {
	if bytes.HasSuffix(b, []byte("\r\n")) {
		return "\r\n"
	}
	return "\n"
}

func TestMbox(t *testing.T) {
	for _, q := range []Quoting{MboxO, MboxRD} {
		t.Run(q.String(), func(t *testing.T) {
			opts := smallOptions(13, 300)
			opts.Quoting = q
			path := filepath.Join(t.TempDir(), "inbox.mbox")
			tr, err := WriteMbox(path, opts)
			if err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if int64(len(data)) != tr.Bytes {
				t.Errorf("mbox has %d bytes, Truth says %d", len(data), tr.Bytes)
			}
			entries, froms := splitMbox(t, data)
			if len(entries) != tr.Copies {
				t.Fatalf("mbox splits into %d messages, Truth says %d", len(entries), tr.Copies)
			}
			fromRE := regexp.MustCompile(`^From \S+ (Mon|Tue|Wed|Thu|Fri|Sat|Sun) [A-Z][a-z]{2} [ 123]\d \d\d:\d\d:\d\d \d{4}$`)
			var last time.Time
			for k, f := range froms {
				if !fromRE.MatchString(f) {
					t.Fatalf("bad From_ line %d: %q", k+1, f)
				}
				ts, err := time.Parse("Mon Jan _2 15:04:05 2006", f[len(f)-24:])
				if err != nil || ts.Before(last) {
					t.Errorf("From_ line %d: time %v after %v (%v)", k+1, ts, last, err)
				}
				last = ts
			}
			quoted := 0
			for _, e := range entries {
				if bytes.Contains(e, []byte("\n>From ")) {
					quoted++
				}
			}
			if quoted == 0 {
				t.Errorf("no entry has a quoted >From line")
			}
			byOrd := tr.GroupByOrdinal()
			for ord := 1; ord <= len(entries); ord++ {
				if _, ok := byOrd[ord]; !ok {
					t.Errorf("ordinal %d is in no group", ord)
				}
			}
			checkGroups(t, tr, opts, func(c Copy) []byte { return entries[c.Ordinal-1] }, &q)
		})
	}
	if _, err := WriteMbox(filepath.Join(t.TempDir()), DefaultOptions(1, 1)); err == nil {
		t.Errorf("WriteMbox over an existing path succeeded")
	}
}

func TestTruthJSON(t *testing.T) {
	opts := smallOptions(14, 60)
	tr, err := WriteMbox(filepath.Join(t.TempDir(), "m"), opts)
	if err != nil {
		t.Fatal(err)
	}
	var back Truth
	if err := json.Unmarshal(truthJSON(t, tr), &back); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(truthJSON(t, &back), truthJSON(t, tr)) {
		t.Errorf("Truth does not survive a JSON round trip")
	}
}

func TestSizesBounded(t *testing.T) {
	for _, o := range []Options{
		{Seed: 1, Messages: 400, MinSize: 1024, MaxSize: 4096, ConflictShare: 0.2},
		{Seed: 2, Messages: 400, MinSize: 8 << 10, MaxSize: 12 << 10, ConflictShare: 0.1, NoMessageIDShare: 0.5},
		{Seed: 3, Messages: 300, MinSize: 2 << 10, MaxSize: 400 << 10, MeanSize: 60 << 10},
	} {
		g, err := New(o)
		if err != nil {
			t.Fatal(err)
		}
		for m := range g.ServerMessages() {
			if n := len(m.Body); n < o.MinSize || n > o.MaxSize {
				t.Errorf("options %d..%d: message %d has %d bytes", o.MinSize, o.MaxSize, m.Index, n)
			}
		}
	}
}

func TestBadOptions(t *testing.T) {
	for k, o := range []Options{
		{Messages: 0},
		{Messages: 1, MaxCopies: 11},
		{Messages: 1, MaxCopies: 1},
		{Messages: 1, MinSize: 500},
		{Messages: 1, MinSize: 4096, MaxSize: 4096},
		{Messages: 1, MeanSize: 300 << 10},
		{Messages: 1, DupShare: 1.5},
		{Messages: 1, CRLFShare: -0.1},
		{Messages: 1, ConflictShare: 0.3},
		{Messages: 1, ConflictShare: 0.1, NoMessageIDShare: 1},
		{Messages: 1, Quoting: 9},
		{Messages: 1, Folders: []string{"a/b"}},
		{Messages: 1, DupShare: math.NaN()},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("New(#%d %+v) succeeded", k, o)
		}
	}
	if _, err := New(Options{Messages: 1}); err != nil {
		t.Errorf("New with defaults: %v", err)
	}
}

func TestServerMaildir(t *testing.T) {
	opts := smallOptions(15, 120)
	dir := filepath.Join(t.TempDir(), "srv")
	n, err := WriteServerMaildir(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := ServerMessages(opts)
	if err != nil {
		t.Fatal(err)
	}
	list, err := os.ReadFile(filepath.Join(dir, "dovecot-uidlist"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(list), "\n"), "\n")
	if len(lines) != len(msgs)+1 {
		t.Fatalf("dovecot-uidlist has %d lines for %d messages", len(lines), len(msgs))
	}
	var validity, next uint64
	var guid string
	if _, err := fmt.Sscanf(lines[0], "3 V%d N%d G%s", &validity, &next, &guid); err != nil || len(guid) != 32 || strings.Trim(guid, "0") == "" {
		t.Fatalf("bad uidlist header %q: %v", lines[0], err)
	}
	var total int64
	for k, m := range msgs {
		var uid uint64
		var name string
		if _, err := fmt.Sscanf(lines[k+1], "%d :%s", &uid, &name); err != nil {
			t.Fatalf("uidlist line %q: %v", lines[k+1], err)
		}
		// Dovecot's UIDL: %08Xu%08Xv.
		if got := strconv.FormatUint(uid|1<<32, 16)[1:] + strconv.FormatUint(validity|1<<32, 16)[1:]; got != m.UID {
			t.Errorf("message %d: uidlist gives UIDL %s, ServerMessages %s", k, got, m.UID)
		}
		if uid >= next {
			t.Errorf("UID %d not below N%d", uid, next)
		}
		b, err := os.ReadFile(filepath.Join(dir, "cur", name+":2,"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, m.Body) {
			t.Errorf("message %d: file differs from ServerMessages", k)
		}
		if !strings.Contains(name, ",S="+strconv.Itoa(len(b))+",W="+strconv.Itoa(len(b)+bytes.Count(b, []byte("\n")))) {
			t.Errorf("message %d: name %q has wrong S= or W=", k, name)
		}
		total += int64(len(b))
	}
	if total != n {
		t.Errorf("WriteServerMaildir returned %d bytes, files hold %d", n, total)
	}
}

// A writer that stops early (a failed write) must be able to stop the
// generating goroutine.
func TestAheadStopsEarly(t *testing.T) {
	g, err := New(smallOptions(16, 500))
	if err != nil {
		t.Fatal(err)
	}
	a := startAhead(g, true, func(yield func(i, tag int) bool) {
		for i := range g.Len() {
			if !yield(i, 0) {
				return
			}
		}
	})
	j := <-a.jobs
	if j.p.i != 0 || len(j.msg) == 0 {
		t.Fatalf("first job: message %d, %d bytes", j.p.i, len(j.msg))
	}
	a.close() // returns only once the generator has stopped
	if _, ok := <-a.jobs; ok {
		t.Errorf("jobs still open after close")
	}
}

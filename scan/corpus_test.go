package scan

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/popdedupe/popdedupe/fingerprint"
)

const realCorpus = "../../shared/corpus/real"

func needCorpus(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(realCorpus); err != nil {
		t.Skipf("real-mail corpus not found at %s (the shared folder beside the repo): %v", realCorpus, err)
	}
}

// The real mbox files split into the number of messages SOURCES.md gives.
func TestRealMboxSplit(t *testing.T) {
	needCorpus(t)
	for _, tt := range []struct {
		glob string
		want int
	}{
		{"enron-mbox/*.mbox", 3385},
		{"spamassassin/nice.mbox", 3},
	} {
		files, _ := filepath.Glob(filepath.Join(realCorpus, tt.glob))
		if len(files) == 0 {
			t.Fatalf("%s: no files", tt.glob)
		}
		res, err := Scan(context.Background(), files, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got := len(res.Messages) + len(res.Skipped); got != tt.want {
			t.Errorf("%s: %d messages + %d skipped, want %d in all", tt.glob, len(res.Messages), len(res.Skipped), tt.want)
		}
		for _, s := range res.Skipped {
			t.Logf("skipped %s#%d: %s", s.Path, s.Index, s.Reason)
		}
	}
}

// Every real message, stored as a Maildir original, a re-downloaded CRLF
// copy with client headers, and an mboxrd copy, ends up in one group of
// exactly its own copies (or is skipped in all three places).
func TestRealCorpusDedupe(t *testing.T) {
	needCorpus(t)
	root := t.TempDir()
	md := filepath.Join(root, "Maildir")
	mkMaildir(t, md)
	var mbox bytes.Buffer
	origKey := map[string]string{} // maildir name -> fingerprint key of the original
	n := 0
	err := filepath.WalkDir(realCorpus, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == "SOURCES.md" || strings.Contains(d.Name(), ".mbox") {
			return err
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		n++
		lf := bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n"))
		if bytes.HasPrefix(lf, []byte("From ")) {
			lf = lf[bytes.IndexByte(lf, '\n')+1:]
		}
		name := fmt.Sprintf("%d.M%d.corpus", 1700000000+n, n)
		put(t, filepath.Join(md, "cur", name+"a:2,S"), string(raw))
		pr, err := fingerprint.NewParser().Sum(bytes.NewReader(raw), -1, true)
		if err != nil {
			// Malformed: only the original goes in (an added header
			// line could turn a leading continuation into a field).
			return nil
		}
		origKey[name] = fmt.Sprint(pr.Key())
		put(t, filepath.Join(md, "new", name+"b"), "Status: RO\r\nX-UIDL: "+fmt.Sprint(n)+"\r\n"+strings.ReplaceAll(string(lf), "\n", "\r\n"))
		mbox.WriteString(mboxOf(string(lf)))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	put(t, filepath.Join(root, "all.mbox"), mbox.String())
	res, err := Scan(context.Background(), []string{md, filepath.Join(root, "all.mbox")}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(res.Messages)+len(res.Skipped), n+2*len(origKey); got != want {
		t.Fatalf("%d messages + skipped, want %d", got, want)
	}
	groups, _, err := res.Duplicates(context.Background(), KeepOldest)
	if err != nil {
		t.Fatal(err)
	}
	// Which originals share a key (real duplicates in the corpus itself)?
	byKey := map[string]int{}
	for _, k := range origKey {
		byKey[k]++
	}
	inGroup := map[string]int{}
	for _, g := range groups {
		keys := map[string]bool{}
		for _, i := range g.Copies {
			m := &res.Messages[i]
			if m.Index == 0 {
				nm := strings.TrimSuffix(strings.TrimSuffix(res.Name(m), "a:2,S"), "b")
				keys[origKey[nm]] = true
				inGroup[nm] = len(g.Copies)
			}
		}
		if len(keys) != 1 {
			t.Errorf("a group mixes copies of different originals: %v", res.refs(g.Copies))
		}
	}
	for name, k := range origKey {
		if want := 3 * byKey[k]; inGroup[name] != want {
			t.Errorf("%s: in a group of %d, want %d", name, inGroup[name], want)
		}
	}
	t.Logf("%d originals, %d fingerprinted, %d groups, %d skipped copies", n, len(origKey), len(groups), len(res.Skipped))
}

// TestRealMboxSegments: the real mbox files read in many segments, each by
// its own splitter, give exactly the messages, ordinals, offsets, sizes,
// identities and skips of one sequential pass; and so does every way of
// reading them: mapped into memory (split in place) or with read calls
// (split while streaming).
func TestRealMboxSegments(t *testing.T) {
	needCorpus(t)
	files, _ := filepath.Glob(filepath.Join(realCorpus, "enron-mbox/*.mbox"))
	if len(files) == 0 {
		t.Fatal("no enron mbox files")
	}
	type view struct {
		Index        int32
		Offset, Size int64
		Arrival      int64
		Key          fingerprint.Key
	}
	pass := func(mapped bool) ([]view, []Skipped) {
		old := mapMboxes
		mapMboxes = mapped
		defer func() { mapMboxes = old }()
		res, err := Scan(context.Background(), files, Options{})
		if err != nil {
			t.Fatal(err)
		}
		var v []view
		for i := range res.Messages {
			m := &res.Messages[i]
			v = append(v, view{m.Index, m.Offset, m.Size, m.Arrival, res.Key(m)})
		}
		return v, res.Skipped
	}
	seqMsgs, seqSkips := pass(false)
	if len(seqMsgs) < 1000 {
		t.Fatalf("only %d messages in the real mbox files", len(seqMsgs))
	}
	compare := func(how string, mapped bool) {
		msgs, skips := pass(mapped)
		if !reflect.DeepEqual(seqMsgs, msgs) || !reflect.DeepEqual(seqSkips, skips) {
			t.Fatalf("%s differs: %d messages, %d skipped; sequential read %d, %d", how, len(msgs), len(skips), len(seqMsgs), len(seqSkips))
		}
	}
	compare("mapped, default segments", true)
	old, procs := mboxMinSegment, runtime.GOMAXPROCS(16)
	mboxMinSegment = 4 << 10
	defer func() { mboxMinSegment = old; runtime.GOMAXPROCS(procs) }()
	for _, f := range files {
		if fi, _ := os.Stat(f); fi != nil && fi.Size() > 64<<10 {
			fd, _ := os.Open(f)
			if segs := mboxSegments(fd, fi.Size(), 16); len(segs) < 2 {
				t.Errorf("%s: %d segments of %d bytes", f, len(segs), fi.Size())
			}
			fd.Close()
		}
	}
	compare("read in 16 segments", false)
	compare("mapped in 16 segments", true)
	t.Logf("%d messages, %d skipped, identical in every pass", len(seqMsgs), len(seqSkips))
}

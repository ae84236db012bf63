package scan

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	gombox "github.com/emersion/go-mbox"

	"github.com/popdedupe/popdedupe/fingerprint"
	"github.com/popdedupe/popdedupe/internal/corpusgen"
)

// goMboxKeys splits path with github.com/emersion/go-mbox, an independent
// reader, and fingerprints each message it yields.
func goMboxKeys(t *testing.T, path string) []fingerprint.Key {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mr := gombox.NewReader(f)
	p := fingerprint.NewParser()
	var keys []fingerprint.Key
	for {
		r, err := mr.NextMessage()
		if errors.Is(err, io.EOF) {
			return keys
		}
		if err != nil {
			t.Fatalf("go-mbox: %s: %v", path, err)
		}
		pr, err := p.Sum(r, -1, true)
		if err != nil {
			t.Fatalf("go-mbox message %d of %s: %v", len(keys)+1, path, err)
		}
		keys = append(keys, pr.Key())
	}
}

// Our byte-exact splitter and go-mbox's reader agree on where messages
// are and what they hold (go-mbox rewrites line ends and unquotes one
// level; the fingerprint is blind to both), on generated mboxes of both
// quoting styles with CRLF entries and on real Enron mbox files.
func TestSplitAgreesWithGoMbox(t *testing.T) {
	var paths []string
	for _, q := range []string{"mboxrd", "mboxo"} {
		opts := corpusgen.DefaultOptions(11, 400)
		opts.CRLFShare = 0.3
		opts.MaxSize, opts.MeanSize = 30<<10, 6<<10
		if err := opts.Quoting.Set(q); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), q)
		if _, err := corpusgen.WriteMbox(path, opts); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, path)
	}
	if real, _ := filepath.Glob(filepath.Join(realCorpus, "enron-mbox", "*.mbox")); len(real) > 0 {
		paths = append(paths, real[:min(8, len(real))]...)
	} else {
		t.Logf("real corpus absent: checking generated mboxes only")
	}
	for _, path := range paths {
		res, err := Scan(context.Background(), []string{path}, Options{HashAll: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Skipped) > 0 {
			t.Fatalf("%s: skipped %+v", path, res.Skipped[0])
		}
		want := goMboxKeys(t, path)
		if len(res.Messages) != len(want) {
			t.Fatalf("%s: we split %d messages, go-mbox %d", filepath.Base(path), len(res.Messages), len(want))
		}
		for i := range want {
			if got := res.Key(&res.Messages[i]); got != want[i] {
				t.Fatalf("%s: message %d: our key %v, go-mbox's %v", filepath.Base(path), i+1, got, want[i])
			}
		}
	}
}

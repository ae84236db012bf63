package fingerprint

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// realCorpus is the shared folder of real mail that nobody here wrote.
const realCorpus = "../../shared/corpus/real"

// singleMessageFiles lists the corpus files that hold one message each
// (mbox files are split and tested by package scan).
func singleMessageFiles(t testing.TB) []string {
	t.Helper()
	if _, err := os.Stat(realCorpus); err != nil {
		t.Skipf("real-mail corpus not found at %s (it lives in the shared folder beside the repo): %v", realCorpus, err)
	}
	var files []string
	err := filepath.WalkDir(realCorpus, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() || name == "SOURCES.md" || strings.Contains(name, ".mbox") {
			return nil
		}
		files = append(files, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// Every real message is fingerprinted or rejected as malformed, and each
// one that is fingerprinted still matches after what a POP3 client does
// on download: added headers, CRLF line ends, mbox quoting.
func TestRealCorpus(t *testing.T) {
	files := singleMessageFiles(t)
	if len(files) < 2000 {
		t.Fatalf("only %d corpus files found, the corpus is incomplete", len(files))
	}
	pr := NewParser()
	var ok, bad int
	for _, path := range files {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		p, err := pr.Sum(bytes.NewReader(raw), int64(len(raw)), true)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("%s: %v", path, err)
			}
			bad++
			continue
		}
		ok++
		lf := bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n"))
		variants := map[string][]byte{
			"lf":     lf,
			"crlf":   bytes.ReplaceAll(lf, []byte("\n"), []byte("\r\n")),
			"client": append([]byte("Status: RO\nX-UIDL: 0000abcd\nX-Mozilla-Status: 0001\n"), lf...),
			"mboxrd": []byte(mboxrd(string(lf))),
			"mboxo":  []byte(mboxo(string(lf))),
			"blank":  append(append([]byte{}, raw...), "\n\n"...),
		}
		if bytes.HasPrefix(lf, []byte("From ")) {
			delete(variants, "client") // the envelope line must stay first
		}
		for name, v := range variants {
			q, err := pr.Sum(bytes.NewReader(v), int64(len(v)), true)
			if err != nil || q.Key() != p.Key() {
				t.Errorf("%s: %s copy does not match its original (err %v)", path, name, err)
			}
		}
	}
	t.Logf("%d real messages fingerprinted, %d skipped as malformed", ok, bad)
	if ok < len(files)*9/10 {
		t.Errorf("only %d of %d real messages fingerprinted", ok, len(files))
	}
}

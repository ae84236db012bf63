package fingerprint

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/prints.golden from this parser")

// TestPrintsGolden holds the parser's output on the real-mail corpus to a
// recorded one: a change of speed must not change one identity or hash
// (every store scanned before would group differently). For each corpus
// file, several download variants are fingerprinted (as stored, the other
// line end, quoted and unquoted From lines added to the body, trailing
// empty lines, client headers prepended, and the header-only pass); their
// prints, errors included, are digested per 50 files, so that a change
// names the files it touched. -update rewrites the record.
func TestPrintsGolden(t *testing.T) {
	files := singleMessageFiles(t)
	sort.Strings(files)
	variants := []struct {
		name string
		make func([]byte) []byte
	}{
		{"raw", func(b []byte) []byte { return b }},
		{"eol", func(b []byte) []byte {
			if bytes.Contains(b, []byte{'\r'}) {
				return bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
			}
			return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))
		}},
		{"from", func(b []byte) []byte {
			return append(bytes.Clone(b), "\n>From a 10:00\n>>From b\nFrom c\n> From d\n>Fromage\n"...)
		}},
		{"blank", func(b []byte) []byte { return append(bytes.Clone(b), "\n\n\r\n\n"...) }},
		{"client", func(b []byte) []byte {
			return append([]byte("Status: RO\nX-UIDL: 0123abc\nX-Mozilla-Status: 0001\n"), b...)
		}},
	}
	var lines []string
	h := fnv.New64a()
	n := 0
	flush := func(first string) {
		lines = append(lines, fmt.Sprintf("%s +%d %016x", first, n, h.Sum64()))
		h.Reset()
		n = 0
	}
	first := ""
	for i, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(realCorpus, f)
		if n == 0 {
			first = rel
		}
		fmt.Fprintf(h, "%s\n", rel)
		for _, v := range variants {
			msg := v.make(raw)
			p, err := NewParser().SumBytes(msg)
			fmt.Fprintf(h, "%s %s\n", v.name, printLine(p, err))
			// The header-first pass of the Maildir scan.
			hp := NewParser()
			head := copy(hp.Buffer(), msg)
			p, err = hp.SumRead(head, bytes.NewReader(msg[head:]), int64(len(msg)), func(string, uint64) bool { return false })
			fmt.Fprintf(h, "%s head %s\n", v.name, printLine(p, err))
		}
		n++
		if n == 50 || i == len(files)-1 {
			flush(first)
		}
	}
	const golden = "testdata/prints.golden"
	got := strings.Join(lines, "\n") + "\n"
	if *updateGolden {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	wantB, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (create it with go test -run TestPrintsGolden -update)", err)
	}
	want := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(wantB))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 3 {
			want[f[0]] = sc.Text()
		}
	}
	bad := 0
	for _, l := range lines {
		if w := want[strings.Fields(l)[0]]; w != l {
			t.Errorf("prints changed: got %q, recorded %q", l, w)
			bad++
		}
	}
	if len(want) != len(lines) {
		t.Errorf("%d groups of files, %d recorded", len(lines), len(want))
	}
	t.Logf("%d files in %d groups, %d changed", len(files), len(lines), bad)
}

func printLine(p Print, err error) string {
	if err != nil {
		return "error " + err.Error()
	}
	return fmt.Sprintf("%q %016x %016x %v %q %d %d", p.MessageID, p.KeyHash, p.BodyHash, p.HasBody, p.XUIDL, p.Size, p.HeaderLen)
}

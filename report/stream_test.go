package report

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/popdedupe/popdedupe/internal/corpusgen"
	"github.com/popdedupe/popdedupe/scan"
)

// The streamed scan JSON is byte for byte the JSON of the full report,
// with groups and without, and the summary's text matches the full one.
func TestWriteScanJSONMatchesFull(t *testing.T) {
	opts := corpusgen.DefaultOptions(5, 300)
	opts.MaxSize, opts.MeanSize = 20<<10, 4<<10
	opts.ConflictShare = 0.05
	dir := filepath.Join(t.TempDir(), "md")
	if _, err := corpusgen.WriteMaildirPP(dir, opts); err != nil {
		t.Fatal(err)
	}
	res, err := scan.Scan(context.Background(), []string{dir}, scan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	groups, conflicts, err := res.Duplicates(context.Background(), scan.KeepOldest)
	if err != nil || len(groups) < 10 {
		t.Fatalf("%v, %d groups", err, len(groups))
	}
	defer func(old int) { spliceBatch = old }(spliceBatch)
	// One batch, and many batches rendered in parallel (written in order).
	for _, batch := range []int{spliceBatch, 1, 3} {
		spliceBatch = batch
		for _, gs := range [][]scan.Group{groups, nil} {
			var full, streamed bytes.Buffer
			if err := WriteJSON(&full, FromScan("scan", res, gs, conflicts)); err != nil {
				t.Fatal(err)
			}
			if err := WriteScanJSON(&streamed, "scan", res, gs, conflicts); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(full.Bytes(), streamed.Bytes()) {
				t.Fatalf("streamed JSON differs (%d groups, batches of %d):\nfull %d bytes, streamed %d bytes\n%s", len(gs), batch, full.Len(), streamed.Len(), firstDiff(full.String(), streamed.String()))
			}
		}
	}
	var a, b strings.Builder
	FromScan("scan", res, groups, conflicts).WriteText(&a, false)
	FromScanSummary("scan", res, groups, conflicts, 5).WriteText(&b, false)
	if a.String() != b.String() {
		t.Fatalf("summary text differs:\n%s\n---\n%s", a.String(), b.String())
	}
}

func firstDiff(a, b string) string {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			lo := max(0, i-80)
			return "full:     " + a[lo:min(len(a), i+80)] + "\nstreamed: " + b[lo:min(len(b), i+80)]
		}
	}
	return "one is a prefix of the other"
}

// appendJSONString writes every string as encoding/json does (HTML
// escaping off), odd bytes included.
func TestAppendJSONString(t *testing.T) {
	cases := []string{"", "plain", "q\"b\\s", "nl\ncr\rtab\tbs\bff\f", "\x00\x01\x1f\x7f", "caf\xc3\xa9", "bad \xff\xfe utf8",
		"cut \xe2\x82", "line\u2028para\u2029", "<html>&", "emoji \U0001F600", "\xed\xa0\x80 surrogate"}
	for i := 0; i < 256; i++ {
		cases = append(cases, string([]byte{byte(i), 'a', byte(255 - i)}))
	}
	for i, s := range cases {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		if got := string(appendJSONString(nil, s)) + "\n"; got != want.String() {
			t.Errorf("#%d %q: got %s want %s", i, s, got, want.String())
		}
	}
}

// Groups with odd paths and IDs stream exactly as encoding/json writes
// them (the streamed writer escapes a path in two pieces, the directory
// and the name).
func TestWriteScanJSONOddNames(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "odd \"dir\"\u2028\\", "Maildir")
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	msg := "From: a@b\nSubject: odd\nMessage-ID: <id \"q\" \xff\u2029@X>\n\nbody\n"
	for _, name := range []string{"1.A\nb:2,S", "2.B\xff\xfe:2,", "3.C\x01\t\"\\:2,F", "4.D caf\xc3\xa9:2,"} {
		if err := os.WriteFile(filepath.Join(dir, "cur", name), []byte(msg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	res, err := scan.Scan(context.Background(), []string{dir}, scan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	groups, conflicts, err := res.Duplicates(context.Background(), scan.KeepOldest)
	if err != nil || len(groups) != 1 || len(groups[0].Copies) != 4 {
		t.Fatalf("%v, groups %+v", err, groups)
	}
	var full, streamed bytes.Buffer
	if err := WriteJSON(&full, FromScan("scan", res, groups, conflicts)); err != nil {
		t.Fatal(err)
	}
	if err := WriteScanJSON(&streamed, "scan", res, groups, conflicts); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(full.Bytes(), streamed.Bytes()) {
		t.Fatalf("streamed JSON differs:\n%s", firstDiff(full.String(), streamed.String()))
	}
}

// WriteJSONList writes exactly what WriteJSON writes for the whole value.
func TestWriteJSONList(t *testing.T) {
	type elem struct {
		A string            `json:"a"`
		B map[string]int    `json:"b,omitempty"`
		C []string          `json:"c"`
		D *struct{ X bool } `json:"d,omitempty"`
	}
	type doc struct {
		Head  string `json:"head"`
		Items []elem `json:"items"`
		Tail  []int  `json:"tail"`
		Last  string `json:"last,omitempty"`
	}
	items := []elem{{A: "<html> & \"q\" \u2028", B: map[string]int{"z": 1, "a": 2}}, {C: []string{}}, {A: "x", C: []string{"1", "2"}, D: &struct{ X bool }{true}}}
	for _, n := range []int{0, 1, 3} {
		for _, last := range []string{"", "end"} {
			full := doc{Head: "h", Items: items[:n], Tail: []int{1}, Last: last}
			var want, got bytes.Buffer
			if err := WriteJSON(&want, full); err != nil {
				t.Fatal(err)
			}
			empty := full
			empty.Items = []elem{}
			if err := WriteJSONList(&got, empty, "items", n, func(i int) any { return items[i] }); err != nil {
				t.Fatal(err)
			}
			if got.String() != want.String() {
				t.Errorf("%d items, last %q:\n%s", n, last, firstDiff(want.String(), got.String()))
			}
		}
	}
}

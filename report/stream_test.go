package report

import (
	"bytes"
	"context"
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
	for _, gs := range [][]scan.Group{groups, nil} {
		var full, streamed bytes.Buffer
		if err := WriteJSON(&full, FromScan("scan", res, gs, conflicts)); err != nil {
			t.Fatal(err)
		}
		if err := WriteScanJSON(&streamed, "scan", res, gs, conflicts); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(full.Bytes(), streamed.Bytes()) {
			t.Fatalf("streamed JSON differs (%d groups):\nfull %d bytes, streamed %d bytes\n%s", len(gs), full.Len(), streamed.Len(), firstDiff(full.String(), streamed.String()))
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

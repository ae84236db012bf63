package scan

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/popdedupe/popdedupe/internal/corpusgen"
)

// TestReadWhileListing: files read while the listing still runs (before
// the records exist) give exactly the records, prints and skips of files
// read after it, unreadable ones included.
func TestReadWhileListing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "md")
	opts := corpusgen.DefaultOptions(3, 1500)
	opts.MaxSize, opts.MeanSize = 8<<10, 3<<10
	if _, err := corpusgen.WriteMaildirPP(dir, opts); err != nil {
		t.Fatal(err)
	}
	// Two that cannot be fingerprinted: a NUL byte, and a directory
	// entry that is a symbolic link.
	put(t, filepath.Join(dir, "cur", "1700000000.bad.host:2,S"), "Message-ID: <n@x>\n\nnul \x00 byte\n")
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "new", "1700000001.link.host")); err != nil {
		t.Fatal(err)
	}
	type view struct {
		Source, Index int32
		Path          string
		Flags         Flags
		Size, Arrival int64
		MessageID     string
		KeyHash       uint64
		BodyHash      uint64
		HasBody       bool
	}
	scanOnce := func(hold bool) ([]view, []Skipped) {
		if hold {
			listingHold = make(chan struct{})
			go func() { time.Sleep(300 * time.Millisecond); close(listingHold) }()
			defer func() { listingHold = nil }()
		}
		res, err := Scan(context.Background(), []string{dir}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		var v []view
		for i := range res.Messages {
			m := &res.Messages[i]
			v = append(v, view{m.Source, m.Index, res.Path(m), m.Flags, m.Size, m.Arrival, res.MessageID(m), m.KeyHash, m.BodyHash, m.HasBody})
		}
		return v, res.Skipped
	}
	after, afterSkips := scanOnce(false)
	while, whileSkips := scanOnce(true)
	if len(after) < 2000 || len(afterSkips) != 2 {
		t.Fatalf("%d messages, skipped %+v", len(after), afterSkips)
	}
	if !reflect.DeepEqual(after, while) || !reflect.DeepEqual(afterSkips, whileSkips) {
		t.Fatalf("reading while listing differs: %d messages, %d skipped; %d, %d", len(while), len(whileSkips), len(after), len(afterSkips))
	}
}

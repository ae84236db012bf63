package scan

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestMappedMboxShrinks: an mbox cut short by another program while it is
// mapped makes reading its lost pages fault. The scan must report the file
// as skipped (so it is never rewritten) and go on, not crash.
func TestMappedMboxShrinks(t *testing.T) {
	var b strings.Builder
	for i := 0; b.Len() < 256<<10; i++ {
		b.WriteString(mboxOf(msg(fmt.Sprintf("m%d@x", i), "S", strings.Repeat("line of text\n", 40))))
	}
	p := filepath.Join(t.TempDir(), "box.mbox")
	put(t, p, b.String())
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data := mapFile(f, int64(b.Len()))
	if data == nil {
		t.Skip("mbox files are not mapped on this system")
	}
	defer unmapFile(data)
	if err := os.Truncate(p, 100); err != nil {
		t.Fatal(err)
	}
	r := &Result{}
	msgs, skipped, err := r.readMboxMapped(context.Background(), p, 0, data, time.Now(), nil)
	if err != nil || len(msgs) != 0 || len(skipped) != 1 || skipped[0].Reason != errShrank.Error() {
		t.Fatalf("got %d messages, skipped %+v, err %v; want only the file skipped as shrunk", len(msgs), skipped, err)
	}
}

// TestMappedMboxGivesPagesBack: the pages of a mapped mbox are given back
// as the scan advances, so its RSS does not grow with the file.
func TestMappedMboxGivesPagesBack(t *testing.T) {
	var b strings.Builder
	for i := 0; b.Len() < 6*mboxGiveBack; i++ {
		b.WriteString(mboxOf(msg(fmt.Sprintf("m%d@x", i), "S", strings.Repeat("line of text\n", 400))))
	}
	p := filepath.Join(t.TempDir(), "box.mbox")
	put(t, p, b.String())
	rss := func() int64 {
		s, err := os.ReadFile("/proc/self/status")
		if err != nil {
			t.Skip("no /proc/self/status")
		}
		for _, l := range strings.Split(string(s), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "RssFile:" {
				var kb int64
				fmt.Sscan(f[1], &kb)
				return kb << 10
			}
		}
		t.Skip("no RssFile in /proc/self/status")
		return 0
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data := mapFile(f, int64(b.Len()))
	if data == nil {
		t.Skip("mbox files are not mapped on this system")
	}
	defer unmapFile(data)
	before := rss()
	r := &Result{}
	msgs, skipped, err := r.readMboxMapped(context.Background(), p, 0, data, time.Now(), nil)
	if err != nil || len(skipped) != 0 || len(msgs) == 0 {
		t.Fatalf("%d messages, skipped %+v, err %v", len(msgs), skipped, err)
	}
	// At most one give-back interval (plus one message and page rounding)
	// per segment stays mapped.
	grown := rss() - before
	limit := int64(len(mboxSegments(f, int64(b.Len()), runtime.GOMAXPROCS(0)))) * (mboxGiveBack + 1<<20)
	if grown > limit {
		t.Errorf("file-backed RSS grew by %d bytes reading %d (limit %d)", grown, b.Len(), limit)
	}
	t.Logf("%d messages, %d bytes: file RSS +%d", len(msgs), b.Len(), grown)
}

package scan

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// TestMboxBoundaryAtFullBuffer: a From_ line cut by the end of a full
// read buffer is still found, wherever it falls. (Seen on a 360 MB mbox:
// the split depended on how reads were chunked, so a rewrite under lock
// disagreed with the scan.) A 4 KiB buffer lets every alignment be tried.
func TestMboxBoundaryAtFullBuffer(t *testing.T) {
	from := "From a@example.org Mon Mar 10 09:00:00 2025\n"
	line := strings.Repeat("x", 99) + "\n"
	for pad := 0; pad < 3*4096; pad += 7 {
		msg1 := from + "Subject: one\n\n" + strings.Repeat(line, pad/100) + strings.Repeat("y", pad%100) + "\n\n"
		data := msg1 + from + "Subject: two\n\nbody\n"
		for _, r := range []io.Reader{bytes.NewReader([]byte(data)), io.NewSectionReader(strings.NewReader(data), 0, int64(len(data)))} {
			mr := newMboxReaderSize(r, 4096-16)
			var offs []int64
			for {
				env, b, err := mr.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, b)
				offs = append(offs, env.Offset)
			}
			if len(offs) != 2 || offs[1] != int64(len(msg1)) {
				t.Fatalf("pad %d: messages at %v, want [0 %d]", pad, offs, len(msg1))
			}
		}
	}
}

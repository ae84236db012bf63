package scan

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/popdedupe/popdedupe/fingerprint"
	"github.com/popdedupe/popdedupe/internal/xxh"
)

// splitSum is the mapped scan's step for the message at the cursor: its
// print and error from the one pass that finds its end (SumSplit), and
// the same from the definition: the end found first, then SumBytes.
type splitSum struct {
	end int
	pr  fingerprint.Print
	err string
}

func sumBothWays(p *fingerprint.Parser, body []byte) (got, want splitSum) {
	pr, n, err := p.SumSplit(body, fromLineAt)
	got = splitSum{n, pr, fmt.Sprint(err)}
	end := fingerprint.NextBoundary(body, 0, fromLineAt)
	pr, err = p.SumBytes(body[:end])
	want = splitSum{end, pr, fmt.Sprint(err)}
	return got, want
}

// checkSplitSums walks the mbox data message by message and fails where
// the one pass and the definition differ; it returns the messages met.
func checkSplitSums(t *testing.T, p *fingerprint.Parser, data []byte) int {
	t.Helper()
	c := mboxCursor{data: data}
	for {
		off, _, bodyStart, ok, err := c.envelope()
		if err != nil || !ok {
			return c.n
		}
		got, want := sumBothWays(p, data[bodyStart:])
		if got != want {
			t.Fatalf("message %d at %d: one pass %+v, definition %+v\n%q", c.n+1, off, got, want, data[off:bodyStart+want.end])
		}
		c.advance(bodyStart + got.end)
	}
}

// FuzzSumSplit: on any input, the mapped scan's one pass (split, plain
// test and hash together) gives the ends, prints and errors of splitting
// first and then SumBytes.
func FuzzSumSplit(f *testing.F) {
	from := "From a@b Mon Jan  2 15:04:05 2006\n"
	for _, s := range []string{
		from + "Subject: x\n\nbody\n\n" + from + "Subject: y\n\ntwo\n",
		from + "Subject: x\n\nFor you\nFrom here 10:00\n\n>From me 10:00\n\n" + from + "\n",
		from + "Subject: x\n\n" + strings.Repeat("line of text\n", 40) + "\n\n\n\n" + from + "S: y\n\nz\n",
		from + "Subject: x\r\n\r\nbody\r\n\r\n" + from + "Subject: y\n\nb\x00c\n",
		from + "Subject: x\n\n>For\n>>From x\n\n>From y\n\n" + from + "S: y\n\n",
		from + "Subject: x\n\n" + from + "Subject: y\n\n\n\n",
		from + "Subject: x\nFrom: a\n\n>>From x\n>>>Fr\n\n" + from + "no header line\n\nbody\n",
		from + "\nFrom b 10:00\n\n" + from + "X: y\n",
		// A NUL in the header, the next message right after its empty
		// line (found by fuzzing: the end was looked for past that LF).
		"From \n0:\x00\n\nFrom a 10:00\n",
	} {
		f.Add([]byte(s))
	}
	p := fingerprint.NewParser()
	f.Fuzz(func(t *testing.T, data []byte) {
		checkSplitSums(t, p, data)
	})
}

// TestSumSplitRealMail: every real message, as it stands and as a client
// that downloads it again stores it (CRLF, quoted From_ lines, empty
// lines added at the end), put in an mbox, gives the same ends, prints
// and errors in one pass as split first and hashed after.
func TestSumSplitRealMail(t *testing.T) {
	needCorpus(t)
	var msgs [][]byte
	filepath.WalkDir(realCorpus, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, ".md") || strings.HasSuffix(path, ".mbox") {
			return err
		}
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			msgs = append(msgs, b)
		}
		return nil
	})
	if len(msgs) < 1000 {
		t.Fatalf("only %d real messages", len(msgs))
	}
	envelope := []byte("From someone@example.org Mon Jan  2 15:04:05 2006\n")
	var mbox []byte
	variant := func(m []byte) []byte {
		mbox = append(mbox, envelope...)
		mbox = append(mbox, quoteFromLines(m)...)
		if !bytes.HasSuffix(mbox, []byte("\n")) {
			mbox = append(mbox, '\n')
		}
		return append(mbox, '\n')
	}
	p := fingerprint.NewParser()
	for _, m := range msgs {
		lf := bytes.ReplaceAll(m, []byte("\r\n"), []byte("\n"))
		for _, v := range [][]byte{m, lf, bytes.ReplaceAll(lf, []byte("\n"), []byte("\r\n")), append(lf[:len(lf):len(lf)], "\n\n\n"...)} {
			mbox = variant(v)
		}
	}
	// CRLF bodies in one pass where the machine has the kernel, and
	// copied as LF lines where it has not.
	for _, fast := range []bool{xxh.FastLF, false} {
		defer func(old bool) { xxh.FastLF = old }(xxh.FastLF)
		xxh.FastLF = fast
		n := checkSplitSums(t, p, mbox)
		if n != 4*len(msgs) {
			t.Fatalf("%d messages in the mbox, want %d", n, 4*len(msgs))
		}
	}
	t.Logf("%d messages (%d real, 4 copies each) agree", 4*len(msgs), len(msgs))
}

// TestSumSplitLongLines: bodies with lines longer than the window that
// CRLF text is copied in, and boundaries at every place around a
// window's end (the LF that ends a window followed by the 'F' that
// starts the next), give the definition's ends, prints and errors. (Not
// fuzz seeds: Go's fuzzer minimises large inputs a byte at a time.)
func TestSumSplitLongLines(t *testing.T) {
	from := "From a@b Mon Jan  2 15:04:05 2006"
	long := strings.Repeat("For the long line x", 4000) // 76 KB
	p := fingerprint.NewParser()
	n := 0
	for _, eol := range []string{"\n", "\r\n"} {
		for _, body := range []string{long, long + eol + "short" + eol, "short" + eol + long + eol + ">From " + long + eol} {
			data := from + eol + "Subject: x" + eol + eol + body + eol + eol + from + eol + "S: y" + eol + eol + "z" + eol
			n += checkSplitSums(t, p, []byte(data))
		}
		// The empty line before a boundary at every place around the
		// end of the first window, the From_ line straddling it.
		for pad := -40; pad < 40; pad++ {
			var b strings.Builder
			b.WriteString(from + eol + "Subject: x" + eol + eol)
			hb := b.Len()
			end := hb + (64 << 10) - 100 + pad // where the boundary's From_ line starts
			for b.Len() < end-200 {
				b.WriteString(strings.Repeat("a", 70) + eol)
			}
			b.WriteString(strings.Repeat("b", end-b.Len()-2*len(eol)) + eol + eol)
			b.WriteString(from + " " + strings.Repeat("x", 200) + eol + "S: y" + eol + eol + "z" + eol)
			if got := checkSplitSums(t, p, []byte(b.String())); got != 2 {
				t.Fatalf("pad %d: %d messages, want 2", pad, got)
			}
			n += 2
		}
	}
	t.Logf("%d messages agree", n)
}

// quoteFromLines quotes, mboxrd style, the lines of m that start with
// "From " or ">...>From ".
func quoteFromLines(m []byte) []byte {
	return regexp.MustCompile(`(?m)^(>*From )`).ReplaceAll(m, []byte(">$1"))
}

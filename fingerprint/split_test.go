package fingerprint

import (
	"bytes"
	"os"
	"regexp"
	"testing"
)

// atFromLine is a boundary rule for these tests: a "From " line after an
// empty line, LF or CRLF (the scan's rule also wants a time on the line).
func atFromLine(d []byte, i int) bool {
	empty := i >= 2 && d[i-2] == '\n' || i >= 3 && d[i-2] == '\r' && d[i-3] == '\n'
	return empty && bytes.HasPrefix(d[i:], []byte("From "))
}

// quotedFromLine is a line that rule 6 changes: ">...>From ".
var quotedFromLine = regexp.MustCompile(`(?m)^>+From `)

// TestSumSplitTakesOnePass: every plain real message (LF lines, no NUL,
// no quoted From_ line, a header that parses), followed by an empty line
// and a next message, is hashed in the one pass, without falling back to
// SumBytes, and gives SumBytes' print and end; and so is its copy with
// CRLF line ends, in the CRLF pass (not copied), and each with more
// empty lines at its end. (Whether the pass is taken
// is what makes the mapped mbox scan fast; that it gives SumBytes'
// answers everywhere, plain or not, is the scan's fuzzed property.)
func TestSumSplitTakesOnePass(t *testing.T) {
	next := []byte("From next@example.org Mon Jan  2 15:04:05 2006\nSubject: next\n\nnext\n")
	p := NewParser()
	plain := 0
	for _, f := range singleMessageFiles(t) {
		m, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		msg := append(bytes.TrimRight(bytes.ReplaceAll(m, []byte("\r\n"), []byte("\n")), "\n"), "\n"...)
		if bytes.ContainsAny(msg, "\r\x00") || quotedFromLine.Match(msg) {
			continue
		}
		data := append(append(msg[:len(msg):len(msg)], '\n'), next...)
		want, err := p.SumBytes(data[:len(msg)+1]) // with the empty line before the next
		if err != nil || NextBoundary(data, 0, atFromLine) != len(msg)+1 {
			// Not for SumBytes, or "From " lines in the body that
			// this test's rule takes for envelopes.
			continue
		}
		pr, end, ok := p.sumSplitPlain(data, atFromLine)
		if !ok || end != len(msg)+1 || pr != want {
			t.Fatalf("%s: one pass ok=%v end %d (want %d) print %+v, SumBytes %+v", f, ok, end, len(msg)+1, pr, want)
		}
		// With more empty lines at the end (a client's download
		// variant): in place too, hashed again up to the last text.
		more := append(append(msg[:len(msg):len(msg)], "\n\n\n\n"...), next...)
		if h, end, ok := p.splitOnePass(more, int(pr.HeaderLen), atFromLine, false); !ok || end != len(msg)+4 || h != want.BodyHash {
			t.Fatalf("%s with empty lines at the end: ok=%v end %d (want %d) hash %x, want %x", f, ok, end, len(msg)+4, h, want.BodyHash)
		}
		// The same with CRLF line ends: the CRLF pass, not the copy.
		crlf := bytes.ReplaceAll(data, []byte("\n"), []byte("\r\n"))
		n := len(crlf) - len(bytes.ReplaceAll(next, []byte("\n"), []byte("\r\n")))
		want, err = p.SumBytes(crlf[:n])
		if err != nil {
			t.Fatalf("%s with CRLF: %v", f, err)
		}
		var hdr Print
		own := p.buf
		p.reset(emptyReader{}, int64(len(crlf)))
		p.buf, p.end, p.eof, p.inPlace = crlf, len(crlf), true, true
		err = p.header(&hdr)
		p.buf = own
		if err != nil {
			t.Fatalf("%s with CRLF: header: %v", f, err)
		}
		h, end, ok := p.splitOnePass(crlf, int(hdr.HeaderLen), atFromLine, true)
		if !ok || end != n || h != want.BodyHash {
			t.Fatalf("%s with CRLF: CRLF pass ok=%v end %d (want %d) hash %x, SumBytes %x", f, ok, end, n, h, want.BodyHash)
		}
		more = bytes.ReplaceAll(more, []byte("\n"), []byte("\r\n"))
		if h, end, ok := p.splitOnePass(more, int(hdr.HeaderLen), atFromLine, true); !ok || end != n+6 || h != want.BodyHash {
			t.Fatalf("%s with CRLF and empty lines at the end: ok=%v end %d (want %d) hash %x, want %x", f, ok, end, n+6, h, want.BodyHash)
		}
		plain++
	}
	if plain < 1000 {
		t.Fatalf("only %d plain real messages", plain)
	}
	t.Logf("%d plain real messages took the one pass", plain)
}

package fingerprint

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"testing/iotest"
)

// headerRun is what one header parse gives: the Print, the error, where
// the parser stands after it, and what the body then gives, so that the
// new header and headerRef can be compared on everything a caller sees.
type headerRun struct {
	pr        Print
	err       string
	off       int64
	beg, end  int
	eof       bool
	bodyN     int64
	bodyH     uint64
	bodyErr   string
	bodyAfter bool
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	var me *MalformedError
	if errors.As(err, &me) {
		return fmt.Sprintf("malformed %q at %d", me.Reason, me.Offset)
	}
	return fmt.Sprintf("%T %v", err, err)
}

// runHeader parses msg's header with header (ref false) or headerRef,
// in place as SumBytes sets the parser up (r nil), or streamed from r
// through a read buffer of bufLen bytes.
func runHeader(msg []byte, r io.Reader, bufLen int, size int64, ref bool) headerRun {
	p := NewParser()
	p.Intern = func(b []byte) string { return "i:" + string(b) }
	if r == nil {
		p.reset(emptyReader{}, int64(len(msg)))
		p.buf, p.end, p.eof, p.inPlace = msg, len(msg), true, true
	} else {
		p.buf = make([]byte, bufLen)
		p.reset(r, size)
	}
	var pr Print
	var err error
	if ref {
		err = p.headerRef(&pr)
	} else {
		err = p.header(&pr)
	}
	h := headerRun{pr: pr, err: errText(err), off: p.off, eof: p.eof}
	if r == nil {
		h.beg, h.end = p.beg, p.end
	}
	if err == nil {
		n, sum, err := p.body()
		h.bodyN, h.bodyH, h.bodyErr, h.bodyAfter = n, sum, errText(err), true
	}
	return h
}

// checkHeader holds header to headerRef on msg, in place and streamed in
// several ways.
func checkHeader(t *testing.T, msg []byte) {
	t.Helper()
	type way struct {
		name   string
		reader func() io.Reader
		bufLen int
		size   int64
	}
	ways := []way{
		{"in place", func() io.Reader { return nil }, 0, 0},
		{"whole", func() io.Reader { return bytes.NewReader(msg) }, bufSize, int64(len(msg))},
		{"one byte", func() io.Reader { return iotest.OneByteReader(bytes.NewReader(msg)) }, bufSize, -1},
		{"half", func() io.Reader { return iotest.HalfReader(bytes.NewReader(msg)) }, bufSize, int64(len(msg))},
		{"small buffer", func() io.Reader { return iotest.HalfReader(bytes.NewReader(msg)) }, 16, -1},
		{"tiny buffer", func() io.Reader { return iotest.OneByteReader(bytes.NewReader(msg)) }, 3, int64(len(msg))},
		{"odd buffer", func() io.Reader { return bytes.NewReader(msg) }, 97, -1},
	}
	for _, w := range ways {
		got := runHeader(msg, w.reader(), w.bufLen, w.size, false)
		want := runHeader(msg, w.reader(), w.bufLen, w.size, true)
		if got != want {
			t.Fatalf("%s: header differs from headerRef on %q:\n got %+v\nwant %+v", w.name, clip(msg), got, want)
		}
	}
}

// headerSeeds are header shapes the new code takes other ways than the
// old: folded identity and other fields, CRLF, malformed lines, NUL
// bytes, the header's end at EOF or inside a line, long lines.
func headerSeeds() []string {
	long := strings.Repeat("x", 300)
	return []string{
		base,
		"From a@b Mon Jan  2 15:04:05 2006\nSubject: x\n\n>From y\n",
		"Message-ID: <x@Y>\n\n\n\n",
		"Subject: x\n folded\n\tmore\n\nbody\r\nline\r",
		"Subject: x\r\n folded\r\n\tmore\r\nTo:  a\r\n\t b  \r\n\r\nbody\r\n",
		"no header line\n",
		" continuation first\nSubject: x\n\n",
		"Subject: x\nbad line here\n\n",
		"Subject: x\nName : value\nTo: y\n\n",
		"Subject: x\n: empty name\n\n",
		"Subject: x\nNa\x01me: v\n\n",
		"Subject: x\nNa\x80me: v\n\n",
		"Subject: x\nNa\x7fme: v\n\n",
		"Subject: x\n\x00: v\n\n",
		"Subject: x\x00y\n\n",
		"Subject: x\nTo: y",
		"Subject: x\nTo: y\n",
		"Subject: x\nTo: y\n ",
		"Subject: x\nTo: y\n folded",
		"Subject: x\nTo: y\n folded\n",
		"Subject: x\nX-Other: y\n folded\n\tmore\n",
		"Subject: x\nX-Other: y\n folded\n\tmore\nTo: z\n\nb",
		"Subject: first\nSubject: second\n folded\nsubject: third\n\n",
		"From: a\nfrom: b\nDATE: now\nTo: c\nTO: d\nX-UIDL: u1\nx-uidl: u2\nMessage-Id: <A@B>\nMessage-ID: <C@D>\n\n",
		"Subject:\n\n",
		"Subject:  \t \n\n",
		"Subject: a\r\r\n b\n\n",
		"Subject: a\rb\n\n",
		"Subject: a  b\tc\n\n",
		"Subject: " + long + "\n folded " + long + "\nTo: " + long + "  x\n\n",
		"X-Long: " + long + "\n " + long + "\n " + long + "\nFrom: a\n\n",
		"X-Long" + long + ": v\nFrom: a\n\n",
		"Received: from a\n\tby b\n\tfor c\nReceived: from d\n\tby e\nFrom: f\nDate: g\nSubject: h\nTo: i\nMessage-ID: <j@K>\nX-UIDL: l\n\nbody\n",
		"\n",
		"\r\n",
		"From x\n",
		"From x\n\n",
		"From x",
		"Subject: x\n\r\nbody",
		"Subject: x\n\r\r\nbody",
		"Subject: x\n\n",
	}
}

func addHeaderSeeds(f *testing.F) {
	for _, s := range headerSeeds() {
		f.Add([]byte(s))
	}
	if _, err := os.Stat(realCorpus); err != nil {
		return
	}
	// The headers of some real messages (cut short: the fuzzer
	// minimises large inputs slowly).
	files := singleMessageFiles(f)
	for i := 0; i < len(files); i += 97 {
		raw, err := os.ReadFile(files[i])
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw[:min(len(raw), 6<<10)])
	}
}

// FuzzHeaderRef holds header to headerRef (the code before the faster
// header loop) byte for byte: Print, error, the parser's position and the
// body after it, in place and streamed with small reads and buffers.
func FuzzHeaderRef(f *testing.F) {
	addHeaderSeeds(f)
	f.Fuzz(func(t *testing.T, msg []byte) {
		checkHeader(t, msg)
		if !bytes.Contains(msg, []byte{'\r'}) {
			checkHeader(t, bytes.ReplaceAll(msg, []byte{'\n'}, []byte{'\r', '\n'}))
		}
	})
}

// TestHeaderRefCorpus holds header to headerRef on every real message
// and on its CRLF copy.
func TestHeaderRefCorpus(t *testing.T) {
	for _, s := range headerSeeds() {
		checkHeader(t, []byte(s))
	}
	for _, path := range singleMessageFiles(t) {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		checkHeader(t, raw)
		lf := bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n"))
		checkHeader(t, bytes.ReplaceAll(lf, []byte("\n"), []byte("\r\n")))
	}
}

// TestHeaderRefLimit holds header to headerRef around MaxHeaderBytes:
// many fields, one long folded field skipped or collected, one long line.
func TestHeaderRefLimit(t *testing.T) {
	line := "X-Filler: " + strings.Repeat("y", 88) + "\n" // 99 bytes
	many := strings.Repeat(line, MaxHeaderBytes/len(line))
	folded := "X-Folded: a\n" + strings.Repeat(" "+strings.Repeat("z", 97)+"\n", MaxHeaderBytes/99)
	for _, h := range []string{
		many + "From: a\n\nbody\n",
		many[:len(many)-len(line)*2] + "From: a\n\nbody\n",
		many[:len(many)-len(line)] + "From: abcdefghijklmnopqrstuvwxyz\n\nbody\n",
		many[:len(many)-len(line)] + "From: a\n\nbody\n",
		folded + "From: a\n\nbody\n",
		folded[:len(folded)-99*3] + "From: a\n\nbody\n",
		"Subject: x\n" + folded[len("X-Folded: a\n"):] + "\nbody\n",
		"Subject: x\n" + folded[len("X-Folded: a\n")+99*2:] + "\nbody\n",
		"X-Long: " + strings.Repeat("w", MaxHeaderBytes) + "\n\nbody\n",
		"X-Long: " + strings.Repeat("w", MaxHeaderBytes-20) + "\n\nbody\n",
		"From: a\n" + strings.Repeat("v", 200<<10) + ": x\n\nbody\n",
		"From: a\n" + strings.Repeat("v", 200<<10) + "\n\nbody\n",
	} {
		checkHeader(t, []byte(h))
	}
}

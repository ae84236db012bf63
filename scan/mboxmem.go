package scan

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"github.com/popdedupe/popdedupe/fingerprint"
)

// mboxCursor walks the messages of an mbox held in memory (a mapped file)
// by the rules of MboxReader: the same messages, offsets and lengths, which
// a fuzzed property holds it to. It hands out slices of the data, so that a
// message is hashed where it lies, never copied.
type mboxCursor struct {
	data []byte
	pos  int // the start of the next message's From_ line
	n    int // messages handed out
}

// next returns the next message: its offset in data, its From_ line
// without line end, and its body (after the From_ line, up to the next
// message). At the end it returns ok == false; err is ErrNotMbox when the
// data does not start with a From_ line.
func (c *mboxCursor) next() (off int, from, body []byte, ok bool, err error) {
	off, from, bodyStart, ok, err := c.envelope()
	if !ok {
		return 0, nil, nil, false, err
	}
	end := bodyStart + fingerprint.NextBoundary(c.data[bodyStart:], 0, fromLineAt)
	c.advance(end)
	return off, from, c.data[bodyStart:end], true, nil
}

// envelope reads the From_ line of the next message: its offset, the line
// without line end, and where the body starts. The caller finds the end
// and calls advance.
func (c *mboxCursor) envelope() (off int, from []byte, bodyStart int, ok bool, err error) {
	d := c.data
	if c.pos >= len(d) {
		return 0, nil, 0, false, nil
	}
	if !bytes.HasPrefix(d[c.pos:], []byte("From ")) {
		return 0, nil, 0, false, ErrNotMbox // only at the start: bodies end at From_ lines
	}
	off = c.pos
	line, bodyStart := d[off:], len(d)
	if eol := bytes.IndexByte(line, '\n'); eol >= 0 {
		line, bodyStart = line[:eol], off+eol+1
	}
	return off, bytes.TrimRight(line, "\r\n"), bodyStart, true, nil
}

// advance ends the message that envelope began at end.
func (c *mboxCursor) advance(end int) {
	c.pos = end
	c.n++
}

// fromLineAt reports whether the line at body[i], a "From " after a LF,
// is a message boundary, body being all that follows a message's From_
// line: a line that looks like an envelope line and follows an empty line
// of the body itself (LF or CRLF), as MboxReader.scanBoundary decides it.
func fromLineAt(body []byte, i int) bool {
	lf := i - 1
	if !(lf-1 >= 0 && body[lf-1] == '\n' || lf-2 >= 0 && body[lf-1] == '\r' && body[lf-2] == '\n') {
		return false
	}
	line := body[i:]
	if eol := bytes.IndexByte(line, '\n'); eol >= 0 {
		line = line[:eol]
	}
	return looksLikeFromLine(line)
}

// mapMboxes: mbox files are mapped into memory where the system allows it
// (a variable for the tests, which compare both ways of reading).
var mapMboxes = true

// mboxGiveBack is how many bytes of a mapped segment are hashed between two
// madvise calls that give their pages back: the mapping's share of the RSS
// stays about this size per core (the pages stay in the page cache).
const mboxGiveBack = 8 << 20

// errShrank is the reason given for an mbox file that was cut short while
// it was mapped (reading past its new end faults).
var errShrank = errors.New("the file shrank while it was being scanned (rewritten by another program?)")

type mappedSegment struct {
	msgs    chunked[Message]
	skipped []Skipped
	n       int  // messages met
	failed  bool // could not be split to its end
	fault   bool // the mapping faulted: the file shrank
}

// readMboxMapped fingerprints the messages of an mbox file mapped into
// memory: one goroutine per segment (see mboxSegments) splits and hashes
// in place. Reading with read(2) copies every byte twice, from the kernel
// and then to a hashing worker, and hands every message between
// goroutines; here nothing is copied and nothing handed over. Pages are
// given back as the segments advance, so the mapping adds about
// mboxGiveBack bytes of RSS per core, whatever the file's size. (A few
// segments per core, taken in turn, measured no faster.)
func (r *Result) readMboxMapped(ctx context.Context, path string, src int32, data []byte, modTime time.Time, prog Progress) ([]Message, []Skipped, error) {
	segs := mboxSegments(bytes.NewReader(data), int64(len(data)), runtime.GOMAXPROCS(0))
	outs := make([]mappedSegment, len(segs))
	var wg sync.WaitGroup
	for si := range segs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r.readMappedSegment(ctx, path, src, data, segs[si], modTime, prog, &outs[si])
		}()
	}
	wg.Wait()
	// Ordinals count every message met, fingerprinted or skipped.
	// Segments in order, ordinals made global; a segment that could not
	// be split to its end ends the file's messages there, as one
	// sequential pass would have.
	met, total := 0, 0
	base, at := make([]int, len(segs)), make([]int, len(segs))
	var skipped []Skipped
	for si := range outs {
		o := &outs[si]
		if o.fault {
			return nil, []Skipped{{Path: path, Reason: errShrank.Error()}}, ctx.Err()
		}
		base[si], at[si] = met, total
		met += o.n
		total += o.msgs.n
		for _, sk := range o.skipped {
			sk.Index += base[si]
			skipped = append(skipped, sk)
		}
		if o.failed {
			outs = outs[:si+1]
			break
		}
	}
	// Each segment's records are moved into place by its own goroutine
	// (7 MB for 91k messages: a copy worth sharing out).
	msgs := make([]Message, total)
	for si := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dst := msgs[at[si]:at[si]]
			outs[si].msgs.drain(func(m Message) {
				m.Index += int32(base[si])
				dst = append(dst, m)
			})
		}()
	}
	wg.Wait()
	return msgs, skipped, ctx.Err()
}

// readMappedSegment splits and hashes one segment of a mapped mbox.
func (r *Result) readMappedSegment(ctx context.Context, path string, src int32, data []byte, seg mboxSegment, modTime time.Time, prog Progress, out *mappedSegment) {
	// A file cut short under the mapping faults when its lost pages are
	// read; that must end this file's scan, not the program.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if e := recover(); e != nil {
			if _, fault := e.(interface{ Addr() uintptr }); !fault {
				panic(e)
			}
			out.fault = true
		}
	}()
	p := r.parser()
	c := mboxCursor{data: data[seg.off:seg.end]}
	given := 0 // bytes of the segment whose pages were given back
	lastInFile := seg.end == int64(len(data)) && data[len(data)-1] != '\n'
	for ctx.Err() == nil {
		off, from, bodyStart, ok, err := c.envelope()
		if err != nil {
			out.n = c.n
			out.skipped = append(out.skipped, Skipped{Path: path, Index: c.n, Reason: "cannot split mbox: " + err.Error()})
			out.failed = true
			return
		}
		if !ok {
			break
		}
		// The parser finds the message's end in the pass that hashes it.
		pr, n, err := p.SumSplit(c.data[bodyStart:], fromLineAt)
		c.advance(bodyStart + n)
		out.n = c.n
		m := Message{Source: src, Index: int32(c.n), Offset: seg.off + int64(off), Size: int64(c.pos - off)}
		m.Arrival = arrivalOf(from, modTime)
		if err == nil && lastInFile && c.pos == len(c.data) {
			err = errNoFinalNewline
		}
		if prog != nil {
			prog.Add(1, m.Size)
		}
		if err != nil {
			out.skipped = append(out.skipped, Skipped{Path: path, Index: c.n, Reason: err.Error()})
		} else {
			r.setPrint(&m, pr)
			out.msgs.add(m)
		}
		if c.pos-given >= mboxGiveBack {
			given = int(giveBack(data, seg.off+int64(given), seg.off+int64(c.pos)) - seg.off)
		}
	}
	giveBack(data, seg.off+int64(given), seg.end)
}

// fromLineUnix reads the most common From_ line date, asctime's "Www Mmm
// dd hh:mm:ss yyyy" after the sender, without allocating; ok is false for
// anything else (then FromLineTime decides). A fuzzed property holds it to
// FromLineTime.
func fromLineUnix(line []byte) (unix int64, ok bool) {
	var tok [8][]byte
	n := 0
	for i := 0; i < len(line); {
		c := line[i]
		if c == ' ' {
			i++
			continue
		}
		j := i
		for j < len(line) && line[j] != ' ' {
			if line[j] < 0x21 || line[j] > 0x7e {
				return 0, false // other white space or non-ASCII: Fields' rules
			}
			j++
		}
		if n == len(tok) {
			return 0, false
		}
		tok[n] = line[i:j]
		n++
		i = j
	}
	if n != 7 || string(tok[0]) != "From" {
		return 0, false
	}
	wd, mon, day, clock, year := tok[2], tok[3], tok[4], tok[5], tok[6]
	if name3("MonTueWedThuFriSatSun", wd) < 0 {
		return 0, false
	}
	m := name3("JanFebMarAprMayJunJulAugSepOctNovDec", mon)
	if m < 0 {
		return 0, false
	}
	d, okD := digits(day, 1, 2)
	y, okY := digits(year, 4, 4)
	if !okD || !okY || len(clock) < 7 || len(clock) > 8 {
		return 0, false
	}
	h, okH := digits(clock[:len(clock)-6], 1, 2)
	mi, okM := digits(clock[len(clock)-5:len(clock)-3], 2, 2)
	s, okS := digits(clock[len(clock)-2:], 2, 2)
	if !okH || !okM || !okS || clock[len(clock)-6] != ':' || clock[len(clock)-3] != ':' {
		return 0, false
	}
	month := m + 1
	if d < 1 || d > daysIn(month, y) || h > 23 || mi > 59 || s > 59 {
		return 0, false
	}
	if y == 1 && month == 1 && d == 1 && h == 0 && mi == 0 && s == 0 {
		return 0, false // the zero time: FromLineTime's "no date"
	}
	return civilDays(y, month, d)*86400 + int64(h*3600+mi*60+s), true
}

// name3 returns the index of the three-letter name b in names (names of
// three letters back to back), or -1.
func name3(names string, b []byte) int {
	if len(b) != 3 {
		return -1
	}
	for i := 0; i+3 <= len(names); i += 3 {
		if names[i] == b[0] && names[i+1] == b[1] && names[i+2] == b[2] {
			return i / 3
		}
	}
	return -1
}

// civilDays is the number of days from 1970-01-01 to the given date of
// the proleptic Gregorian calendar (the one package time uses).
func civilDays(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12 // March is 0
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

// digits parses b as a decimal of lo to hi digits.
func digits(b []byte, lo, hi int) (int, bool) {
	if len(b) < lo || len(b) > hi {
		return 0, false
	}
	v := 0
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

func daysIn(m, year int) int {
	switch m {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// arrivalOf is the arrival time of an mbox message: its From_ line date,
// else the file's modification time.
func arrivalOf(from []byte, modTime time.Time) int64 {
	if t, ok := fromLineUnix(from); ok {
		return t
	}
	if t := FromLineTime(string(from)); !t.IsZero() {
		return t.Unix()
	}
	return modTime.Unix()
}

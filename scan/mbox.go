package scan

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/popdedupe/popdedupe/internal/bytesearch"
)

// MboxReader splits an mbox file (RFC 4155) into messages, byte-exact and
// streaming: it reports the offset and length of every message, From_ line
// included, so that a rewrite can copy kept messages unchanged.
//
// github.com/emersion/go-mbox is not used for reading: its reader drops the
// From_ line, removes one '>' from quoted lines and rewrites line ends to
// CRLF, and it reports no offsets, so it cannot tell where a message lives
// in the file. Splitting rule: a message starts at a line that begins with
// "From ", looks like an envelope line (it has an hh:mm time) and is the
// first line of the file or follows an empty line. Body lines "From ..."
// that do not follow an empty line stay in the body, as in mboxo/mboxrd.
type MboxReader struct {
	r     io.Reader
	buf   []byte
	beg   int   // start of unread data
	end   int   // end of valid data
	off   int64 // file offset of buf[beg]
	eof   bool
	err   error
	n     int  // ordinal of the current message, from 1
	inMsg bool // a message body is being read
	// atBoundary: everything before the next From_ line was handed out.
	atBoundary bool
	cur        MboxMessage
	// last holds the last body bytes handed out (up to 2, newest last):
	// whether a "From " line follows an empty line must not depend on
	// where the consumer's previous Read stopped.
	last  [2]byte
	nlast int
}

// MboxMessage describes one message of an mbox file.
type MboxMessage struct {
	Index  int    // ordinal of its From_ line, from 1
	Offset int64  // file offset of the From_ line
	Length int64  // bytes from the From_ line to the next message (set after the body is read)
	From   string // the From_ line without its line end
}

// ErrNotMbox is returned when a file does not start with a From_ line.
var ErrNotMbox = errors.New("not an mbox file: it does not start with a \"From \" envelope line")

const mboxBufSize = 1 << 20

// NewMboxReader returns a reader for the mbox data in r.
func NewMboxReader(r io.Reader) *MboxReader {
	return &MboxReader{r: r, buf: make([]byte, mboxBufSize)}
}

// newMboxReaderSize returns a reader with a buffer fit for size bytes of
// data (one message), so that opening one message does not cost 1 MiB.
func newMboxReaderSize(r io.Reader, size int64) *MboxReader {
	n := int64(mboxBufSize)
	if size+16 < n {
		n = max(size+16, 4096)
	}
	return &MboxReader{r: r, buf: make([]byte, n)}
}

func (m *MboxReader) fill() bool {
	if m.eof {
		return false
	}
	if m.beg > 0 {
		n := copy(m.buf, m.buf[m.beg:m.end])
		m.beg, m.end = 0, n
	}
	for m.end < len(m.buf) {
		n, err := m.r.Read(m.buf[m.end:])
		m.end += n
		if err != nil {
			m.eof = true
			if err != io.EOF {
				m.err = err
			}
			return n > 0
		}
		if n > 0 {
			return true
		}
	}
	return true
}

// Next skips the rest of the current message and returns the next one's
// envelope. The returned Body reader yields the message after its From_
// line, up to the next From_ line. At the end it returns io.EOF.
func (m *MboxReader) Next() (*MboxMessage, io.Reader, error) {
	if m.inMsg {
		if _, err := io.Copy(io.Discard, bodyReader{m}); err != nil {
			return nil, nil, err
		}
	}
	for m.end-m.beg < 7 && m.fill() {
	}
	if m.err != nil {
		return nil, nil, m.err
	}
	if m.beg == m.end {
		return nil, nil, io.EOF
	}
	data := m.buf[m.beg:m.end]
	if !bytes.HasPrefix(data, []byte("From ")) {
		if m.n == 0 {
			return nil, nil, ErrNotMbox
		}
		return nil, nil, errors.New("mbox: lost the message boundary") // cannot happen: bodies end at From_ lines
	}
	for bytes.IndexByte(m.buf[m.beg:m.end], '\n') < 0 && m.fill() {
	}
	data = m.buf[m.beg:m.end]
	eol := bytes.IndexByte(data, '\n')
	line := data
	if eol >= 0 {
		line = data[:eol+1]
	}
	m.n++
	m.cur = MboxMessage{Index: m.n, Offset: m.off, From: strings.TrimRight(string(line), "\r\n")}
	m.beg += len(line)
	m.off += int64(len(line))
	m.inMsg = true
	m.nlast = 0
	return &m.cur, bodyReader{m}, nil
}

type bodyReader struct{ m *MboxReader }

// Read returns body bytes up to the next message boundary.
func (b bodyReader) Read(p []byte) (int, error) {
	m := b.m
	if !m.inMsg {
		return 0, io.EOF
	}
	for {
		data := m.buf[m.beg:m.end]
		if m.atBoundary {
			m.atBoundary = false
			m.inMsg = false
			m.cur.Length = m.off - m.cur.Offset
			return 0, io.EOF
		}
		limit, boundary := m.scanBoundary(data)
		if limit > 0 {
			n := copy(p, data[:limit])
			m.keepLast(data[:n])
			m.beg += n
			m.off += int64(n)
			m.atBoundary = boundary && n == limit
			return n, nil
		}
		if boundary {
			m.inMsg = false
			m.cur.Length = m.off - m.cur.Offset
			return 0, io.EOF
		}
		if m.eof && m.beg == m.end {
			m.inMsg = false
			m.cur.Length = m.off - m.cur.Offset
			if m.err != nil {
				return 0, m.err
			}
			return 0, io.EOF
		}
		if !m.fill() && m.err != nil {
			return 0, m.err
		}
	}
}

// scanBoundary returns how many bytes of data surely belong to the current
// body, and whether the next message's From_ line follows them.
func (m *MboxReader) scanBoundary(data []byte) (int, bool) {
	i := 0
	for {
		p := indexFromAt(data, i)
		if p < 0 {
			// Keep a tail that could begin a boundary split across reads.
			if m.eof {
				return len(data), false
			}
			keep := len(data) - 8 // "\r\n" + "\nFrom "
			if keep < 0 {
				keep = 0
			}
			return keep, false
		}
		j := p - 1 // data[j] should be the LF ending the line before "From "
		if m.before(data, j) != '\n' {
			i = j + 2
			continue
		}
		if b1, b2 := m.before(data, j-1), m.before(data, j-2); b1 != '\n' && !(b1 == '\r' && b2 == '\n') {
			i = j + 2
			continue
		}
		eol := bytes.IndexByte(data[j+1:], '\n')
		// Need the whole candidate line: hand out what comes before it
		// and read more (a full buffer with body data before the
		// candidate is compacted by the next fill).
		if eol < 0 && !m.eof && (m.end-m.beg < len(m.buf) || j > 2) {
			return max(j-2, 0), false
		}
		line := data[j+1:]
		if eol >= 0 {
			line = line[:eol]
		}
		if !looksLikeFromLine(line) {
			i = j + 2
			continue
		}
		return j + 1, true
	}
}

// indexFromAt returns the index of the first "From " in data at or after
// i that starts data or follows a LF, or -1. It keys on a LF followed by
// 'F', sixteen places at a time (bytes.Index keys on one byte, and a LF or
// an 'F' is met every few dozen bytes).
func indexFromAt(data []byte, i int) int {
	if i == 0 && bytes.HasPrefix(data, []byte("From ")) {
		return 0
	}
	for {
		x := bytesearch.IndexPair(data[i:], '\n', 'F')
		if x < 0 {
			return -1
		}
		p := i + x + 1
		if bytes.HasPrefix(data[p:], []byte("From ")) {
			return p
		}
		i = p
	}
}

// keepLast remembers the last bytes of b, body bytes being handed out.
func (m *MboxReader) keepLast(b []byte) {
	switch {
	case len(b) >= 2:
		m.last, m.nlast = [2]byte{b[len(b)-2], b[len(b)-1]}, 2
	case len(b) == 1 && m.nlast == 0:
		m.last[0], m.nlast = b[0], 1
	case len(b) == 1:
		m.last = [2]byte{m.last[m.nlast-1], b[0]}
		m.nlast = 2
	}
}

// before returns data[k], or for k < 0 a body byte handed out before data
// (0 when there is none: the start of the body).
func (m *MboxReader) before(data []byte, k int) byte {
	if k >= 0 {
		return data[k]
	}
	if i := m.nlast + k; i >= 0 {
		return m.last[i]
	}
	return 0
}

// looksLikeFromLine reports whether l (without line end) is an envelope
// line: "From " SENDER SP DATE, where the date has an hh:mm time.
func looksLikeFromLine(l []byte) bool {
	if !bytes.HasPrefix(l, []byte("From ")) {
		return false
	}
	rest := l[5:]
	// Each colon is tried as the middle of "dd:dd" (a line has few).
	for i := 2; i+2 < len(rest); i++ {
		c := bytes.IndexByte(rest[i:len(rest)-2], ':')
		if c < 0 {
			return false
		}
		i += c
		if isDigit(rest[i-2]) && isDigit(rest[i-1]) && isDigit(rest[i+1]) && isDigit(rest[i+2]) {
			return true
		}
	}
	return false
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// FromLineTime parses the date of a From_ line ("From sender Mon Jan  2
// 15:04:05 2006", optionally with a zone). It returns the zero time when
// the line has no date it understands.
func FromLineTime(line string) time.Time {
	f := strings.Fields(line)
	if len(f) < 3 {
		return time.Time{}
	}
	rest := strings.Join(f[2:], " ")
	for _, layout := range []string{
		"Mon Jan 2 15:04:05 2006",
		"Mon Jan 2 15:04:05 2006 -0700",
		"Mon Jan 2 15:04:05 -0700 2006",
		"Mon Jan 2 15:04:05 MST 2006",
		"Mon Jan 2 15:04 2006",
	} {
		if t, err := time.Parse(layout, rest); err == nil {
			return t
		}
	}
	return time.Time{}
}

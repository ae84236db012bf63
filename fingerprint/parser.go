package fingerprint

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/cespare/xxhash/v2"

	"github.com/popdedupe/popdedupe/internal/bytesearch"
	"github.com/popdedupe/popdedupe/internal/xxh"
)

// MaxHeaderBytes bounds the header block. A longer one is malformed: it is
// either not mail or an attack, and a bounded header keeps memory flat.
const MaxHeaderBytes = 1 << 20

// bufSize is the Parser's read buffer. It is larger than most messages, so
// that a whole message usually arrives in one read.
const bufSize = 64 << 10

// ErrMalformed is wrapped by every error that says a message cannot be
// fingerprinted. Test with errors.Is; the text says why.
var ErrMalformed = errors.New("malformed message")

// MalformedError says why a message was not fingerprinted and where.
type MalformedError struct {
	Reason string
	Offset int64 // byte offset in the message where the problem was seen
}

func (e *MalformedError) Error() string {
	return fmt.Sprintf("malformed message: %s (at byte %d)", e.Reason, e.Offset)
}

func (e *MalformedError) Is(target error) bool { return target == ErrMalformed }

func malformed(off int64, format string, args ...any) error {
	return &MalformedError{Reason: fmt.Sprintf(format, args...), Offset: off}
}

// Print is the identity of one stored copy.
type Print struct {
	MessageID string // normalised (rule 4); "" when the message has none
	KeyHash   uint64 // xxhash of From, Date, Subject, To (rule 5)
	BodyHash  uint64 // xxhash of the normalised body (rules 6-8); valid when HasBody
	HasBody   bool
	XUIDL     string // value of an X-UIDL header, if any (evidence, never identity)
	Size      int64  // raw bytes read, header and body; only when HasBody
	HeaderLen int64  // raw bytes of the header block including the empty line
}

// Key is the grouping key: copies with equal keys are duplicates.
type Key struct {
	MessageID string
	BodyHash  uint64
	KeyHash   uint64 // zero when MessageID is set
}

// Key returns the duplicate-grouping key of p. It panics if the body was
// not hashed, which is a programming error.
func (p Print) Key() Key {
	if !p.HasBody {
		panic("fingerprint: Key of a Print without body hash")
	}
	if p.MessageID != "" {
		return Key{MessageID: p.MessageID, BodyHash: p.BodyHash}
	}
	return Key{BodyHash: p.BodyHash, KeyHash: p.KeyHash}
}

// Candidate is the cheaper header-only key: copies can only be duplicates
// when their candidates are equal, so bodies need hashing only where
// candidates collide.
func (p Print) Candidate() Key {
	if p.MessageID != "" {
		return Key{MessageID: p.MessageID}
	}
	return Key{KeyHash: p.KeyHash}
}

// Parser fingerprints messages. It owns a read buffer and a hash state and
// can be reused for any number of messages; it is not safe for concurrent
// use (give each worker its own).
type Parser struct {
	buf  []byte
	r    io.Reader
	beg  int   // start of unread data in buf
	end  int   // end of valid data in buf
	off  int64 // message offset of buf[beg]
	eof  bool
	size int64 // the message's length when the caller knows it, else -1
	// inPlace is set when buf holds a whole message that no read has
	// checked for NUL bytes (see sumInPlace): body checks as it goes.
	inPlace bool
	rerr    error
	d       *xxhash.Digest
	x       *xxh.Digest // the body hash of SumSplit's one pass
	keys    []byte      // scratch for the key headers (rule 5)
	id      []byte      // scratch for the normalised Message-ID
	val     []byte      // scratch for the header field being collected
	// Intern, when set, makes the strings of a Print (Message-ID, X-UIDL)
	// from the parser's scratch bytes, which are reused by the next
	// message. A scan points it at its string arena, so that reading a
	// million messages allocates no string per message; by default the
	// strings are allocated.
	Intern func([]byte) string
	line   []byte // scratch for a header line that spans reads
	norm   []byte // scratch for CRLF lines made LF lines (fast path of body)
	// scratch holds the collapsed value of each identity field of the
	// message being read, reused from message to message.
	scratch [len(interestingFields)][]byte
}

// NewParser returns a Parser with its own buffer.
func NewParser() *Parser {
	return &Parser{buf: make([]byte, bufSize), d: xxhash.New()}
}

func (p *Parser) reset(r io.Reader, size int64) {
	p.r, p.beg, p.end, p.off, p.eof, p.rerr, p.size = r, 0, 0, 0, false, nil, size
	p.inPlace = false
}

// fill reads more data, compacting the buffer first. It reports whether
// new data arrived.
func (p *Parser) fill() bool {
	if p.eof {
		return false
	}
	if p.beg > 0 {
		n := copy(p.buf, p.buf[p.beg:p.end])
		p.beg, p.end = 0, n
	}
	// Read until a good amount arrived: a reader that trickles bytes (a
	// slow network) must not make every byte a rescan of the buffer.
	want := p.end + min(16<<10, len(p.buf)-p.end)
	got := false
	for p.end < want {
		if p.size >= 0 && p.off+int64(p.end-p.beg) >= p.size {
			p.eof = true // the known size is in: no read just to learn of EOF
			return got
		}
		n, err := p.r.Read(p.buf[p.end:])
		if n > 0 {
			if i := bytes.IndexByte(p.buf[p.end:p.end+n], 0); i >= 0 {
				p.rerr = malformed(p.off+int64(p.end-p.beg+i), "NUL byte")
				p.eof = true
				return false
			}
			p.end += n
			got = true
		}
		if err == io.EOF {
			p.eof = true
			return got
		}
		if err != nil {
			p.rerr = err
			p.eof = true
			return got
		}
	}
	return true
}

// readLine returns the next line including its LF (none at EOF). Lines up
// to the buffer size are returned in place; longer ones are gathered into
// scratch up to MaxHeaderBytes. It is used for the header block only.
func (p *Parser) readLine(limit int) ([]byte, error) {
	p.line = p.line[:0]
	for {
		if i := bytes.IndexByte(p.buf[p.beg:p.end], '\n'); i >= 0 {
			l := p.buf[p.beg : p.beg+i+1]
			p.beg += i + 1
			p.off += int64(i + 1)
			if len(p.line) > 0 {
				p.line = append(p.line, l...)
				if len(p.line) > limit {
					return nil, malformed(p.off, "header block longer than %d bytes", MaxHeaderBytes)
				}
				return p.line, nil
			}
			return l, nil
		}
		if p.end > p.beg && (p.end-p.beg == len(p.buf) || p.eof) {
			// The buffer is full of one line, or this is the last line.
			p.line = append(p.line, p.buf[p.beg:p.end]...)
			p.off += int64(p.end - p.beg)
			p.beg = p.end
			if len(p.line) > limit {
				return nil, malformed(p.off, "header block longer than %d bytes", MaxHeaderBytes)
			}
			if p.eof {
				return p.line, nil
			}
		}
		if !p.fill() {
			if p.rerr != nil {
				return nil, p.rerr
			}
			if p.end > p.beg {
				continue // the last line, without LF: taken above
			}
			if len(p.line) > 0 {
				return p.line, nil
			}
			return nil, io.EOF
		}
	}
}

// Sum fingerprints the message read from r. size is the message's length
// when known (else -1). When full is false only the header is required:
// the body is hashed anyway when the whole message arrived in the first
// read (it costs no extra I/O), and HasBody says whether it was.
func (p *Parser) Sum(r io.Reader, size int64, full bool) (Print, error) {
	p.reset(r, size)
	return p.sum(func(string, uint64) bool { return full })
}

// Buffer returns the Parser's read buffer, for a caller that reads the
// first bytes of a message into it itself (see SumRead): one read system
// call per small file, and no copy between buffers.
func (p *Parser) Buffer() []byte { return p.buf }

// SumRead fingerprints a message whose first n bytes the caller has read
// into Buffer()[:n]; r supplies the rest, and size is the whole length
// when known (else -1). After the header block, wantBody is called with
// the header identity (the Print's MessageID and KeyHash); the body is
// hashed when it returns true or when the whole message is already in
// the buffer (which costs no I/O). Otherwise
// SumRead stops after the header (HasBody false) and reads no further:
// a scan reads bodies only where header identities collide.
func (p *Parser) SumRead(n int, r io.Reader, size int64, wantBody func(messageID string, keyHash uint64) bool) (Print, error) {
	p.reset(r, size)
	p.end = n
	if size >= 0 && int64(n) >= size {
		// All of it is here (the usual case): it is hashed whatever
		// wantBody says, and checked for NUL bytes as it is hashed.
		p.eof = true
		return p.sumInPlace(p.buf[:n], wantBody)
	}
	if i := bytes.IndexByte(p.buf[:n], 0); i >= 0 {
		return Print{}, malformed(int64(i), "NUL byte")
	}
	return p.sum(wantBody)
}

// sum parses the header at the parser's position and hashes the body when
// it is all here or wantBody asks for it.
func (p *Parser) sum(wantBody func(messageID string, keyHash uint64) bool) (Print, error) {
	var pr Print
	if err := p.header(&pr); err != nil {
		return Print{}, err
	}
	if p.size >= 0 && p.off+int64(p.end-p.beg) >= p.size {
		p.eof = true // all of it is here: no read just to learn of EOF
	}
	if !wantBody(pr.MessageID, pr.KeyHash) && !p.eof {
		return pr, nil
	}
	n, h, err := p.body()
	if err != nil {
		return Print{}, err
	}
	pr.BodyHash, pr.HasBody, pr.Size = h, true, pr.HeaderLen+n
	return pr, nil
}

// SumBytes fingerprints a message that is already in memory, without
// copying it: the parser reads msg in place (msg is not modified).
func (p *Parser) SumBytes(msg []byte) (Print, error) {
	own := p.buf
	defer func() { p.buf = own }()
	if len(msg) == 0 {
		return Print{}, malformed(0, "empty message")
	}
	p.reset(emptyReader{}, int64(len(msg)))
	p.buf, p.end, p.eof = msg, len(msg), true
	return p.sumInPlace(msg, func(string, uint64) bool { return true })
}

// sumInPlace is sum for a whole message msg that is the parser's buffer
// and that no read has checked for NUL bytes. The body is checked in the
// pass that hashes it, the header block (short, and just read) after it
// is parsed. A NUL anywhere is the error, at the first one, whatever
// else is wrong, as when msg is checked first.
func (p *Parser) sumInPlace(msg []byte, wantBody func(messageID string, keyHash uint64) bool) (Print, error) {
	p.inPlace = true
	pr, err := p.sum(wantBody)
	if err == nil {
		if i := bytes.IndexByte(msg[:pr.HeaderLen], 0); i >= 0 {
			err = malformed(int64(i), "NUL byte")
		}
	}
	if err != nil {
		if i := bytes.IndexByte(msg, 0); i >= 0 {
			return Print{}, malformed(int64(i), "NUL byte")
		}
		return Print{}, err
	}
	return pr, nil
}

type emptyReader struct{}

func (emptyReader) Read([]byte) (int, error) { return 0, io.EOF }

func trimEOL(l []byte) []byte {
	n := len(l)
	if n > 0 && l[n-1] == '\n' {
		n--
	}
	if n > 0 && l[n-1] == '\r' {
		n--
	}
	return l[:n]
}

func (p *Parser) str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if p.Intern != nil {
		return p.Intern(b)
	}
	return string(b)
}

// trimWSP drops trailing SP and HTAB (obsolete "Name :" syntax, RFC 5322
// section 4.5).
func trimWSP(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// header parses the header block and leaves the parser at the body.
func (p *Parser) header(pr *Print) error {
	var (
		total, fields int
		field         = -1        // the identity field being collected (index into interestingFields), or -1
		val           = p.val[:0] // the field being collected, unfolded
		have          [len(interestingFields)]bool
		vals          [len(interestingFields)][]byte
		first         = true
	)
	// flush keeps the first occurrence of each identity field, collapsed
	// into the parser's own buffer for that field.
	flush := func() {
		if field >= 0 && !have[field] {
			p.scratch[field] = collapseValue(p.scratch[field][:0], val)
			vals[field], have[field] = p.scratch[field], true
		}
		field = -1
	}
	for {
		if !first {
			// The usual case: a whole field, its folded lines with it,
			// is here (and within the bound). It is passed at once, an
			// identity field collapsed from where it stands, folded
			// line ends and all (no copy of it unfolded first).
			if colon, n := fieldSpan(p.buf[p.beg:p.end]); colon > 0 && total+n <= MaxHeaderBytes {
				rest := p.buf[p.beg : p.beg+n]
				flush()
				fields++
				if f := interesting(rest[:colon]); f >= 0 && !have[f] {
					p.scratch[f] = collapseField(p.scratch[f][:0], rest[colon+1:n-1])
					vals[f], have[f] = p.scratch[f], true
				}
				p.beg += n
				p.off += int64(n)
				total += n
				continue
			}
			// The empty line that ends the header.
			if rest := p.buf[p.beg:p.end]; len(rest) > 0 {
				n := 0
				if rest[0] == '\n' {
					n = 1
				} else if len(rest) > 1 && rest[0] == '\r' && rest[1] == '\n' {
					n = 2
				}
				if n > 0 && total+n <= MaxHeaderBytes {
					p.beg += n
					p.off += int64(n)
					total += n
					break
				}
			}
		}
		var l []byte
		if i := bytes.IndexByte(p.buf[p.beg:p.end], '\n'); i >= 0 {
			// The usual case, readLine's first step, inline.
			l = p.buf[p.beg : p.beg+i+1]
			p.beg += i + 1
			p.off += int64(i + 1)
		} else {
			var err error
			l, err = p.readLine(MaxHeaderBytes - total)
			if err == io.EOF {
				if first {
					return malformed(0, "empty message")
				}
				break // a message of header fields only: the body is empty
			}
			if err != nil {
				return err
			}
		}
		total += len(l)
		if total > MaxHeaderBytes {
			return malformed(p.off, "header block longer than %d bytes", MaxHeaderBytes)
		}
		if l[len(l)-1] != '\n' && p.eof {
			// The message ended inside a header line. A message is
			// allowed to end after its last header line, not in it.
			return malformed(p.off, "message ends inside the header block (truncated?)")
		}
		c := trimEOL(l)
		if first {
			first = false
			if bytes.HasPrefix(c, []byte("From ")) {
				continue // mbox envelope line (rule 2)
			}
		}
		if len(c) == 0 {
			break
		}
		if c[0] == ' ' || c[0] == '\t' {
			if fields == 0 {
				return malformed(p.off-int64(len(l)), "header block starts with a continuation line")
			}
			if field >= 0 {
				val = append(val, ' ')
				val = append(val, c...)
			}
			continue
		}
		// The field name: printable US-ASCII up to the colon, found in
		// one loop; else the careful way (there may be white space
		// before the colon, RFC 5322 section 4.5).
		colon := nameColon(c)
		name0 := c[:max(colon, 0)]
		if colon <= 0 {
			colon = bytes.IndexByte(c, ':')
			name0 = trimWSP(c[:max(colon, 0)])
			if colon <= 0 || !fieldName(name0) {
				return malformed(p.off-int64(len(l)), "line %q is not a header field and no empty line came before it (no header/body separator)", clip(c))
			}
		}
		flush()
		fields++
		if f := interesting(name0); f >= 0 && !have[f] {
			field = f
			val = append(val[:0], c[colon+1:]...)
		} else if rest := p.buf[p.beg:p.end]; len(rest) > 0 && (rest[0] == ' ' || rest[0] == '\t') {
			// A field identity does not use (or has from an earlier
			// line), folded: its continuation lines need nothing but
			// passing, at once when they are all here (and within the
			// bound; else line by line).
			if k := bytesearch.IndexUnfolded(rest); k >= 0 && total+k+1 <= MaxHeaderBytes {
				p.beg += k + 1
				p.off += int64(k + 1)
				total += k + 1
			}
		}
	}
	flush()
	p.val = val
	mid, from, date, subj, to, xuidl := vals[0], vals[1], vals[2], vals[3], vals[4], vals[5]
	pr.HeaderLen = p.off
	p.id = appendMessageID(p.id[:0], mid)
	pr.MessageID, pr.XUIDL = p.str(p.id), p.str(xuidl)
	// "from" NUL value NUL "date" NUL ... gathered and hashed at once
	// (the same hash as writing the pieces one by one).
	k := p.keys[:0]
	for _, kv := range [...]struct {
		n string
		v []byte
	}{{"from", from}, {"date", date}, {"subject", subj}, {"to", to}} {
		k = append(k, kv.n...)
		k = append(k, 0)
		k = append(k, kv.v...)
		k = append(k, 0)
	}
	p.keys = k
	pr.KeyHash = xxhash.Sum64(k)
	return nil
}

// nameColon returns the index of the colon that ends a field name of
// printable US-ASCII at the start of b, or -1 when a byte that is not
// comes first (then header takes the careful way).
func nameColon(b []byte) int {
	for k, ch := range b {
		if ch == ':' {
			return k
		}
		if ch < 33 || ch > 126 {
			break
		}
	}
	return -1
}

// fieldSpan returns, for the line that b starts with, the index of the
// colon that ends a field name of printable US-ASCII (<= 0: none; the
// name loop of header's line by line way), and the length of the whole
// field through the LF that ends its last folded line, when that LF is
// in b and a byte follows it (else -1, 0): one search for the line end,
// and one more for the end of the folded lines when there are any.
func fieldSpan(b []byte) (colon, n int) {
	colon = nameColon(b)
	if colon <= 0 {
		return -1, 0
	}
	i := bytes.IndexByte(b[colon:], '\n') + colon
	if i < colon || i+1 >= len(b) {
		return -1, 0
	}
	if c := b[i+1]; c != ' ' && c != '\t' {
		return colon, i + 1
	}
	k := bytesearch.IndexUnfolded(b[i+1:])
	if k < 0 {
		return -1, 0
	}
	return colon, i + 1 + k + 1
}

// collapseField is collapseValue for a whole field value as it stands in
// the header block, its folded line ends in it (not the last LF): each
// CRLF or LF of an unfolded line is white space that collapses with the
// SP or HTAB after it, as header's unfolding gives.
func collapseField(out, v []byte) []byte {
	i, j := 0, len(v)
	for i < j && isWSP(v[i]) {
		i++
	}
	for j > i && isWSP(v[j-1]) {
		j--
	}
	if w := v[i:j]; len(w) < 64 && collapsedLine(w) || len(w) >= 64 && collapsed(w) && bytes.IndexByte(w, '\n') < 0 {
		return append(out, w...)
	}
	return collapse(out, v)
}

// collapsedLine is collapsed for a short value that may hold LF (a
// folded one): no LF either.
func collapsedLine(v []byte) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	zero := func(x uint64) uint64 { return (x - ones) &^ x & highs } // as in collapsed
	k := 0
	for ; k+9 <= len(v); k += 8 {
		w := binary.LittleEndian.Uint64(v[k:])
		next := binary.LittleEndian.Uint64(v[k+1:])
		if zero(w^(ones*'\t'))|zero(w^(ones*'\r'))|zero(w^(ones*'\n'))|zero(w^(ones*' '))&zero(next^(ones*' ')) != 0 {
			return false
		}
	}
	for ; k < len(v); k++ {
		if c := v[k]; c == '\t' || c == '\r' || c == '\n' || c == ' ' && k+1 < len(v) && v[k+1] == ' ' {
			return false
		}
	}
	return true
}

// interestingFields are the fields identity uses, in the order header()
// keeps them.
var interestingFields = [...]string{"message-id", "from", "date", "subject", "to", "x-uidl"}

// interesting returns the index of a field that identity uses, or -1.
// name is a field name (printable US-ASCII): this runs for every header
// line, so the length and first letter pick the one candidate, compared
// ignoring case as c|0x20 (among printable bytes, only a letter in
// either case gives that lower-case letter, and only '-' gives '-').
func interesting(name []byte) int {
	var f int
	switch len(name) {
	case 10:
		f = 0 // message-id
	case 4:
		switch name[0] | 0x20 {
		case 'f':
			f = 1
		case 'd':
			f = 2
		default:
			return -1
		}
	case 7:
		f = 3 // subject
	case 2:
		f = 4 // to
	case 6:
		f = 5 // x-uidl
	default:
		return -1
	}
	want := interestingFields[f]
	for i := range len(want) {
		if name[i]|0x20 != want[i] {
			return -1
		}
	}
	return f
}

// fieldName reports whether b is a legal RFC 5322 field name: printable
// US-ASCII except colon.
func fieldName(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c < 33 || c > 126 {
			return false
		}
	}
	return true
}

func clip(b []byte) string {
	if len(b) > 60 {
		return string(b[:60]) + "..."
	}
	return string(b)
}

// collapse appends v to out, trimmed, with every run of SP, HTAB, CR or LF
// turned into one space.
func collapse(out, v []byte) []byte { return appendWords(out, v, " ") }

// collapseValue is collapse for a field value as header gathers it, which
// holds no LF. Most values are collapsed already once trimmed (words
// and single spaces): one search tells, and they are copied whole.
func collapseValue(out, v []byte) []byte {
	i, j := 0, len(v)
	for i < j && isWSP(v[i]) {
		i++
	}
	for j > i && isWSP(v[j-1]) {
		j--
	}
	if collapsed(v[i:j]) {
		return append(out, v[i:j]...)
	}
	return collapse(out, v)
}

// collapsed reports whether a trimmed value without LF is collapsed
// already: no HTAB, no CR, no two spaces in a row. Most values are short
// (a date, an address): eight bytes at a time in a word cost less than
// the vector search's call; long ones take the search. A word test may
// see a space pair that is not there (a borrow past a byte that matched),
// never miss one: then the value is collapsed anew, to the same result.
func collapsed(v []byte) bool {
	if len(v) >= 64 {
		return bytesearch.IndexStop(v, '\t', '\r', ' ', ' ') < 0
	}
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	zero := func(x uint64) uint64 { return (x - ones) &^ x & highs } // the bytes of x that are 0 (and maybe some above one)
	k := 0
	for ; k+9 <= len(v); k += 8 {
		w := binary.LittleEndian.Uint64(v[k:])
		next := binary.LittleEndian.Uint64(v[k+1:])
		if zero(w^(ones*'\t'))|zero(w^(ones*'\r'))|zero(w^(ones*' '))&zero(next^(ones*' ')) != 0 {
			return false
		}
	}
	for ; k < len(v); k++ {
		if c := v[k]; c == '\t' || c == '\r' || c == ' ' && k+1 < len(v) && v[k+1] == ' ' {
			return false
		}
	}
	return true
}

// appendWords appends the runs of v that are not SP, HTAB, CR or LF to
// dst, with sep between them. Runs are copied whole: values are mostly
// words with single spaces, and this runs for six fields of every
// message.
func appendWords(dst, v []byte, sep string) []byte {
	first := true
	for len(v) > 0 {
		i := 0
		for i < len(v) && isWSP(v[i]) {
			i++
		}
		if i == len(v) {
			break
		}
		if !first {
			dst = append(dst, sep...)
		}
		first = false
		v = v[i:]
		j := 0
		for j < len(v) && !isWSP(v[j]) {
			j++
		}
		dst = append(dst, v[:j]...)
		v = v[j:]
	}
	return dst
}

func isWSP(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// appendMessageID appends the normalised Message-ID of a field value
// (rule 4) to dst without allocating: the same result as
// NormalizeMessageID, which non-ASCII values are left to.
func appendMessageID(dst, v []byte) []byte {
	if i := bytes.IndexByte(v, '<'); i >= 0 {
		if j := bytes.IndexByte(v[i+1:], '>'); j >= 0 {
			v = v[i+1 : i+1+j]
		}
	}
	space := false
	for _, c := range v {
		if c >= 0x80 {
			return append(dst, NormalizeMessageID(string(v))...)
		}
		if c <= ' ' && isWSP(c) {
			space = true
		}
	}
	start := len(dst)
	if space {
		dst = appendWords(dst, v, "")
	} else {
		dst = append(dst, v...) // the usual case: nothing to remove
	}
	if at := bytes.LastIndexByte(dst[start:], '@'); at >= 0 {
		for k := start + at; k < len(dst); k++ {
			if c := dst[k]; 'A' <= c && c <= 'Z' {
				dst[k] = c + 'a' - 'A'
			}
		}
	}
	return dst
}

// NormalizeMessageID applies rule 4 of the package doc to a Message-ID
// field value.
func NormalizeMessageID(v string) string {
	if i := strings.IndexByte(v, '<'); i >= 0 {
		if j := strings.IndexByte(v[i+1:], '>'); j >= 0 {
			v = v[i+1 : i+1+j]
		}
	}
	if strings.ContainsAny(v, " \t\r\n") {
		v = strings.Map(func(r rune) rune {
			switch r {
			case ' ', '\t', '\r', '\n':
				return -1
			}
			return r
		}, v)
	}
	if at := strings.LastIndexByte(v, '@'); at >= 0 {
		if dom := strings.ToLower(v[at:]); dom != v[at:] {
			v = v[:at] + dom
		}
	}
	return v
}

var newlines = bytes.Repeat([]byte{'\n'}, 256)

// body hashes the rest of the message under rules 1, 6, 7 and 8. It
// returns the raw body length and the hash.
func (p *Parser) body() (int64, uint64, error) {
	d := p.d
	d.Reset()
	start := p.off
	blank := 0       // empty lines seen but not yet hashed (rule 7)
	midLine := false // the unread data starts in the middle of a line
	heldCR := false  // a CR ended the last piece of a long line: CRLF or bare?
	for {
		data := p.buf[p.beg:p.end]
		if !midLine {
			// Fast path: the complete lines in a window, hashed a run
			// at a time (see lines).
			window := data[:min(len(data), fastWindow)]
			if n := bytes.LastIndexByte(window, '\n') + 1; n > 0 {
				var err error
				if blank, err = p.lines(data[:n], blank); err != nil {
					return 0, 0, err
				}
				p.off += int64(n)
				p.beg += n
				if p.beg < p.end || !p.eof {
					if !p.fill() && (p.rerr != nil || p.beg >= p.end) {
						break
					}
				}
				if p.eof && p.beg >= p.end {
					break
				}
				continue
			}
		}
		// Careful path: one line that the fast path cannot take (a line
		// longer than its window or than the buffer, or the last line
		// without LF), or the rest of a line that is, or the start of
		// one that is not all here yet. (The loop takes one line: each
		// way through it breaks.)
		i := 0
		run := 0 // start of the text not yet hashed
		for i < len(data) {
			rest := data[i:]
			nl := bytes.IndexByte(rest, '\n')
			if nl < 0 && !p.eof {
				if len(rest) < len(p.buf) {
					break // an incomplete line: read more first
				}
				// A line longer than the whole buffer: hash this piece.
				if !midLine {
					blank = p.writeBlank(blank)
					rest = rest[skipQuote(rest, 0):]
				} else if heldCR {
					d.Write([]byte{'\r'})
				}
				rest, heldCR = bytes.CutSuffix(rest, []byte{'\r'})
				d.Write(rest)
				midLine = true
				i = len(data)
				run = i
				break
			}
			line := rest
			next := len(data) // the last line has no LF: treat it as ended
			if nl >= 0 {
				line = rest[:nl]
				next = i + nl + 1
			}
			if midLine {
				// The end of a line longer than the buffer (run == i here).
				if heldCR && len(line) > 0 {
					d.Write([]byte{'\r'}) // it was a bare CR inside the line
				}
				heldCR, midLine = false, false
				line, _ = bytes.CutSuffix(line, []byte{'\r'})
				d.Write(line)
				d.Write(newlines[:1])
				i, run = next, next
				break // the fast path takes the lines after it
			}
			if len(line) == 0 || (len(line) == 1 && line[0] == '\r') {
				blank++
				i, run = next, next
				break
			}
			if blank > 0 {
				blank = p.writeBlank(blank) // run == i: blank lines flushed it
			}
			if q := skipQuote(line, 0); q > 0 {
				d.Write(data[run:i])
				run = i + q
			}
			switch {
			case nl < 0:
				// The last line, without LF: hash it with one.
				line, _ = bytes.CutSuffix(data[run:], []byte{'\r'})
				d.Write(line)
				d.Write(newlines[:1])
				run = next
			case line[len(line)-1] == '\r':
				d.Write(data[run : i+nl-1]) // drop the CR of CRLF
				run = i + nl
			}
			i = next
			break
		}
		d.Write(data[run:i])
		if p.inPlace {
			if j := bytes.IndexByte(data[:i], 0); j >= 0 {
				return 0, 0, malformed(p.off+int64(j), "NUL byte")
			}
		}
		p.off += int64(i)
		p.beg += i
		if p.eof && p.beg >= p.end {
			break
		}
		if !p.fill() && (p.rerr != nil || p.beg >= p.end) {
			break
		}
	}
	if p.rerr != nil {
		return 0, 0, p.rerr
	}
	if midLine {
		d.Write(newlines[:1]) // a long last line without LF (rule 7)
	}
	return p.off - start, d.Sum64(), nil
}

// fastWindow bounds what the fast path takes at once, and so the scratch
// buffer that CRLF lines are turned into LF lines in.
const fastWindow = 64 << 10

// lines hashes complete lines (data ends with LF and starts a line)
// under rules 1, 6 and 7, given the count of empty lines held back before
// them, and returns the count held back after them. One search finds
// where the text stops being plain: a NUL, a CR, or ">F" (a quoted From_
// line holds one where its '>' end; an ordinary quoted line, "> text",
// does not stop it). Plain runs are hashed as they stand. From the line
// of the first CR on, the text is copied into a scratch buffer as LF
// lines (rule 1) in the pass that looks for the other stops. A NUL is an
// error here: it can only be in a message read in place (reads reject
// them).
func (p *Parser) lines(data []byte, blank int) (int, error) {
	run := 0 // start of the text not yet hashed
	i := 0   // where the search goes on
	for {
		s := bytesearch.IndexStop(data[i:], 0, '\r', '>', 'F')
		if s < 0 {
			return p.emit(data[run:], blank), nil
		}
		s += i
		switch data[s] {
		case 0:
			return 0, malformed(p.off+int64(s), "NUL byte")
		case '\r':
			// Hash up to the line with the CR, then the rest made LF
			// lines. It starts at that line's start, or at the 'F'
			// where the '>' of a quoted From_ line were skipped.
			ls := bytes.LastIndexByte(data[run:s], '\n') + 1 + run
			blank = p.emit(data[run:ls], blank)
			return p.crlfLines(data, ls, blank)
		case '>':
			// data[s+1] == 'F'.
			if r := quotedFrom(data, s); r >= 0 {
				blank = p.emit(data[run:r], blank)
				run = s + 1
			}
			i = s + 1
		}
	}
}

// crlfLines hashes data[i:] as lines does, copied into p.norm as LF
// lines first.
func (p *Parser) crlfLines(data []byte, i, blank int) (int, error) {
	norm := p.norm[:0]
	for {
		var s int
		norm, s = bytesearch.AppendLF(norm, data[i:], 0, '>', '>', 'F')
		s += i
		if s == len(data) {
			break
		}
		if data[s] == 0 {
			p.norm = norm
			return 0, malformed(p.off+int64(s), "NUL byte")
		}
		norm = unquoteCopied(norm, data, s)
		i = s + 1
	}
	p.norm = norm
	return p.emit(norm, blank), nil
}

// unquoteCopied is given a copy of data up to s (norm) where data[s:]
// starts with ">F" and the '>' before it are copied: it adds the '>' at
// s, or leaves out those of a quoted From_ line (rule 6).
func unquoteCopied(norm, data []byte, s int) []byte {
	if r := quotedFrom(data, s); r >= 0 {
		return norm[:len(norm)-(s-r)]
	}
	return append(norm, '>')
}

// quotedFrom is given the place of a '>' followed by 'F' in data (which
// starts a line). When it is the last '>' of a quoted From_ line (rule 6:
// the run of '>' starts the line, "From " follows), it returns the start
// of the line, else -1.
func quotedFrom(data []byte, s int) int {
	r := s
	for r > 0 && data[r-1] == '>' {
		r--
	}
	if (r == 0 || data[r-1] == '\n') && bytes.HasPrefix(data[s+1:], []byte("From ")) {
		return r
	}
	return -1
}

// emit hashes text that ends at a line start (or is empty) and starts at
// one or inside a non-empty line, holding back its trailing empty lines
// (rule 7): given the count held back before it, it returns the count
// held back after it.
func (p *Parser) emit(text []byte, blank int) int {
	k, empty := trailingEmpty(text)
	if k > 0 {
		blank = p.writeBlank(blank)
		p.d.Write(text[:k])
	}
	return blank + empty
}

// trailingEmpty splits complete LF lines into the part up to the last
// non-empty line and the number of empty lines after it.
func trailingEmpty(lines []byte) (int, int) {
	k := len(lines)
	for k > 0 && lines[k-1] == '\n' && (k == 1 || lines[k-2] == '\n') {
		k--
	}
	return k, len(lines) - k
}

// writeBlank hashes n held-back empty lines and returns 0.
func (p *Parser) writeBlank(n int) int {
	for n > 0 {
		k := min(n, len(newlines))
		p.d.Write(newlines[:k])
		n -= k
	}
	return 0
}

// skipQuote returns the index after the leading '>' characters of a line
// that starts at data[i] with ">...>From " (rule 6), else i.
func skipQuote(data []byte, i int) int {
	j := i
	for j < len(data) && data[j] == '>' {
		j++
	}
	if j > i && bytes.HasPrefix(data[j:], []byte("From ")) {
		return j
	}
	return i
}

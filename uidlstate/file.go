package uidlstate

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Entry is one message the client has already downloaded.
type Entry struct {
	// UID is the message's UIDL as the client stores it (getmail stores
	// "/" as "-").
	UID string
	// Seen is when the client first saw or received the message; zero for
	// formats without times (fetchmail, mpop).
	Seen time.Time
	// Flag is Thunderbird's status (k kept, d delete at next poll, b too
	// big, f fetch body) or Claws Mail's partial state ('0', '1', '2');
	// zero elsewhere. Zero is written as 'k' (thunderbird) or as Partial
	// says (claws).
	Flag byte
	// Partial is true when only part of the message was downloaded
	// (Thunderbird 'b', Claws partial state other than '0').
	Partial bool
}

// LineEnding selects line ends for formats that follow the platform
// (thunderbird).
type LineEnding int

// Line endings.
const (
	LF   LineEnding = iota // Unix, macOS
	CRLF                   // Windows
)

// MaxFileSize is the largest state file Read accepts.
const MaxFileSize = 256 << 20

type blockKind int

const (
	kindRaw    blockKind = iota // lines kept byte for byte (comments, blanks)
	kindAcct                    // one account's entries
	kindHeader                  // generated file header (new mpop/thunderbird file)
)

type block struct {
	kind    blockKind
	acct    Account
	raw     []byte // bytes as read; nil when generated
	entries []Entry
}

// File is a parsed state file. Blocks not touched by Replace are written
// back byte for byte.
type File struct {
	format   Format
	name     string
	crlf     bool // thunderbird line ends
	finalEOL bool // thunderbird: the last line has a line end
	blocks   []*block
}

// New returns an empty state file of format f.
func New(f Format) (*File, error) {
	if !f.valid() {
		return nil, fmt.Errorf("%w %q", ErrUnknownFormat, f)
	}
	return &File{format: f}, nil
}

// Read parses a state file of format f from r. name is the file's path, used
// in errors and, for getmail and claws, to check the account.
func Read(f Format, r io.Reader, name string) (*File, error) {
	if !f.valid() {
		return nil, fmt.Errorf("%w %q", ErrUnknownFormat, f)
	}
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("uidlstate: read %s: %w", nameOr(name), err)
	}
	if len(data) > MaxFileSize {
		return nil, &ParseError{Format: f, Path: name, Msg: fmt.Sprintf("larger than %d bytes", MaxFileSize), Err: ErrSyntax}
	}
	file := &File{format: f, name: name}
	switch f {
	case Fetchmail:
		err = file.parseFetchmail(data)
	case Getmail:
		err = file.parseGetmail(data)
	case Mpop:
		err = file.parseMpop(data)
	case Thunderbird:
		err = file.parseThunderbird(data)
	case Claws:
		err = file.parseClaws(data)
	case JSON:
		err = file.parseJSON(data)
	}
	if err != nil {
		return nil, err
	}
	return file, nil
}

// ReadFile reads t. A file that does not exist reads as an empty state (the
// client would treat it the same way).
func ReadFile(t Target) (*File, error) {
	fh, err := os.Open(t.Path)
	if errors.Is(err, fs.ErrNotExist) {
		f, err := New(t.Format)
		if err != nil {
			return nil, err
		}
		f.name = t.Path
		return f, nil
	}
	if err != nil {
		return nil, fmt.Errorf("uidlstate: %w", err)
	}
	defer fh.Close()
	return Read(t.Format, fh, t.Path)
}

// Format returns the file's format.
func (f *File) Format() Format { return f.format }

// Name returns the path the file was read from, if any.
func (f *File) Name() string { return f.name }

// LineEnding returns the line ends the file is written with.
func (f *File) LineEnding() LineEnding {
	if f.crlf {
		return CRLF
	}
	return LF
}

// SetLineEnding chooses line ends. Only thunderbird follows the platform;
// the other formats' clients read LF only, and asking for CRLF is an error.
// Lines kept from the file read keep their own ends.
func (f *File) SetLineEnding(le LineEnding) error {
	if le == CRLF && f.format != Thunderbird {
		return fmt.Errorf("uidlstate: %s state files use LF line ends only", f.format)
	}
	f.crlf = le == CRLF
	return nil
}

func (f *File) eol() string {
	if f.crlf {
		return "\r\n"
	}
	return "\n"
}

// match reports whether the account of a block (b) is the account asked
// for (a), the way the client compares them.
func (f *File) match(b, a Account) bool {
	switch f.format {
	case Fetchmail:
		return strings.EqualFold(b.User, a.User) && strings.EqualFold(b.fetchmailHost(), a.fetchmailHost())
	case Mpop:
		return b.Host == a.Host && b.User == a.User
	case Thunderbird:
		return strings.EqualFold(b.Host, a.Host) && b.User == a.User
	case JSON:
		return strings.EqualFold(b.Host, a.Host) && b.User == a.User &&
			(b.Port == 0 || a.Port == 0 || b.Port == a.Port)
	}
	return true // getmail, claws: one account per file
}

// Accounts lists the accounts present in the file, in file order. For
// getmail and claws, whose files hold one account named by the file name,
// it returns nil.
func (f *File) Accounts() []Account {
	if f.format.perAccountFile() {
		return nil
	}
	var out []Account
	for _, b := range f.blocks {
		if b.kind != kindAcct {
			continue
		}
		dup := false
		for _, a := range out {
			if f.match(a, b.acct) {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, b.acct)
		}
	}
	return out
}

// Entries returns account a's entries in file order. An account not in the
// file has none. For getmail and claws the file is the account: see
// CheckAccount.
func (f *File) Entries(a Account) []Entry {
	var out []Entry
	for _, b := range f.blocks {
		if b.kind == kindAcct && f.match(b.acct, a) {
			out = append(out, b.entries...)
		}
	}
	return out
}

// CheckAccount returns an *AccountError when the file is a getmail or claws
// file whose client-given name belongs to another account. Files whose name
// does not look client-given (a getmail file not named oldmail-*, a claws
// file outside a "uidl" directory) are not checked.
func (f *File) CheckAccount(a Account) error {
	if f.name == "" {
		return nil
	}
	base := filepath.Base(f.name)
	switch f.format {
	case Getmail:
		if want := GetmailFileName(a); strings.HasPrefix(base, "oldmail-") && base != want {
			return &AccountError{Path: f.name, Want: want}
		}
	case Claws:
		if want := ClawsFileName(a); filepath.Base(filepath.Dir(f.name)) == "uidl" && base != want {
			return &AccountError{Path: f.name, Want: want}
		}
	}
	return nil
}

// Replace sets account a's entries, leaving every other account's entries
// as they were. Entries are written in the order given, except for mpop,
// whose client keeps them sorted. It refuses (and changes nothing) when an
// entry's UID is illegal or listed twice, when a format that stores times
// gets an entry without one, or when CheckAccount fails.
func (f *File) Replace(a Account, entries []Entry) error {
	if err := f.CheckAccount(a); err != nil {
		return err
	}
	if err := f.validateEntries(entries); err != nil {
		return err
	}
	if !f.format.perAccountFile() && (a.Host == "" || a.User == "") {
		return fmt.Errorf("uidlstate: %s state needs the account's host and user (got %q)", f.format, a.String())
	}
	if f.format == Mpop && (strings.ContainsAny(a.Host, " \t\r\n") || strings.ContainsAny(a.User, " \t\r\n")) {
		return fmt.Errorf("uidlstate: mpop cannot store an account whose host or user contains white space (%q)", a.String())
	}
	if f.format == Thunderbird && strings.ContainsAny(a.Host, " \t\r\n") {
		return fmt.Errorf("uidlstate: thunderbird cannot store a host containing white space (%q)", a.Host)
	}
	if strings.ContainsAny(a.Host+a.User+a.PollName, "\r\n\x00") {
		return fmt.Errorf("uidlstate: account %q contains a line end or NUL", a.String())
	}
	if f.format == Fetchmail {
		// The line must read back as this account, the way fetchmail
		// splits it.
		user, host, id, _ := parseFetchmailLine(a.User + "@" + a.fetchmailHost() + " x")
		if user != a.User || host != a.fetchmailHost() || id != "x" || strings.ContainsAny(a.User+a.fetchmailHost(), "\t") {
			return fmt.Errorf("uidlstate: fetchmail cannot store account %q: its USER@POLLNAME would not read back", a.String())
		}
	}
	nb := &block{kind: kindAcct, acct: a, entries: slices.Clone(entries)}
	if nb.entries == nil {
		nb.entries = []Entry{}
	}
	kept := f.blocks[:0:0]
	placed := false
	for _, b := range f.blocks {
		if b.kind == kindAcct && f.match(b.acct, a) {
			if !placed {
				kept = append(kept, nb)
				placed = true
			}
			continue
		}
		kept = append(kept, b)
	}
	if !placed {
		switch f.format {
		case Fetchmail:
			// fetchmail writes the accounts it polled first, then the
			// lines of the others.
			kept = append([]*block{nb}, kept...)
		case Mpop, Thunderbird:
			if len(kept) == 0 {
				kept = append(kept, &block{kind: kindHeader})
			}
			kept = append(kept, nb)
		default:
			kept = append(kept, nb)
		}
	}
	f.blocks = kept
	return nil
}

func (f *File) validateEntries(entries []Entry) error {
	seen := make(map[string]int, len(entries))
	for i, e := range entries {
		if err := ValidUIDL(e.UID); err != nil {
			var ue *UIDLError
			if errors.As(err, &ue) {
				ue.Index = i + 1
			}
			return err
		}
		if j, ok := seen[e.UID]; ok {
			return &DuplicateUIDLError{UID: e.UID, First: j + 1, Second: i + 1}
		}
		seen[e.UID] = i
		if f.format.storesTime() && e.Seen.IsZero() {
			return fmt.Errorf("uidlstate: entry #%d %q has no time; %s state files need one", i+1, e.UID, f.format)
		}
		if f.format.storesTime() && e.Seen.Unix() < 0 {
			return fmt.Errorf("uidlstate: entry #%d %q: time %v is before 1970", i+1, e.UID, e.Seen)
		}
		switch f.format {
		case Thunderbird:
			if e.Flag != 0 && !strings.ContainsRune("kdbf", rune(e.Flag)) {
				return fmt.Errorf("uidlstate: entry #%d %q: thunderbird status %q is not one of k, d, b, f", i+1, e.UID, e.Flag)
			}
		case Claws:
			if e.Flag != 0 && (e.Flag < '0' || e.Flag > '2') {
				return fmt.Errorf("uidlstate: entry #%d %q: claws partial state %q is not 0, 1 or 2", i+1, e.UID, e.Flag)
			}
		case JSON:
			if e.Flag != 0 && (e.Flag < 0x21 || e.Flag > 0x7e) {
				return fmt.Errorf("uidlstate: entry #%d %q: flag byte 0x%02x is not printable ASCII", i+1, e.UID, e.Flag)
			}
		case Getmail:
			if strings.Contains(e.UID, "/") {
				return &UIDLError{UID: e.UID, Index: i + 1, Reason: `getmail stores "/" as "-" (Rebuild does this)`}
			}
		}
	}
	return nil
}

// Bytes returns the file's content as the client would read it.
func (f *File) Bytes() []byte {
	if f.format == JSON {
		return f.encodeJSON()
	}
	var out bytes.Buffer
	for _, b := range f.blocks {
		if out.Len() > 0 && out.Bytes()[out.Len()-1] != '\n' {
			out.WriteString(f.eol())
		}
		if b.raw != nil {
			out.Write(b.raw)
			continue
		}
		switch b.kind {
		case kindHeader:
			f.encodeHeader(&out)
		case kindAcct:
			f.encodeBlock(&out, b)
		}
	}
	if f.format == Thunderbird && !f.finalEOL {
		// Pop3Client.sys.mjs joins lines with the separator: no final one.
		data := out.Bytes()
		data = bytes.TrimSuffix(data, []byte(f.eol()))
		return data
	}
	return out.Bytes()
}

// WriteTo writes Bytes to w.
func (f *File) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(f.Bytes())
	return int64(n), err
}

func (f *File) encodeHeader(out *bytes.Buffer) {
	switch f.format {
	case Mpop:
		out.WriteString("# This file was generated by popdedupe (mpop format).\n" +
			"#\n" +
			"# Lines starting with a space begin a new UID list and have\n" +
			"# the following format: \" number-of-uids hostname user\".\n" +
			"# The list of UIDs follows in ascending order, with one UID per line.\n" +
			"#\n")
	case Thunderbird:
		eol := f.eol()
		out.WriteString("# POP3 State File" + eol + "# This is a generated file!  Do not edit." + eol + eol)
	}
}

func (f *File) encodeBlock(out *bytes.Buffer, b *block) {
	switch f.format {
	case Fetchmail:
		for _, e := range b.entries {
			fmt.Fprintf(out, "%s@%s %s\n", b.acct.User, b.acct.fetchmailHost(), e.UID)
		}
	case Getmail:
		for _, e := range b.entries {
			fmt.Fprintf(out, "%s\x00%d\n", e.UID, e.Seen.Unix())
		}
	case Mpop:
		if len(b.entries) == 0 {
			return // mpop omits accounts without UIDLs
		}
		uids := make([]string, len(b.entries))
		for i, e := range b.entries {
			uids[i] = e.UID
		}
		slices.Sort(uids) // strcmp order, as mpop's qsort
		fmt.Fprintf(out, " %d %s %s\n", len(uids), b.acct.Host, b.acct.User)
		for _, u := range uids {
			out.WriteString(u + "\n")
		}
	case Thunderbird:
		eol := f.eol()
		out.WriteString("*" + b.acct.Host + " " + b.acct.User + eol)
		for _, e := range b.entries {
			flag := e.Flag
			if flag == 0 {
				flag = 'k'
				if e.Partial {
					flag = 'b'
				}
			}
			fmt.Fprintf(out, "%c %s %d%s", flag, e.UID, e.Seen.Unix(), eol)
		}
	case Claws:
		for _, e := range b.entries {
			flag := e.Flag
			if flag == 0 {
				flag = '0'
				if e.Partial {
					flag = '1'
				}
			}
			fmt.Fprintf(out, "%s\t%d\t%c\n", e.UID, e.Seen.Unix(), flag)
		}
	}
}

// rawLine is one line of a state file.
type rawLine struct {
	text []byte // without the line end
	raw  []byte // with the line end
	eol  bool   // ended with LF
	num  int    // 1-based
}

func splitLines(data []byte) []rawLine {
	var lines []rawLine
	n := 0
	for len(data) > 0 {
		n++
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			lines = append(lines, rawLine{text: data, raw: data, num: n})
			break
		}
		lines = append(lines, rawLine{text: data[:i], raw: data[:i+1], eol: true, num: n})
		data = data[i+1:]
	}
	return lines
}

// badByte returns the index of the first control byte in s (tab allowed when
// tab is true), or -1.
func badByte(s []byte, tab bool) int {
	for i, c := range s {
		if c == 0x7f || (c < 0x20 && !(tab && c == '\t')) {
			return i
		}
	}
	return -1
}

func (f *File) perr(line int, err error, format string, args ...any) *ParseError {
	return &ParseError{Format: f.format, Path: f.name, Line: line, Msg: fmt.Sprintf(format, args...), Err: err}
}

func (f *File) badByteErr(l rawLine, i int) *ParseError {
	c := l.text[i]
	if c == '\r' {
		return f.perr(l.num, ErrSyntax, "carriage return (CR) in line: %s reads LF line ends only", f.format)
	}
	return f.perr(l.num, ErrSyntax, "control byte 0x%02x at column %d (binary or garbage data)", c, i+1)
}

func (f *File) truncErr(l rawLine) *ParseError {
	return f.perr(l.num, ErrTruncated, "last line %q has no line end; %s always writes one, so the file was probably cut short", trimForMsg(l.text), f.format)
}

func trimForMsg(b []byte) string {
	if len(b) > 60 {
		return string(b[:60]) + "..."
	}
	return string(b)
}

// appendRaw adds l to the preceding raw block, or starts one.
func (f *File) appendRaw(raw []byte) {
	if n := len(f.blocks); n > 0 && f.blocks[n-1].kind == kindRaw {
		f.blocks[n-1].raw = append(f.blocks[n-1].raw, raw...)
		return
	}
	f.blocks = append(f.blocks, &block{kind: kindRaw, raw: slices.Clone(raw)})
}

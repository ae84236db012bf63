package uidlstate

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
	"time"
)

// parseFetchmail follows fetchmail's initialize_saved_lists (uid.c): skip
// leading blanks, split "USER@HOST" from the UIDL at the first space after
// the first "@", and HOST from USER at the last "@" (user names may hold
// "@" and, for Lotus Notes, spaces). Consecutive lines of one account form a
// block.
func (f *File) parseFetchmail(data []byte) error {
	var cur *block
	for _, l := range splitLines(data) {
		if !l.eol {
			return f.truncErr(l)
		}
		if i := badByte(l.text, true); i >= 0 {
			return f.badByteErr(l, i)
		}
		if strings.TrimSpace(string(l.text)) == "" {
			f.appendRaw(l.raw)
			cur = nil
			continue
		}
		user, host, id, msg := parseFetchmailLine(string(l.text))
		if msg != "" {
			return f.perr(l.num, ErrSyntax, "line %q %s", trimForMsg(l.text), msg)
		}
		acct := Account{User: user, Host: host, PollName: host}
		if cur == nil || !f.match(cur.acct, acct) {
			cur = &block{kind: kindAcct, acct: acct}
			f.blocks = append(f.blocks, cur)
		}
		cur.raw = append(cur.raw, l.raw...)
		cur.entries = append(cur.entries, Entry{UID: id})
	}
	return nil
}

// parseFetchmailLine splits one .fetchids line; msg says what is wrong.
func parseFetchmailLine(line string) (user, host, id, msg string) {
	s := strings.TrimLeft(line, " \t")
	at := strings.IndexByte(s, '@')
	if at < 0 {
		return "", "", "", "has no USER@POLLNAME"
	}
	sp := strings.IndexByte(s[at:], ' ')
	if sp < 0 {
		return "", "", "", "has no space between USER@POLLNAME and the UIDL"
	}
	userhost := strings.TrimRight(s[:at+sp], " \t")
	rest := strings.TrimLeft(s[at+sp:], " ")
	id, extra, _ := strings.Cut(strings.ReplaceAll(rest, "\t", " "), " ")
	if id == "" {
		return "", "", "", "has no UIDL"
	}
	if strings.TrimSpace(extra) != "" {
		return "", "", "", "has text after the UIDL"
	}
	ra := strings.LastIndexByte(userhost, '@')
	user, host = userhost[:ra], userhost[ra+1:]
	if user == "" || host == "" {
		return "", "", "", "has an empty user or poll name"
	}
	return user, host, id, ""
}

// parseGetmail follows getmail6's read_oldmailfile: each line, stripped of
// white space, is "UIDL NUL SECONDS"; empty lines are skipped. getmail
// silently skips malformed lines; here they are errors, since a rebuilt
// file must not lose them. A UIDL listed twice keeps the last time, as
// getmail's dict does.
func (f *File) parseGetmail(data []byte) error {
	b := &block{kind: kindAcct, raw: slices.Clone(data)}
	if b.raw == nil {
		b.raw = []byte{}
	}
	index := map[string]int{}
	for _, l := range splitLines(data) {
		if !l.eol {
			return f.truncErr(l)
		}
		s := bytes.TrimSpace(l.text)
		if len(s) == 0 {
			continue
		}
		uid, ts, ok := bytes.Cut(s, []byte{0})
		if !ok {
			return f.perr(l.num, ErrSyntax, "line %q has no NUL between UIDL and time", trimForMsg(l.text))
		}
		if len(uid) == 0 {
			return f.perr(l.num, ErrSyntax, "empty UIDL")
		}
		if i := badByte(uid, false); i >= 0 || bytes.IndexByte(uid, ' ') >= 0 {
			return f.perr(l.num, ErrSyntax, "UIDL %q holds white space or control bytes (binary or garbage data)", trimForMsg(uid))
		}
		sec, err := strconv.ParseInt(string(ts), 10, 64)
		if err != nil || sec < 0 {
			return f.perr(l.num, ErrSyntax, "time %q after UIDL %q is not Unix seconds", trimForMsg(ts), trimForMsg(uid))
		}
		e := Entry{UID: string(uid), Seen: time.Unix(sec, 0).UTC()}
		if i, dup := index[e.UID]; dup {
			b.entries[i] = e
			continue
		}
		index[e.UID] = len(b.entries)
		b.entries = append(b.entries, e)
	}
	f.blocks = []*block{b}
	return nil
}

// parseClaws follows Claws Mail's pop3_get_uidl_table: "UIDL TAB TIME TAB
// PARTIAL", where TIME and PARTIAL may be missing (older versions).
func (f *File) parseClaws(data []byte) error {
	b := &block{kind: kindAcct, raw: slices.Clone(data)}
	if b.raw == nil {
		b.raw = []byte{}
	}
	for _, l := range splitLines(data) {
		if !l.eol {
			return f.truncErr(l)
		}
		if i := badByte(l.text, true); i >= 0 {
			return f.badByteErr(l, i)
		}
		s := strings.TrimRight(string(l.text), " \t")
		if s == "" {
			continue
		}
		fields := strings.Split(s, "\t")
		if len(fields) > 3 {
			return f.perr(l.num, ErrSyntax, "line %q has more than 3 TAB-separated fields", trimForMsg(l.text))
		}
		e := Entry{UID: fields[0], Flag: '0'}
		if e.UID == "" || strings.Contains(e.UID, " ") {
			return f.perr(l.num, ErrSyntax, "line %q: UIDL is empty or holds a space", trimForMsg(l.text))
		}
		if len(fields) >= 2 {
			sec, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil || sec < 0 {
				return f.perr(l.num, ErrSyntax, "receive time %q is not Unix seconds", fields[1])
			}
			e.Seen = time.Unix(sec, 0).UTC()
		}
		if len(fields) == 3 {
			p := fields[2]
			if len(p) != 1 || p[0] < '0' || p[0] > '2' {
				return f.perr(l.num, ErrSyntax, "partial state %q is not 0, 1 or 2", p)
			}
			e.Flag = p[0]
		}
		e.Partial = e.Flag != '0'
		b.entries = append(b.entries, e)
	}
	f.blocks = []*block{b}
	return nil
}

// parseMpop follows mpop's uidls_read (uidls.c), with its error messages.
func (f *File) parseMpop(data []byte) error {
	var cur *block
	want := 0
	for _, l := range splitLines(data) {
		if !l.eol {
			return f.truncErr(l)
		}
		if i := badByte(l.text, false); i >= 0 {
			return f.badByteErr(l, i)
		}
		s := string(l.text)
		if strings.HasPrefix(s, "#") {
			if cur != nil {
				cur.raw = append(cur.raw, l.raw...)
			} else {
				f.appendRaw(l.raw)
			}
			continue
		}
		if cur == nil {
			// " number-of-uids hostname user"
			if !strings.HasPrefix(s, " ") {
				return f.perr(l.num, ErrSyntax, "UID without a list (line %q)", trimForMsg(l.text))
			}
			num, rest, _ := strings.Cut(s[1:], " ")
			n, err := strconv.Atoi(num)
			if err != nil || n < 1 || num[0] == '+' {
				return f.perr(l.num, ErrSyntax, "invalid number of UIDs in %q", trimForMsg(l.text))
			}
			host, user, ok := strings.Cut(rest, " ")
			if !ok || host == "" {
				return f.perr(l.num, ErrSyntax, "invalid or missing host name in %q", trimForMsg(l.text))
			}
			if user == "" || strings.Contains(user, " ") {
				return f.perr(l.num, ErrSyntax, "invalid or missing user name in %q", trimForMsg(l.text))
			}
			cur = &block{kind: kindAcct, acct: Account{Host: host, User: user}, raw: slices.Clone(l.raw)}
			want = n
			continue
		}
		if s == "" || s[0] == ' ' {
			return f.perr(l.num, ErrSyntax, "too few UIDs for user %s, host %s", cur.acct.User, cur.acct.Host)
		}
		cur.raw = append(cur.raw, l.raw...)
		cur.entries = append(cur.entries, Entry{UID: s})
		if len(cur.entries) == want {
			f.blocks = append(f.blocks, cur)
			cur = nil
		}
	}
	if cur != nil {
		return f.perr(0, ErrTruncated, "too few UIDs for user %s, host %s (%d of %d): the file was probably cut short",
			cur.acct.User, cur.acct.Host, len(cur.entries), want)
	}
	return nil
}

// parseThunderbird follows Pop3Client.sys.mjs _loadUidlState and the older
// nsPop3Protocol.cpp: "#" comments and empty lines, "*HOST USER" opening an
// account, then "STATUS UIDL SECONDS" lines.
func (f *File) parseThunderbird(data []byte) error {
	if i := bytes.IndexByte(data, '\n'); i > 0 && data[i-1] == '\r' {
		f.crlf = true
	}
	f.finalEOL = len(data) > 0 && data[len(data)-1] == '\n'
	var cur *block
	for _, l := range splitLines(data) {
		text := bytes.TrimSuffix(l.text, []byte("\r"))
		if i := badByte(text, false); i >= 0 {
			return f.badByteErr(rawLine{text: text, num: l.num}, i)
		}
		s := string(text)
		switch {
		case s == "" || strings.HasPrefix(s, "#"):
			if cur != nil {
				cur.raw = append(cur.raw, l.raw...)
			} else {
				f.appendRaw(l.raw)
			}
		case strings.HasPrefix(s, "*"):
			host, user, ok := strings.Cut(s[1:], " ")
			if !ok || host == "" || user == "" {
				return f.perr(l.num, ErrSyntax, "account line %q is not *HOST USER", trimForMsg(text))
			}
			cur = &block{kind: kindAcct, acct: Account{Host: host, User: user}, raw: slices.Clone(l.raw)}
			f.blocks = append(f.blocks, cur)
		default:
			if cur == nil {
				return f.perr(l.num, ErrSyntax, "message line %q before any *HOST USER line", trimForMsg(text))
			}
			fields := strings.Split(s, " ")
			if len(fields) != 3 {
				return f.perr(l.num, ErrSyntax, "line %q is not \"STATUS UIDL SECONDS\"", trimForMsg(text))
			}
			if len(fields[0]) != 1 || !strings.Contains("kdbf", fields[0]) {
				return f.perr(l.num, ErrSyntax, "status %q is not one of k, d, b, f", fields[0])
			}
			if fields[1] == "" {
				return f.perr(l.num, ErrSyntax, "empty UIDL")
			}
			sec, err := strconv.ParseInt(fields[2], 10, 64)
			if err != nil || sec < 0 {
				return f.perr(l.num, ErrSyntax, "time %q is not Unix seconds", fields[2])
			}
			cur.raw = append(cur.raw, l.raw...)
			cur.entries = append(cur.entries, Entry{
				UID: fields[1], Seen: time.Unix(sec, 0).UTC(), Flag: fields[0][0], Partial: fields[0] == "b",
			})
		}
	}
	return nil
}

package fingerprint

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"testing/iotest"
)

const base = "Received: from mx.example.org by mail.example.net; Mon, 2 Jan 2006 15:04:05 +0000\n" +
	"From: Alice <alice@example.org>\n" +
	"To: Bob <bob@example.net>\n" +
	"Subject: Quarterly\n figures\n" +
	"Date: Mon, 2 Jan 2006 15:04:05 +0000\n" +
	"Message-ID: <1234.ABC@Mail.Example.ORG>\n" +
	"\n" +
	"Hello Bob,\n" +
	"\n" +
	"From the figures you sent, .dots stay.\n" +
	">From a quote\n" +
	"Regards\n"

func sum(t *testing.T, msg string) Print {
	t.Helper()
	p, err := NewParser().Sum(strings.NewReader(msg), int64(len(msg)), true)
	if err != nil {
		t.Fatalf("Sum(%q): %v", clip([]byte(msg)), err)
	}
	return p
}

func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

func addHeaders(s, h string) string { return h + s }

// mboxo quotes "From " lines; mboxrd also quotes ">From " lines.
func mboxo(s string) string {
	hdr, body, _ := strings.Cut(s, "\n\n")
	return hdr + "\n\n" + strings.ReplaceAll("\n"+body, "\nFrom ", "\n>From ")[1:]
}

func mboxrd(s string) string {
	hdr, body, _ := strings.Cut(s, "\n\n")
	lines := strings.Split(body, "\n")
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimLeft(l, ">"), "From ") {
			lines[i] = ">" + l
		}
	}
	return hdr + "\n\n" + strings.Join(lines, "\n")
}

func TestSameMessage(t *testing.T) {
	want := sum(t, base)
	if want.MessageID != "1234.ABC@mail.example.org" {
		t.Fatalf("MessageID = %q", want.MessageID)
	}
	variants := []struct {
		name, msg string
	}{
		{"crlf", crlf(base)},
		{"status", addHeaders(base, "Status: RO\nX-Status: A\n")},
		{"x-uidl", addHeaders(base, "X-UIDL: 000000016b082e9d\n")},
		{"mozilla", addHeaders(base, "X-Mozilla-Status: 0001\nX-Mozilla-Status2: 00000000\nX-Mozilla-Keys:                 \n")},
		{"keywords", addHeaders(base, "X-Keywords: $Forwarded\nContent-Length: 120\nLines: 7\n")},
		{"dovecot mbox", addHeaders(base, "X-IMAPbase: 1700000000 0000000002\nX-UID: 1\n")},
		{"appended header", strings.Replace(base, "\n\n", "\nStatus: O\n\n", 1)},
		{"envelope line", "From alice@example.org Mon Jan  2 15:04:05 2006\n" + base},
		{"mboxo", mboxo(base)},
		{"mboxrd", mboxrd(base)},
		{"mboxrd crlf", crlf(mboxrd(base))},
		{"trailing blank lines", base + "\n\n\n"},
		{"trailing crlf blank", crlf(base) + "\r\n"},
		{"no final newline", strings.TrimSuffix(base, "\n")},
		{"message-id spacing", strings.Replace(base, "<1234.ABC@Mail.Example.ORG>", " \n <1234.ABC@mail.example.org> (comment)", 1)},
		{"header case", strings.Replace(base, "Message-ID:", "MESSAGE-id:", 1)},
	}
	for i, v := range variants {
		got := sum(t, v.msg)
		if got.Key() != want.Key() {
			t.Errorf("#%d %s: key %+v, want %+v", i, v.name, got.Key(), want.Key())
		}
		if got.KeyHash != want.KeyHash && v.name != "message-id spacing" {
			t.Errorf("#%d %s: key headers hash differs", i, v.name)
		}
	}
}

func TestDifferentMessage(t *testing.T) {
	want := sum(t, base)
	variants := []struct {
		name, msg string
	}{
		{"body word", strings.Replace(base, "Regards", "regards", 1)},
		{"body line added", base + "P.S.\n"},
		{"inner blank line", strings.Replace(base, "Hello Bob,\n", "Hello Bob,\n\n", 1)},
		{"leading body blank", strings.Replace(base, "\n\nHello", "\n\n\nHello", 1)},
		{"trailing space", strings.Replace(base, "Regards\n", "Regards \n", 1)},
		{"quote not From", strings.Replace(base, ">From a quote", "From a quote", 1) + ">Fro\n"},
		{"message-id local case", strings.Replace(base, "1234.ABC", "1234.abc", 1)},
		{"bare CR", strings.Replace(base, "Regards", "Reg\rards", 1)},
	}
	for i, v := range variants {
		got := sum(t, v.msg)
		if got.Key() == want.Key() {
			t.Errorf("#%d %s: same key as the original, want different", i, v.name)
		}
	}
}

func TestConflictSameIDDifferentBody(t *testing.T) {
	a := sum(t, base)
	b := sum(t, strings.Replace(base, "Regards", "Cheers", 1))
	if a.Candidate() != b.Candidate() {
		t.Fatal("same Message-ID must give the same candidate key")
	}
	if a.Key() == b.Key() {
		t.Fatal("different bodies must give different keys")
	}
}

func TestNoMessageID(t *testing.T) {
	noID := strings.Replace(base, "Message-ID: <1234.ABC@Mail.Example.ORG>\n", "", 1)
	a := sum(t, noID)
	if a.MessageID != "" {
		t.Fatalf("MessageID = %q, want none", a.MessageID)
	}
	if b := sum(t, crlf(addHeaders(noID, "Status: RO\n"))); a.Key() != b.Key() {
		t.Error("re-downloaded copy without Message-ID must match")
	}
	for i, h := range []struct{ old, new string }{
		{"Subject: Quarterly", "Subject: Monthly"},
		{"From: Alice", "From: Alicia"},
		{"To: Bob", "To: Rob"},
		{"Date: Mon, 2 Jan 2006 15:04:05", "Date: Mon, 2 Jan 2006 15:04:06"},
	} {
		if b := sum(t, strings.Replace(noID, h.old, h.new, 1)); a.Key() == b.Key() {
			t.Errorf("#%d: changing %q must break a match without Message-ID", i, h.old)
		}
	}
	// A copy with the Message-ID is not a duplicate of one without.
	if sum(t, base).Key() == a.Key() {
		t.Error("copies with and without Message-ID must differ")
	}
}

func TestNormalizeMessageID(t *testing.T) {
	for i, tt := range []struct{ in, want string }{
		{"<a@B.C>", "a@b.c"},
		{"  <A@b.c>  ", "A@b.c"},
		{"<a\r\n @b.c>", "a@b.c"},
		{"a@B.c", "a@b.c"},
		{"<a@b@C>", "a@b@c"},
		{"", ""},
		{"<>", ""},
		{"<nodomain>", "nodomain"},
		{"junk <x@Y> <z@w>", "x@y"},
	} {
		if got := NormalizeMessageID(tt.in); got != tt.want {
			t.Errorf("NormalizeMessageID(%q) #%d = %q, want %q", tt.in, i, got, tt.want)
		}
	}
}

func TestMalformed(t *testing.T) {
	for i, tt := range []struct{ name, msg, reason string }{
		{"empty", "", "empty"},
		{"nul in body", base + "a\x00b\n", "NUL"},
		{"nul in header", "Subject: a\x00\n\nbody\n", "NUL"},
		{"no separator", "Subject: x\nthis is body text\n", "not a header field"},
		{"starts with continuation", " folded\nSubject: x\n\nb\n", "continuation"},
		{"truncated header", "Subject: x\nFrom: a", "truncated"},
		{"huge header", "Subject: " + strings.Repeat("x", MaxHeaderBytes+10) + "\n\nb\n", "longer than"},
		{"huge header many lines", strings.Repeat("X-A: "+strings.Repeat("y", 1000)+"\n", 1100) + "\nb\n", "longer than"},
		{"colon first", ": x\n\nb\n", "not a header field"},
	} {
		_, err := NewParser().Sum(strings.NewReader(tt.msg), -1, true)
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tt.reason) {
			t.Errorf("#%d %s: err = %v, want malformed with %q", i, tt.name, err, tt.reason)
		}
	}
}

func TestHeaderOnlyMessage(t *testing.T) {
	p := sum(t, "Subject: x\nMessage-ID: <a@b>\n")
	if !p.HasBody || p.MessageID != "a@b" {
		t.Fatalf("got %+v", p)
	}
	if q := sum(t, "Subject: x\nMessage-ID: <a@b>\n\n"); q.Key() != p.Key() {
		t.Error("a header-only message and one with an empty body must match")
	}
}

// Long lines, pieces split across reads, and one-byte reads must all hash
// like the plain message.
func TestLongLinesAndSmallReads(t *testing.T) {
	long := strings.Repeat("0123456789", 3*bufSize/10+7)
	msgs := []string{
		base + long + "\n" + "tail\n",
		base + long + "\r\n" + "tail\r\n",
		base + ">From " + long + "\n",
		base + long, // no final newline
		base + strings.Repeat("a", bufSize-1) + "\r\nb\r\n",
		base + strings.Repeat("a", bufSize) + "\rb\n",
		base + strings.Repeat("a", 2*bufSize-len(base)-1) + "\r\n\r\n\r\n",
	}
	for i, m := range msgs {
		want := sum(t, m)
		got, err := NewParser().Sum(iotest.OneByteReader(strings.NewReader(m)), -1, true)
		if err != nil || got.Key() != want.Key() {
			t.Errorf("#%d: one-byte reads: %v %+v, want %+v", i, err, got.Key(), want.Key())
		}
		got, err = NewParser().Sum(iotest.HalfReader(strings.NewReader(m)), -1, true)
		if err != nil || got.Key() != want.Key() {
			t.Errorf("#%d: half reads: %v", i, err)
		}
		if got.Size != int64(len(m)) {
			t.Errorf("#%d: Size = %d, want %d", i, got.Size, len(m))
		}
	}
	// The normalised forms must agree across line-end styles, even when
	// the line is longer than the buffer and its CR ends a read.
	a := sum(t, msgs[0])
	b := sum(t, crlf(msgs[0]))
	if a.Key() != b.Key() {
		t.Error("CRLF copy of a long-line message must match")
	}
	c := sum(t, msgs[5])
	d := sum(t, strings.Replace(msgs[5], "\rb", "b", 1))
	if c.Key() == d.Key() {
		t.Error("a bare CR at a buffer boundary must count")
	}
}

func TestHeaderOnlyModeDefersLargeBodies(t *testing.T) {
	small := base
	p, err := NewParser().Sum(strings.NewReader(small), int64(len(small)), false)
	if err != nil || !p.HasBody {
		t.Fatalf("small message should be hashed for free: %v %+v", err, p)
	}
	big := base + strings.Repeat("line of text\n", bufSize/10)
	p, err = NewParser().Sum(strings.NewReader(big), int64(len(big)), false)
	if err != nil || p.HasBody || p.MessageID == "" {
		t.Fatalf("large message in header mode: %v %+v", err, p)
	}
}

func TestReuseParser(t *testing.T) {
	pr := NewParser()
	var keys []Key
	for _, m := range []string{base, crlf(base), base + "x\n", base} {
		p, err := pr.Sum(bytes.NewReader([]byte(m)), -1, true)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, p.Key())
	}
	if keys[0] != keys[1] || keys[0] != keys[3] || keys[0] == keys[2] {
		t.Fatalf("reused parser gave inconsistent keys %v", keys)
	}
}

// The first occurrence of a repeated identity field counts, however many
// fields follow (parser buffers are reused between fields and messages).
func TestRepeatedFields(t *testing.T) {
	one := "Message-ID: <first@x>\nFrom: a@x\nTo: b@x\nSubject: s\nDate: d\n\nbody\n"
	many := "Message-ID: <first@x>\nFrom: a@x\nTo: b@x\nSubject: s\nDate: d\n" +
		strings.Repeat("To: other@x\nFrom: other@x\nSubject: other\nMessage-ID: <second@x>\nX-UIDL: u\nDate: e\n", 3) + "\nbody\n"
	p := NewParser()
	a, err := p.Sum(strings.NewReader(one), -1, true)
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.Sum(strings.NewReader(many), -1, true)
	if err != nil {
		t.Fatal(err)
	}
	if a.MessageID != "first@x" || b.MessageID != "first@x" || a.KeyHash != b.KeyHash || b.XUIDL != "u" {
		t.Fatalf("first fields must win: %+v vs %+v", a, b)
	}
	// And the same parser, reused, still gives the first message's print.
	if c, _ := p.Sum(strings.NewReader(one), -1, true); c.Key() != a.Key() || c.KeyHash != a.KeyHash {
		t.Fatal("a reused parser gave a different print")
	}
}

// interestingRef is the definition interesting is held to.
func interestingRef(name []byte) int {
	for i, f := range interestingFields {
		if bytes.EqualFold(name, []byte(f)) {
			return i
		}
	}
	return -1
}

func TestInteresting(t *testing.T) {
	// Each identity field and each name one printable byte away from it
	// (every byte at every place), and a few others.
	names := []string{"Received", "X-UID", "Content-Length", "DKIM-Signature", "Cc", "Message-IDs", "ToX"}
	for _, f := range interestingFields {
		names = append(names, f, strings.ToUpper(f))
		for i := range len(f) {
			for c := byte(33); c <= 126; c++ {
				b := []byte(f)
				b[i] = c
				names = append(names, string(b))
			}
		}
	}
	for _, n := range names {
		if !fieldName([]byte(n)) {
			t.Fatalf("test setup: %q is not a field name", n)
		}
		if got, want := interesting([]byte(n)), interestingRef([]byte(n)); got != want {
			t.Errorf("interesting(%q) = %d, want %d", n, got, want)
		}
	}
}

// FuzzCollapse holds collapse, and the copy-when-collapsed-already
// collapseValue, to their definition (rule 3): the runs of
// non-white-space joined by single spaces.
func FuzzCollapse(f *testing.F) {
	for _, s := range []string{" Quarterly\r\n figures ", "\ta  b\t\tc", "", "   ", "x", "é \xff\x00 y", " a b\rc d ", " one two three four five six seven eight nine ten eleven  twelve "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		words := bytes.FieldsFunc([]byte(v), func(r rune) bool { return r < 0x80 && isWSP(byte(r)) })
		want := "pre" + string(bytes.Join(words, []byte(" ")))
		if got := string(collapse([]byte("pre"), []byte(v))); got != want {
			t.Fatalf("collapse(%q) = %q, want %q", v, got, want)
		}
		if !strings.Contains(v, "\n") {
			if got := string(collapseValue([]byte("pre"), []byte(v))); got != want {
				t.Fatalf("collapseValue(%q) = %q, want %q", v, got, want)
			}
		}
	})
}

// TestCollapsedCommonValues: the word test that lets collapseValue copy a
// value whole says yes to values that are collapsed (else every value
// would be collapsed anew, correct but slow), and no where a byte, a pair
// or the tail shows otherwise.
func TestCollapsedCommonValues(t *testing.T) {
	for _, tt := range []struct {
		v    string
		want bool
	}{
		{"Thu, 11 Apr 2024 09:31:04 +0000", true},
		{"Amir Tanaka <amir.tanaka@example.net>", true},
		{"Re: Quarterly figures for the north-west region, second draft", true},
		{"a b c d e f g h i j k l m n o p q r s t u v w x y z", true},
		{"x", true},
		{"Thu, 11 Apr 2024  09:31:04 +0000", false},
		{"Thu, 11 Apr\t2024 09:31:04 +0000", false},
		{"Thu, 11 Apr 2024 09:31:04 +0000\r", false},
		{"1234567  ", false}, // the pair across a word's end
		{"12345678 ", true},
		{"1234567 8 9", true},
	} {
		if got := collapsed([]byte(tt.v)); got != tt.want {
			t.Errorf("collapsed(%q) = %v, want %v", tt.v, got, tt.want)
		}
	}
}

package fingerprint

import (
	"bytes"
	"errors"
	"testing"
	"testing/iotest"
)

// FuzzSum checks that the parser never panics, that every error is either
// a malformed-message error or none, and that the properties the rest of
// popdedupe relies on hold for whatever it accepts: read sizes do not
// matter, CRLF does not matter, and an added client header does not matter.
func FuzzSum(f *testing.F) {
	f.Add([]byte(base))
	f.Add([]byte("From a@b Mon Jan  2 15:04:05 2006\nSubject: x\n\n>From y\n"))
	f.Add([]byte("Message-ID: <x@Y>\n\n\n\n"))
	f.Add([]byte("Subject: x\n folded\n\tmore\n\nbody\r\nline\r"))
	f.Add([]byte("no header line\n"))
	f.Add([]byte("Subject: x\n\n>From y\r\nz\x00\r\n"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		// SumRead with the whole message in the first read, header pass
		// only asked for (the body is hashed anyway).
		whole := func() (Print, error) {
			wp := NewParser()
			if len(msg) > len(wp.Buffer()) {
				return wp.Sum(bytes.NewReader(msg), int64(len(msg)), true)
			}
			n := copy(wp.Buffer(), msg)
			return wp.SumRead(n, bytes.NewReader(nil), int64(len(msg)), func(string, uint64) bool { return false })
		}
		if nul := bytes.IndexByte(msg, 0); nul >= 0 {
			// SumBytes and SumRead of a whole message find NUL bytes in
			// the pass that hashes the body: the error must still be the
			// first NUL, whatever else.
			_, err := NewParser().SumBytes(msg)
			_, err2 := whole()
			for _, err := range []error{err, err2} {
				var me *MalformedError
				if !errors.As(err, &me) || me.Reason != "NUL byte" || me.Offset != int64(nul) {
					t.Fatalf("SumBytes or SumRead of a message with a NUL at %d: %v", nul, err)
				}
			}
		}
		p, err := NewParser().Sum(bytes.NewReader(msg), int64(len(msg)), true)
		if err != nil {
			if _, err2 := NewParser().SumBytes(msg); err2 == nil {
				t.Fatalf("Sum failed (%v) but SumBytes did not", err)
			}
			if _, err2 := whole(); err2 == nil {
				t.Fatalf("Sum failed (%v) but SumRead of the whole message did not", err)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("non-malformed error from an in-memory reader: %v", err)
			}
			return
		}
		if r, err := NewParser().SumBytes(msg); err != nil || r != p {
			t.Fatalf("SumBytes differs from Sum: %v %+v vs %+v", err, r, p)
		}
		if r, err := whole(); err != nil || r != p {
			t.Fatalf("SumRead of the whole message differs from Sum: %v %+v vs %+v", err, r, p)
		}
		// SumRead with a first read of any length, strings interned.
		rp := NewParser()
		rp.Intern = func(b []byte) string { return "i:" + string(b) }
		head := copy(rp.Buffer()[:min(len(msg), 7)], msg)
		r, err := rp.SumRead(head, bytes.NewReader(msg[head:]), int64(len(msg)), func(string, uint64) bool { return true })
		want := p
		if p.MessageID != "" {
			want.MessageID = "i:" + p.MessageID
		}
		if p.XUIDL != "" {
			want.XUIDL = "i:" + p.XUIDL
		}
		if err != nil || r != want {
			t.Fatalf("SumRead differs from Sum: %v %+v vs %+v", err, r, p)
		}
		q, err := NewParser().Sum(iotest.OneByteReader(bytes.NewReader(msg)), -1, true)
		if err != nil || q.Key() != p.Key() || q.Size != p.Size {
			t.Fatalf("one-byte reads differ: %v %+v vs %+v", err, q, p)
		}
		if p.Size != int64(len(msg)) {
			t.Fatalf("Size %d, want %d", p.Size, len(msg))
		}
		if !bytes.Contains(msg, []byte{'\r'}) {
			c := bytes.ReplaceAll(msg, []byte{'\n'}, []byte{'\r', '\n'})
			r, err := NewParser().Sum(bytes.NewReader(c), -1, true)
			if err != nil || r.Key() != p.Key() {
				t.Fatalf("CRLF copy differs: %v %+v vs %+v", err, r.Key(), p.Key())
			}
		}
		if !bytes.HasPrefix(msg, []byte("From ")) && !bytes.HasPrefix(msg, []byte(" ")) && !bytes.HasPrefix(msg, []byte("\t")) {
			s, err := NewParser().Sum(bytes.NewReader(append([]byte("Status: RO\n"), msg...)), -1, true)
			if err != nil || s.Key() != p.Key() {
				t.Fatalf("added Status header changed the key: %v", err)
			}
		}
	})
}

// FuzzMessageID holds the allocation-free normaliser the parser uses to
// NormalizeMessageID, the rule 4 reference, byte for byte.
func FuzzMessageID(f *testing.F) {
	for _, s := range []string{"<a@B.C>", "  <A@b.c>  ", "<a\r\n @b.C>", "<a@b@C>", "<>", "junk <x@Y> <z@w>", "<é@ÉX>", "<a@\xff\xfeB>", "a <b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if got, want := string(appendMessageID([]byte("pre"), []byte(v))), "pre"+NormalizeMessageID(v); got != want {
			t.Fatalf("appendMessageID(%q) = %q, NormalizeMessageID gives %q", v, got, want)
		}
	})
}

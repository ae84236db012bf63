package scan

import (
	"bytes"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"testing"
	"testing/iotest"
)

// mboxSplit is what an MboxReader made of one mbox: each message's
// envelope and body, and the error that ended the split (nil at io.EOF).
type mboxSplit struct {
	envs   []MboxMessage
	bodies [][]byte
	err    error
}

func (s mboxSplit) String() string {
	var b bytes.Buffer
	for i, e := range s.envs {
		fmt.Fprintf(&b, "#%d at %d, %d bytes, From_ %q, body %q\n", e.Index, e.Offset, e.Length, e.From, s.bodies[i])
	}
	fmt.Fprintf(&b, "err %v", s.err)
	return b.String()
}

// chunkReader returns at most the next size from sizes bytes per Read,
// cycling: the read pattern of a slow pipe or a network filesystem.
type chunkReader struct {
	r     io.Reader
	sizes []int
	i     int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	n := c.sizes[c.i%len(c.sizes)]
	c.i++
	if n < len(p) {
		p = p[:n]
	}
	return c.r.Read(p)
}

// splitMbox splits data with an MboxReader built by mk, reading each body
// with Reads of at most bodyRead bytes (the consumer's buffer, which the
// split must not depend on).
func splitMbox(t *testing.T, mr *MboxReader, bodyRead int) mboxSplit {
	t.Helper()
	var s mboxSplit
	buf := make([]byte, bodyRead)
	for {
		env, body, err := mr.Next()
		if err == io.EOF {
			return s
		}
		if err != nil {
			s.err = err
			return s
		}
		var b []byte
		for {
			n, err := body.Read(buf)
			b = append(b, buf[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("reading body #%d from memory: %v", env.Index, err)
			}
		}
		s.envs = append(s.envs, *env)
		s.bodies = append(s.bodies, b)
	}
}

// splitInMemory splits data with the cursor that mapped files are read
// with, in the form splitMbox gives.
func splitInMemory(data []byte) mboxSplit {
	var s mboxSplit
	c := mboxCursor{data: data}
	for {
		off, from, body, ok, err := c.next()
		if err != nil {
			s.err = err
			return s
		}
		if !ok {
			return s
		}
		s.envs = append(s.envs, MboxMessage{Index: c.n, Offset: int64(off), Length: int64(c.pos - off), From: string(from)})
		s.bodies = append(s.bodies, body)
	}
}

// emptyLineEndsAt reports whether b (the bytes before a line) ends with an
// empty line, LF or CRLF: the RFC 4155 condition for a From_ line there to
// start a message. The line must lie wholly inside b.
func emptyLineEndsAt(b []byte) bool {
	n := len(b)
	return n >= 2 && b[n-1] == '\n' && b[n-2] == '\n' ||
		n >= 3 && b[n-1] == '\n' && b[n-2] == '\r' && b[n-3] == '\n'
}

// FuzzMboxReader checks the mbox splitter (RFC 4155, mboxo/mboxrd) on any
// input: it never panics; the messages frame the input exactly (offsets
// from 0, each message starting where the previous one ended, From_ line +
// line end + body = the bytes at [Offset, Offset+Length), lengths summing to
// the input size, so concatenating every message gives the input back);
// every message starts at an envelope line that is the first line or
// follows an empty line of the previous body; no body hides such a line;
// and the split is the same whatever the read sizes of the file and of the
// consumer of the bodies (the scan and the re-split under lock before a
// rewrite read differently and must agree).
func FuzzMboxReader(f *testing.F) {
	for _, s := range []string{
		"",
		"From ",
		"not an mbox\n",
		"From a@b Mon Jan  2 15:04:05 2006\nSubject: x\n\nbody\n\n",
		"From a@b Mon Jan  2 15:04:05 2006\nSubject: x\n\nbody\n\nFrom c@d Mon Jan  2 15:04:06 2006\nSubject: y\n\ntwo\n",
		// mboxo/mboxrd: quoted and unquoted From lines in bodies.
		"From a@b Mon Jan  2 15:04:05 2006\n\n>From me 10:00\n>>From x\nFrom no blank 10:00\n\n",
		// CRLF throughout, a CRLF empty line before the next envelope.
		"From a@b Mon Jan  2 15:04:05 2006\r\nSubject: x\r\n\r\nbody\r\n\r\nFrom c@d Mon Jan  2 15:04:06 2006\r\n\r\nz\r\n",
		// no final newline; truncated in the header.
		"From a@b Mon Jan  2 15:04:05 2006\nSubject: x\n\nno final newline",
		"From a@b Mon Jan  2 15:04:05 2006\nSubj",
		// a From line without a time is body text, even after a blank line.
		"From a@b Mon Jan  2 15:04:05 2006\n\nx\n\nFrom here on, no time\n",
		// an empty message, and an envelope right after the envelope.
		"From a@b Mon Jan  2 15:04:05 2006\n\nFrom c@d 10:00\n\n",
		"From a@b 10:00\nFrom c@d 10:00\n",
		"From a 10:00\n\n\n\nFrom b 10:00\n\x00\xff\n\nFrom c 11:11\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ref := splitMbox(t, NewMboxReader(bytes.NewReader(data)), 32<<10)
		switch {
		case len(data) == 0:
			if ref.err != nil || len(ref.envs) != 0 {
				t.Fatalf("empty input: %s", ref)
			}
			return
		case !bytes.HasPrefix(data, []byte("From ")):
			if !errors.Is(ref.err, ErrNotMbox) || len(ref.envs) != 0 {
				t.Fatalf("input without a From_ line first: %s; want ErrNotMbox", ref)
			}
			if got := splitInMemory(data); !errors.Is(got.err, ErrNotMbox) || len(got.envs) != 0 {
				t.Fatalf("in-memory split of input without a From_ line first: %s; want ErrNotMbox", got)
			}
			return
		case ref.err != nil:
			t.Fatalf("split of in-memory data failed: %s", ref)
		}
		var off int64
		for i, e := range ref.envs {
			if e.Index != i+1 || e.Offset != off || e.Length <= 0 || e.Offset+e.Length > int64(len(data)) {
				t.Fatalf("message %d does not follow the previous one (offset %d want %d):\n%s", i+1, e.Offset, off, ref)
			}
			msg := data[e.Offset : e.Offset+e.Length]
			if !bytes.HasPrefix(msg, []byte(e.From)) || !bytes.HasSuffix(msg, ref.bodies[i]) {
				t.Fatalf("message %d: From_ %q and body do not frame its bytes %q", i+1, e.From, msg)
			}
			// Between them only the line end (CRs, then LF unless the
			// file ends there).
			eol := msg[len(e.From) : len(msg)-len(ref.bodies[i])]
			if rest := bytes.TrimLeft(eol, "\r"); !(len(rest) == 1 && rest[0] == '\n' || len(rest) == 0 && len(ref.bodies[i]) == 0) {
				t.Fatalf("message %d: %q between its From_ line and its body", i+1, eol)
			}
			if i > 0 && !looksLikeFromLine([]byte(e.From)) {
				t.Fatalf("message %d starts at %q, not an envelope line", i+1, e.From)
			}
			if i > 0 && !emptyLineEndsAt(ref.bodies[i-1]) {
				t.Fatalf("message %d starts after %q, not after an empty line", i+1, ref.bodies[i-1])
			}
			// No boundary inside the body: a From_ line after an empty
			// line of the body itself.
			body := ref.bodies[i]
			for p := 0; p < len(body); p++ {
				if p > 0 && body[p-1] != '\n' {
					continue
				}
				line := body[p:]
				if k := bytes.IndexByte(line, '\n'); k >= 0 {
					line = line[:k]
				}
				if looksLikeFromLine(line) && emptyLineEndsAt(body[:p]) {
					t.Fatalf("message %d hides an envelope line at body offset %d: %q\n%s", i+1, p, line, ref)
				}
			}
			off += e.Length
		}
		if off != int64(len(data)) {
			t.Fatalf("messages cover %d of %d bytes", off, len(data))
		}
		// The in-memory splitter of mapped files makes the same split.
		if got := splitInMemory(data); got.String() != ref.String() {
			t.Fatalf("in-memory split differs:\n%s\nwant\n%s", got, ref)
		}
		// A split point for parallel splitting is a boundary of this
		// sequential pass, and splitting there changes nothing.
		starts := map[int64]int{}
		for i, e := range ref.envs {
			starts[e.Offset] = i
		}
		for from := int64(0); from < int64(len(data)); from += 1 + int64(len(data))/64 {
			x, ok := splitPoint(bytes.NewReader(data), from, int64(len(data)))
			if !ok {
				continue
			}
			i, boundary := starts[x]
			if !boundary || x < from {
				t.Fatalf("split point %d (from %d) is not a message boundary:\n%s", x, from, ref)
			}
			tail := splitMbox(t, NewMboxReader(bytes.NewReader(data[x:])), 32<<10)
			if tail.err != nil || len(tail.envs) != len(ref.envs)-i {
				t.Fatalf("split at %d: %d messages after it, want %d (%v)", x, len(tail.envs), len(ref.envs)-i, tail.err)
			}
			for k, e := range tail.envs {
				if w := ref.envs[i+k]; e.Offset+x != w.Offset || e.Length != w.Length || e.From != w.From {
					t.Fatalf("split at %d: message %d differs", x, i+k+1)
				}
			}
		}

		// The same split whatever the read sizes.
		h := fnv.New64a()
		h.Write(data)
		seed := h.Sum64()
		sizes := []int{int(seed%13) + 1, int(seed>>8%97) + 1, int(seed>>16%7) + 1, 4096}
		for _, v := range []struct {
			name     string
			mr       *MboxReader
			bodyRead int
		}{
			{"one-byte file reads", NewMboxReader(iotest.OneByteReader(bytes.NewReader(data))), 32 << 10},
			{"one-byte body reads", NewMboxReader(bytes.NewReader(data)), 1},
			{"small buffer, chunked reads", newMboxReaderSize(&chunkReader{r: bytes.NewReader(data), sizes: sizes}, 48), sizes[0]},
			{"half reads, body reads of 3", NewMboxReader(iotest.HalfReader(bytes.NewReader(data))), 3},
		} {
			got := splitMbox(t, v.mr, v.bodyRead)
			if got.String() != ref.String() {
				t.Fatalf("%s split differently:\n%s\nwant\n%s", v.name, got, ref)
			}
		}
	})
}

package pop3

import (
	"bufio"
	"fmt"
	"io"
)

// dotReader reads the data of a multi-line reply (RETR, TOP): it removes
// the byte-stuffed leading "." (RFC 1939 section 3), turns CRLF into LF and
// stops at the terminating ".". It works on the slices of the client's
// bufio.Reader, so lines of any length pass without being held whole and
// nothing is allocated per line. A Client owns one dotReader, reused.
type dotReader struct {
	c       *Client
	display string

	pre   byte   // a held-back CR to emit before rest (0: none)
	rest  []byte // pending output, a slice of the bufio buffer
	addLF bool   // emit "\n" after rest

	midLine   bool // the last chunk ended without LF
	pendingCR bool // the last chunk ended with CR, held back
	done      bool
	err       error
	n         int64
}

// data prepares the client's dotReader for the current reply.
func (c *Client) data(display string) *dotReader {
	c.dr = dotReader{c: c, display: display}
	return &c.dr
}

// Read implements io.Reader. It returns what is buffered without waiting
// for more, and io.EOF after the terminating line.
func (d *dotReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		switch {
		case d.pre != 0:
			p[n] = d.pre
			d.pre = 0
			n++
		case len(d.rest) > 0:
			k := copy(p[n:], d.rest)
			d.rest = d.rest[k:]
			n += k
		case d.addLF:
			p[n] = '\n'
			d.addLF = false
			n++
		case d.done || d.err != nil:
			goto out
		case n > 0 && d.c.br.Buffered() == 0:
			goto out // do not block while holding data
		default:
			d.fill()
		}
	}
out:
	d.n += int64(n)
	if n > 0 {
		return n, nil
	}
	if d.err != nil {
		return 0, d.err
	}
	if d.done {
		return 0, io.EOF
	}
	return 0, nil
}

// fill reads the next chunk: a whole line, or a buffer-full part of a long
// one.
func (d *dotReader) fill() {
	chunk, err := d.c.br.ReadSlice('\n')
	partial := false
	if err == bufio.ErrBufferFull {
		partial = true
	} else if err != nil {
		d.err = d.c.botch(d.display, err)
		return
	}
	if d.pendingCR {
		d.pendingCR = false
		if len(chunk) == 1 && chunk[0] == '\n' {
			d.addLF = true
			d.midLine = false
			return
		}
		d.pre = '\r'
	} else if !d.midLine && len(chunk) > 0 && chunk[0] == '.' {
		if !partial && (len(chunk) == 2 || len(chunk) == 3 && chunk[1] == '\r') {
			d.done = true
			if d.c.opt.Trace != nil {
				d.c.tracef("S: [%d octets of message data]\nS: .", d.n)
			}
			return
		}
		chunk = chunk[1:]
	}
	if partial {
		d.midLine = true
		if chunk[len(chunk)-1] == '\r' {
			chunk = chunk[:len(chunk)-1]
			d.pendingCR = true
		}
		d.rest = chunk
		return
	}
	d.midLine = false
	chunk = chunk[:len(chunk)-1]
	if k := len(chunk); k > 0 && chunk[k-1] == '\r' {
		chunk = chunk[:k-1]
	}
	d.rest = chunk
	d.addLF = true
}

// drain discards the rest of the data.
func (d *dotReader) drain() error {
	for !d.done {
		if d.err != nil {
			return d.err
		}
		d.pre, d.rest, d.addLF = 0, nil, false
		d.fill()
	}
	return d.err
}

// WriteTo implements io.WriterTo with the client's buffer, so io.Copy from
// a RetrEach callback allocates nothing per message.
func (d *dotReader) WriteTo(w io.Writer) (int64, error) {
	c := d.c
	if c.buf == nil {
		c.buf = make([]byte, readBufSize)
	}
	var total int64
	for {
		n, err := d.Read(c.buf)
		if n > 0 {
			m, werr := w.Write(c.buf[:n])
			total += int64(m)
			if werr == nil && m < n {
				werr = io.ErrShortWrite
			}
			if werr != nil {
				return total, fmt.Errorf("writing message: %w", werr)
			}
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

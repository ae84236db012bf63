package corpusgen

import (
	"bufio"
	"fmt"
	"os"
	"time"
)

// WriteMbox writes the local copies of the incident into a new mbox file
// at path (which must not exist), in delivery order: every first download,
// then each re-download burst. Entries are separated by a blank line, and
// body lines that would read as From_ lines are quoted as Options.Quoting
// says. A copy stored with CRLF has a CRLF From_ line and separator too, as
// a Windows mail program writes them.
func WriteMbox(path string, opts Options) (*Truth, error) {
	g, err := New(opts)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("corpusgen: %w", err)
	}
	t, err := writeMbox(f, g)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("corpusgen: %w", cerr)
	}
	if err == nil {
		// The file was last written by the last delivery.
		last := g.opts.Start
		for _, gr := range t.Groups {
			last = maxTime(last, gr.Copies[len(gr.Copies)-1].Time)
		}
		if cerr := os.Chtimes(path, last, last); cerr != nil {
			err = fmt.Errorf("corpusgen: %w", cerr)
		}
	}
	return t, err
}

func writeMbox(f *os.File, g *Generator) (*Truth, error) {
	bw := bufio.NewWriterSize(f, 1<<20)
	tb := newTruth(g, "mbox")
	w := &worker{g: g}
	n := g.opts.Messages
	group := make([]int32, n)   // message -> group index, -1 when not saved
	bursts := make([]uint16, n) // message -> bursts holding a re-download
	ordinal := 0
	var msg, data []byte
	put := func(p *plan, gi int, cp *copyPlan) error {
		uid := g.UID(p.i)
		data = appendFromLine(data[:0], fromEnvelope(msg, cp), cp.time, cp.crlf)
		head := len(data)
		data = w.appendCopy(data, msg, cp, uid, true, g.opts.Quoting)
		size := len(data) - head
		if cp.crlf {
			data = append(data, '\r', '\n')
		} else {
			data = append(data, '\n')
		}
		if _, err := bw.Write(data); err != nil {
			return fmt.Errorf("corpusgen: %w", err)
		}
		ordinal++
		tb.t.Bytes += int64(len(data))
		tb.copy(gi, Copy{
			Ordinal: ordinal, Size: size, Time: cp.time, Burst: cp.burst,
			Client: cp.client.String(), CRLF: cp.crlf,
		})
		return nil
	}
	for i := range n {
		p := g.plan(i)
		gi := tb.message(&p)
		group[i] = int32(gi)
		if gi < 0 {
			continue
		}
		msg = w.message(msg[:0], &p)
		w.cps = g.copyPlans(w.cps[:0], &p)
		for _, cp := range w.cps[1:] {
			bursts[i] |= 1 << cp.burst
		}
		if err := put(&p, gi, &w.cps[0]); err != nil {
			return tb.t, err
		}
	}
	for b := range g.bursts {
		for i := range n {
			if bursts[i]&(1<<b) == 0 {
				continue
			}
			p := g.plan(i)
			msg = w.message(msg[:0], &p)
			w.cps = g.copyPlans(w.cps[:0], &p)
			for c := 1; c < len(w.cps); c++ {
				if w.cps[c].burst == b {
					if err := put(&p, int(group[i]), &w.cps[c]); err != nil {
						return tb.t, err
					}
				}
			}
		}
	}
	if err := bw.Flush(); err != nil {
		return tb.t, fmt.Errorf("corpusgen: %w", err)
	}
	return tb.t, nil
}

// fromEnvelope is the From_ line's sender for a copy: "-" for Thunderbird,
// else the Return-Path address.
func fromEnvelope(msg []byte, cp *copyPlan) string {
	if cp.client == clientThunderbird {
		return "-"
	}
	return envelopeOf(msg)
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

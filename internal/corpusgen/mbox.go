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
	group := make([]int32, n) // message -> group index, -1 when not saved
	ordinal := 0
	var data []byte
	put := func(msg []byte, p *plan, gi int, cp *copyPlan) error {
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
	// Delivery order: every first download in server order, then each
	// burst's re-downloads in server order. Messages are generated again
	// for each burst that holds one of their copies.
	a := startAhead(g, false, func(yield func(i, tag int) bool) {
		bursts := make([]uint16, n) // message -> bursts holding a re-download
		var cps []copyPlan
		for i := range n {
			p := g.plan(i)
			if p.copies > 1 {
				cps = g.copyPlans(cps[:0], &p)
				for _, cp := range cps[1:] {
					bursts[i] |= 1 << cp.burst
				}
			}
			if !yield(i, -1) {
				return
			}
		}
		for b := range g.bursts {
			for i := range n {
				if bursts[i]&(1<<b) != 0 && !yield(i, b) {
					return
				}
			}
		}
	})
	defer a.close()
	for j := range a.jobs {
		p := &j.p
		if j.tag < 0 {
			gi := tb.message(p)
			group[p.i] = int32(gi)
			if gi >= 0 {
				if err := put(j.msg, p, gi, &j.cps[0]); err != nil {
					return tb.t, err
				}
			}
		} else {
			for c := 1; c < len(j.cps); c++ {
				if j.cps[c].burst == j.tag {
					if err := put(j.msg, p, int(group[p.i]), &j.cps[c]); err != nil {
						return tb.t, err
					}
				}
			}
		}
		a.done(j)
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

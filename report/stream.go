package report

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"runtime"
	"strconv"

	"github.com/popdedupe/popdedupe/scan"
)

// WriteScanJSON writes the scan report as WriteJSON(FromScan(...)) does,
// byte for byte, but renders the groups a batch at a time, on every core:
// memory stays at the scan's small record per message even for a million
// copies.
func WriteScanJSON(w io.Writer, command string, res *scan.Result, groups []scan.Group, conflicts []scan.Conflict) error {
	return writeSpliced(w, FromScanSummary(command, res, groups, conflicts, 0), "groups", len(groups), runtime.GOMAXPROCS(0),
		func() func(b []byte, i int) ([]byte, error) {
			var dirs escapedDirs // each renderer its own
			return func(b []byte, i int) ([]byte, error) { return appendScanGroupJSON(b, res, groups[i], &dirs), nil }
		})
}

// spliceBatch is how many elements one renderer appends at a time (a
// variable for the tests).
var spliceBatch = 512

// writeSpliced writes v as WriteJSON does, with the n elements of its
// top-level list key, which v holds empty, spliced in where the empty
// list stands: an appender made by newAppender appends element i as
// WriteJSON indents it there (four spaces in). With workers > 1 that many
// appenders render batches of elements at once, a few batches ahead of
// the writer, which writes them in order.
func writeSpliced(w io.Writer, v any, key string, n, workers int, newAppender func() func(b []byte, i int) ([]byte, error)) error {
	var head bytes.Buffer
	if err := WriteJSON(&head, v); err != nil {
		return err
	}
	mark := "\n  " + strconv.Quote(key) + ": []"
	before, after, ok := bytes.Cut(head.Bytes(), []byte(mark))
	if !ok || n == 0 {
		if !ok && n > 0 {
			return fmt.Errorf("report: no empty list %q at the top of the JSON value", key)
		}
		_, err := w.Write(head.Bytes())
		return err
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	bw.Write(before)
	bw.WriteString(mark[:len(mark)-1])
	// render appends elements [lo, hi) to b, each on a new line, commas
	// between them.
	render := func(appendElem func(b []byte, i int) ([]byte, error), b []byte, lo, hi int) ([]byte, error) {
		for i := lo; i < hi; i++ {
			b = append(b, '\n')
			var err error
			if b, err = appendElem(b, i); err != nil {
				return b, err
			}
			if i < n-1 {
				b = append(b, ',')
			}
		}
		return b, nil
	}
	batches := (n + spliceBatch - 1) / spliceBatch
	if workers <= 1 || batches < 2 {
		appendElem := newAppender()
		var eb []byte
		for lo := 0; lo < n; lo += spliceBatch {
			var err error
			if eb, err = render(appendElem, eb[:0], lo, min(lo+spliceBatch, n)); err != nil {
				return err
			}
			bw.Write(eb)
		}
	} else if err := renderParallel(bw, batches, workers, newAppender, func(appendElem func(b []byte, i int) ([]byte, error), b []byte, k int) ([]byte, error) {
		return render(appendElem, b, k*spliceBatch, min((k+1)*spliceBatch, n))
	}); err != nil {
		return err
	}
	bw.WriteString("\n  ]")
	bw.Write(after)
	return bw.Flush()
}

// renderParallel has workers render batches 0..batches-1, at most
// 2*workers of them ahead of the writer, and writes them to w in order.
func renderParallel(w io.Writer, batches, workers int, newAppender func() func(b []byte, i int) ([]byte, error),
	render func(appendElem func(b []byte, i int) ([]byte, error), b []byte, k int) ([]byte, error)) error {
	type piece struct {
		b   []byte
		err error
	}
	ahead := 2 * workers
	done := make([]chan piece, batches) // one result per batch, buffered
	for k := range done {
		done[k] = make(chan piece, 1)
	}
	slots := make(chan struct{}, ahead) // batches handed out, not yet written
	free := make(chan []byte, ahead)    // buffers written out, for reuse
	next := make(chan int)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		defer close(next)
		for k := range batches {
			select {
			case slots <- struct{}{}:
			case <-stop:
				return
			}
			select {
			case next <- k:
			case <-stop:
				return
			}
		}
	}()
	for range workers {
		go func() {
			appendElem := newAppender()
			for k := range next {
				var b []byte
				select {
				case b = <-free:
				default:
				}
				b, err := render(appendElem, b[:0], k)
				done[k] <- piece{b, err}
			}
		}()
	}
	for k := range batches {
		p := <-done[k]
		if p.err != nil {
			return p.err
		}
		if _, err := w.Write(p.b); err != nil {
			return err
		}
		<-slots
		select {
		case free <- p.b:
		default:
		}
	}
	return nil
}

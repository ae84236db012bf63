package report

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strconv"

	"github.com/popdedupe/popdedupe/scan"
)

// WriteScanJSON writes the scan report as WriteJSON(FromScan(...)) does,
// byte for byte, but renders the groups one at a time: memory stays at
// the scan's small record per message even for a million copies.
func WriteScanJSON(w io.Writer, command string, res *scan.Result, groups []scan.Group, conflicts []scan.Conflict) error {
	var dirs escapedDirs
	return writeSpliced(w, FromScanSummary(command, res, groups, conflicts, 0), "groups", len(groups),
		func(b []byte, i int) ([]byte, error) { return appendScanGroupJSON(b, res, groups[i], &dirs), nil })
}

// writeSpliced writes v as WriteJSON does, with the n elements of its
// top-level list key, which v holds empty, spliced in where the empty
// list stands: appendElem appends element i as WriteJSON indents it
// there (four spaces in). Only one element is in memory at a time.
func writeSpliced(w io.Writer, v any, key string, n int, appendElem func(b []byte, i int) ([]byte, error)) error {
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
	var eb []byte
	for i := 0; i < n; i++ {
		eb = append(eb[:0], '\n')
		var err error
		if eb, err = appendElem(eb, i); err != nil {
			return err
		}
		if i < n-1 {
			eb = append(eb, ',')
		}
		bw.Write(eb)
	}
	bw.WriteString("\n  ]")
	bw.Write(after)
	return bw.Flush()
}

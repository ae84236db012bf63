package report

import (
	"bufio"
	"bytes"
	"io"

	"github.com/popdedupe/popdedupe/scan"
)

// WriteScanJSON writes the scan report as WriteJSON(FromScan(...)) does,
// byte for byte, but renders the groups one at a time: memory stays at
// the scan's small record per message even for a million copies.
func WriteScanJSON(w io.Writer, command string, res *scan.Result, groups []scan.Group, conflicts []scan.Conflict) error {
	head := FromScanSummary(command, res, groups, conflicts, 0)
	bw := bufio.NewWriterSize(w, 256<<10)
	// Everything but the groups, as the struct encodes it, then the
	// groups spliced in where the empty list stands.
	var hb bytes.Buffer
	if err := WriteJSON(&hb, head); err != nil {
		return err
	}
	before, after, ok := bytes.Cut(hb.Bytes(), []byte("\n  \"groups\": [],\n"))
	if !ok || len(groups) == 0 {
		bw.Write(hb.Bytes())
		return bw.Flush()
	}
	bw.Write(before)
	bw.WriteString("\n  \"groups\": [\n")
	var gb []byte
	var dirs escapedDirs
	for n, g := range groups {
		gb = appendScanGroupJSON(gb[:0], res, g, &dirs)
		if n < len(groups)-1 {
			gb = append(gb, ',')
		}
		gb = append(gb, '\n')
		bw.Write(gb)
	}
	bw.WriteString("  ],\n")
	bw.Write(after)
	return bw.Flush()
}

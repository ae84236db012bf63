// Package report renders what popdedupe found and did: a terse human
// summary, stable JSON for scripts (the contract documented in README.md,
// versioned by Version), and a self-contained HTML page.
//
// Reports are built from plans and results; they never read stores or
// talk to servers themselves.
package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/popdedupe/popdedupe/scan"
)

// Version is the JSON contract's version. Fields are only ever added; a
// change that removes or renames a field increments it.
const Version = 1

// Ref names one stored copy: the Maildir message file (Index 0) or the
// mbox file and the ordinal of the message's From_ line, from 1.
type Ref struct {
	Path  string `json:"path"`
	Index int    `json:"index"`
}

// Skipped is a message that could not be read or fingerprinted.
type Skipped struct {
	Path   string `json:"path"`
	Index  int    `json:"index"`
	Reason string `json:"reason"`
}

// Group is a set of copies of one message; Copies includes Keep.
type Group struct {
	MessageID string `json:"message_id"`
	BodyHash  string `json:"body_hash"`
	Keep      Ref    `json:"keep"`
	Copies    []Ref  `json:"copies"`
	// Bytes that removing the extra copies frees.
	ExtraBytes int64 `json:"extra_bytes"`
	// Arrival times (Unix seconds) of the copies, in Copies order; the
	// HTML timeline uses them.
	Arrivals []int64 `json:"arrivals,omitempty"`
}

// Conflict is a Message-ID whose copies have different bodies.
type Conflict struct {
	MessageID string `json:"message_id"`
	Copies    []Ref  `json:"copies"`
}

// Scan is the result of `popdedupe scan`, and the base every other
// command's JSON extends.
type Scan struct {
	Version    int        `json:"version"`
	Command    string     `json:"command"`
	Stores     []string   `json:"stores"`
	Messages   int        `json:"messages"`
	Bytes      int64      `json:"bytes"`
	Duplicates int        `json:"duplicates"`  // extra copies, over all groups
	ExtraBytes int64      `json:"extra_bytes"` // bytes those extra copies take
	Skipped    []Skipped  `json:"skipped"`
	Groups     []Group    `json:"groups"`
	Conflicts  []Conflict `json:"conflicts"`

	// For the text summary when Groups lists only the first few.
	totalGroups int
	copies      map[int]int // groups by number of copies
}

// RefOf returns the Ref of message i of res.
func RefOf(res *scan.Result, i int) Ref {
	m := &res.Messages[i]
	return Ref{Path: res.Path(m), Index: int(m.Index)}
}

// FromScan builds the scan report.
func FromScan(command string, res *scan.Result, groups []scan.Group, conflicts []scan.Conflict) *Scan {
	return fromScan(command, res, groups, conflicts, len(groups))
}

// FromScanSummary builds the scan report with its totals over every group
// but only the first limit groups listed: enough for the text summary,
// without a record per copy of a million-message store.
func FromScanSummary(command string, res *scan.Result, groups []scan.Group, conflicts []scan.Conflict, limit int) *Scan {
	return fromScan(command, res, groups, conflicts, limit)
}

// groupOf renders one duplicate group.
func groupOf(res *scan.Result, g scan.Group) Group {
	keep := &res.Messages[g.Keep()]
	rg := Group{MessageID: res.MessageID(keep), BodyHash: fmt.Sprintf("%016x", keep.BodyHash), Keep: RefOf(res, g.Keep())}
	for n, i := range g.Copies {
		rg.Copies = append(rg.Copies, RefOf(res, i))
		rg.Arrivals = append(rg.Arrivals, res.Messages[i].Arrival)
		if n > 0 {
			rg.ExtraBytes += res.Messages[i].Size
		}
	}
	return rg
}

func fromScan(command string, res *scan.Result, groups []scan.Group, conflicts []scan.Conflict, limit int) *Scan {
	s := &Scan{
		Version:   Version,
		Command:   command,
		Stores:    res.Stores,
		Messages:  len(res.Messages) + len(res.Skipped),
		Bytes:     res.Bytes,
		Skipped:   []Skipped{},
		Groups:    []Group{},
		Conflicts: []Conflict{},
	}
	for _, sk := range res.Skipped {
		s.Skipped = append(s.Skipped, Skipped{Path: sk.Path, Index: sk.Index, Reason: sk.Reason})
	}
	s.totalGroups = len(groups)
	s.copies = map[int]int{}
	for n, g := range groups {
		s.copies[len(g.Copies)]++
		s.Duplicates += len(g.Copies) - 1
		for _, i := range g.Copies[1:] {
			s.ExtraBytes += res.Messages[i].Size
		}
		if n < limit {
			s.Groups = append(s.Groups, groupOf(res, g))
		}
	}
	for _, c := range conflicts {
		rc := Conflict{MessageID: c.MessageID}
		for _, i := range c.Copies {
			rc.Copies = append(rc.Copies, RefOf(res, i))
		}
		s.Conflicts = append(s.Conflicts, rc)
	}
	return s
}

// WriteJSON writes v as indented JSON followed by a newline.
func WriteJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// WriteJSONList writes v as WriteJSON does, byte for byte, but encodes the
// elements of one of its top-level lists one at a time: a reconcile of
// 200,000 server messages then needs no second copy of its whole output
// (encoding/json marshals, then indents, a value whole). v must hold that
// list empty, not nil; the list's elements are elem(0) ... elem(n-1).
func WriteJSONList(w io.Writer, v any, key string, n int, elem func(i int) any) error {
	var eb bytes.Buffer
	enc := json.NewEncoder(&eb)
	enc.SetIndent("    ", "  ")
	enc.SetEscapeHTML(false)
	return writeSpliced(w, v, key, n, 1, func() func(b []byte, i int) ([]byte, error) {
		return func(b []byte, i int) ([]byte, error) {
			eb.Reset()
			if err := enc.Encode(elem(i)); err != nil {
				return b, err
			}
			b = append(b, "    "...)
			return append(b, bytes.TrimSuffix(eb.Bytes(), []byte("\n"))...), nil
		}
	})
}

// Bytes formats a byte count for people.
func Bytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func (r Ref) String() string {
	if r.Index > 0 {
		return fmt.Sprintf("%s#%d", r.Path, r.Index)
	}
	return r.Path
}

// WriteText writes the terse human summary of a scan. With verbose set
// it lists every group; otherwise the first few.
func (s *Scan) WriteText(w io.Writer, verbose bool) {
	fmt.Fprintf(w, "Scanned %d messages (%s) in %d store(s).\n", s.Messages, Bytes(s.Bytes), len(s.Stores))
	total, hist := len(s.Groups), s.copies
	if s.totalGroups > total {
		total = s.totalGroups
	}
	if hist == nil {
		hist = map[int]int{}
		for _, g := range s.Groups {
			hist[len(g.Copies)]++
		}
	}
	if total == 0 {
		fmt.Fprintln(w, "No duplicates found.")
	} else {
		fmt.Fprintf(w, "Found %d extra copies of %d messages (%s reclaimable).\n", s.Duplicates, total, Bytes(s.ExtraBytes))
		var ks []int
		for k := range hist {
			ks = append(ks, k)
		}
		sort.Ints(ks)
		var parts []string
		for _, k := range ks {
			parts = append(parts, fmt.Sprintf("%d messages x%d", hist[k], k))
		}
		fmt.Fprintf(w, "  copies: %s\n", strings.Join(parts, ", "))
		limit := 5
		if verbose {
			limit = len(s.Groups)
		}
		for _, g := range s.Groups[:min(limit, len(s.Groups))] {
			id := g.MessageID
			if id == "" {
				id = "(no Message-ID) body " + g.BodyHash
			}
			fmt.Fprintf(w, "  <%s>: keep %s, %d extra\n", id, g.Keep, len(g.Copies)-1)
		}
		if total > min(limit, len(s.Groups)) {
			fmt.Fprintf(w, "  ... and %d more groups (--json or --verbose lists all)\n", total-min(limit, len(s.Groups)))
		}
	}
	if len(s.Conflicts) > 0 {
		fmt.Fprintf(w, "%d Message-IDs have copies with different bodies (conflicts: each version is a message of its own, never merged):\n", len(s.Conflicts))
		for _, c := range s.Conflicts[:min(5, len(s.Conflicts))] {
			fmt.Fprintf(w, "  <%s>: %d copies\n", c.MessageID, len(c.Copies))
		}
	}
	if len(s.Skipped) > 0 {
		fmt.Fprintf(w, "%d messages skipped (not read, never changed):\n", len(s.Skipped))
		for _, k := range s.Skipped[:min(5, len(s.Skipped))] {
			fmt.Fprintf(w, "  %s: %s\n", Ref{k.Path, k.Index}, k.Reason)
		}
	}
}

package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/popdedupe/popdedupe/internal/runlock"
	"github.com/popdedupe/popdedupe/journal"
	"github.com/popdedupe/popdedupe/report"
	"github.com/popdedupe/popdedupe/store"
)

func init() {
	register(&command{name: "undo", summary: "put back every copy a dedupe run removed, from its journal", run: runUndo})
}

func runUndo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("undo", "[flags] JOURNAL", "popdedupe undo ~/.local/state/popdedupe/journal-20260102T150405Z-1a2b3c.jsonl\n\nUndo walks the journal backwards; it is safe to interrupt and run again.\nCopies removed with --delete cannot be put back (undo says which).\nExit codes: 0 everything put back, 1 some steps could not be undone (listed), 2 usage.", stderr)
	asJSON := fs.Bool("json", false, "print one JSON object instead of text")
	stateDir := fs.String("state-dir", "", "where locks live (default: the journal's directory)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return usageErrorf("name one JOURNAL file (dedupe --apply prints it)")
	}
	path := fs.Arg(0)
	entries, err := journal.Read(path)
	if err != nil {
		return err
	}
	state := *stateDir
	if state == "" {
		state = filepath.Dir(path)
	}
	var stores []string
	for _, s := range journal.Steps(entries) {
		if s.Op == store.OpRun {
			var r store.Run
			if err := s.Decode(&r); err == nil {
				stores = append(stores, r.Stores...)
			}
		}
	}
	locks, err := runlock.AcquireAll(state, append(stores, path), "popdedupe undo")
	if err != nil {
		return err
	}
	defer locks.Release()
	res, uerr := journal.Undo(ctx, path, undoHandlers())
	if res == nil {
		return uerr
	}
	rep := &report.Undo{Version: report.Version, Command: "undo", Journal: path, Steps: res.Steps, Undone: res.Undone, Already: res.Already,
		Results: []report.UndoResult{}, Notes: append(locks.Notes(), res.Notes...), Errors: []string{}}
	for _, r := range res.Results {
		rep.Results = append(rep.Results, report.UndoResult{Seq: r.Seq, Op: r.Op, From: r.From, To: r.To, Note: r.Note, Error: r.Err})
	}
	for _, e := range res.Errors {
		rep.Errors = append(rep.Errors, e.Error())
	}
	if rep.Notes == nil {
		rep.Notes = []string{}
	}
	if *asJSON {
		if uerr == nil {
			report.WriteJSON(stdout, rep)
		}
	} else {
		fmt.Fprintf(stdout, "Undid %d of %d steps of %s", res.Undone, res.Steps, path)
		if res.Already > 0 {
			fmt.Fprintf(stdout, " (%d were undone before)", res.Already)
		}
		fmt.Fprintln(stdout, ".")
		for _, n := range rep.Notes {
			fmt.Fprintf(stdout, "Note: %s\n", n)
		}
		for _, e := range rep.Errors {
			fmt.Fprintf(stdout, "Not undone: %s\n", e)
		}
	}
	if uerr != nil {
		return fmt.Errorf("%w; the steps listed stay as they are, run undo again once they are fixed", uerr)
	}
	return nil
}

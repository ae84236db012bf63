package main

import (
	"context"
	"flag"
	"io"
	"runtime"

	"github.com/popdedupe/popdedupe/report"
	"github.com/popdedupe/popdedupe/scan"
)

func init() {
	register(&command{name: "scan", summary: "find duplicate messages in Maildir and mbox stores (changes nothing)", run: runScan})
}

// scanFlags are the flags every command that scans stores shares.
type scanFlags struct {
	json     bool
	verbose  bool
	quiet    bool
	progress progressMode
	jobs     int
	hashAll  bool
	keep     scan.KeepRule
}

func (f *scanFlags) register(fs *flag.FlagSet) {
	f.progress, f.keep = "auto", scan.KeepOldest
	fs.BoolVar(&f.json, "json", false, "print one JSON object (the contract in README.md) instead of text")
	fs.BoolVar(&f.verbose, "verbose", false, "list every duplicate group in the text output")
	fs.BoolVar(&f.quiet, "quiet", false, "print nothing but errors and the result")
	fs.Var(&f.progress, "progress", "progress bar on stderr: auto (when it is a terminal), always or never")
	fs.IntVar(&f.jobs, "jobs", 8, "files read in parallel (disk latency wants many in flight even on few cores)")
	fs.BoolVar(&f.hashAll, "hash-all", false, "hash every body, not only where header identities collide")
	fs.Var(&f.keep, "keep", "which copy to keep: oldest (default; ties: most Maildir flags), newest, or first (argument order)")
}

// scanStores runs the scan and the grouping with the shared flags.
func scanStores(ctx context.Context, f *scanFlags, stores []string, stderr io.Writer) (*scan.Result, []scan.Group, []scan.Conflict, error) {
	prog := newProgress(f.progress, stderr, f.json || f.quiet)
	opts := scan.Options{Workers: f.jobs, HashAll: f.hashAll}
	if prog != nil {
		opts.Progress = prog
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0) * 4
	}
	res, err := scan.Scan(ctx, stores, opts)
	prog.Stop()
	if err != nil {
		return nil, nil, nil, err
	}
	groups, conflicts, err := res.Duplicates(ctx, f.keep)
	if err != nil {
		return nil, nil, nil, err
	}
	return res, groups, conflicts, nil
}

func runScan(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("scan", "[flags] STORE...", "popdedupe scan ~/Maildir ~/mail/inbox.mbox\npopdedupe scan --json ~/Maildir > dups.json", stderr)
	var f scanFlags
	f.register(fs)
	var rf reportFlag
	rf.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return usageErrorf("name at least one STORE (a Maildir, a Maildir++ root, an mbox file, or a directory of them)")
	}
	res, groups, conflicts, err := scanStores(ctx, &f, fs.Args(), stderr)
	if err != nil {
		return err
	}
	if rf.path != "" {
		// The page lists every group (capped in the table) and charts
		// every copy: built whole only when asked for.
		if _, err := rf.write(&report.Page{Title: "Duplicate scan", Scan: report.FromScan("scan", res, groups, conflicts)}); err != nil {
			return err
		}
	}
	switch {
	case f.json:
		// Streamed, one group at a time: a million copies need no
		// second record each.
		if err := report.WriteScanJSON(stdout, "scan", res, groups, conflicts); err != nil {
			return err
		}
	case f.verbose:
		report.FromScan("scan", res, groups, conflicts).WriteText(stdout, true)
	default:
		report.FromScanSummary("scan", res, groups, conflicts, 5).WriteText(stdout, false)
	}
	return resultError(len(groups) > 0, len(res.Skipped) > 0)
}

// resultError turns a command's outcome into its exit status: work to do
// wins over skipped messages.
func resultError(work, skipped bool) error {
	switch {
	case work:
		return errWorkToDo
	case skipped:
		return errSkipped
	}
	return nil
}

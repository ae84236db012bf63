package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/popdedupe/popdedupe/internal/runlock"
	"github.com/popdedupe/popdedupe/journal"
	"github.com/popdedupe/popdedupe/reconcile"
	"github.com/popdedupe/popdedupe/report"
	"github.com/popdedupe/popdedupe/scan"
	"github.com/popdedupe/popdedupe/uidlstate"
)

func init() {
	register(&command{name: "reconcile", summary: "identify server messages against local stores in one POP3 session; delete saved, fetch missing", run: runReconcile})
}

// stateFlag is --state FORMAT:PATH.
type stateFlag struct{ t *uidlstate.Target }

func (s *stateFlag) String() string {
	if s.t == nil {
		return ""
	}
	return s.t.String()
}

func (s *stateFlag) Set(v string) error {
	t, err := uidlstate.ParseTarget(v)
	if err != nil {
		return err
	}
	s.t = &t
	return nil
}

// reconcileJSON is the --json object: the shared header, then the result.
type reconcileJSON struct {
	Version int      `json:"version"`
	Command string   `json:"command"`
	Stores  []string `json:"stores"`
	*reconcile.Result
	LocalMessages int              `json:"local_messages"`
	Skipped       []report.Skipped `json:"skipped"`
	Journal       string           `json:"journal,omitempty"`
	Error         string           `json:"error,omitempty"`
	ExitCode      int              `json:"exit_code"`
}

const reconcileExample = `export POPDEDUPE_PASSWORD=...        # or --password-file FILE, or ~/.netrc
popdedupe reconcile --server pop.example.net --user alice ~/Maildir                       # dry run: the plan
popdedupe reconcile --server pop.example.net --user alice --delete-saved --apply ~/Maildir
popdedupe reconcile --server pop.example.net --user alice --fetch-missing ~/Maildir/.Recovered --delete-saved --apply ~/Maildir
popdedupe reconcile --server pop.example.net --user alice --state fetchmail:~/.fetchids --apply ~/Maildir

Exit codes: 0 applied (or nothing to do), 1 failed, 2 usage error, 3 dry run with work to do,
4 done but some local messages were skipped.`

func runReconcile(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("reconcile", "--server HOST[:PORT] --user NAME [flags] STORE...", reconcileExample, stderr)
	var (
		sf       serverFlags
		jsonOut  bool
		verbose  bool
		quiet    bool
		progress progressMode = "auto"
		jobs     int
	)
	sf.register(fs)
	o := &sf.rec
	fs.BoolVar(&o.Apply, "apply", false, "act: fetch, delete, write the state file (default: dry run, read-only)")
	fs.BoolVar(&jsonOut, "json", false, "print one JSON object (every server message with its verdict, and the session facts)")
	fs.BoolVar(&verbose, "verbose", false, "list every server message in the text output")
	fs.BoolVar(&quiet, "quiet", false, "print nothing but errors and the result")
	fs.Var(&progress, "progress", "progress bar on stderr while scanning: auto, always or never")
	fs.IntVar(&jobs, "jobs", 8, "local files read in parallel")
	var rf reportFlag
	rf.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if o.Server == "" || o.User == "" {
		fs.Usage()
		return usageErrorf("--server and --user are required")
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return usageErrorf("name at least one STORE holding the local copies (a Maildir, a Maildir++ root, an mbox file, or a directory of them)")
	}
	if err := sf.prepare(stderr, false); err != nil {
		return err
	}
	o.Workers = jobs
	trace, err := sf.openTrace()
	if err != nil {
		return err
	}
	defer trace.Close()

	stores := reconcile.Stores(fs.Args(), o.FetchMissing)
	if o.Apply {
		// One popdedupe per store: a dedupe or undo must not move the
		// local copies that this run's evidence rests on.
		dir, err := journal.DefaultStateDir()
		if err != nil {
			return err
		}
		paths := append([]string{}, stores...)
		if o.State != nil {
			paths = append(paths, o.State.Path)
		}
		locks, err := runlock.AcquireAll(dir, paths, "popdedupe reconcile")
		if err != nil {
			return err
		}
		defer locks.Release()
		for _, n := range locks.Notes() {
			fmt.Fprintln(stderr, "Note:", n)
		}
	}
	scf := &scanFlags{json: jsonOut, quiet: quiet, progress: progress, jobs: jobs, keep: scan.KeepOldest}
	res, groups, conflicts, err := scanStores(ctx, scf, stores, stderr)
	if err != nil {
		return err
	}
	page := &report.Page{Title: "Reconcile with " + o.Server, Scan: report.FromScan("reconcile", res, groups, conflicts)}

	var jpath string
	if o.Apply && (o.DeleteSaved || o.FetchMissing != "") {
		dir, err := journal.DefaultStateDir()
		if err != nil {
			return err
		}
		j, err := journal.Create(dir, journal.NewRunID())
		if err != nil {
			return err
		}
		defer j.Close()
		o.Journal = j
		jpath = j.Path()
	}

	out, runErr := reconcile.Run(ctx, res, *o)
	if runErr != nil && o.Journal != nil {
		// Refused before its first step: no empty journal is left.
		if gone, err := o.Journal.DiscardIfEmpty(); err == nil && gone {
			jpath = ""
		}
	}
	if errors.Is(runErr, reconcile.ErrUsage) {
		runErr = fmt.Errorf("%w: %w", errUsage, runErr)
	}
	if n := notFetched(out); runErr == nil && o.Apply && n > 0 {
		// Partly done is not done: exit 1, so that scripts see it.
		runErr = fmt.Errorf("reconcile: %d missing messages could not be saved into %s (each one's note says why); they stay on the server: run again once that is fixed", n, out.FetchTo)
	}
	skipped := len(res.Skipped) > 0
	if out != nil && rf.path != "" {
		page.Server, page.State, page.Journal = out.ServerSection(), out.StateSection(), jpath
		if _, err := rf.write(page); err != nil && runErr == nil {
			runErr = err
		}
	}
	var resErr error
	switch {
	case runErr != nil:
		resErr = runErr
	case !o.Apply && out.Work():
		resErr = errWorkToDo
	case skipped:
		resErr = errSkipped
	}
	if jsonOut {
		j := reconcileJSON{Version: report.Version, Command: "reconcile", Stores: stores, Result: out,
			LocalMessages: len(res.Messages) + len(res.Skipped), Skipped: []report.Skipped{}, Journal: jpath, ExitCode: exitCode(resErr)}
		for _, s := range res.Skipped {
			j.Skipped = append(j.Skipped, report.Skipped{Path: s.Path, Index: s.Index, Reason: s.Reason})
		}
		if runErr != nil {
			j.Error = runErr.Error()
		}
		// The server messages one at a time (200,000 of them would
		// otherwise be held twice more while encoded).
		msgs := []reconcile.Message(nil)
		if out != nil {
			msgs, out.Messages = out.Messages, []reconcile.Message{}
		}
		err := report.WriteJSONList(stdout, j, "messages", len(msgs), func(i int) any { return &msgs[i] })
		if out != nil {
			out.Messages = msgs
		}
		if err != nil {
			return err
		}
		if runErr != nil {
			return fmt.Errorf("%w (%w)", runErr, errJSONWritten)
		}
		return resErr
	}
	out.WriteText(stdout, verbose)
	if skipped {
		fmt.Fprintf(stdout, "%d local messages could not be read (never counted as saved).\n", len(res.Skipped))
	}
	if jpath != "" {
		fmt.Fprintf(stdout, "Journal: %s\n", jpath)
	}
	return resErr
}

// notFetched counts the missing messages an applied run meant to fetch
// and could not save (their note says "not fetched: why").
func notFetched(out *reconcile.Result) int {
	if out == nil {
		return 0
	}
	n := 0
	for _, m := range out.Messages {
		if m.Verdict == reconcile.Missing && strings.HasPrefix(m.Note, "not fetched") {
			n++
		}
	}
	return n
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/popdedupe/popdedupe/dedupe"
	"github.com/popdedupe/popdedupe/internal/runlock"
	"github.com/popdedupe/popdedupe/journal"
	"github.com/popdedupe/popdedupe/report"
	"github.com/popdedupe/popdedupe/store"
)

func init() {
	register(&command{name: "dedupe", summary: "remove extra copies (dry run unless --apply; quarantined and undo-able)", run: runDedupe})
}

const dedupeExample = `popdedupe dedupe ~/Maildir ~/mail/inbox.mbox            # dry run: prints the plan
popdedupe dedupe --apply ~/Maildir ~/mail/inbox.mbox    # does it; prints the journal
popdedupe undo ~/.local/state/popdedupe/journal-....jsonl

Keep rules (--keep): oldest keeps the copy delivered first (ties: most
Maildir flags, then argument order); newest the one delivered last; first
the first in argument order, then path, then mbox position. No rule keeps
an unreadable copy or removes the last copy of a message. A Message-ID
with copies of different bodies counts as one message per body: one copy
of each version stays. Nothing in an mbox with unreadable messages is
removed.

Exit codes: 0 applied or nothing to do, 3 a dry run found work,
4 done but some messages were skipped, 1 failed (the error names the
journal to undo what was done), 2 usage.`

// stateDirOr returns dir or the default state directory.
func stateDirOr(dir string) (string, error) {
	if dir != "" {
		return dir, nil
	}
	return journal.DefaultStateDir()
}

func runDedupe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("dedupe", "[flags] STORE...", dedupeExample, stderr)
	var f scanFlags
	f.register(fs)
	apply := fs.Bool("apply", false, "carry the plan out (default: dry run, change nothing)")
	del := fs.Bool("delete", false, "delete extra copies for good instead of quarantining them (still journalled; undo cannot bring them back)")
	quarantine := fs.String("quarantine", "", "quarantine Maildir for extra copies (default STATE-DIR/quarantine/RUN-ID)")
	stateDir := fs.String("state-dir", "", "where journals and locks live (default $XDG_STATE_HOME/popdedupe or ~/.local/state/popdedupe)")
	var rf reportFlag
	rf.register(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return usageErrorf("name at least one STORE (a Maildir, a Maildir++ root, an mbox file, or a directory of them)")
	}
	if *del && *quarantine != "" {
		return usageErrorf("--delete and --quarantine exclude each other")
	}
	state, err := stateDirOr(*stateDir)
	if err != nil {
		return err
	}
	stores := fs.Args()
	runID := journal.NewRunID()
	opts := dedupe.Options{Delete: *del, Quarantine: *quarantine, RunID: runID}
	if !*del && opts.Quarantine == "" {
		opts.Quarantine = filepath.Join(state, "quarantine", runID)
	}
	var notes []string
	if *apply {
		// One popdedupe per store, taken before the scan so that the plan
		// is not made from a store another run is changing.
		locks, err := runlock.AcquireAll(state, stores, "popdedupe dedupe")
		if err != nil {
			return err
		}
		defer locks.Release()
		notes = locks.Notes()
	}
	res, groups, conflicts, err := scanStores(ctx, &f, stores, stderr)
	if err != nil {
		return err
	}
	plan, err := dedupe.Make(res, groups, conflicts, opts)
	if errors.Is(err, dedupe.ErrQuarantineInStore) {
		return usageErrorf("%v", err)
	}
	if err != nil {
		return err
	}
	rep := dedupeReport(plan, nil)
	rep.Notes = append(append([]string{}, notes...), rep.Notes...) // [] not null in JSON
	if *apply && !plan.Work() {
		if err := dedupe.Recover(res); err != nil {
			return err
		}
	}
	if !*apply || !plan.Work() {
		if _, err := rf.write(&report.Page{Title: "Duplicate removal", Scan: rep.Scan, Actions: rep.Actions}); err != nil {
			return err
		}
		printDedupe(stdout, rep, &f)
		return resultError(plan.Work(), len(res.Skipped) > 0)
	}
	j, err := journal.Create(state, runID)
	if err != nil {
		return err
	}
	out, err := dedupe.Execute(ctx, plan, store.NewMutator(j, opts.Quarantine), "popdedupe dedupe "+strings.Join(args, " "))
	j.Close()
	undoCmd := "popdedupe undo " + shellQuote(j.Path())
	if err != nil {
		return fmt.Errorf("%w\n%s before the error; journal: %s\nundo with: %s", err, out, j.Path(), undoCmd)
	}
	rep = dedupeReport(plan, out)
	rep.Notes = append(append([]string{}, notes...), rep.Notes...) // [] not null in JSON
	rep.Journal, rep.Undo = j.Path(), undoCmd
	if _, err := rf.write(&report.Page{Title: "Duplicate removal", Scan: rep.Scan, Actions: rep.Actions, Journal: rep.Journal}); err != nil {
		return err
	}
	printDedupe(stdout, rep, &f)
	return resultError(false, len(res.Skipped) > 0)
}

// dedupeReport renders a plan, or what was done of it.
func dedupeReport(p *dedupe.Plan, out *dedupe.Outcome) *report.Dedupe {
	rep := &report.Dedupe{
		Scan:    report.FromScan("dedupe", p.Result, p.Groups, p.Conflicts),
		Applied: out != nil, Delete: p.Options.Delete,
		Removed: p.Removals, RemovedB: p.Bytes, Flagged: p.Flagged,
		Mboxes: append([]string{}, p.Mboxes...), Actions: []report.Action{}, Notes: append([]string{}, p.Notes...),
	}
	if !p.Options.Delete {
		rep.Quarantine = p.Options.Quarantine
	}
	if out != nil {
		rep.Removed, rep.RemovedB, rep.Flagged = out.Removed, out.Bytes, out.Flagged
	}
	for _, a := range p.Actions {
		rep.Actions = append(rep.Actions, report.Action{Ref: a.Ref, Action: string(a.Kind), To: a.To})
	}
	return rep
}

func printDedupe(w io.Writer, rep *report.Dedupe, f *scanFlags) {
	if f.json {
		report.WriteJSON(w, rep)
		return
	}
	if !f.quiet {
		rep.Scan.WriteText(w, f.verbose)
	}
	if f.verbose {
		for _, a := range rep.Actions {
			if a.To != "" {
				fmt.Fprintf(w, "  %-10s %s -> %s\n", a.Action, a.Ref, a.To)
			} else {
				fmt.Fprintf(w, "  %-10s %s\n", a.Action, a.Ref)
			}
		}
	}
	where := "to the quarantine Maildir " + rep.Quarantine
	verb := map[bool]string{false: "move", true: "moved"}[rep.Applied]
	if rep.Delete {
		where, verb = "for good", map[bool]string{false: "delete", true: "deleted"}[rep.Applied]
	}
	var parts []string
	if rep.Removed > 0 {
		parts = append(parts, fmt.Sprintf("%s %d extra copies (%s) %s", verb, rep.Removed, report.Bytes(rep.RemovedB), where))
	}
	if rep.Flagged > 0 {
		parts = append(parts, fmt.Sprintf("%s %d kept copies the flags of their other copies", map[bool]string{false: "give", true: "gave"}[rep.Applied], rep.Flagged))
	}
	if len(rep.Mboxes) > 0 {
		parts = append(parts, fmt.Sprintf("%s %d mbox file(s)", map[bool]string{false: "rewrite", true: "rewrote"}[rep.Applied], len(rep.Mboxes)))
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(w, "Note: %s\n", n)
	}
	switch {
	case len(parts) == 0:
		fmt.Fprintln(w, "Nothing to do.")
	case !rep.Applied:
		fmt.Fprintf(w, "Plan: %s.\nDry run: nothing changed. Run again with --apply to do it.\n", strings.Join(parts, "; "))
	default:
		fmt.Fprintf(w, "Done: %s.\nJournal: %s\nUndo with: %s\n", strings.Join(parts, "; "), rep.Journal, rep.Undo)
	}
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:+=@%,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/popdedupe/popdedupe/dedupe"
	"github.com/popdedupe/popdedupe/internal/runlock"
	"github.com/popdedupe/popdedupe/journal"
	"github.com/popdedupe/popdedupe/reconcile"
	"github.com/popdedupe/popdedupe/report"
	"github.com/popdedupe/popdedupe/scan"
	"github.com/popdedupe/popdedupe/store"
	"github.com/popdedupe/popdedupe/uidlstate"
)

func init() {
	register(&command{name: "repair", summary: "the whole cleanup in one command: dedupe, reconcile (one session), rebuild the client state, report", run: runRepair})
}

// The order of a repair with --apply, and why:
//
//  1. lock the stores, the --fetch-missing target and the state file;
//  2. scan every store (and the fetch target, see reconcile.Stores), plan
//     the dedupe, and carry it out through the choke point (store.Mutator):
//     extra copies go to the quarantine, which is never inside a store;
//  3. scan the stores again, and reconcile against that second scan in one
//     POP3 session: fetch what is missing, DELE what is verified saved,
//     QUIT; then rebuild the client's UIDL state;
//  4. report.
//
// Dedupe comes first and the server is matched against a fresh scan, not
// against the first one, so that the evidence for every DELE is a copy
// that is on disk after the dedupe: a copy moved to the quarantine can
// never be the reason a server message is deleted, whatever happened
// between the two steps (a kept copy renamed by the flag merge, another
// program removing one). The other order (match the server against the
// copies the dedupe plan keeps, delete, then dedupe) would rest on a plan
// whose paths the dedupe then changes, and on a filtered scan. The second
// scan costs one more read of the stores' headers; it is the price of
// evidence that is true when QUIT commits.
//
// A failed dedupe stops the run before the server is contacted. A failed
// session leaves the local part done (undo-able) and the server as it was
// unless QUIT committed. A dry run makes no change anywhere: it plans the
// dedupe and reconciles read-only against the first scan (every group keeps
// a copy with the same fingerprint, so the verdicts are the same).

const repairExample = `export POPDEDUPE_PASSWORD=...        # or --password-file FILE, or ~/.netrc
popdedupe repair --server pop.example.net --user alice --delete-saved \
    --state fetchmail:~/.fetchids --report report.html ~/Maildir          # dry run: the plan
popdedupe repair --server pop.example.net --user alice --delete-saved \
    --state fetchmail:~/.fetchids --report report.html --apply ~/Maildir  # does it
popdedupe undo JOURNAL                                                      # puts the local part back
popdedupe repair --accounts accounts.json --parallel 4 --json --apply    # many accounts, JSON lines

Steps: scan -> dedupe (quarantined) -> scan again -> one POP3 session (fetch
missing, DELE verified saved, QUIT) -> rebuild the UIDL state -> report.
One journal for the run; 'popdedupe undo JOURNAL' restores the local part
(server deletions cannot be undone: each had a verified local copy).

--accounts FILE: a JSON array of {"server", "user", "password_file",
"stores": [...], "state", "tls", "ca", "fetch_missing", "delete_saved"}, or
one account a line: SERVER USER PASSWORD-FILE STORE... [state=FORMAT:PATH]
[tls=MODE] [ca=FILE] [fetch-missing=PATH] [delete-saved]. The other flags
apply to every account; --report names a directory then.

Exit codes: 0 done or nothing to do, 1 failed, 2 usage error, 3 dry run
with work to do, 4 done but some messages were skipped. With --accounts:
the worst over all accounts (1, then 2, 3, 4, 0).`

// repairConfig is one repair: the flags of one account.
type repairConfig struct {
	scan        scanFlags
	stores      []string
	apply       bool
	del         bool
	quarantine  string
	stateDir    string
	serverFlags // --server, --user, --tls, --state, ...: shared with reconcile
	report      reportFlag
	command     string // "repair" or "demo": the JSON "command"
	noPrompt    bool   // never ask for a password on the terminal
	// serialize, when set, makes runs in one process that share a store,
	// a fetch target or a state file take turns (--accounts); the run locks
	// would refuse the second one.
	serialize func(keys []string) (unlock func())
	// afterDedupe is a test hook, called between the local dedupe and the
	// second scan.
	afterDedupe func()
}

// register adds the repair flags: the union of dedupe's and reconcile's,
// with the same names.
func (c *repairConfig) register(fs *flag.FlagSet) {
	c.scan.register(fs)
	c.rec.TLS, c.rec.Match = reconcile.TLSAuto, reconcile.MatchFull
	fs.BoolVar(&c.apply, "apply", false, "carry the plan out: dedupe, fetch, delete, write the state file (default: dry run, change nothing)")
	fs.BoolVar(&c.del, "delete", false, "delete extra local copies for good instead of quarantining them (undo cannot bring them back)")
	fs.StringVar(&c.quarantine, "quarantine", "", "quarantine Maildir for extra copies (default STATE-DIR/quarantine/RUN-ID)")
	fs.StringVar(&c.stateDir, "state-dir", "", "where journals and locks live (default $XDG_STATE_HOME/popdedupe or ~/.local/state/popdedupe)")
	c.serverFlags.register(fs)
	c.report.register(fs)
}

func runRepair(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("repair", "--server HOST[:PORT] --user NAME [flags] STORE...\n       popdedupe repair --accounts FILE [flags]", repairExample, stderr)
	c := &repairConfig{command: "repair"}
	c.register(fs)
	accounts := fs.String("accounts", "", "repair every account of FILE (JSON array or one account a line; see below), concurrently")
	parallel := fs.Int("parallel", 4, "with --accounts: accounts repaired at the same time")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *accounts != "" {
		if c.rec.Server != "" || c.rec.User != "" || fs.NArg() > 0 || c.passwordFile != "" || c.state.t != nil || c.rec.FetchMissing != "" {
			return usageErrorf("--accounts takes the server, user, password file, stores, state and fetch target from the file: leave them off the command line")
		}
		if *parallel < 1 {
			return usageErrorf("--parallel must be at least 1")
		}
		return runAccounts(ctx, c, *accounts, *parallel, stdout, stderr)
	}
	if c.rec.Server == "" || c.rec.User == "" {
		fs.Usage()
		return usageErrorf("--server and --user are required (or --accounts FILE)")
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return usageErrorf("name at least one STORE (a Maildir, a Maildir++ root, an mbox file, or a directory of them)")
	}
	c.stores = fs.Args()
	rep, err := repairAndReport(ctx, c, stderr)
	return printRepair(stdout, rep, c, err)
}

// repairAndReport runs one repair and writes its HTML page when asked.
// rep is nil only when the repair never started (bad options).
func repairAndReport(ctx context.Context, c *repairConfig, stderr io.Writer) (*report.Repair, error) {
	rep, page, err := doRepair(ctx, c, stderr)
	if rep == nil {
		return nil, err
	}
	rep.NextSteps = report.RepairNextSteps(rep)
	if page != nil && c.report.path != "" {
		page.NextSteps = rep.NextSteps
		path, werr := c.report.write(page)
		if werr != nil && err == nil {
			err = werr
		}
		rep.Report = path
	}
	rep.ExitCode = exitCode(err)
	if rep.ExitCode == exitFailed || rep.ExitCode == exitUsage {
		rep.Error = err.Error()
	}
	return rep, err
}

// printRepair prints rep as text or JSON and returns the command's error.
func printRepair(w io.Writer, rep *report.Repair, c *repairConfig, err error) error {
	if rep == nil {
		return err
	}
	if c.scan.json {
		if werr := report.WriteJSON(w, rep); werr != nil && err == nil {
			return werr
		}
		if rep.Error != "" {
			return fmt.Errorf("%w (%w)", err, errJSONWritten)
		}
		return err
	}
	if c.scan.quiet {
		q := *rep
		d := *rep.Dedupe
		d.Scan = nil
		q.Dedupe = &d
		q.WriteText(w, false)
	} else {
		rep.WriteText(w, c.scan.verbose)
	}
	return err
}

// prepare checks the options of one repair and gets its password.
func (c *repairConfig) prepare(stderr io.Writer) error {
	if c.del && c.quarantine != "" {
		return usageErrorf("--delete and --quarantine exclude each other")
	}
	return c.serverFlags.prepare(stderr, c.noPrompt)
}

// fetchPath is the path of a --fetch-missing argument, without its
// "maildir:" or "mbox:" prefix.
func fetchPath(s string) string {
	for _, p := range []string{"maildir:", "mbox:"} {
		if r, ok := strings.CutPrefix(s, p); ok {
			return r
		}
	}
	return s
}

// doRepair runs one repair (see the order above). It returns the report
// whenever the run started, also with an error, and the HTML page.
func doRepair(ctx context.Context, c *repairConfig, stderr io.Writer) (*report.Repair, *report.Page, error) {
	if err := c.prepare(stderr); err != nil {
		return nil, nil, err
	}
	trace, err := c.openTrace()
	if err != nil {
		return nil, nil, err
	}
	defer trace.Close()
	o := c.rec
	o.Apply, o.Workers = c.apply, c.scan.jobs
	stateDir, err := stateDirOr(c.stateDir)
	if err != nil {
		return nil, nil, err
	}
	stores := reconcile.Stores(c.stores, o.FetchMissing)
	runID := journal.NewRunID()
	dopts := dedupe.Options{Delete: c.del, Quarantine: c.quarantine, RunID: runID}
	if !c.del && dopts.Quarantine == "" {
		dopts.Quarantine = filepath.Join(stateDir, "quarantine", runID)
	}
	var notes []string
	if c.apply {
		paths := append([]string{}, stores...)
		if o.FetchMissing != "" {
			paths = append(paths, fetchPath(o.FetchMissing))
		}
		if o.State != nil {
			paths = append(paths, o.State.Path)
		}
		if c.serialize != nil {
			defer c.serialize(paths)()
		}
		locks, err := runlock.AcquireAll(stateDir, paths, "popdedupe "+c.command)
		if err != nil {
			return nil, nil, err
		}
		defer locks.Release()
		notes = locks.Notes()
	}

	res, groups, conflicts, err := scanStores(ctx, &c.scan, stores, stderr)
	if err != nil {
		return nil, nil, err
	}
	plan, err := dedupe.Make(res, groups, conflicts, dopts)
	if errors.Is(err, dedupe.ErrQuarantineInStore) {
		return nil, nil, usageErrorf("%v", err)
	}
	if err != nil {
		return nil, nil, err
	}
	// The report of the plan is made now: reconcile may move unreadable
	// messages of res to Skipped, which renumbers res.Messages.
	rep := &report.Repair{Dedupe: dedupeReport(plan, nil), NextSteps: []string{}}
	rep.Scan.Command = c.command
	rep.Notes = append(append([]string{}, notes...), rep.Notes...)
	page := &report.Page{Title: fmt.Sprintf("Mailbox repair for %s on %s", o.User, o.Server), Generated: time.Now(), Scan: rep.Scan}
	skipped := len(res.Skipped) > 0

	if !c.apply {
		out, runErr := reconcile.Run(ctx, res, o)
		fillServer(rep, page, &o, out, false, runErr)
		switch {
		case runErr != nil:
			return rep, page, sessionError(runErr)
		case plan.Work() || (out != nil && out.Work()):
			return rep, page, errWorkToDo
		}
		return rep, page, resultError(false, skipped)
	}

	j, err := journal.Create(stateDir, runID)
	if err != nil {
		return rep, page, err
	}
	defer j.Close()
	rep.Journal, rep.Undo = j.Path(), "popdedupe undo "+shellQuote(j.Path())
	page.Journal = rep.Journal
	m := store.NewMutator(j, dopts.Quarantine)
	header := "popdedupe " + c.command + " --server " + o.Server + " --user " + o.User + " " + strings.Join(c.stores, " ")
	if plan.Work() {
		out, err := dedupe.Execute(ctx, plan, m, header)
		if out != nil {
			done := dedupeReport(plan, out)
			rep.Applied, rep.Removed, rep.RemovedB, rep.Flagged = true, done.Removed, done.RemovedB, done.Flagged
		}
		page.Actions = rep.Actions
		if err != nil {
			return rep, page, fmt.Errorf("local dedupe: %w (the server was not contacted; undo with: %s)", err, rep.Undo)
		}
	} else {
		if err := m.StartRun(store.Run{RunID: runID, Command: header, Stores: stores}); err != nil {
			return rep, page, err
		}
		if err := dedupe.Recover(res); err != nil {
			return rep, page, err
		}
	}
	rep.Applied = true
	page.Actions = rep.Actions
	if c.afterDedupe != nil {
		c.afterDedupe()
	}

	// The second scan: the server is matched against what is on disk now.
	res2, err := scan.Scan(ctx, stores, scan.Options{Workers: c.scan.jobs, HashAll: c.scan.hashAll})
	if err != nil {
		return rep, page, fmt.Errorf("scan after the dedupe: %w (the server was not contacted)", err)
	}
	o.Journal = j
	out, runErr := reconcile.Run(ctx, res2, o)
	if n := notFetched(out); runErr == nil && o.Apply && n > 0 {
		runErr = fmt.Errorf("reconcile: %d missing messages could not be saved into %s (each one's note says why); they stay on the server: run again once that is fixed", n, out.FetchTo)
	}
	fillServer(rep, page, &o, out, true, runErr)
	if out != nil && out.State != nil && out.State.Written {
		if err := journalState(j, out.State); err != nil && runErr == nil {
			runErr = err
		}
	}
	if runErr != nil {
		return rep, page, sessionError(runErr)
	}
	return rep, page, resultError(false, skipped || len(res2.Skipped) > 0)
}

// sessionError maps reconcile's usage errors to exit 2.
func sessionError(err error) error {
	if errors.Is(err, reconcile.ErrUsage) {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	return err
}

// fillServer puts the session's result into the report and the page.
func fillServer(rep *report.Repair, page *report.Page, o *reconcile.Options, out *reconcile.Result, applied bool, runErr error) {
	if out == nil {
		return
	}
	rep.Reconcile = out
	rep.Server = serverSummary(out, applied)
	if rep.Server.Error == "" && runErr != nil && out.Session.Logins == 0 {
		rep.Server.Error = runErr.Error()
	}
	if rep.Server.Server == "" { // no session: name the server asked for
		rep.Server.Server, rep.Server.User = o.Server, o.User
	}
	page.Server = out.ServerSection()
	page.State = out.StateSection()
	if st := out.State; st != nil {
		rep.State = &report.RepairState{Target: st.Format + ":" + st.Path, Added: len(st.Added), Removed: len(st.Removed),
			Kept: len(st.Kept), Refetch: len(st.Refetch), Written: st.Written, Backup: st.Backup, Error: st.Error}
	}
}

// serverSummary counts what the server holds after the run (after the
// same run with --apply, for a dry run). Saved and Missing are what the
// identification found before any fetch or DELE, so they read the same
// on a dry run and after --apply.
func serverSummary(out *reconcile.Result, applied bool) *report.RepairServer {
	s, c := &out.Session, &out.Counts
	sv := &report.RepairServer{
		Server: s.Server, User: s.User, Logins: s.Logins, QuitCommitted: s.QuitCommitted,
		Messages: c.Messages, Bytes: c.Bytes, Conflicts: c.Conflicts, Unknown: c.Unknown,
		Deleted: c.Deleted, ToFetch: c.ToFetch, ToDelete: c.ToDelete, DeleteSaved: out.DeleteSaved, FetchTo: out.FetchTo,
		NextLogin: s.NextLogin, Error: s.Error,
	}
	for _, m := range out.Messages {
		fetched := m.Verdict == reconcile.Fetched || (m.Verdict == reconcile.Deleted && m.Action == reconcile.FetchDelete)
		switch {
		case fetched:
			sv.Fetched++
			sv.Missing++
		case m.Verdict == reconcile.Missing:
			sv.Missing++
		case m.Verdict == reconcile.Saved || m.Verdict == reconcile.Deleted:
			sv.Saved++
		}
		gone := m.Verdict == reconcile.Deleted
		if !applied {
			gone = m.Action == reconcile.Delete || m.Action == reconcile.FetchDelete
		}
		if !gone {
			sv.Held++
			sv.HeldBytes += m.Size
		}
	}
	return sv
}

// The state file rewrite is journalled after the fact (reconcile writes
// it at the end of its run, keeping the old file as a backup), with the
// checksums undo needs to put the old file back only when nobody changed
// the new one since.
const opStateWrite = "state.write"

type stateWriteData struct {
	Format string `json:"format"`
	// Before is the SHA-256 of the state before the run (the backup);
	// "" when there was no state file.
	Before string `json:"before_sha256,omitempty"`
	After  string `json:"after_sha256"`
}

func journalState(j *journal.Journal, st *reconcile.StateResult) error {
	d := stateWriteData{Format: st.Format}
	var err error
	if d.After, err = fileSHA256(st.Path); err != nil {
		return err
	}
	if st.Backup != "" {
		if d.Before, err = fileSHA256(st.Backup); err != nil {
			return err
		}
	}
	e, err := j.Begin(journal.Entry{Op: opStateWrite, From: st.Backup, To: st.Path}, d)
	if err != nil {
		return err
	}
	return j.Finish(e, nil)
}

// fileSHA256 returns the hex SHA-256 of a file, or "" when it does not exist.
func fileSHA256(path string) (string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// undoStateWrite puts the state file back as it was before the run, but
// only when it is still the file the run wrote: a mail client that ran
// since has recorded downloads there that must not be forgotten.
func undoStateWrite(_ context.Context, s journal.Step) (string, error) {
	var d stateWriteData
	if err := s.Decode(&d); err != nil {
		return "", err
	}
	cur, err := fileSHA256(s.To)
	if err != nil {
		return "", err
	}
	switch {
	case cur == d.Before: // put back already (or never written)
		return "", nil
	case cur != d.After:
		where := "there was none before"
		if s.From != "" {
			where = "the state from before the run is in " + s.From
		}
		return fmt.Sprintf("left the state file %s as it is: it changed after the run (did the mail client run?); %s", s.To, where), nil
	case d.Before == "":
		if err := os.Remove(s.To); err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
		return "removed the state file " + s.To + " that the run created", nil
	}
	old, err := os.ReadFile(s.From)
	if err != nil {
		return "", fmt.Errorf("state backup: %w", err)
	}
	if sum := sha256.Sum256(old); hex.EncodeToString(sum[:]) != d.Before {
		return "", fmt.Errorf("state backup %s changed since the run; put it back by hand if it is right", s.From)
	}
	if err := uidlstate.WriteFile(uidlstate.Target{Format: uidlstate.Format(d.Format), Path: s.To}, old); err != nil {
		return "", err
	}
	return "put back the state file " + s.To + " as it was before the run", nil
}

// undoHandlers is every journal operation undo knows: the stores',
// reconcile's (notes only: server deletions cannot be undone) and the
// state file's.
func undoHandlers() journal.Handlers {
	h := store.UndoHandlers()
	maps.Copy(h, reconcile.UndoHandlers())
	h[opStateWrite] = undoStateWrite
	return h
}

package report

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Repair is the result of `popdedupe repair` (and of `popdedupe demo`):
// the dedupe contract (which is the scan contract plus what became of
// every copy) for the local stores, then the one session with the server
// and the client's state file. On a dry run Applied is false and nothing
// was changed, locally or on the server.
//
// Server and State are the summaries people and most scripts want;
// Reconcile is the full per-message object of `reconcile --json` (its
// header fields left out), for scripts that need every verdict.
type Repair struct {
	*Dedupe
	Server    *RepairServer `json:"server"`
	State     *RepairState  `json:"state,omitempty"`
	Reconcile any           `json:"reconcile"`
	// Report is the HTML page written with --report, if any.
	Report    string   `json:"report,omitempty"`
	NextSteps []string `json:"next_steps"`
	Error     string   `json:"error,omitempty"`
	ExitCode  int      `json:"exit_code"`
}

// RepairServer summarises the one POP3 session of a repair.
type RepairServer struct {
	Server string `json:"server"` // host:port
	User   string `json:"user"`
	Logins int    `json:"logins"`
	// QuitCommitted: QUIT was answered +OK, so the deletions happened.
	QuitCommitted bool  `json:"quit_committed"`
	Messages      int   `json:"messages"` // on the server when the session began
	Bytes         int64 `json:"bytes"`
	// What the identification found, before any fetch or DELE (the same
	// on a dry run and with --apply):
	Saved     int `json:"saved"`     // verified saved locally
	Missing   int `json:"missing"`   // no local copy
	Conflicts int `json:"conflicts"` // a local copy with the same Message-ID and another body
	Unknown   int `json:"unknown"`   // could not be inspected
	// What was done (with --apply), and what --apply does:
	Fetched     int    `json:"fetched"` // saved locally by this run (then maybe deleted)
	Deleted     int    `json:"deleted"` // deleted: DELE acknowledged and QUIT committed
	ToFetch     int    `json:"to_fetch"`
	ToDelete    int    `json:"to_delete"`
	DeleteSaved bool   `json:"delete_saved"`
	FetchTo     string `json:"fetch_to,omitempty"`
	// Held is what the server holds after the run (on a dry run: after
	// the same command with --apply).
	Held      int        `json:"held"`
	HeldBytes int64      `json:"held_bytes"`
	NextLogin *time.Time `json:"next_login,omitempty"` // LOGIN-DELAY: the next login allowed
	Error     string     `json:"error,omitempty"`
}

// RepairState summarises the rebuild of the client's UIDL state file.
type RepairState struct {
	Target  string `json:"target"` // FORMAT:PATH
	Added   int    `json:"added"`
	Removed int    `json:"removed"`
	Kept    int    `json:"kept"`
	Refetch int    `json:"refetch"` // UIDLs the client will download
	Written bool   `json:"written"`
	Backup  string `json:"backup,omitempty"`
	Error   string `json:"error,omitempty"`
}

// RepairNextSteps says what the owner should do after r, in order of
// importance. It reads only r.
func RepairNextSteps(r *Repair) []string {
	var steps []string
	add := func(format string, args ...any) { steps = append(steps, fmt.Sprintf(format, args...)) }
	d, sv, st := r.Dedupe, r.Server, r.State
	if r.Error != "" && d != nil && d.Journal != "" {
		add("The run stopped on an error: fix it and run the same command again (what was done stays done; %s undoes the local part).", d.Undo)
	}
	if sv != nil && sv.Error != "" && !sv.QuitCommitted && d != nil && d.Applied {
		add("Nothing was deleted on the server (the session did not commit): run the same command again once the server answers.")
	}
	if d != nil && !d.Applied && r.Error == "" && (d.Removed > 0 || d.Flagged > 0 || len(d.Mboxes) > 0 ||
		(sv != nil && (sv.ToDelete > 0 || sv.ToFetch > 0)) || (st != nil && (st.Added > 0 || st.Removed > 0))) {
		add("Nothing was changed (dry run): run the same command with --apply to do it.")
	}
	if d != nil && d.Scan != nil && len(d.Conflicts) > 0 {
		add("%s the same Message-ID with different bodies: look at them by hand (every version is kept).", count(len(d.Conflicts), "message has", "messages have"))
	}
	if d != nil && d.Scan != nil && len(d.Skipped) > 0 {
		add("%s could not be read and %s left alone: check them (they are listed in the report).", count(len(d.Skipped), "local message", "local messages"), isAre(len(d.Skipped)))
	}
	if sv != nil {
		if sv.Missing > 0 && sv.FetchTo == "" {
			add("%s no local copy: run again with --fetch-missing DIR to save %s, or let the mail client download %s.", count(sv.Missing, "server message has", "server messages have"), itThem(sv.Missing), itThem(sv.Missing))
		}
		if sv.Saved > 0 && !sv.DeleteSaved {
			add("%s saved locally but still on the server: --delete-saved removes %s there.", count(sv.Saved, "server message is", "server messages are"), itThem(sv.Saved))
		}
		if sv.NextLogin != nil && d != nil {
			at := sv.NextLogin.UTC().Format("2006-01-02 15:04 UTC")
			if d.Applied {
				add("The server allows the next login at %s (LOGIN-DELAY): start the mail client after that.", at)
			} else {
				add("The server allows the next login at %s (LOGIN-DELAY): run with --apply after that, or its session is refused.", at)
			}
		}
	}
	if st != nil {
		switch {
		case st.Error != "":
			add("The client's state file was not rebuilt (%s): keep the mail client stopped until it is, or it downloads everything again.", st.Error)
		case st.Written && st.Refetch == 0:
			add("Start the mail client again: its rebuilt state (%s) makes it download new mail only.", st.Target)
		case st.Written:
			add("Start the mail client again: its rebuilt state (%s) makes it download only new mail and the %s not saved locally.", st.Target, count(st.Refetch, "message", "messages"))
		}
	} else if sv != nil && d != nil && d.Applied && sv.Held > 0 {
		add("Rebuild the mail client's state (--state FORMAT:PATH) before it runs again, or it downloads the %s left on the server again.", count(sv.Held, "message", "messages"))
	}
	if d != nil && d.Applied && d.Removed > 0 && !d.Delete {
		add("Read your mail; when all is well, delete the quarantine %s (until then `%s` puts every copy back).", d.Quarantine, d.Undo)
	}
	if len(steps) == 0 {
		add("Nothing more to do.")
	}
	return steps
}

// count says "1 message" or "3 messages" (one form each, as given).
func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return num(n) + " " + many
}

func isAre(n int) string {
	if n == 1 {
		return "was"
	}
	return "were"
}

func itThem(n int) string {
	if n == 1 {
		return "it"
	}
	return "them"
}

// WriteText writes the terse human summary of a repair: the local
// scan (as scan prints it), what was (or would be) done locally, on
// the server and to the state file, where the journal and the report
// are, and the next steps.
func (r *Repair) WriteText(w io.Writer, verbose bool) {
	d := r.Dedupe
	applied := d != nil && d.Applied
	if d != nil && d.Scan != nil {
		d.Scan.WriteText(w, verbose)
	}
	if d != nil {
		for _, n := range d.Notes {
			fmt.Fprintf(w, "Note: %s\n", n)
		}
		fmt.Fprintf(w, "Local:   %s\n", localLine(d))
	}
	if sv := r.Server; sv != nil && sv.Logins == 0 {
		fmt.Fprintf(w, "Server:  %s@%s: no session (%s); the server is as it was.\n", sv.User, sv.Server, sv.Error)
	} else if sv != nil {
		fmt.Fprintf(w, "Server:  %s\n", serverLine(sv, applied))
		held := "The server still holds"
		if !applied {
			held = "With --apply the server would hold"
		}
		fmt.Fprintf(w, "         %s %s (%s).\n", held, count(sv.Held, "message", "messages"), Bytes(sv.HeldBytes))
		if sv.Error != "" {
			fmt.Fprintf(w, "         Session error: %s\n", sv.Error)
		}
	}
	if st := r.State; st != nil {
		fmt.Fprintf(w, "State:   %s\n", stateLine(st, applied))
	}
	if d != nil && d.Journal != "" {
		fmt.Fprintf(w, "Journal: %s\nUndo (local part): %s\n", d.Journal, d.Undo)
	}
	if r.Report != "" {
		fmt.Fprintf(w, "Report:  %s\n", r.Report)
	}
	if r.Error != "" {
		fmt.Fprintf(w, "Error:   %s\n", r.Error)
	}
	if len(r.NextSteps) > 0 {
		fmt.Fprintln(w, "Next steps:")
		for _, s := range r.NextSteps {
			fmt.Fprintf(w, "  - %s\n", s)
		}
	}
}

func localLine(d *Dedupe) string {
	verb := func(dry, done string) string {
		if d.Applied {
			return done
		}
		return dry
	}
	var parts []string
	if d.Removed > 0 {
		where := "to the quarantine " + d.Quarantine
		v := verb("move", "moved")
		if d.Delete {
			where, v = "for good", verb("delete", "deleted")
		}
		parts = append(parts, fmt.Sprintf("%s %s (%s) %s", v, count(d.Removed, "extra copy", "extra copies"), Bytes(d.RemovedB), where))
	}
	if d.Flagged > 0 {
		parts = append(parts, fmt.Sprintf("%s %s the flags of the copies removed", verb("give", "gave"), count(d.Flagged, "kept copy", "kept copies")))
	}
	if len(d.Mboxes) > 0 {
		parts = append(parts, fmt.Sprintf("%s %s", verb("rewrite", "rewrote"), count(len(d.Mboxes), "mbox file", "mbox files")))
	}
	if len(parts) == 0 {
		return "nothing to do."
	}
	s := strings.Join(parts, "; ") + "."
	if !d.Applied {
		s = "would " + s
	}
	return s
}

func serverLine(sv *RepairServer, applied bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s@%s, %s: %s (%s)", sv.User, sv.Server, count(sv.Logins, "login", "logins"), count(sv.Messages, "message", "messages"), Bytes(sv.Bytes))
	var v []string
	for _, c := range []struct {
		n    int
		word string
	}{{sv.Saved, "saved locally"}, {sv.Missing, "missing locally"}, {sv.Conflicts, "in conflict"}, {sv.Unknown, "not inspected"}} {
		if c.n > 0 {
			v = append(v, fmt.Sprintf("%d %s", c.n, c.word))
		}
	}
	if len(v) > 0 {
		b.WriteString(": " + strings.Join(v, ", "))
	}
	var a []string
	if applied {
		if sv.Fetched > 0 {
			a = append(a, fmt.Sprintf("fetched %d into %s", sv.Fetched, sv.FetchTo))
		}
		if sv.Deleted > 0 {
			a = append(a, fmt.Sprintf("deleted %d", sv.Deleted))
		}
		if sv.QuitCommitted {
			a = append(a, "QUIT committed")
		} else if sv.Logins > 0 {
			a = append(a, "QUIT did not commit: nothing deleted")
		}
	} else {
		if sv.ToFetch > 0 {
			a = append(a, fmt.Sprintf("would fetch %d into %s", sv.ToFetch, sv.FetchTo))
		}
		if sv.ToDelete > 0 {
			a = append(a, fmt.Sprintf("would delete %d", sv.ToDelete))
		}
	}
	if len(a) > 0 {
		b.WriteString("; " + strings.Join(a, ", "))
	}
	b.WriteString(".")
	return b.String()
}

func stateLine(st *RepairState, applied bool) string {
	change := fmt.Sprintf("%d UIDLs added, %d removed, %d kept", st.Added, st.Removed, st.Kept)
	switch {
	case st.Error != "":
		return fmt.Sprintf("%s not written: %s", st.Target, st.Error)
	case st.Written && st.Backup != "":
		return fmt.Sprintf("%s rewritten: %s (the old file is %s).", st.Target, change, st.Backup)
	case st.Written:
		return fmt.Sprintf("%s written: %s.", st.Target, change)
	case applied:
		return fmt.Sprintf("%s unchanged.", st.Target)
	}
	return fmt.Sprintf("%s would change: %s.", st.Target, change)
}

package reconcile

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/popdedupe/popdedupe/report"
)

// Verdict is what became of one server message.
type Verdict string

const (
	Saved    Verdict = "saved"    // verified saved locally; still on the server
	Missing  Verdict = "missing"  // no local copy
	Conflict Verdict = "conflict" // same Message-ID locally, different body: never deleted
	Fetched  Verdict = "fetched"  // saved locally by this run; still on the server
	Deleted  Verdict = "deleted"  // DELE acknowledged and QUIT committed
	Unknown  Verdict = "unknown"  // could not be inspected
)

// Action is what the plan does with a message when applied.
type Action string

const (
	Keep        Action = "keep"
	Delete      Action = "delete"
	Fetch       Action = "fetch"
	FetchDelete Action = "fetch+delete"
)

// Dele is the fate of a DELE for one message.
type Dele string

const (
	DeleNone      Dele = ""          // no DELE sent
	DeleMarked    Dele = "marked"    // +OK to DELE, but QUIT did not commit: not deleted
	DeleRefused   Dele = "refused"   // -ERR to DELE
	DeleCommitted Dele = "committed" // +OK to DELE and +OK to QUIT
	DeleUncertain Dele = "uncertain" // QUIT sent, its answer lost or -ERR: check with a later run
)

// Evidence says why a message is considered saved, or why not.
type Evidence struct {
	// Match is how the server copy was compared: "message-id+body",
	// "headers+body" (no Message-ID: From, Date, Subject, To and body) or
	// "message-id+headers+size" (MatchMessageID: weaker, body not
	// compared).
	Match string `json:"match"`
	// BodyHash is the server copy's normalised body hash (16 hex digits)
	// when it was retrieved in full.
	BodyHash string `json:"body_hash,omitempty"`
	// XUIDL is set when a local copy carries an X-UIDL header naming this
	// UIDL and matches it (extra evidence, never the only one).
	XUIDL bool `json:"x_uidl,omitempty"`
}

// Message is one server message and its verdict.
type Message struct {
	Num       int     `json:"num"` // message number in this session
	UIDL      string  `json:"uidl"`
	Size      int64   `json:"size"` // LIST size, octets
	MessageID string  `json:"message_id"`
	Verdict   Verdict `json:"verdict"`
	// Action is what --apply does (or did) with the message.
	Action Action `json:"action"`
	// Note explains the verdict in words when it needs explaining.
	Note     string    `json:"note,omitempty"`
	Evidence *Evidence `json:"evidence,omitempty"`
	// Local is the local copy that matched (for fetched messages, the
	// copy saved by this run); LocalCopies counts all matching copies.
	Local       *report.Ref `json:"local,omitempty"`
	LocalCopies int         `json:"local_copies"`
	// ServerDuplicateOf is the UIDL of an earlier server message with the
	// same identity (the same message delivered twice).
	ServerDuplicateOf string `json:"server_duplicate_of,omitempty"`
	// DuplicateUIDL is set when the server listed this UIDL twice: such a
	// message is never deleted and blocks writing a state file.
	DuplicateUIDL bool `json:"duplicate_uidl,omitempty"`
	Dele          Dele `json:"dele,omitempty"`
	// Arrival is the local copy's arrival time (Unix seconds), used for
	// state file entries.
	Arrival int64 `json:"arrival,omitempty"`
}

// Session records the facts of the one POP3 session.
type Session struct {
	Server string `json:"server"` // host:port
	User   string `json:"user"`
	TLS    string `json:"tls"` // "implicit", "starttls" or "none"
	// Logins counts successful logins: 1, or 0 when the login failed.
	Logins int `json:"logins"`
	// Commands counts the command lines sent.
	Commands int `json:"commands"`
	// Pipelining and Expire are from the server's CAPA after login.
	Pipelining bool   `json:"pipelining"`
	Expire     string `json:"expire,omitempty"`
	// LoginDelay is the advertised LOGIN-DELAY in seconds (0: none);
	// NextLogin when the next login will be allowed.
	LoginDelay int        `json:"login_delay,omitempty"`
	NextLogin  *time.Time `json:"next_login,omitempty"`
	// Counts of what was sent.
	Top       int   `json:"top"`
	Retr      int   `json:"retr"`
	Bytes     int64 `json:"bytes"` // message data received (TOP and RETR)
	DeleSent  int   `json:"dele_sent"`
	DeleAcked int   `json:"dele_acked"`
	// QuitSent says QUIT was sent; QuitCommitted that it was answered
	// +OK, the only way deletions happen.
	QuitSent      bool `json:"quit_sent"`
	QuitCommitted bool `json:"quit_committed"`
	// Error is what ended the session early or made it fail, if anything.
	Error   string    `json:"error,omitempty"`
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended"`
}

// Counts summarise the verdicts and the plan.
type Counts struct {
	Messages  int   `json:"messages"`
	Bytes     int64 `json:"bytes"`
	Saved     int   `json:"saved"`
	Missing   int   `json:"missing"`
	Conflicts int   `json:"conflicts"`
	Fetched   int   `json:"fetched"`
	Deleted   int   `json:"deleted"`
	Unknown   int   `json:"unknown"`
	// ServerDuplicates counts messages that are copies of an earlier
	// server message.
	ServerDuplicates int `json:"server_duplicates"`
	// ToDelete and ToFetch are what the plan does when applied.
	ToDelete int `json:"to_delete"`
	ToFetch  int `json:"to_fetch"`
}

// StateResult says what was done with the client state file.
type StateResult struct {
	Format  string   `json:"format"`
	Path    string   `json:"path"`
	Account string   `json:"account"`
	Added   []string `json:"added"`
	Kept    []string `json:"kept"`
	Removed []string `json:"removed"`
	// Refetch are the UIDLs the client will download.
	Refetch []string `json:"refetch"`
	Written bool     `json:"written"`
	Backup  string   `json:"backup,omitempty"`
	// Error says why the state was not written.
	Error string `json:"error,omitempty"`
}

// Result is the outcome of Run. It is returned even when Run fails, with
// what is known.
type Result struct {
	Apply       bool      `json:"apply"`
	DeleteSaved bool      `json:"delete_saved"`
	FetchTo     string    `json:"fetch_to,omitempty"`
	Match       MatchMode `json:"match"`
	Session     Session   `json:"session"`
	Counts      Counts    `json:"counts"`
	Messages    []Message `json:"messages"`
	// State is what became of the client state file (nil without one).
	State *StateResult `json:"state,omitempty"`
	// Complete is set when every server message was identified.
	Complete bool `json:"complete"`
}

// Work reports whether applying the plan would change something: a
// deletion, a fetch or a state file change.
func (r *Result) Work() bool {
	if r.Counts.ToDelete > 0 || r.Counts.ToFetch > 0 {
		return true
	}
	if s := r.State; s != nil && s.Error == "" && (len(s.Added) > 0 || len(s.Removed) > 0) {
		return true
	}
	return false
}

func (r *Result) count() {
	c := Counts{Messages: len(r.Messages)}
	for _, m := range r.Messages {
		c.Bytes += m.Size
		switch m.Verdict {
		case Saved:
			c.Saved++
		case Missing:
			c.Missing++
		case Conflict:
			c.Conflicts++
		case Fetched:
			c.Fetched++
		case Deleted:
			c.Deleted++
		default:
			c.Unknown++
		}
		if m.ServerDuplicateOf != "" {
			c.ServerDuplicates++
		}
		switch m.Action {
		case Delete:
			c.ToDelete++
		case Fetch:
			c.ToFetch++
		case FetchDelete:
			c.ToFetch++
			c.ToDelete++
		}
	}
	r.Counts = c
}

// WriteText writes the human summary. verbose lists every message.
func (r *Result) WriteText(w io.Writer, verbose bool) {
	s := &r.Session
	c := &r.Counts
	mode := "dry run (nothing changed; add --apply to act)"
	if r.Apply {
		mode = "applied"
	}
	fmt.Fprintf(w, "Reconcile with %s as %s, %s: %s.\n", s.Server, s.User, tlsWords(s.TLS), mode)
	fmt.Fprintf(w, "Server: %d messages (%s): %d saved locally, %d missing, %d %s",
		c.Messages, report.Bytes(c.Bytes), c.Saved+c.Deleted+c.Fetched, c.Missing, c.Conflicts, plural(c.Conflicts, "conflict", "conflicts"))
	if c.Unknown > 0 {
		fmt.Fprintf(w, ", %d not identified", c.Unknown)
	}
	fmt.Fprintln(w, ".")
	if c.ServerDuplicates > 0 {
		fmt.Fprintf(w, "  %d server messages are extra copies of another server message.\n", c.ServerDuplicates)
	}
	if r.Apply {
		if c.Fetched > 0 || c.ToFetch > 0 {
			fmt.Fprintf(w, "Fetched %d of %d missing messages into %s.\n", r.fetchedCount(), c.ToFetch, r.FetchTo)
		}
		if c.ToDelete > 0 || c.Deleted > 0 {
			fmt.Fprintf(w, "Deleted %d of %d messages on the server.\n", c.Deleted, c.ToDelete)
		}
	} else {
		if c.ToFetch > 0 {
			fmt.Fprintf(w, "Would fetch %d missing messages into %s.\n", c.ToFetch, r.FetchTo)
		}
		if c.ToDelete > 0 {
			fmt.Fprintf(w, "Would delete %d messages verified saved locally.\n", c.ToDelete)
		} else if !r.DeleteSaved && c.Saved > 0 {
			fmt.Fprintf(w, "%d messages could be deleted with --delete-saved.\n", c.Saved)
		}
	}
	if r.Match == MatchMessageID {
		fmt.Fprintln(w, "Match mode message-id: bodies were not compared (weaker evidence).")
	}
	fmt.Fprintf(w, "Session: %d %s, %d commands, QUIT %s.\n", s.Logins, plural(s.Logins, "login", "logins"), s.Commands, quitWords(s))
	if s.Error != "" {
		fmt.Fprintf(w, "Session error: %s\n", s.Error)
	}
	if s.NextLogin != nil {
		fmt.Fprintf(w, "The server allows the next login at %s (LOGIN-DELAY %d s).\n", s.NextLogin.Format(time.RFC3339), s.LoginDelay)
	}
	if st := r.State; st != nil {
		fmt.Fprintf(w, "State %s:%s (%s): ", st.Format, st.Path, st.Account)
		switch {
		case st.Error != "":
			fmt.Fprintf(w, "not written: %s\n", st.Error)
		default:
			verb := "would write"
			if st.Written {
				verb = "written"
			}
			fmt.Fprintf(w, "%s; %d kept, %d added, %d removed; the client will download %d.\n",
				verb, len(st.Kept), len(st.Added), len(st.Removed), len(st.Refetch))
			if !st.Written {
				list(w, "added", st.Added)
				list(w, "removed", st.Removed)
			}
		}
	}
	limit := 10
	if verbose {
		limit = len(r.Messages)
	}
	n := 0
	for _, m := range r.Messages {
		if !verbose && (m.Verdict == Saved || m.Verdict == Deleted || m.Verdict == Missing || m.Verdict == Fetched) && m.Note == "" {
			continue
		}
		if n == limit {
			fmt.Fprintln(w, "  ... (--verbose or --json lists all)")
			break
		}
		n++
		fmt.Fprintf(w, "  %-9s %s <%s> %s", m.Verdict, m.UIDL, m.MessageID, report.Bytes(m.Size))
		if m.Local != nil {
			fmt.Fprintf(w, " = %s", m.Local)
		}
		if m.Note != "" {
			fmt.Fprintf(w, " (%s)", m.Note)
		}
		fmt.Fprintln(w)
	}
}

func list(w io.Writer, name string, uids []string) {
	if len(uids) == 0 {
		return
	}
	shown := uids[:min(10, len(uids))]
	fmt.Fprintf(w, "  %s: %s", name, strings.Join(shown, " "))
	if len(uids) > len(shown) {
		fmt.Fprintf(w, " ... (%d more)", len(uids)-len(shown))
	}
	fmt.Fprintln(w)
}

func (r *Result) fetchedCount() int {
	n := 0
	for _, m := range r.Messages {
		if m.Verdict == Fetched || (m.Verdict == Deleted && (m.Action == FetchDelete)) {
			n++
		}
	}
	return n
}

func tlsWords(t string) string {
	switch t {
	case "implicit":
		return "TLS"
	case "starttls":
		return "STLS"
	case "none":
		return "no TLS"
	}
	return "not connected"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func quitWords(s *Session) string {
	switch {
	case s.QuitCommitted && s.DeleAcked == 0:
		return "+OK (no DELE: nothing changed on the server)"
	case s.QuitCommitted:
		return "committed (+OK)"
	case s.QuitSent:
		return "sent but not committed"
	}
	return "not sent (the server rolled back every DELE)"
}

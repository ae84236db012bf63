package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/popdedupe/popdedupe/internal/corpusgen"
	"github.com/popdedupe/popdedupe/pop3"
	"github.com/popdedupe/popdedupe/pop3/pop3test"
	"github.com/popdedupe/popdedupe/reconcile"
	"github.com/popdedupe/popdedupe/report"
	"github.com/popdedupe/popdedupe/scan"
	"github.com/popdedupe/popdedupe/store"
	"github.com/popdedupe/popdedupe/uidlstate"
)

func init() {
	register(&command{name: "demo", summary: "repair a sample incident in a temp dir with a built-in POP3 server (no network, no flags needed)", run: runDemo})
}

const demoExample = `popdedupe demo              # builds the incident, repairs it, prints the report, cleans up
popdedupe demo --keep       # keeps the directory: open its report.html in a browser
popdedupe demo --json       # the repair's JSON object, plus a "demo" part

The incident: a POP3 account whose client lost its UIDL list and downloaded
the mailbox again, twice, into a Maildir++ (INBOX and folders) and an mbox
archive; 2 or 3 copies of many messages, some never downloaded. A built-in
POP3 server on 127.0.0.1 holds the server's view and enforces a LOGIN-DELAY
of 5 minutes, so the repair must do everything in one session: the demo
tries a second login afterwards to show it is refused.

Exit codes: 0 the demo ran, 1 it failed.`

// demoLoginDelay is the built-in server's LOGIN-DELAY.
const demoLoginDelay = 300 * time.Second

// demoInfo is the "demo" part of `demo --json`.
type demoInfo struct {
	Dir            string   `json:"dir"`
	Kept           bool     `json:"kept"`
	Stores         []string `json:"stores"`
	ServerMessages int      `json:"server_messages"` // before the repair
	ServerLeft     int      `json:"server_left"`     // after it
	LocalCopies    int      `json:"local_copies"`    // before the repair
	LoginDelay     int      `json:"login_delay"`     // seconds
	// SecondLogin is the server's answer to a login right after the
	// repair: refused, since the repair used the one login allowed.
	SecondLogin        string `json:"second_login"`
	SecondLoginRefused bool   `json:"second_login_refused"`
	Logins             int    `json:"logins"` // successful logins the server saw
}

type demoJSON struct {
	*report.Repair
	Demo demoInfo `json:"demo"`
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo", "[--keep] [--json] [--messages N]", demoExample, stderr)
	keep := fs.Bool("keep", false, "keep the demo directory (stores, journal, state file, report.html) and print where it is")
	jsonOut := fs.Bool("json", false, "print the repair's JSON object with a \"demo\" part instead of text")
	verbose := fs.Bool("verbose", false, "list every duplicate group")
	n := fs.Int("messages", 400, "messages on the server (the local copies are about 1.5 times as many)")
	seed := fs.Int64("seed", 7, "seed of the generated incident (the same seed gives the same mail)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return usageErrorf("demo takes no arguments")
	}
	if *n < 10 || *n > 20000 {
		return usageErrorf("--messages must be between 10 and 20000")
	}
	dir, err := os.MkdirTemp("", "popdedupe-demo-")
	if err != nil {
		return err
	}
	if !*keep {
		defer os.RemoveAll(dir)
	}
	out := stdout
	if *jsonOut {
		out = io.Discard
	}

	// The incident.
	inc, err := buildDemoIncident(dir, *seed, *n)
	if err != nil {
		return fmt.Errorf("demo: building the incident: %w", err)
	}
	srv := pop3test.NewServer(nil, pop3test.Config{LoginDelay: demoLoginDelay})
	defer srv.Close()
	pass := randomPassword()
	srv.AddUser(inc.user, pass)
	for _, m := range inc.server {
		srv.AddMessage(inc.user, m.UID, m.Body)
	}
	fmt.Fprintf(out, "popdedupe demo: a POP3 duplicate-download incident in %s\n", dir)
	fmt.Fprintf(out, "  server: %d messages for %s on a built-in POP3 server at %s (LOGIN-DELAY %d s)\n", len(inc.server), inc.user, srv.Addr(), int(demoLoginDelay/time.Second))
	fmt.Fprintf(out, "  local:  %d copies in a Maildir++ (INBOX and %d folders) and an mbox archive; %d messages were never downloaded\n\n",
		inc.copies, inc.folders, inc.unsaved)

	c := &repairConfig{command: "demo", stores: inc.stores, apply: true, stateDir: filepath.Join(dir, "state"), noPrompt: true}
	c.scan = scanFlags{json: *jsonOut, verbose: *verbose, progress: "never", jobs: 8, keep: scan.KeepOldest}
	c.rec = reconcile.Options{Server: srv.Addr(), User: inc.user, Password: pass, TLS: reconcile.TLSAuto, Match: reconcile.MatchFull,
		DeleteSaved: true, FetchMissing: filepath.Join(inc.stores[0], ".Recovered"), CommandTimeout: 30 * time.Second}
	c.state = stateFlag{t: &uidlstate.Target{Format: uidlstate.Fetchmail, Path: filepath.Join(dir, "fetchids")}}
	c.report = reportFlag{path: filepath.Join(dir, "report.html")}
	fmt.Fprintf(out, "$ popdedupe repair --server %s --user %s --fetch-missing %s --delete-saved \\\n    --state %s --report %s --state-dir %s --apply %s\n\n",
		c.rec.Server, c.rec.User, c.rec.FetchMissing, c.state.t, c.report.path, c.stateDir, strings.Join(c.stores, " "))

	rep, rerr := repairAndReport(ctx, c, stderr)
	if rep == nil {
		return fmt.Errorf("demo: %w", rerr)
	}
	info := demoInfo{Dir: dir, Kept: *keep, Stores: inc.stores, ServerMessages: len(inc.server), ServerLeft: len(srv.Messages(inc.user)),
		LocalCopies: inc.copies, LoginDelay: int(demoLoginDelay / time.Second)}
	if !*jsonOut {
		rep.WriteText(out, *verbose)
	}

	// A second login, as the mail client would try right away: refused.
	info.SecondLogin, info.SecondLoginRefused = secondLogin(ctx, srv.Addr(), inc.user, pass)
	info.Logins = srv.Stats().LoginsSucceeded[inc.user]
	fmt.Fprintf(out, "\nA second login right after the repair: %s\n", info.SecondLogin)
	if info.SecondLoginRefused {
		fmt.Fprintf(out, "  so the repair had to do everything in its one session (the server saw %d successful login).\n", info.Logins)
	}
	var demoErr error
	if !info.SecondLoginRefused || info.Logins != 1 {
		demoErr = fmt.Errorf("demo: the server saw %d logins and let a second one in: the one-session proof failed", info.Logins)
	}
	if *keep {
		fmt.Fprintf(out, "\nKept %s: open %s in a browser; undo with: %s\n", dir, c.report.path, rep.Undo)
	} else {
		fmt.Fprintf(out, "\nRemoved %s (with its HTML report); run 'popdedupe demo --keep' to keep it and open the report.\n", dir)
	}
	if *jsonOut {
		if err := report.WriteJSON(stdout, demoJSON{Repair: rep, Demo: info}); err != nil {
			return err
		}
		if rerr != nil && rep.Error != "" {
			return fmt.Errorf("%w (%w)", rerr, errJSONWritten)
		}
	}
	if rerr != nil && !errors.Is(rerr, errSkipped) {
		return rerr
	}
	if demoErr != nil {
		return demoErr
	}
	return rerr
}

// secondLogin tries to log in again and returns the server's answer and
// whether it was a LOGIN-DELAY refusal.
func secondLogin(ctx context.Context, addr, user, pass string) (string, bool) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cl, err := pop3.Dial(ctx, addr, &pop3.Options{AllowPlaintextAuth: true})
	if err != nil {
		return "could not connect: " + err.Error(), false
	}
	defer cl.Close()
	err = cl.Login(ctx, user, pass, pop3.AuthAuto)
	if err == nil {
		cl.Quit(ctx)
		return "accepted", false
	}
	return "refused: " + err.Error(), errors.Is(err, pop3.ErrLoginDelay)
}

func randomPassword() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

type demoIncident struct {
	user    string
	server  []corpusgen.ServerMessage
	stores  []string // the Maildir++ root, the mbox
	copies  int
	folders int
	unsaved int
}

// demoOptions describes the demo's incident: 2 or 3 copies of 60% of
// the saved messages, 8% never downloaded, small messages so that the
// demo takes a second or two.
func demoOptions(seed int64, n int, now time.Time) corpusgen.Options {
	opts := corpusgen.DefaultOptions(seed, n)
	opts.MaxCopies = 3
	opts.DupShare = 0.6
	opts.UnsavedShare = 0.08
	opts.MeanSize, opts.MaxSize = 8<<10, 96<<10
	opts.Folders = []string{"Archive", "Lists.go-nuts", "Receipts"}
	// A recent incident, so the timeline reads naturally.
	opts.Start = now.UTC().Add(-26 * time.Hour).Truncate(time.Hour)
	return opts
}

// buildDemoIncident writes the local stores of a generated incident into
// dir: a Maildir++ tree, whose Archive folder then becomes an mbox file (a
// user who keeps the old archive in mutt's format), so copies of one
// message are spread over Maildir folders and the mbox.
func buildDemoIncident(dir string, seed int64, n int) (*demoIncident, error) {
	opts := demoOptions(seed, n, time.Now())
	root := filepath.Join(dir, "Maildir")
	truth, err := corpusgen.WriteMaildirPP(root, opts)
	if err != nil {
		return nil, err
	}
	server, err := corpusgen.ServerMessages(opts)
	if err != nil {
		return nil, err
	}
	mbox := filepath.Join(dir, "mail", "archive.mbox")
	if err := maildirToMbox(filepath.Join(root, ".Archive"), mbox); err != nil {
		return nil, err
	}
	return &demoIncident{user: "alice", server: server, stores: []string{root, mbox}, copies: truth.Copies,
		folders: len(opts.Folders) - 1, unsaved: len(truth.UnsavedUIDs)}, nil
}

// maildirToMbox moves the messages of a Maildir folder into a new mbox
// file in delivery order (the From_ date is the delivery time), then
// removes the folder.
func maildirToMbox(folder, mbox string) error {
	type msg struct {
		path string
		t    time.Time
	}
	var msgs []msg
	for _, sub := range []string{"cur", "new"} {
		ents, err := os.ReadDir(filepath.Join(folder, sub))
		if err != nil {
			return err
		}
		for _, e := range ents {
			fi, err := e.Info()
			if err != nil {
				return err
			}
			msgs = append(msgs, msg{filepath.Join(folder, sub, e.Name()), fi.ModTime()})
		}
	}
	sort.Slice(msgs, func(i, j int) bool {
		if !msgs[i].t.Equal(msgs[j].t) {
			return msgs[i].t.Before(msgs[j].t)
		}
		return msgs[i].path < msgs[j].path
	})
	if err := os.MkdirAll(filepath.Dir(mbox), 0o700); err != nil {
		return err
	}
	var b bytes.Buffer
	for _, m := range msgs {
		data, err := os.ReadFile(m.path)
		if err != nil {
			return err
		}
		writeMboxEntry(&b, data, m.t)
	}
	if err := os.WriteFile(mbox, b.Bytes(), 0o600); err != nil {
		return err
	}
	return os.RemoveAll(folder)
}

// writeMboxEntry appends one message as mboxrd writes it (RFC 4155): a
// From_ line with the envelope sender and date, every line matching
// ^>*From  quoted with one more '>', a final line end, an empty line.
func writeMboxEntry(b *bytes.Buffer, data []byte, t time.Time) {
	sender := "MAILER-DAEMON"
	if m, err := mail.ReadMessage(bytes.NewReader(data)); err == nil {
		if a, err := mail.ParseAddress(m.Header.Get("From")); err == nil && a.Address != "" && !strings.ContainsAny(a.Address, " \t") {
			sender = a.Address
		}
	}
	b.WriteString(store.MboxFromLine(sender, t.UTC()) + "\n")
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		line := data
		if i >= 0 {
			line, data = data[:i+1], data[i+1:]
		} else {
			data = nil
		}
		if bytes.HasPrefix(bytes.TrimLeft(line, ">"), []byte("From ")) {
			b.WriteByte('>')
		}
		b.Write(line)
	}
	if b.Len() > 0 && b.Bytes()[b.Len()-1] != '\n' {
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
}

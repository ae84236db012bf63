package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/popdedupe/popdedupe/report"
	"github.com/popdedupe/popdedupe/uidlstate"
)

func init() {
	register(&command{name: "state", summary: "show a POP3 client's UIDL state file (state show FILE)", run: runState})
}

// stateShowJSON is the --json object of `state show`.
type stateShowJSON struct {
	Version  int                `json:"version"`
	Command  string             `json:"command"`
	Format   string             `json:"format"`
	Path     string             `json:"path"`
	Accounts []stateAccountJSON `json:"accounts"`
}

type stateAccountJSON struct {
	Host     string           `json:"host,omitempty"`
	Port     int              `json:"port,omitempty"`
	User     string           `json:"user,omitempty"`
	PollName string           `json:"pollname,omitempty"`
	Entries  []stateEntryJSON `json:"entries"`
}

type stateEntryJSON struct {
	UID     string     `json:"uid"`
	Seen    *time.Time `json:"seen,omitempty"`
	Flag    string     `json:"flag,omitempty"`
	Partial bool       `json:"partial,omitempty"`
}

func runState(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "show" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			return runState(ctx, []string{"show", "--help"}, stdout, stderr) // the one subcommand's full help
		}
		return usageErrorf("usage: popdedupe state show [--format FORMAT] [--json] FILE")
	}
	fs := newFlagSet("state show", "[--format FORMAT] [--json] FILE",
		"popdedupe state show ~/.fetchids\npopdedupe state show --format getmail --json ~/.getmail/oldmail-pop.example.net-110-alice", stderr)
	var (
		format  uidlstate.Format
		jsonOut bool
		limit   int
	)
	fs.Var(&format, "format", "the file's format (fetchmail, getmail, mpop, thunderbird, claws, json); default: detected")
	fs.BoolVar(&jsonOut, "json", false, "print one JSON object")
	fs.IntVar(&limit, "limit", 20, "entries listed per account in the text output (0: all)")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return usageErrorf("name exactly one state FILE")
	}
	path, err := uidlstate.ExpandHome(fs.Arg(0))
	if err != nil {
		return usageErrorf("%v", err)
	}
	if format == "" {
		if format, err = uidlstate.Detect(path); err != nil {
			return fmt.Errorf("%w (name the format with --format)", err)
		}
	}
	f, err := uidlstate.ReadFile(uidlstate.Target{Format: format, Path: path})
	if err != nil {
		return err
	}
	out := stateShowJSON{Version: report.Version, Command: "state show", Format: string(format), Path: path, Accounts: []stateAccountJSON{}}
	accts := f.Accounts()
	if accts == nil { // getmail, claws: the file is the account
		accts = []uidlstate.Account{{}}
	}
	for _, a := range accts {
		ja := stateAccountJSON{Host: a.Host, Port: a.Port, User: a.User, PollName: a.PollName, Entries: []stateEntryJSON{}}
		for _, e := range f.Entries(a) {
			je := stateEntryJSON{UID: e.UID, Partial: e.Partial}
			if !e.Seen.IsZero() {
				t := e.Seen.UTC()
				je.Seen = &t
			}
			if e.Flag != 0 {
				je.Flag = string(e.Flag)
			}
			ja.Entries = append(ja.Entries, je)
		}
		out.Accounts = append(out.Accounts, ja)
	}
	if jsonOut {
		return report.WriteJSON(stdout, out)
	}
	fmt.Fprintf(stdout, "%s (%s): %d account(s)\n", path, format, len(out.Accounts))
	for i, a := range out.Accounts {
		name := "(this file's account)"
		if accts[i] != (uidlstate.Account{}) {
			name = accts[i].String()
		}
		fmt.Fprintf(stdout, "%s: %d messages already downloaded\n", name, len(a.Entries))
		for n, e := range a.Entries {
			if limit > 0 && n == limit {
				fmt.Fprintf(stdout, "  ... and %d more (--limit 0 lists all)\n", len(a.Entries)-limit)
				break
			}
			fmt.Fprintf(stdout, "  %s", e.UID)
			if e.Seen != nil {
				fmt.Fprintf(stdout, "  %s", e.Seen.Format(time.RFC3339))
			}
			if e.Flag != "" {
				fmt.Fprintf(stdout, "  %s", e.Flag)
			}
			if e.Partial {
				fmt.Fprint(stdout, "  partial")
			}
			fmt.Fprintln(stdout)
		}
	}
	return nil
}

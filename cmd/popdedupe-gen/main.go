// Command popdedupe-gen writes a deterministic POP3 duplicate-download
// incident: local stores (Maildir, Maildir++, mbox) holding duplicate
// copies, and a JSON file with the truth a correct dedupe must find.
//
// Usage:
//
//	popdedupe-gen -seed 1 -messages 50000 -dup-share 0.5 -maildir DIR -mbox FILE [-truth FILE.json]
//
// Exit codes: 0 success, 1 failure, 2 usage error.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/popdedupe/popdedupe/internal/corpusgen"
)

func main() {
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.As(err, new(usageError)):
		fmt.Fprintln(os.Stderr, "popdedupe-gen:", err)
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "popdedupe-gen:", err)
		os.Exit(1)
	}
}

type usageError struct{ error }

// truthFile is the -truth JSON: one Truth per store written.
type truthFile struct {
	Maildir   *corpusgen.Truth `json:"maildir,omitempty"`
	MaildirPP *corpusgen.Truth `json:"maildirpp,omitempty"`
	Mbox      *corpusgen.Truth `json:"mbox,omitempty"`
}

func run(args []string, stdout, stderr io.Writer) error {
	def := corpusgen.DefaultOptions(1, 1000)
	fs := flag.NewFlagSet("popdedupe-gen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := def
	fs.Int64Var(&o.Seed, "seed", def.Seed, "random seed: the same seed and options give the same bytes")
	fs.IntVar(&o.Messages, "messages", def.Messages, "distinct messages on the server")
	fs.Float64Var(&o.DupShare, "dup-share", def.DupShare, "share of saved messages downloaded more than once")
	fs.IntVar(&o.MaxCopies, "max-copies", def.MaxCopies, "most copies of one message (2..10)")
	fs.IntVar(&o.MinSize, "min-size", def.MinSize, "smallest message in bytes")
	fs.IntVar(&o.MaxSize, "max-size", def.MaxSize, "largest message in bytes")
	fs.IntVar(&o.MeanSize, "mean-size", def.MeanSize, "mean message size in bytes")
	fs.Float64Var(&o.NoMessageIDShare, "no-msgid-share", def.NoMessageIDShare, "share of messages without Message-ID")
	fs.Float64Var(&o.ConflictShare, "conflict-share", def.ConflictShare, "share of messages reusing a Message-ID with a different body")
	fs.Float64Var(&o.UnsavedShare, "unsaved-share", def.UnsavedShare, "share of server messages with no local copy")
	fs.Float64Var(&o.CRLFShare, "crlf-share", def.CRLFShare, "share of local copies with CRLF line ends")
	fs.Float64Var(&o.ClientHeaderShare, "client-header-share", def.ClientHeaderShare, "share of local copies with POP3 client header lines")
	fs.Float64Var(&o.TrailingBlankShare, "trailing-blank-share", def.TrailingBlankShare, "share of local copies with an extra trailing blank line")
	fs.Var(&o.Quoting, "quoting", "mbox From_ quoting: mboxo or mboxrd")
	maildir := fs.String("maildir", "", "write a Maildir at `DIR` (must not exist or be empty)")
	maildirPP := fs.String("maildirpp", "", "write a Maildir++ tree at `DIR` (must not exist or be empty)")
	mbox := fs.String("mbox", "", "write an mbox at `FILE` (must not exist)")
	server := fs.String("server", "", "write the server's messages as a Dovecot Maildir at `DIR` (with a dovecot-uidlist giving the UIDLs)")
	truth := fs.String("truth", "", "write the truth as JSON to `FILE`")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: popdedupe-gen [flags] -maildir DIR | -maildirpp DIR | -mbox FILE | -server DIR\n\n"+
			"Writes a deterministic POP3 duplicate-download incident.\n"+
			"Exit codes: 0 success, 1 failure, 2 usage error.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	if *maildir == "" && *maildirPP == "" && *mbox == "" && *server == "" {
		return usageError{errors.New("nothing to write: give -maildir, -maildirpp, -mbox or -server")}
	}
	g, err := corpusgen.New(o)
	if err != nil {
		return usageError{err}
	}
	var tf truthFile
	start := time.Now()
	var total int64
	for _, s := range []struct {
		path  string
		write func(string, corpusgen.Options) (*corpusgen.Truth, error)
		dst   **corpusgen.Truth
	}{
		{*maildir, corpusgen.WriteMaildir, &tf.Maildir},
		{*maildirPP, corpusgen.WriteMaildirPP, &tf.MaildirPP},
		{*mbox, corpusgen.WriteMbox, &tf.Mbox},
	} {
		if s.path == "" {
			continue
		}
		t0 := time.Now()
		t, err := s.write(s.path, o)
		if err != nil {
			return err
		}
		*s.dst = t
		total += t.Bytes
		unit := "files"
		if t.Format == "mbox" {
			unit = "messages"
		}
		fmt.Fprintf(stdout, "%-9s %s: %d %s, %s, %d duplicates in %d groups, %d conflicts, %d without Message-ID (%s)\n",
			t.Format, s.path, t.Copies, unit, mb(t.Bytes), t.Duplicates, dupGroups(t), len(t.Conflicts), t.NoMessageID,
			rate(t.Bytes, time.Since(t0)))
	}
	if *server != "" {
		t0 := time.Now()
		n, err := corpusgen.WriteServerMaildir(*server, o)
		if err != nil {
			return err
		}
		total += n
		fmt.Fprintf(stdout, "%-9s %s: %d files, %s (%s)\n", "server", *server, o.Messages, mb(n), rate(n, time.Since(t0)))
	}
	saved := 0
	for m := 0; m < g.Len(); m++ {
		if g.Saved(m) {
			saved++
		}
	}
	fmt.Fprintf(stdout, "incident  %s: %d messages on the server, %d saved locally, %d not, %d re-download bursts from %s\n",
		g.Owner(), g.Len(), saved, g.Len()-saved, len(g.Bursts()), g.Options().Start.Format(time.RFC3339))
	if *truth != "" {
		b, err := json.Marshal(tf)
		if err != nil {
			return err
		}
		if err := os.WriteFile(*truth, append(b, '\n'), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "truth     %s\n", *truth)
	}
	fmt.Fprintf(stdout, "total     %s in %s (%s)\n", mb(total), time.Since(start).Round(time.Millisecond), rate(total, time.Since(start)))
	return nil
}

func dupGroups(t *corpusgen.Truth) int {
	n := 0
	for _, g := range t.Groups {
		if len(g.Copies) > 1 {
			n++
		}
	}
	return n
}

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }

func rate(n int64, d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f MB/s", float64(n)/1e6/d.Seconds())
}

// Command popdedupe repairs a mailbox after a POP3 duplicate-download
// incident: it finds duplicate messages in local Maildir and mbox stores,
// removes the extra copies safely, reconciles with the server in one POP3
// session, rebuilds the client's UIDL state and reports.
//
// The CLI only wires packages together: each command is a function
// run(ctx, args, stdout, stderr) error, callable in-process from tests.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"

	"github.com/popdedupe/popdedupe/report"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

// Exit codes, shared by every command (README "Exit codes").
const (
	exitOK      = 0 // done, nothing (more) to do
	exitFailed  = 1 // failed
	exitUsage   = 2 // usage error
	exitWork    = 3 // duplicates found, or work to do in a dry run
	exitSkipped = 4 // done, but some messages were skipped
)

var (
	// errUsage marks a usage error (exit 2).
	errUsage = errors.New("usage error")
	// errWorkToDo says a dry run found work to do (exit 3).
	errWorkToDo = errors.New("work to do")
	// errSkipped says the command finished but skipped some messages (exit 4).
	errSkipped = errors.New("some messages were skipped")
	// errJSONWritten marks a failure whose command already wrote its full
	// JSON object (with the error in it): run must not write a second one.
	errJSONWritten = errors.New("reported in the JSON output")
)

func usageErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, args...))
}

// exitCode maps an error to the process exit code: the one switch.
func exitCode(err error) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errUsage):
		return exitUsage
	case errors.Is(err, errWorkToDo):
		return exitWork
	case errors.Is(err, errSkipped):
		return exitSkipped
	}
	return exitFailed
}

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = map[string]*command{}

func register(c *command) { commands[c.name] = c }

// gcPercent is the garbage collector's target when GOGC is not set. A
// scan's heap is almost all live records (pointer-free, so a collection
// costs little), and the default of 100 would let the heap grow to twice
// them before collecting: a million messages would take 400 MB of RAM
// where 250 MB suffice.
const gcPercent = 25

func main() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command line and returns its exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		printUsage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		printUsage(stdout)
		return exitOK
	case "-version", "--version", "version":
		fmt.Fprintf(stdout, "popdedupe %s\n", version)
		return exitOK
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "popdedupe: unknown command %q\n\n", args[0])
		printUsage(stderr)
		return exitUsage
	}
	err := c.run(ctx, args[1:], stdout, stderr)
	code := exitCode(err)
	if code == exitFailed || code == exitUsage {
		fmt.Fprintf(stderr, "popdedupe %s: %v\n", c.name, err)
		if hasFlag(args[1:], "json") && !errors.Is(err, errJSONWritten) {
			report.WriteJSON(stdout, map[string]any{"version": report.Version, "command": c.name, "error": err.Error(), "exit_code": code})
		}
	}
	return code
}

// hasFlag reports whether a boolean flag was given in args.
func hasFlag(args []string, name string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		if a == "-"+name || a == "--"+name || a == "--"+name+"=true" || a == "-"+name+"=true" {
			return true
		}
	}
	return false
}

func printUsage(w io.Writer) {
	fmt.Fprintf(w, "popdedupe %s: repair a mailbox after a POP3 duplicate-download incident.\n\nUsage: popdedupe COMMAND [flags] [args]\n\nCommands:\n", version)
	var names []string
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintf(w, "\nRun 'popdedupe COMMAND --help' for a command's flags and an example.\n")
	fmt.Fprintf(w, "Exit codes: 0 done or nothing to do, 1 failed, 2 usage error,\n3 duplicates found / work to do in a dry run, 4 done but some messages were skipped.\n")
}

// newFlagSet returns a FlagSet whose usage shows the command's synopsis
// and example.
func newFlagSet(name, synopsis, example string, out io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: popdedupe %s %s\n\nFlags:\n", name, synopsis)
		fs.PrintDefaults()
		fmt.Fprintf(out, "\nExample:\n  %s\n", strings.ReplaceAll(example, "\n", "\n  "))
	}
	return fs
}

// parseFlags parses args, mapping flag errors to usage errors. Flags may
// come before and after the positional arguments.
func parseFlags(fs *flag.FlagSet, args []string) error {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return err
			}
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		if args[0] == "--" {
			pos = append(pos, args[1:]...)
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	return fs.Parse(append([]string{"--"}, pos...))
}

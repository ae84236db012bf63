// Package secret owns where popdedupe gets a POP3 password from, and keeps
// passwords off the command line.
//
// The sources, in order (the first that has a password wins):
//
//  1. a password file named by the caller (--password-file): the first line,
//     without its line end. The file must not be readable or writable by
//     group or others (mode 0600 or stricter), else it is refused: a password
//     others can read is already leaked.
//  2. the environment variable POPDEDUPE_PASSWORD.
//  3. ~/.netrc (the ftp(1)/curl netrc format: "machine HOST login USER
//     password PASS" tokens, "default" entries, "macdef" blocks skipped),
//     refused like the password file when group or others can read it.
//  4. a prompt on the terminal, without echo, when standard input is one.
//
// A password is never taken from argv, never contains CR, LF or NUL (it would
// inject a POP3 command, RFC 1939 section 3), and never appears in an error.
// User names with CR, LF or NUL are refused for the same reason (CheckUser).
package secret

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/term"
)

// EnvVar is the environment variable read for the password.
const EnvVar = "POPDEDUPE_PASSWORD"

var (
	// ErrNotFound means no source had a password and there is no terminal
	// to ask on.
	ErrNotFound = errors.New("secret: no password: use --password-file FILE, POPDEDUPE_PASSWORD, ~/.netrc or a terminal")
	// ErrInsecure means a password file or ~/.netrc is readable or writable
	// by group or others.
	ErrInsecure = errors.New("secret: password file is accessible by group or others (chmod 600 it)")
	// ErrBadValue means a user name or password contains CR, LF or NUL, or
	// a password is empty.
	ErrBadValue = errors.New("secret: bad value")
)

// Source names where a password came from, for messages (never the value).
type Source string

const (
	FromFile   Source = "password-file"
	FromEnv    Source = "environment"
	FromNetrc  Source = "netrc"
	FromPrompt Source = "prompt"
)

// Terminal is what a prompt needs: a file descriptor that may be a
// terminal, and where to write the question. os.Stdin and os.Stderr fit.
type Terminal interface {
	Fd() uintptr
}

// Options say where to look. Zero fields mean the process defaults.
type Options struct {
	// File is the --password-file argument; empty means none.
	File string
	// Getenv reads the environment; nil means os.LookupEnv.
	Getenv func(string) (string, bool)
	// Netrc is the netrc file; empty means $HOME/.netrc. "-" disables it.
	Netrc string
	// Machine and Login select the netrc entry: the server host name and
	// the user name.
	Machine, Login string
	// In is the terminal to read a password from; nil means os.Stdin.
	// Prompt is where the question goes; nil means os.Stderr.
	In     Terminal
	Prompt io.Writer
	// NoPrompt never asks on a terminal.
	NoPrompt bool
}

// CheckUser refuses an empty user name or one containing CR, LF or NUL.
func CheckUser(name string) error {
	if name == "" {
		return fmt.Errorf("%w: empty user name", ErrBadValue)
	}
	if strings.ContainsAny(name, "\r\n\x00") {
		return fmt.Errorf("%w: user name contains CR, LF or NUL", ErrBadValue)
	}
	return nil
}

// checkPassword refuses an unusable password without quoting it.
func checkPassword(pw string, src Source) error {
	if pw == "" {
		return fmt.Errorf("%w: empty password from %s", ErrBadValue, src)
	}
	if strings.ContainsAny(pw, "\r\n\x00") {
		return fmt.Errorf("%w: password from %s contains CR, LF or NUL", ErrBadValue, src)
	}
	return nil
}

// Password finds the password. It returns the value and its source.
func Password(o Options) (string, Source, error) {
	if o.File != "" {
		pw, err := ReadFile(o.File)
		if err != nil {
			return "", "", err
		}
		return pw, FromFile, nil
	}
	getenv := o.Getenv
	if getenv == nil {
		getenv = os.LookupEnv
	}
	if pw, ok := getenv(EnvVar); ok && pw != "" {
		if err := checkPassword(pw, FromEnv); err != nil {
			return "", "", err
		}
		return pw, FromEnv, nil
	}
	if o.Netrc != "-" {
		path := o.Netrc
		if path == "" {
			if home, err := os.UserHomeDir(); err == nil {
				path = filepath.Join(home, ".netrc")
			}
		}
		if path != "" {
			pw, found, err := netrcPassword(path, o.Machine, o.Login)
			if err != nil {
				return "", "", err
			}
			if found {
				return pw, FromNetrc, nil
			}
		}
	}
	if o.NoPrompt {
		return "", "", ErrNotFound
	}
	in := o.In
	if in == nil {
		in = os.Stdin
	}
	fd := int(in.Fd())
	if !term.IsTerminal(fd) {
		return "", "", ErrNotFound
	}
	out := o.Prompt
	if out == nil {
		out = os.Stderr
	}
	fmt.Fprintf(out, "Password for %s@%s: ", o.Login, o.Machine)
	b, err := term.ReadPassword(fd)
	fmt.Fprintln(out)
	if err != nil {
		return "", "", fmt.Errorf("secret: reading password from terminal: %w", err)
	}
	pw := string(b)
	if err := checkPassword(pw, FromPrompt); err != nil {
		return "", "", err
	}
	return pw, FromPrompt, nil
}

// ReadFile reads a password file: the first line without its line end.
// It refuses a file that group or others may read or write.
func ReadFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("secret: password file: %w", err)
	}
	defer f.Close()
	if err := checkPrivate(f, path); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(io.LimitReader(f, 64<<10)).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("secret: password file %s: %w", path, err)
	}
	pw := strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if err := checkPassword(pw, Source("password file "+path)); err != nil {
		return "", err
	}
	return pw, nil
}

func checkPrivate(f *os.File, path string) error {
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("secret: %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("secret: %s: not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%w: %s has mode %04o", ErrInsecure, path, perm)
	}
	return nil
}

// netrcPassword looks up machine/login in a netrc file. A missing file is
// not an error. An entry for the machine without a login, or with the
// same login, matches; "default" matches when no machine does.
func netrcPassword(path, machine, login string) (string, bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("secret: netrc: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 1<<20))
	if err != nil {
		return "", false, fmt.Errorf("secret: netrc %s: %w", path, err)
	}
	entries := ParseNetrc(data)
	pw, found := Lookup(entries, machine, login)
	if !found {
		return "", false, nil
	}
	// Only a file that will actually be used must be private, as ftp(1)
	// and curl insist.
	if err := checkPrivate(f, path); err != nil {
		return "", false, err
	}
	if err := checkPassword(pw, Source("netrc "+path)); err != nil {
		return "", false, err
	}
	return pw, true, nil
}

// NetrcEntry is one machine (or default) entry of a netrc file.
type NetrcEntry struct {
	Machine  string // "" for default
	Login    string
	Password string
}

// ParseNetrc splits a netrc file into entries. Tokens are separated by
// white space; values may be double-quoted (with backslash escapes, as curl
// reads them); "macdef NAME" skips to the next empty line.
func ParseNetrc(data []byte) []NetrcEntry {
	toks := netrcTokens(data)
	var out []NetrcEntry
	var cur *NetrcEntry
	for i := 0; i < len(toks); i++ {
		switch toks[i] {
		case "machine":
			if i+1 < len(toks) {
				out = append(out, NetrcEntry{Machine: toks[i+1]})
				cur = &out[len(out)-1]
				i++
			}
		case "default":
			out = append(out, NetrcEntry{})
			cur = &out[len(out)-1]
		case "login", "password", "account":
			if i+1 >= len(toks) {
				break
			}
			if cur != nil {
				switch toks[i] {
				case "login":
					cur.Login = toks[i+1]
				case "password":
					cur.Password = toks[i+1]
				}
			}
			i++
		case "\x00macdef":
			cur = nil
		}
	}
	return out
}

// netrcTokens returns the tokens; a macdef block becomes one marker token.
func netrcTokens(data []byte) []string {
	var toks []string
	for len(data) > 0 {
		c := data[0]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			data = data[1:]
		case c == '#':
			if i := bytes.IndexByte(data, '\n'); i >= 0 {
				data = data[i+1:]
			} else {
				data = nil
			}
		case c == '"':
			var b strings.Builder
			i := 1
			for ; i < len(data) && data[i] != '"'; i++ {
				if data[i] == '\\' && i+1 < len(data) {
					i++
				}
				b.WriteByte(data[i])
			}
			toks = append(toks, b.String())
			data = data[min(i+1, len(data)):]
		default:
			i := 0
			for i < len(data) && !strings.ContainsRune(" \t\r\n", rune(data[i])) {
				i++
			}
			tok := string(data[:i])
			data = data[i:]
			if tok == "macdef" {
				// Skip the macro name line and the body up to an empty line.
				if j := bytes.Index(data, []byte("\n\n")); j >= 0 {
					data = data[j+2:]
				} else {
					data = nil
				}
				toks = append(toks, "\x00macdef")
				continue
			}
			toks = append(toks, tok)
		}
	}
	return toks
}

// Lookup finds the password for machine and login: an entry for the
// machine whose login is empty or equal wins; else a default entry whose
// login is empty or equal.
func Lookup(entries []NetrcEntry, machine, login string) (string, bool) {
	for _, def := range []bool{false, true} {
		for _, e := range entries {
			if (e.Machine == "") != def {
				continue
			}
			if !def && !strings.EqualFold(e.Machine, machine) {
				continue
			}
			if e.Login != "" && e.Login != login {
				continue
			}
			if e.Password != "" {
				return e.Password, true
			}
		}
	}
	return "", false
}

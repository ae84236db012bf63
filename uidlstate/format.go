package uidlstate

import (
	"bytes"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Format names a client state file format. It implements flag.Value.
type Format string

// The formats this package reads and writes.
const (
	Fetchmail   Format = "fetchmail"
	Getmail     Format = "getmail"
	Mpop        Format = "mpop"
	Thunderbird Format = "thunderbird"
	Claws       Format = "claws"
	JSON        Format = "json"
)

// Formats lists every supported format.
func Formats() []Format {
	return []Format{Fetchmail, Getmail, Mpop, Thunderbird, Claws, JSON}
}

func (f Format) String() string { return string(f) }

// Set implements flag.Value.
func (f *Format) Set(s string) error {
	g, err := ParseFormat(s)
	if err != nil {
		return err
	}
	*f = g
	return nil
}

// ParseFormat returns the Format named s (case-insensitive).
func ParseFormat(s string) (Format, error) {
	g := Format(strings.ToLower(strings.TrimSpace(s)))
	if g.valid() {
		return g, nil
	}
	return "", fmt.Errorf("%w %q (want one of %s)", ErrUnknownFormat, s, formatList())
}

func formatList() string {
	var names []string
	for _, f := range Formats() {
		names = append(names, string(f))
	}
	return strings.Join(names, ", ")
}

func (f Format) valid() bool {
	switch f {
	case Fetchmail, Getmail, Mpop, Thunderbird, Claws, JSON:
		return true
	}
	return false
}

// perAccountFile reports whether a file of this format holds one account
// only, named by the file name rather than by its content.
func (f Format) perAccountFile() bool { return f == Getmail || f == Claws }

// storesTime reports whether the format records when a message was seen.
func (f Format) storesTime() bool {
	return f == Getmail || f == Thunderbird || f == Claws
}

// Target is a state file to read or write: its format and path.
type Target struct {
	Format Format
	Path   string
}

func (t Target) String() string { return string(t.Format) + ":" + t.Path }

// ParseTarget parses "FORMAT:PATH", for example "fetchmail:~/.fetchids".
// A leading "~" or "~user" in PATH is expanded.
func ParseTarget(s string) (Target, error) {
	name, path, ok := strings.Cut(s, ":")
	if !ok {
		return Target{}, fmt.Errorf("uidlstate: target %q: want FORMAT:PATH with FORMAT one of %s", s, formatList())
	}
	f, err := ParseFormat(name)
	if err != nil {
		return Target{}, fmt.Errorf("target %q: %w", s, err)
	}
	if path == "" {
		return Target{}, fmt.Errorf("uidlstate: target %q: empty path", s)
	}
	p, err := ExpandHome(path)
	if err != nil {
		return Target{}, fmt.Errorf("target %q: %w", s, err)
	}
	return Target{Format: f, Path: p}, nil
}

// ExpandHome expands a leading "~" (the current user's home) or "~user".
func ExpandHome(p string) (string, error) {
	if !strings.HasPrefix(p, "~") {
		return p, nil
	}
	name, rest, _ := strings.Cut(p[1:], "/")
	var home string
	if name == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("uidlstate: expand %q: %w", p, err)
		}
		home = h
	} else {
		u, err := user.Lookup(name)
		if err != nil {
			return "", fmt.Errorf("uidlstate: expand %q: %w", p, err)
		}
		home = u.HomeDir
	}
	return filepath.Join(home, rest), nil
}

// Account names one POP3 account. Each format keys accounts the way its
// client does:
//
//   - fetchmail: "User@PollName" (PollName defaults to Host; it is the name
//     after "poll" in .fetchmailrc, or its "via" name), case-insensitive;
//   - mpop: " COUNT Host User", exact;
//   - thunderbird: "*Host User", host case-insensitive;
//   - json: Host (case-insensitive), User, and Port when both sides set it;
//   - getmail, claws: one account per file, named by GetmailFileName and
//     ClawsFileName.
type Account struct {
	Host     string
	Port     int
	User     string
	PollName string
}

func (a Account) String() string {
	s := a.User + "@" + a.Host
	if a.Port != 0 {
		s += ":" + strconv.Itoa(a.Port)
	}
	if a.PollName != "" && a.PollName != a.Host {
		s += " (poll " + a.PollName + ")"
	}
	return s
}

func (a Account) fetchmailHost() string {
	if a.PollName != "" {
		return a.PollName
	}
	return a.Host
}

var getmailStrip = regexp.MustCompile(`[/\\:;<>|]+`)

// GetmailFileName returns getmail6's oldmail file name for a POP3 account:
// "oldmail-SERVER-PORT-USER" with each run of /\:;<>| replaced by "-". The
// port defaults to 110.
func GetmailFileName(a Account) string {
	port := a.Port
	if port == 0 {
		port = 110
	}
	return getmailStrip.ReplaceAllString(fmt.Sprintf("oldmail-%s-%d-%s", a.Host, port, a.User), "-")
}

// ClawsFileName returns Claws Mail's UIDL file name: "SERVER-USERID" with
// TAB, CR, LF, backslash, "/" and "*" in the user id replaced by "_" (its
// subst_for_filename on Unix).
func ClawsFileName(a Account) string {
	uid := strings.Map(func(r rune) rune {
		switch r {
		case '\t', '\r', '\n', '\\', '/', '*':
			return '_'
		}
		return r
	}, a.User)
	return a.Host + "-" + uid
}

// DefaultPath returns where the client keeps the state of account a by
// default, under home (the user's home directory). Thunderbird's file lives
// in a profile directory and JSON has no default: both return an error.
func DefaultPath(f Format, a Account, home string) (string, error) {
	switch f {
	case Fetchmail:
		return filepath.Join(home, ".fetchids"), nil
	case Getmail:
		return filepath.Join(home, ".getmail", GetmailFileName(a)), nil
	case Mpop:
		return filepath.Join(home, ".mpop_uidls", a.User+"_at_"+a.Host), nil
	case Claws:
		return filepath.Join(home, ".claws-mail", "uidl", ClawsFileName(a)), nil
	case Thunderbird:
		return "", fmt.Errorf("uidlstate: thunderbird keeps popstate.dat in <profile>/Mail/<server>/: give the path")
	case JSON:
		return "", fmt.Errorf("uidlstate: json has no default path: give one")
	}
	return "", fmt.Errorf("%w %q", ErrUnknownFormat, f)
}

// Detect reads the file at path and tells its format, for showing a state
// file of unknown origin. The name is used as a hint (.fetchids, oldmail-*,
// popstate.dat, a file in a "uidl" directory, *.json); the content must
// then parse in that format.
func Detect(path string) (Format, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("uidlstate: detect: %w", err)
	}
	return DetectBytes(path, data)
}

// DetectBytes is Detect for data already read; name may be empty.
func DetectBytes(name string, data []byte) (Format, error) {
	var candidates []Format
	base := filepath.Base(name)
	switch {
	case name == "":
	case base == "popstate.dat":
		candidates = append(candidates, Thunderbird)
	case strings.HasPrefix(base, "oldmail-"):
		candidates = append(candidates, Getmail)
	case strings.HasPrefix(base, ".fetchids") || base == "fetchids":
		candidates = append(candidates, Fetchmail)
	case strings.HasSuffix(base, ".json"):
		candidates = append(candidates, JSON)
	case filepath.Base(filepath.Dir(name)) == "uidl":
		candidates = append(candidates, Claws)
	case filepath.Base(filepath.Dir(name)) == ".mpop_uidls":
		candidates = append(candidates, Mpop)
	}
	// Content signatures.
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	switch {
	case bytes.HasPrefix(data, []byte("# POP3 State File")):
		candidates = append(candidates, Thunderbird)
	case bytes.HasPrefix(trimmed, []byte("{")):
		candidates = append(candidates, JSON)
	case bytes.HasPrefix(data, []byte("# This file was generated by mpop")) ||
		bytes.HasPrefix(data, []byte("# This file was generated by popdedupe (mpop format)")):
		candidates = append(candidates, Mpop)
	case bytes.IndexByte(data, 0) >= 0:
		candidates = append(candidates, Getmail)
	case bytes.IndexByte(data, '\t') >= 0:
		candidates = append(candidates, Claws)
	case bytes.HasPrefix(data, []byte("#")) || bytes.HasPrefix(data, []byte(" ")):
		candidates = append(candidates, Mpop)
	default:
		candidates = append(candidates, Fetchmail)
	}
	if len(bytes.TrimSpace(data)) == 0 && len(candidates) < 2 {
		return "", fmt.Errorf("%w: %s is empty and its name does not say which client wrote it", ErrUnknownFormat, nameOr(name))
	}
	var firstErr error
	for _, f := range candidates {
		if _, err := Read(f, bytes.NewReader(data), name); err == nil {
			return f, nil
		} else if firstErr == nil {
			firstErr = err
		}
	}
	return "", fmt.Errorf("%w: %s: %v", ErrUnknownFormat, nameOr(name), firstErr)
}

func nameOr(name string) string {
	if name == "" {
		return "<input>"
	}
	return name
}

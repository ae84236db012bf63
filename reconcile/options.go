package reconcile

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/popdedupe/popdedupe/internal/secret"
	"github.com/popdedupe/popdedupe/journal"
	"github.com/popdedupe/popdedupe/pop3"
	"github.com/popdedupe/popdedupe/uidlstate"
)

// TLSMode says how the connection is secured. It implements flag.Value.
type TLSMode string

const (
	// TLSAuto: implicit TLS on port 995; else STLS when the server offers
	// it; else plain text, but a password is sent in clear only to a
	// loopback address or with Options.AllowPlaintext.
	TLSAuto TLSMode = "auto"
	// TLSImplicit: TLS from the first byte (RFC 8314), default port 995.
	TLSImplicit TLSMode = "implicit"
	// TLSStartTLS: STLS (RFC 2595) is required, default port 110.
	TLSStartTLS TLSMode = "starttls"
	// TLSNone: no TLS, default port 110; the password goes in clear only
	// to a loopback address or with Options.AllowPlaintext.
	TLSNone TLSMode = "none"
)

func (m *TLSMode) String() string { return string(*m) }

// Set implements flag.Value.
func (m *TLSMode) Set(s string) error {
	switch v := TLSMode(strings.ToLower(s)); v {
	case TLSAuto, TLSImplicit, TLSStartTLS, TLSNone:
		*m = v
		return nil
	}
	return fmt.Errorf("must be auto, implicit, starttls or none, not %q", s)
}

// MatchMode says what evidence makes a server message "saved".
type MatchMode string

const (
	// MatchFull (the default): the whole server copy is retrieved and its
	// body hash must equal a local copy's.
	MatchFull MatchMode = "full"
	// MatchMessageID is weaker: for messages with a Message-ID only the
	// header is read (TOP n 0); Message-ID, the key headers (From, Date,
	// Subject, To) and a plausible size must agree. Bodies are not
	// compared. Messages without Message-ID are still compared in full.
	MatchMessageID MatchMode = "message-id"
)

func (m *MatchMode) String() string { return string(*m) }

// Set implements flag.Value.
func (m *MatchMode) Set(s string) error {
	switch v := MatchMode(strings.ToLower(s)); v {
	case MatchFull, MatchMessageID:
		*m = v
		return nil
	}
	return fmt.Errorf("must be full or message-id, not %q", s)
}

// Options configure Run.
type Options struct {
	// Server is HOST or HOST:PORT. Without a port: 995 for TLSAuto and
	// TLSImplicit, 110 for TLSStartTLS and TLSNone.
	Server string
	// User and Password are the credentials. Neither may contain CR, LF or
	// NUL; the password never appears in results, errors or traces.
	User, Password string

	TLS TLSMode // zero means TLSAuto
	// AllowPlaintext permits sending the password in clear to an address
	// that is not loopback.
	AllowPlaintext bool
	// RootCAs, when set, replaces the system roots for verifying the
	// server certificate (--ca FILE). TLSConfig, when set, is used as is
	// (its ServerName defaults to the host of Server).
	RootCAs   *x509.CertPool
	TLSConfig *tls.Config

	// DeleteSaved deletes server messages verified saved locally (and,
	// with FetchMissing, those saved by this run).
	DeleteSaved bool
	// FetchMissing is a Maildir or an mbox file where messages missing
	// locally are saved. "maildir:PATH" and "mbox:PATH" say which; else an
	// existing directory is a Maildir, an existing file an mbox, and a new
	// path a Maildir unless its name ends in ".mbox" or ".mbx".
	FetchMissing string
	// State is a client state file to rebuild after the session
	// ("fetchmail:~/.fetchids"); nil means none. PollName is fetchmail's
	// poll name when it is not the server host.
	State    *uidlstate.Target
	PollName string
	// Apply makes changes; without it Run is a dry run that changes
	// nothing on the server or on disk.
	Apply bool
	// Match chooses the evidence; zero means MatchFull.
	Match MatchMode

	// CommandTimeout bounds every wait for the server to make progress;
	// zero means 60 s.
	CommandTimeout time.Duration
	// PipelineWindow is the number of commands kept in flight when the
	// server offers PIPELINING; zero means DefaultPipelineWindow.
	PipelineWindow int
	// Trace receives the POP3 dialogue (passwords masked).
	Trace io.Writer
	// Workers hash local bodies in parallel; zero means the scan default.
	Workers int
	// Journal, when set, gets a line before every fetch commit, before the
	// DELE batch and for QUIT.
	Journal *journal.Journal
	// Now is the clock (for state file times and LOGIN-DELAY advice); nil
	// means time.Now.
	Now func() time.Time
}

// DefaultPipelineWindow is the number of pipelined commands in flight: no
// practical limit. The client writes commands while it reads replies, so a
// window larger than the TCP buffers cannot deadlock, and any limit costs
// a round trip per window of tiny replies (2,500 DELEs in windows of 1,000
// took three round trips instead of one).
const DefaultPipelineWindow = pop3.MaxPipelineWindow

var (
	// ErrUsage marks options that cannot work together or are malformed.
	ErrUsage = errors.New("reconcile: bad options")
	// ErrPlaintext means the password would go in clear to an address that
	// is not loopback and AllowPlaintext is not set.
	ErrPlaintext = errors.New("reconcile: refusing to send the password in clear to a non-loopback address (use TLS, or --allow-plaintext)")
	// ErrNoUIDL means the server has no UIDL: deleting or recording
	// without stable ids is unsafe, so nothing is done.
	ErrNoUIDL = errors.New("reconcile: server does not support UIDL; refusing: without stable message ids nothing can be deleted or recorded safely")
	// ErrUnsafeExpire means the server advertises EXPIRE 0 (retrieved
	// messages may be deleted at QUIT) and has no TOP to inspect with.
	ErrUnsafeExpire = errors.New("reconcile: server advertises EXPIRE 0 and has no TOP: inspecting messages would delete them; refusing")
	// ErrSessionLost means the session ended before QUIT committed it.
	ErrSessionLost = errors.New("reconcile: session ended before QUIT; the server rolled back every DELE of this session")
)

// LoginDelayError says the server refused the login because the previous
// one was too recent (RFC 2449 LOGIN-DELAY).
type LoginDelayError struct {
	Delay time.Duration // advertised minimum between logins; 0 if unknown
	Next  time.Time     // the next login is allowed at or before this time; zero if unknown
	Err   error
}

func (e *LoginDelayError) Error() string {
	if e.Delay > 0 {
		return fmt.Sprintf("reconcile: the server allows one login every %s (LOGIN-DELAY); the next login is allowed by %s: %v",
			e.Delay, e.Next.Format(time.RFC3339), e.Err)
	}
	return fmt.Sprintf("reconcile: the server refused the login because the previous one was too recent (LOGIN-DELAY; it did not say how long to wait): %v", e.Err)
}

func (e *LoginDelayError) Unwrap() error { return e.Err }

func (o *Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// Endpoint returns the host, the port and the effective TLS mode of
// Options.Server (see TLSAuto for the defaults).
func (o *Options) Endpoint() (host string, port int, mode TLSMode, err error) {
	mode = o.TLS
	if mode == "" {
		mode = TLSAuto
	}
	if err := mode.Set(string(mode)); err != nil {
		return "", 0, "", fmt.Errorf("%w: --tls %v", ErrUsage, err)
	}
	s := o.Server
	if s == "" {
		return "", 0, "", fmt.Errorf("%w: no server", ErrUsage)
	}
	if strings.ContainsAny(s, " \t\r\n\x00/") {
		return "", 0, "", fmt.Errorf("%w: bad server %q", ErrUsage, s)
	}
	h, p, serr := net.SplitHostPort(s)
	if serr != nil {
		// No port (or a bare IPv6 address).
		h = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
		switch mode {
		case TLSAuto, TLSImplicit:
			port = 995
		default:
			port = 110
		}
	} else {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return "", 0, "", fmt.Errorf("%w: bad port in %q", ErrUsage, s)
		}
		port = n
	}
	if h == "" {
		return "", 0, "", fmt.Errorf("%w: no host in %q", ErrUsage, s)
	}
	if mode == TLSAuto && port == 995 {
		mode = TLSImplicit
	}
	return h, port, mode, nil
}

func (o *Options) check() error {
	if _, _, _, err := o.Endpoint(); err != nil {
		return err
	}
	if err := secret.CheckUser(o.User); err != nil {
		return fmt.Errorf("%w: %v", ErrUsage, err)
	}
	if o.Password == "" || strings.ContainsAny(o.Password, "\r\n\x00") {
		return fmt.Errorf("%w: the password is empty or contains CR, LF or NUL", ErrUsage)
	}
	switch o.Match {
	case "", MatchFull, MatchMessageID:
	default:
		return fmt.Errorf("%w: unknown match mode %q", ErrUsage, o.Match)
	}
	if o.PipelineWindow < 0 {
		return fmt.Errorf("%w: negative pipeline window", ErrUsage)
	}
	return nil
}

// fetchKind is where FetchMissing saves.
type fetchKind int

const (
	fetchMaildir fetchKind = iota + 1
	fetchMbox
)

// fetchTarget parses FetchMissing.
func fetchTarget(s string) (fetchKind, string, error) {
	switch {
	case strings.HasPrefix(s, "maildir:"):
		return fetchMaildir, filepath.Clean(s[len("maildir:"):]), nil
	case strings.HasPrefix(s, "mbox:"):
		return fetchMbox, filepath.Clean(s[len("mbox:"):]), nil
	}
	if s == "" {
		return 0, "", fmt.Errorf("%w: empty --fetch-missing", ErrUsage)
	}
	p := filepath.Clean(s)
	fi, err := os.Stat(p)
	switch {
	case err == nil && fi.IsDir():
		return fetchMaildir, p, nil
	case err == nil && fi.Mode().IsRegular():
		return fetchMbox, p, nil
	case err == nil:
		return 0, "", fmt.Errorf("%w: --fetch-missing %s is neither a directory nor a file", ErrUsage, s)
	case errors.Is(err, os.ErrNotExist):
		ext := strings.ToLower(filepath.Ext(p))
		if ext == ".mbox" || ext == ".mbx" {
			return fetchMbox, p, nil
		}
		return fetchMaildir, p, nil
	}
	return 0, "", fmt.Errorf("--fetch-missing: %w", err)
}

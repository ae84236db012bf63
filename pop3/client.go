package pop3

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	// DefaultCommandTimeout is used when Options.CommandTimeout is zero.
	DefaultCommandTimeout = 60 * time.Second
	// DefaultPipelineWindow is used when Options.PipelineWindow is zero.
	DefaultPipelineWindow = 256
	// MaxPipelineWindow bounds Options.PipelineWindow. Pipelined commands
	// are written by their own goroutine while the replies are read, so
	// the window needs no bound from TCP buffers (see pipeline); this one
	// only bounds how far ahead of the replies the client may run.
	MaxPipelineWindow = 1 << 20
	// MaxReplyLine is the longest status or listing line accepted, in octets
	// including CRLF. RFC 1939 allows 512; message data lines are not
	// limited.
	MaxReplyLine = 8192
	// maxCommandLine is RFC 2449's limit for a command line including CRLF.
	maxCommandLine = 255

	readBufSize = 32 << 10
)

// Options configure a Client. The zero value is usable: TLS certificates are
// verified against the system roots, credentials are only sent over TLS.
type Options struct {
	// TLSConfig is used by DialTLS and StartTLS. Nil means a default config
	// that verifies the server's certificate for the host name of the
	// address dialled. To trust a private CA set RootCAs (here or in the
	// config). Skipping verification takes InsecureSkipVerify, set on
	// purpose.
	TLSConfig *tls.Config
	// RootCAs, when not nil, is used as the CA pool for certificate
	// verification unless TLSConfig already has one.
	RootCAs *x509.CertPool
	// InsecureSkipVerify turns off certificate and host name verification:
	// anyone on the path can then read the password. For tests and
	// emergencies only.
	InsecureSkipVerify bool
	// AllowPlaintextAuth permits sending credentials (USER/PASS, APOP,
	// AUTH) over a connection without TLS. Off by default.
	AllowPlaintextAuth bool
	// Trace, when not nil, receives the dialogue: "C: " lines sent and
	// "S: " lines received. Passwords, APOP digests and AUTH payloads are
	// masked; message contents are summarised, not copied.
	Trace io.Writer
	// CommandTimeout bounds every wait for network progress: each read, write
	// or handshake must make progress within it (a long RETR is fine as long
	// as data keeps coming). Zero means DefaultCommandTimeout, negative
	// means no limit besides the context.
	CommandTimeout time.Duration
	// PipelineWindow is the number of commands RetrEach, TopEach and
	// DeleEach keep in flight when the server advertises PIPELINING. Zero
	// means DefaultPipelineWindow; it is capped at MaxPipelineWindow.
	PipelineWindow int
}

// Client is a POP3 client connection. Its methods are named after the
// protocol's commands. It is not safe for concurrent use.
type Client struct {
	conn  net.Conn
	br    *bufio.Reader
	bw    *bufio.Writer
	opt   Options
	host  string // for TLS ServerName
	tlsOn bool

	greeted   bool
	banner    string
	apopStamp string

	capa    *Capabilities
	capaErr error // -ERR to CAPA: old server, not asked again

	authed bool

	broken  error // set once: *botchedError
	botchMu sync.Mutex
	closed  bool

	commands int
	logins   int

	buf []byte // copy buffer for Retr/Top
	dr  dotReader

	// Per-operation context state, shared with the context.AfterFunc
	// goroutine that interrupts blocked I/O on cancellation.
	mu        sync.Mutex
	opCtx     context.Context
	cancelled bool

	traceMu sync.Mutex // a pipeline's writer traces while its reader does
}

// New returns a Client using conn. It does no I/O: call Greeting next.
// If conn is a *tls.Conn the client counts as encrypted.
func New(conn net.Conn, o *Options) *Client {
	c := &Client{conn: conn, opt: withDefaults(o)}
	if _, ok := conn.(*tls.Conn); ok {
		c.tlsOn = true
	}
	if ra := conn.RemoteAddr(); ra != nil {
		if h, _, err := net.SplitHostPort(ra.String()); err == nil {
			c.host = h
		}
	}
	c.br = bufio.NewReaderSize(connReader{c}, readBufSize)
	c.bw = bufio.NewWriterSize(connWriter{c}, 4096)
	c.dr.c = c
	return c
}

// withDefaults copies o with the zero values replaced by the defaults.
func withDefaults(o *Options) Options {
	var opt Options
	if o != nil {
		opt = *o
	}
	if opt.CommandTimeout == 0 {
		opt.CommandTimeout = DefaultCommandTimeout
	}
	if opt.PipelineWindow <= 0 {
		opt.PipelineWindow = DefaultPipelineWindow
	}
	opt.PipelineWindow = min(opt.PipelineWindow, MaxPipelineWindow)
	return opt
}

// Dial connects to addr ("host:port") over plain TCP and reads the greeting.
// Use StartTLS before logging in, or set Options.AllowPlaintextAuth.
func Dial(ctx context.Context, addr string, o *Options) (*Client, error) {
	return dial(ctx, addr, o, false)
}

// DialTLS connects to addr with implicit TLS (port 995) and reads the
// greeting. The certificate is verified (see Options.TLSConfig).
func DialTLS(ctx context.Context, addr string, o *Options) (*Client, error) {
	return dial(ctx, addr, o, true)
}

func dial(ctx context.Context, addr string, o *Options, useTLS bool) (*Client, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("pop3: dial %s: %w", addr, err)
	}
	opt := withDefaults(o)
	dctx := ctx
	if opt.CommandTimeout > 0 {
		var cancel context.CancelFunc
		dctx, cancel = context.WithTimeout(ctx, opt.CommandTimeout)
		defer cancel()
	}
	var conn net.Conn
	if useTLS {
		d := tls.Dialer{Config: tlsConfig(&opt, nil, host)}
		conn, err = d.DialContext(dctx, "tcp", addr)
	} else {
		var d net.Dialer
		conn, err = d.DialContext(dctx, "tcp", addr)
	}
	if err != nil {
		return nil, fmt.Errorf("pop3: dial %s: %w", addr, err)
	}
	c := New(conn, &opt)
	c.host = host
	if _, err := c.Greeting(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// tlsConfig returns a copy of cfg (or the options' config, or a new one)
// with ServerName and RootCAs filled in.
func tlsConfig(o *Options, cfg *tls.Config, host string) *tls.Config {
	if cfg == nil {
		cfg = o.TLSConfig
	}
	if cfg == nil {
		cfg = &tls.Config{MinVersion: tls.VersionTLS12}
	} else {
		cfg = cfg.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	if cfg.RootCAs == nil {
		cfg.RootCAs = o.RootCAs
	}
	if o.InsecureSkipVerify {
		cfg.InsecureSkipVerify = true
	}
	return cfg
}

// connReader and connWriter put the per-operation deadline on every read and
// write, so a stalled or dropped connection is an error, never a hang.
type connReader struct{ c *Client }
type connWriter struct{ c *Client }

func (r connReader) Read(p []byte) (int, error) {
	if err := r.c.armDeadline(true); err != nil {
		return 0, err
	}
	return r.c.conn.Read(p)
}

func (w connWriter) Write(p []byte) (int, error) {
	if err := w.c.armDeadline(false); err != nil {
		return 0, err
	}
	return w.c.conn.Write(p)
}

// armDeadline sets the read or write deadline to the earlier of the
// context's deadline and now+CommandTimeout.
func (c *Client) armDeadline(read bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cancelled {
		return c.opCtx.Err()
	}
	var dl time.Time
	if c.opt.CommandTimeout > 0 {
		dl = time.Now().Add(c.opt.CommandTimeout)
	}
	if c.opCtx != nil {
		if d, ok := c.opCtx.Deadline(); ok && (dl.IsZero() || d.Before(dl)) {
			dl = d
		}
	}
	if read {
		return c.conn.SetReadDeadline(dl)
	}
	return c.conn.SetWriteDeadline(dl)
}

// begin starts an operation: it fails at once on a botched or closed
// client or a done context, arranges for cancellation of ctx to interrupt
// blocked I/O, and reads the greeting if that was not done yet. The
// returned func ends the operation.
func (c *Client) begin(ctx context.Context) (func(), error) {
	if err := c.usable(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("pop3: %w", err)
	}
	c.mu.Lock()
	c.opCtx = ctx
	c.cancelled = false
	conn := c.conn
	c.mu.Unlock()
	stop := context.AfterFunc(ctx, func() {
		c.mu.Lock()
		if c.opCtx == ctx { // not a later operation's
			c.cancelled = true
			conn.SetDeadline(time.Unix(1, 0))
		}
		c.mu.Unlock()
	})
	end := func() {
		stop()
		c.mu.Lock()
		c.opCtx = nil
		c.cancelled = false
		c.mu.Unlock()
	}
	if !c.greeted {
		if err := c.readGreeting(); err != nil {
			end()
			return nil, err
		}
	}
	return end, nil
}

func (c *Client) usable() error {
	if c.broken != nil {
		return c.broken
	}
	if c.closed {
		return ErrClosed
	}
	return nil
}

// botch marks the session broken, closes the connection without QUIT and
// returns the error every later call will return. what names the step.
func (c *Client) botch(what string, err error) error {
	// A pipeline's writer and reader may both fail; the first cause wins.
	c.botchMu.Lock()
	defer c.botchMu.Unlock()
	if c.broken != nil {
		return c.broken
	}
	c.mu.Lock()
	ctx := c.opCtx
	c.mu.Unlock()
	var ctxDeadline time.Time
	if ctx != nil {
		ctxDeadline, _ = ctx.Deadline()
	}
	switch {
	case ctx != nil && ctx.Err() == context.Canceled:
		err = ctx.Err()
	case ctx != nil && ctx.Err() == context.DeadlineExceeded,
		errors.Is(err, os.ErrDeadlineExceeded) && !ctxDeadline.IsZero() && !time.Now().Before(ctxDeadline):
		err = fmt.Errorf("%w: %w", ErrTimeout, context.DeadlineExceeded)
	case errors.Is(err, os.ErrDeadlineExceeded):
		err = fmt.Errorf("%w: %w", ErrTimeout, err)
	case errors.Is(err, io.EOF):
		err = fmt.Errorf("connection closed by server: %w", io.ErrUnexpectedEOF)
	}
	c.broken = &botchedError{cause: fmt.Errorf("%s: %w", what, err)}
	c.conn.Close()
	c.tracef("-- session botched: %v", c.broken)
	return c.broken
}

// Botched returns the error that broke the session, or nil. A botched
// client never sends QUIT, so the server rolls back every DELE.
func (c *Client) Botched() error {
	c.botchMu.Lock()
	defer c.botchMu.Unlock()
	return c.broken
}

// Stats returns the number of commands sent and of successful logins.
func (c *Client) Stats() (commands, logins int) { return c.commands, c.logins }

// IsTLS reports whether the connection is encrypted.
func (c *Client) IsTLS() bool { return c.tlsOn }

// Authed reports whether a login succeeded (the session is in the
// TRANSACTION state, or was until it ended).
func (c *Client) Authed() bool { return c.authed }

// Close closes the connection without sending QUIT: every DELE of the
// session is rolled back by the server.
func (c *Client) Close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	err := c.conn.Close()
	if c.broken != nil {
		return nil
	}
	return err
}

func (c *Client) tracef(format string, args ...any) {
	if c.opt.Trace != nil {
		c.traceMu.Lock()
		fmt.Fprintf(c.opt.Trace, format+"\n", args...)
		c.traceMu.Unlock()
	}
}

// traceLine writes prefix and line to the trace; it costs nothing without
// one (no boxing of arguments on the hot path).
func (c *Client) traceLine(prefix string, line []byte) {
	if c.opt.Trace != nil {
		c.tracef("%s%s", prefix, line)
	}
}

// checkArg refuses arguments that could inject a command.
func checkArg(what, s string) error {
	if s == "" {
		return fmt.Errorf("%w: empty %s", ErrBadArgument, what)
	}
	if strings.ContainsAny(s, "\r\n\x00") {
		return fmt.Errorf("%w: %s contains CR, LF or NUL", ErrBadArgument, what)
	}
	return nil
}

func checkNum(n int) error {
	if n < 1 {
		return fmt.Errorf("%w: message number %d", ErrBadArgument, n)
	}
	return nil
}

// send buffers one command line. display is what the trace and errors show.
func (c *Client) send(line, display string) error {
	if len(line)+2 > maxCommandLine {
		return fmt.Errorf("%w: %s: command line longer than %d octets", ErrBadArgument, display, maxCommandLine)
	}
	if c.opt.Trace != nil {
		c.tracef("C: %s", display)
	}
	c.commands++
	c.bw.WriteString(line)
	c.bw.WriteString("\r\n")
	return nil
}

// flush sends buffered commands; a failure botches the session.
func (c *Client) flush(display string) error {
	if err := c.bw.Flush(); err != nil {
		return c.botch(display, err)
	}
	return nil
}

// readLine reads one line without its line end, bounded by MaxReplyLine.
// The slice is valid until the next read. Errors botch the session.
func (c *Client) readLine(display string) ([]byte, error) {
	line, err := c.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull || len(line) > MaxReplyLine {
		return nil, c.botch(display, fmt.Errorf("%w (over %d octets)", ErrLineTooLong, MaxReplyLine))
	}
	if err != nil {
		return nil, c.botch(display, err)
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// readReply reads and parses a status line. A -ERR comes back as a
// *ResponseError (the session stays usable); anything unparsable botches.
func (c *Client) readReply(display string) (reply, error) {
	line, err := c.readLine(display)
	if err != nil {
		return reply{}, err
	}
	c.traceLine("S: ", line)
	r, err := parseReply(line)
	if err != nil {
		return reply{}, c.botch(display, err)
	}
	if !r.ok {
		return r, &ResponseError{Command: display, Code: r.code, Text: r.text}
	}
	return r, nil
}

// cmd sends one command and reads its status line.
func (c *Client) cmd(ctx context.Context, line, display string) (reply, error) {
	end, err := c.begin(ctx)
	if err != nil {
		return reply{}, err
	}
	defer end()
	return c.cmdLocked(line, display)
}

func (c *Client) cmdLocked(line, display string) (reply, error) {
	r, err := c.cmdLockedCont(line, display)
	if err == nil && r.cont {
		return r, c.botch(display, fmt.Errorf("%w: unexpected continuation", ErrProtocol))
	}
	return r, err
}

// readStatusLine reads a status line that may not be a continuation.
func (c *Client) readStatusLine(display string) (reply, error) {
	r, err := c.readReply(display)
	if err == nil && r.cont {
		return r, c.botch(display, fmt.Errorf("%w: unexpected continuation", ErrProtocol))
	}
	return r, err
}

// readMulti reads the lines of a multi-line reply up to the terminating
// ".", undoing dot-stuffing, and hands each to fn. A parse error from fn
// botches the session.
func (c *Client) readMulti(display string, fn func(line string) error) error {
	for {
		line, err := c.readLine(display)
		if err != nil {
			return err
		}
		c.traceLine("S: ", line)
		if len(line) > 0 && line[0] == '.' {
			if len(line) == 1 {
				return nil
			}
			line = line[1:]
		}
		if err := fn(string(line)); err != nil {
			return c.botch(display, err)
		}
	}
}

// Greeting reads the server's greeting (Dial and DialTLS do this) and
// returns its text. A -ERR greeting closes the client and is returned as a
// *ResponseError.
func (c *Client) Greeting(ctx context.Context) (string, error) {
	if c.greeted {
		return c.banner, nil
	}
	end, err := c.begin(ctx) // reads the greeting
	if err != nil {
		return "", err
	}
	end()
	return c.banner, nil
}

// readGreeting reads the banner; begin calls it before the first command,
// so a command can never take the greeting for its reply.
func (c *Client) readGreeting() error {
	r, err := c.readReply("greeting")
	if err != nil {
		var re *ResponseError
		if errors.As(err, &re) {
			c.botch("greeting", re)
			return re
		}
		return err
	}
	if r.cont {
		return c.botch("greeting", fmt.Errorf("%w: greeting is a continuation", ErrProtocol))
	}
	c.greeted = true
	c.banner = r.text
	if i := strings.IndexByte(r.text, '<'); i >= 0 {
		if j := strings.IndexByte(r.text[i:], '>'); j > 0 {
			c.apopStamp = r.text[i : i+j+1]
		}
	}
	return nil
}

// StartTLS upgrades the connection with STLS (RFC 2595). cfg nil means the
// Options' TLS settings. It must be called before logging in; the cached
// CAPA is forgotten. A -ERR is returned wrapping both ErrTLSRequired and the
// *ResponseError.
func (c *Client) StartTLS(ctx context.Context, cfg *tls.Config) error {
	if err := c.usable(); err != nil {
		return err
	}
	if c.tlsOn {
		return fmt.Errorf("%w: STLS: connection is already encrypted", ErrBadArgument)
	}
	if c.authed {
		return fmt.Errorf("%w: STLS: only allowed before login", ErrBadArgument)
	}
	end, err := c.begin(ctx)
	if err != nil {
		return err
	}
	defer end()
	if _, err := c.cmdLocked("STLS", "STLS"); err != nil {
		var re *ResponseError
		if errors.As(err, &re) {
			return fmt.Errorf("%w: %w", ErrTLSRequired, err)
		}
		return err
	}
	if c.br.Buffered() > 0 {
		// RFC 2595 section 3.3 / the STARTTLS command-injection attack: data
		// sent before the handshake must not be trusted.
		return c.botch("STLS", fmt.Errorf("%w: server sent data before the TLS handshake", ErrProtocol))
	}
	tc := tls.Client(c.conn, tlsConfig(&c.opt, cfg, c.host))
	if err := c.armDeadline(true); err != nil {
		return c.botch("STLS handshake", err)
	}
	if err := c.armDeadline(false); err != nil {
		return c.botch("STLS handshake", err)
	}
	if err := tc.HandshakeContext(ctx); err != nil {
		return c.botch("STLS handshake", err)
	}
	c.mu.Lock()
	c.conn = tc
	c.mu.Unlock()
	c.tlsOn = true
	c.capa, c.capaErr = nil, nil
	c.tracef("-- TLS established (%s)", tls.VersionName(tc.ConnectionState().Version))
	return nil
}

// Capa sends CAPA (RFC 2449), or returns the cached answer. The cache is
// dropped by STLS and by a successful login (servers change their list
// then). An old server's -ERR is returned as a *ResponseError.
func (c *Client) Capa(ctx context.Context) (*Capabilities, error) {
	if err := c.usable(); err != nil {
		return nil, err
	}
	if c.capa != nil {
		return c.capa, nil
	}
	if c.capaErr != nil {
		return nil, c.capaErr
	}
	end, err := c.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer end()
	if err := c.send("CAPA", "CAPA"); err != nil {
		return nil, err
	}
	if err := c.flush("CAPA"); err != nil {
		return nil, err
	}
	return c.readCapa()
}

// readCapa reads the reply to CAPA and caches it (or its -ERR).
func (c *Client) readCapa() (*Capabilities, error) {
	if _, err := c.readStatusLine("CAPA"); err != nil {
		var re *ResponseError
		if errors.As(err, &re) {
			c.capaErr = re
		}
		return nil, err
	}
	var lines []string
	if err := c.readMulti("CAPA", func(l string) error { lines = append(lines, l); return nil }); err != nil {
		return nil, err
	}
	c.capa = parseCapabilities(lines)
	return c.capa, nil
}

// Stat sends STAT: the number of messages and their size in octets.
func (c *Client) Stat(ctx context.Context) (count int, size int64, err error) {
	end, err := c.begin(ctx)
	if err != nil {
		return 0, 0, err
	}
	defer end()
	r, err := c.cmdLocked("STAT", "STAT")
	if err != nil {
		return 0, 0, err
	}
	n, s, ok := parseNumSize(r.text)
	if !ok {
		return 0, 0, c.botch("STAT", fmt.Errorf("%w: bad drop listing %q", ErrProtocol, r.text))
	}
	return n, s, nil
}

// MsgInfo is one scan listing: message number and size in octets (as on
// the wire, with CRLF line ends).
type MsgInfo struct {
	Num  int
	Size int64
}

// UIDEntry is one unique-id listing.
type UIDEntry struct {
	Num int
	UID string
}

// List sends LIST and returns every message not marked deleted.
func (c *Client) List(ctx context.Context) ([]MsgInfo, error) {
	end, err := c.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer end()
	if err := c.send("LIST", "LIST"); err != nil {
		return nil, err
	}
	if err := c.flush("LIST"); err != nil {
		return nil, err
	}
	return c.readList()
}

// readList reads the reply to LIST.
func (c *Client) readList() ([]MsgInfo, error) {
	if _, err := c.readStatusLine("LIST"); err != nil {
		return nil, err
	}
	var out []MsgInfo
	err := c.readMulti("LIST", func(l string) error {
		n, s, ok := parseNumSize(l)
		if !ok || n < 1 {
			return fmt.Errorf("%w: bad scan listing %q", ErrProtocol, l)
		}
		out = append(out, MsgInfo{n, s})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ListOne sends LIST n.
func (c *Client) ListOne(ctx context.Context, n int) (MsgInfo, error) {
	if err := checkNum(n); err != nil {
		return MsgInfo{}, err
	}
	line := "LIST " + strconv.Itoa(n)
	r, err := c.cmd(ctx, line, line)
	if err != nil {
		return MsgInfo{}, err
	}
	num, s, ok := parseNumSize(r.text)
	if !ok || num != n {
		return MsgInfo{}, c.botch(line, fmt.Errorf("%w: bad scan listing %q", ErrProtocol, r.text))
	}
	return MsgInfo{num, s}, nil
}

// UIDL sends UIDL and returns every message's unique-id. A server without
// UIDL gives an error matching ErrNoUIDL (and the *ResponseError). When a
// unique-id is listed twice the full listing is returned together with a
// *DuplicateUIDLError (errors.Is ErrDuplicateUIDL); the session stays usable.
func (c *Client) UIDL(ctx context.Context) ([]UIDEntry, error) {
	end, err := c.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer end()
	if err := c.send("UIDL", "UIDL"); err != nil {
		return nil, err
	}
	if err := c.flush("UIDL"); err != nil {
		return nil, err
	}
	return c.readUIDL()
}

// readUIDL reads the reply to UIDL.
func (c *Client) readUIDL() ([]UIDEntry, error) {
	if _, err := c.readStatusLine("UIDL"); err != nil {
		return nil, noUIDL(err)
	}
	var out []UIDEntry
	err := c.readMulti("UIDL", func(l string) error {
		n, uid, ok := parseUIDLine(l)
		if !ok {
			return fmt.Errorf("%w: bad unique-id listing %q", ErrProtocol, l)
		}
		out = append(out, UIDEntry{n, uid})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, duplicateUIDL(out)
}

func noUIDL(err error) error {
	var re *ResponseError
	if errors.As(err, &re) && re.Code == "" {
		return fmt.Errorf("%w: %w", ErrNoUIDL, err)
	}
	return err
}

// duplicateUIDL returns a *DuplicateUIDLError for the first unique-id that
// is listed more than once.
func duplicateUIDL(list []UIDEntry) error {
	seen := make(map[string]int, len(list))
	for i, e := range list {
		if j, dup := seen[e.UID]; dup {
			nums := []int{list[j].Num}
			for _, f := range list[i:] {
				if f.UID == e.UID {
					nums = append(nums, f.Num)
				}
			}
			return &DuplicateUIDLError{UID: e.UID, Nums: nums}
		}
		seen[e.UID] = i
	}
	return nil
}

// UIDLOne sends UIDL n.
func (c *Client) UIDLOne(ctx context.Context, n int) (string, error) {
	if err := checkNum(n); err != nil {
		return "", err
	}
	line := "UIDL " + strconv.Itoa(n)
	r, err := c.cmd(ctx, line, line)
	if err != nil {
		return "", noUIDL(err)
	}
	num, uid, ok := parseUIDLine(r.text)
	if !ok || num != n {
		return "", c.botch(line, fmt.Errorf("%w: bad unique-id listing %q", ErrProtocol, r.text))
	}
	return uid, nil
}

// Retr sends RETR n and streams the message to w, dot-stuffing undone and
// CRLF turned into LF. It returns the number of bytes written. A write
// error from w botches the session (the rest of the message is unread).
func (c *Client) Retr(ctx context.Context, n int, w io.Writer) (int64, error) {
	if err := checkNum(n); err != nil {
		return 0, err
	}
	line := "RETR " + strconv.Itoa(n)
	return c.fetch(ctx, line, w)
}

// Top sends TOP n lines: the header, the blank line and the first lines of
// the body, streamed to w like Retr.
func (c *Client) Top(ctx context.Context, n, lines int, w io.Writer) (int64, error) {
	if err := checkNum(n); err != nil {
		return 0, err
	}
	if lines < 0 {
		return 0, fmt.Errorf("%w: TOP line count %d", ErrBadArgument, lines)
	}
	line := "TOP " + strconv.Itoa(n) + " " + strconv.Itoa(lines)
	return c.fetch(ctx, line, w)
}

func (c *Client) fetch(ctx context.Context, line string, w io.Writer) (int64, error) {
	end, err := c.begin(ctx)
	if err != nil {
		return 0, err
	}
	defer end()
	if _, err := c.cmdLocked(line, line); err != nil {
		return 0, err
	}
	return c.copyData(line, w)
}

// copyData streams the multi-line data of the current reply to w.
func (c *Client) copyData(display string, w io.Writer) (int64, error) {
	n, err := c.data(display).WriteTo(w)
	if err != nil {
		return n, c.botch(display, err)
	}
	return n, nil
}

// Dele sends DELE n. The mark only becomes a deletion when QUIT is
// answered +OK.
func (c *Client) Dele(ctx context.Context, n int) error {
	if err := checkNum(n); err != nil {
		return err
	}
	line := "DELE " + strconv.Itoa(n)
	_, err := c.cmd(ctx, line, line)
	return err
}

// Rset sends RSET: every deletion mark of the session is removed.
func (c *Client) Rset(ctx context.Context) error {
	_, err := c.cmd(ctx, "RSET", "RSET")
	return err
}

// Noop sends NOOP.
func (c *Client) Noop(ctx context.Context) error {
	_, err := c.cmd(ctx, "NOOP", "NOOP")
	return err
}

// Quit sends QUIT and closes the connection. Only a nil return means the
// server committed the session's deletions (RFC 1939 UPDATE state). A -ERR
// is a *ResponseError matching ErrUpdateFailed: some or none of the
// deletions happened. On a botched client Quit sends nothing and returns the
// botched error, so the server rolls every deletion back. An I/O error
// after QUIT was sent leaves the outcome unknown: check with UIDL later.
func (c *Client) Quit(ctx context.Context) error {
	if err := c.usable(); err != nil {
		c.Close()
		return err
	}
	_, err := c.cmd(ctx, "QUIT", "QUIT")
	c.Close()
	return err
}

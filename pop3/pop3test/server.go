// Package pop3test implements an in-process POP3 server for tests, with
// switches for the faults a POP3 client must survive.
//
// It speaks RFC 1939 (USER/PASS, APOP, STAT, LIST, UIDL, TOP, RETR, DELE,
// RSET, NOOP, QUIT with the UPDATE state: DELE takes effect only at QUIT),
// RFC 2449 (CAPA, PIPELINING, LOGIN-DELAY enforced per user, EXPIRE, response
// codes), RFC 2595 (STLS), RFC 3206 ([AUTH], [SYS/TEMP]) and RFC 5034 (AUTH
// PLAIN). It listens on 127.0.0.1 on a free port.
//
//	srv := pop3test.NewServer(t, pop3test.Config{})
//	srv.AddUser("alice", "secret")
//	srv.AddMessage("alice", "uid-1", []byte("Subject: hi\n\nbody\n"))
//	... pop3.Dial(ctx, srv.Addr(), ...) ...
//	left := srv.Messages("alice")
//
// Faults (Config): no CAPA / PIPELINING / UIDL / TOP, dropping the connection
// at the k-th command or in the middle of a RETR, stalling, garbage or
// over-long reply lines, per-reply latency, -ERR on DELE n, [IN-USE], a
// failing QUIT, lying LIST sizes. Duplicate UIDLs come from adding two
// messages with the same uid.
package pop3test

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
)

// Config sets the server's capabilities and faults. The zero value is a
// well-behaved server offering USER, SASL PLAIN, TOP, UIDL, PIPELINING and
// RESP-CODES, without TLS.
type Config struct {
	// Capabilities.
	NoCAPA       bool        // CAPA answered -ERR (an RFC 1939-only server)
	NoPipelining bool        // PIPELINING not advertised
	NoUIDL       bool        // UIDL not advertised and answered -ERR
	NoTOP        bool        // TOP not advertised and answered -ERR
	NoUSER       bool        // USER not advertised and answered -ERR
	NoSASL       bool        // SASL not advertised, AUTH answered -ERR
	APOP         bool        // greeting carries a timestamp, APOP accepted
	STLS         *tls.Config // advertise and accept STLS
	ImplicitTLS  *tls.Config // the listener speaks TLS from the start
	Expire       string      // EXPIRE value ("NEVER", "0", "30"); "0" deletes retrieved messages at QUIT
	LoginDelay   time.Duration
	Now          func() time.Time // clock for LOGIN-DELAY; nil means time.Now
	// Listener, when set, is served instead of a new listener on
	// 127.0.0.1 (an emulated link's, for benchmarks); Close closes it.
	Listener net.Listener

	// Faults. Step numbers count command lines on one connection, from 1.
	// FaultConn limits the step faults to the n-th connection (from 1);
	// 0 applies them to every connection.
	FaultConn   int
	DropAfter   int // close the connection when command k arrives, unanswered
	DropInRetr  int // close a RETR reply after this many octets of data (>0)
	StallAt     int // never answer command k (the connection stays open)
	GarbageAt   int // answer command k with a line that is not POP3
	LongLineAt  int // answer command k with a 100,000-octet line
	ReplyDelay  time.Duration
	DeleErr     []int // DELE n answered -ERR for these message numbers
	InUse       bool  // every correct login answered -ERR [IN-USE]
	QuitErr     bool  // QUIT in TRANSACTION answered -ERR, nothing removed
	ListSizeLie int64 // added to every size LIST, STAT report
}

// Message is a message in a mailbox.
type Message struct {
	UID  string
	Body []byte
}

// Stats are the server's counters.
type Stats struct {
	Connections     int
	Commands        int            // command lines received
	LoginsAttempted map[string]int // per user name tried
	LoginsSucceeded map[string]int
	Commits         int // QUITs that ran the UPDATE state
	Deleted         int // messages removed by commits
}

// Server is an in-process POP3 server.
type Server struct {
	t  testing.TB
	ln net.Listener

	mu       sync.Mutex
	cfg      Config
	users    map[string]*mailbox
	stats    Stats
	commands []string // every command line received, secrets masked
	conns    map[net.Conn]bool
	closed   bool
	wg       sync.WaitGroup
}

type mailbox struct {
	pass      string
	msgs      []*msg
	locked    bool
	lastLogin time.Time
}

type msg struct {
	uid  string
	body []byte
	wire []byte // CRLF line ends, dot-stuffed, without the terminating "."
	size int64  // octets with CRLF line ends, without stuffing
}

// NewServer starts a server on 127.0.0.1:0. With a non-nil t, a listen
// failure fails the test, the server logs to t.Log and is closed by
// t.Cleanup; with nil t, a failure panics and the caller must Close.
func NewServer(t testing.TB, cfg Config) *Server {
	if t != nil {
		t.Helper()
	}
	ln, err := cfg.Listener, error(nil)
	if ln == nil {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		if t != nil {
			t.Fatalf("pop3test: listen: %v", err)
		}
		panic("pop3test: listen: " + err.Error())
	}
	if cfg.ImplicitTLS != nil {
		ln = tls.NewListener(ln, cfg.ImplicitTLS)
	}
	s := &Server{
		t:     t,
		ln:    ln,
		cfg:   cfg,
		users: map[string]*mailbox{},
		conns: map[net.Conn]bool{},
		stats: Stats{LoginsAttempted: map[string]int{}, LoginsSucceeded: map[string]int{}},
	}
	if t != nil {
		t.Cleanup(s.Close)
	}
	s.wg.Add(1)
	go s.accept()
	return s
}

// Addr is the server's "127.0.0.1:port".
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the server, drops every connection and waits for them.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.ln.Close()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// Configure changes the configuration for connections accepted from now on.
func (s *Server) Configure(f func(*Config)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.cfg)
}

// DropAfter makes new connections close when their k-th command arrives.
func (s *Server) DropAfter(k int) { s.Configure(func(c *Config) { c.DropAfter = k }) }

// DropInRetr makes new connections close a RETR reply after n octets.
func (s *Server) DropInRetr(n int) { s.Configure(func(c *Config) { c.DropInRetr = n }) }

// AddUser creates (or resets the password of) a user.
func (s *Server) AddUser(name, pass string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if mb := s.users[name]; mb != nil {
		mb.pass = pass
		return
	}
	s.users[name] = &mailbox{pass: pass}
}

// AddMessage appends a message to user's maildrop (the user is created
// with an empty password if missing). An empty uid gets a generated one; a
// uid used twice makes UIDL list it twice. Line ends may be LF or CRLF; on
// the wire every line ends in CRLF.
func (s *Server) AddMessage(user, uid string, body []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	mb := s.users[user]
	if mb == nil {
		mb = &mailbox{}
		s.users[user] = mb
	}
	if uid == "" {
		uid = fmt.Sprintf("gen%06d", len(mb.msgs)+1)
	}
	wire, size := wireForm(body)
	mb.msgs = append(mb.msgs, &msg{uid: uid, body: bytes.Clone(body), wire: wire, size: size})
}

// Messages returns what is in user's maildrop now (after committed QUITs).
func (s *Server) Messages(user string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	mb := s.users[user]
	if mb == nil {
		return nil
	}
	out := make([]Message, len(mb.msgs))
	for i, m := range mb.msgs {
		out[i] = Message{UID: m.uid, Body: bytes.Clone(m.body)}
	}
	return out
}

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.LoginsAttempted = maps.Clone(s.stats.LoginsAttempted)
	st.LoginsSucceeded = maps.Clone(s.stats.LoginsSucceeded)
	return st
}

// Commands returns every command line received so far, in order, across
// connections; PASS, APOP digests and AUTH payloads are masked.
func (s *Server) Commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.commands)
}

// wireForm renders body as RFC 1939 multi-line data: CRLF line ends and
// byte-stuffed leading dots. size counts CRLF line ends but no stuffing,
// as servers report in LIST.
func wireForm(body []byte) (wire []byte, size int64) {
	var b bytes.Buffer
	for len(body) > 0 {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) > 0 && line[0] == '.' {
			b.WriteByte('.')
		}
		b.Write(line)
		b.WriteString("\r\n")
		size += int64(len(line)) + 2
	}
	return b.Bytes(), size
}

func (s *Server) logf(format string, args ...any) {
	if s.t != nil {
		s.t.Logf("pop3test: "+format, args...)
	}
}

func (s *Server) accept() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			conn.Close()
			return
		}
		s.stats.Connections++
		n := s.stats.Connections
		cfg := s.cfg
		s.conns[conn] = true
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			sess := newSession(s, conn, cfg, n)
			sess.run()
			sess.close()
			s.mu.Lock()
			delete(s.conns, conn)
			s.mu.Unlock()
		}()
	}
}

// session is one connection.
type session struct {
	s        *Server
	cfg      Config
	conn     net.Conn // the TCP connection, a delay line over it, or TLS over either
	br       *bufio.Reader
	bw       *bufio.Writer
	tlsOn    bool
	faults   bool
	id       int // connection number, from 1
	step     int
	stamp    string
	user     string // after USER
	mb       *mailbox
	unlocked bool   // the maildrop's lock released (QUIT)
	msgs     []*msg // the maildrop as of login; numbers are index+1
	deleted  []bool
	retrd    []bool
}

var errDrop = errors.New("drop connection")

func newSession(s *Server, conn net.Conn, cfg Config, n int) *session {
	ss := &session{s: s, cfg: cfg, conn: conn, id: n}
	if cfg.ReplyDelay > 0 {
		ss.conn = newDelayConn(conn, cfg.ReplyDelay)
	}
	_, ss.tlsOn = conn.(*tls.Conn)
	ss.faults = cfg.FaultConn == 0 || cfg.FaultConn == n
	ss.br = bufio.NewReaderSize(ss.conn, 4096)
	ss.bw = bufio.NewWriter(ss.conn)
	if cfg.APOP {
		ss.stamp = fmt.Sprintf("<%d.%d@pop3test>", n, time.Now().UnixNano())
	}
	return ss
}

func (ss *session) close() {
	ss.unlock()
	ss.conn.Close()
}

// unlock releases the session's hold on its maildrop, once.
func (ss *session) unlock() {
	if ss.mb != nil && !ss.unlocked {
		ss.s.mu.Lock()
		ss.mb.locked = false
		ss.s.mu.Unlock()
		ss.unlocked = true
	}
}

func (ss *session) reply(format string, args ...any) {
	fmt.Fprintf(ss.bw, format, args...)
	ss.bw.WriteString("\r\n")
}

// flush sends replies, holding them while more pipelined commands wait.
func (ss *session) flush() error {
	if ss.br.Buffered() > 0 && ss.bw.Buffered() < 32<<10 {
		return nil
	}
	return ss.bw.Flush()
}

func (ss *session) run() {
	ss.reply("+OK pop3test ready%s", prefixSpace(ss.stamp))
	if ss.bw.Flush() != nil {
		return
	}
	for {
		line, err := ss.readLine()
		if err != nil {
			if errors.Is(err, errLineTooLong) {
				ss.reply("-ERR line too long")
				ss.bw.Flush()
			}
			return
		}
		ss.step++
		ss.s.mu.Lock()
		ss.s.stats.Commands++
		ss.s.commands = append(ss.s.commands, maskCommand(line))
		ss.s.mu.Unlock()
		if ss.faults {
			switch ss.step {
			case ss.cfg.DropAfter:
				ss.s.logf("conn %d: dropping the connection at command %d %q", ss.id, ss.step, maskCommand(line))
				ss.bw.Flush()
				return
			case ss.cfg.StallAt:
				ss.s.logf("conn %d: stalling at command %d %q", ss.id, ss.step, maskCommand(line))
				ss.bw.Flush()
				for {
					if _, err := ss.br.ReadByte(); err != nil {
						return
					}
				}
			case ss.cfg.GarbageAt:
				ss.reply("* HELLO this is not pop3")
				if ss.flush() != nil {
					return
				}
				continue
			case ss.cfg.LongLineAt:
				ss.reply("+OK %s", strings.Repeat("x", 100000))
				if ss.flush() != nil {
					return
				}
				continue
			}
		}
		if err := ss.command(line); err != nil {
			ss.bw.Flush()
			return
		}
		if ss.flush() != nil {
			return
		}
	}
}

var errLineTooLong = errors.New("line too long")

// readLine reads a command line (at most 1024 octets with CRLF).
func (ss *session) readLine() (string, error) {
	line, err := ss.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull || len(line) > 1024 {
		return "", errLineTooLong
	}
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(line), "\r\n"), nil
}

func prefixSpace(s string) string {
	if s == "" {
		return ""
	}
	return " " + s
}

func maskCommand(line string) string {
	verb, arg, _ := strings.Cut(line, " ")
	switch strings.ToUpper(verb) {
	case "PASS":
		return verb + " ****"
	case "APOP":
		name, _, _ := strings.Cut(arg, " ")
		return verb + " " + name + " ****"
	case "AUTH":
		mech, rest, _ := strings.Cut(arg, " ")
		if rest != "" {
			return verb + " " + mech + " ****"
		}
	}
	return line
}

// command runs one command; a non-nil error closes the connection.
func (ss *session) command(line string) error {
	verb, arg, _ := strings.Cut(line, " ")
	verb = strings.ToUpper(verb)
	authed := ss.mb != nil
	switch {
	case verb == "CAPA":
		return ss.capa()
	case verb == "QUIT":
		return ss.quit()
	case verb == "NOOP" && authed:
		ss.reply("+OK")
	case !authed:
		return ss.authCommand(verb, arg)
	default:
		return ss.transCommand(verb, arg)
	}
	return nil
}

func (ss *session) capa() error {
	if ss.cfg.NoCAPA {
		ss.reply("-ERR unknown command")
		return nil
	}
	ss.reply("+OK capability list follows")
	authed := ss.mb != nil
	if !ss.cfg.NoTOP {
		ss.reply("TOP")
	}
	if !ss.cfg.NoUIDL {
		ss.reply("UIDL")
	}
	ss.reply("RESP-CODES")
	ss.reply("AUTH-RESP-CODE")
	if !ss.cfg.NoPipelining {
		ss.reply("PIPELINING")
	}
	if !authed {
		if !ss.cfg.NoUSER {
			ss.reply("USER")
		}
		if !ss.cfg.NoSASL {
			ss.reply("SASL PLAIN")
		}
		if ss.cfg.STLS != nil && !ss.tlsOn {
			ss.reply("STLS")
		}
	}
	if ss.cfg.Expire != "" {
		ss.reply("EXPIRE %s", ss.cfg.Expire)
	}
	if ss.cfg.LoginDelay > 0 {
		ss.reply("LOGIN-DELAY %d", int(ss.cfg.LoginDelay/time.Second))
	}
	ss.reply("IMPLEMENTATION pop3test")
	ss.reply(".")
	return nil
}

func (ss *session) authCommand(verb, arg string) error {
	switch verb {
	case "USER":
		if ss.cfg.NoUSER || arg == "" {
			ss.reply("-ERR USER not supported")
			return nil
		}
		ss.user = arg
		ss.reply("+OK")
	case "PASS":
		if ss.user == "" {
			ss.reply("-ERR USER first")
			return nil
		}
		ss.login(ss.user, func(mb *mailbox) bool { return mb.pass == arg })
	case "APOP":
		name, digest, _ := strings.Cut(arg, " ")
		if !ss.cfg.APOP {
			ss.reply("-ERR APOP not supported")
			return nil
		}
		ss.login(name, func(mb *mailbox) bool {
			sum := md5.Sum([]byte(ss.stamp + mb.pass))
			return hex.EncodeToString(sum[:]) == digest
		})
	case "AUTH":
		return ss.auth(arg)
	case "STLS":
		return ss.stls()
	default:
		ss.reply("-ERR unknown command in AUTHORIZATION state")
	}
	return nil
}

func (ss *session) auth(arg string) error {
	mech, ir, hasIR := strings.Cut(arg, " ")
	if ss.cfg.NoSASL || !strings.EqualFold(mech, "PLAIN") {
		ss.reply("-ERR unsupported mechanism")
		return nil
	}
	if !hasIR {
		ss.reply("+ ")
		if err := ss.bw.Flush(); err != nil {
			return err
		}
		line, err := ss.readLine()
		if err != nil {
			return err
		}
		ir = line
	}
	if ir == "*" {
		ss.reply("-ERR AUTH cancelled")
		return nil
	}
	resp, err := decodeB64(ir)
	if err != nil {
		ss.reply("-ERR bad base64")
		return nil
	}
	var user, pass string
	srv := sasl.NewPlainServer(func(identity, u, p string) error {
		if identity != "" && identity != u {
			return errors.New("identity mismatch")
		}
		user, pass = u, p
		return nil
	})
	if _, _, err := srv.Next(resp); err != nil {
		ss.reply("-ERR [AUTH] Authentication failed.")
		return nil
	}
	ss.login(user, func(mb *mailbox) bool { return mb.pass == pass })
	return nil
}

func decodeB64(s string) ([]byte, error) {
	if s == "=" {
		return nil, nil
	}
	return base64.StdEncoding.DecodeString(s)
}

// login checks credentials, then [IN-USE] and LOGIN-DELAY, and enters the
// TRANSACTION state.
func (ss *session) login(user string, ok func(*mailbox) bool) {
	s := ss.s
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.LoginsAttempted[user]++
	mb := s.users[user]
	if mb == nil || !ok(mb) {
		ss.reply("-ERR [AUTH] Authentication failed.")
		return
	}
	if ss.cfg.InUse || mb.locked {
		ss.reply("-ERR [IN-USE] Mailbox is locked by another POP3 session.")
		return
	}
	now := time.Now()
	if ss.cfg.Now != nil {
		now = ss.cfg.Now()
	}
	if d := ss.cfg.LoginDelay; d > 0 && !mb.lastLogin.IsZero() && now.Sub(mb.lastLogin) < d {
		ss.reply("-ERR [LOGIN-DELAY] Logins allowed once every %d seconds.", int(d/time.Second))
		return
	}
	mb.lastLogin = now
	mb.locked = true
	s.stats.LoginsSucceeded[user]++
	ss.mb = mb
	ss.msgs = slices.Clone(mb.msgs)
	ss.deleted = make([]bool, len(ss.msgs))
	ss.retrd = make([]bool, len(ss.msgs))
	ss.reply("+OK Logged in.")
}

func (ss *session) stls() error {
	if ss.cfg.STLS == nil || ss.tlsOn {
		ss.reply("-ERR STLS not available")
		return nil
	}
	ss.reply("+OK Begin TLS negotiation now.")
	if err := ss.bw.Flush(); err != nil {
		return err
	}
	if ss.br.Buffered() > 0 {
		return errors.New("pipelined data after STLS")
	}
	tc := tls.Server(ss.conn, ss.cfg.STLS)
	tc.SetDeadline(time.Now().Add(10 * time.Second))
	if err := tc.Handshake(); err != nil {
		return err
	}
	tc.SetDeadline(time.Time{})
	ss.conn = tc
	ss.tlsOn = true
	ss.br.Reset(tc)
	ss.bw.Reset(tc)
	return nil
}

// msgArg parses a message number that is present and not deleted.
func (ss *session) msgArg(arg string) (int, bool) {
	n, err := strconv.Atoi(arg)
	if err != nil || n < 1 || n > len(ss.msgs) || ss.deleted[n-1] {
		ss.reply("-ERR no such message")
		return 0, false
	}
	return n, true
}

func (ss *session) transCommand(verb, arg string) error {
	switch verb {
	case "STAT":
		count, size := 0, int64(0)
		for i, m := range ss.msgs {
			if !ss.deleted[i] {
				count++
				size += m.size + ss.cfg.ListSizeLie
			}
		}
		ss.reply("+OK %d %d", count, size)
	case "LIST":
		if arg != "" {
			if n, ok := ss.msgArg(arg); ok {
				ss.reply("+OK %d %d", n, ss.msgs[n-1].size+ss.cfg.ListSizeLie)
			}
			return nil
		}
		ss.reply("+OK scan listing follows")
		for i, m := range ss.msgs {
			if !ss.deleted[i] {
				ss.reply("%d %d", i+1, m.size+ss.cfg.ListSizeLie)
			}
		}
		ss.reply(".")
	case "UIDL":
		if ss.cfg.NoUIDL {
			ss.reply("-ERR unknown command")
			return nil
		}
		if arg != "" {
			if n, ok := ss.msgArg(arg); ok {
				ss.reply("+OK %d %s", n, ss.msgs[n-1].uid)
			}
			return nil
		}
		ss.reply("+OK unique-id listing follows")
		for i, m := range ss.msgs {
			if !ss.deleted[i] {
				ss.reply("%d %s", i+1, m.uid)
			}
		}
		ss.reply(".")
	case "RETR":
		n, ok := ss.msgArg(arg)
		if !ok {
			return nil
		}
		ss.retrd[n-1] = true
		m := ss.msgs[n-1]
		ss.reply("+OK %d octets", m.size)
		if d := ss.cfg.DropInRetr; d > 0 && ss.faults && d < len(m.wire) {
			ss.s.logf("conn %d: dropping the connection %d octets into RETR %d", ss.id, d, n)
			ss.bw.Write(m.wire[:d])
			ss.bw.Flush()
			return errDrop
		}
		ss.bw.Write(m.wire)
		ss.reply(".")
	case "TOP":
		if ss.cfg.NoTOP {
			ss.reply("-ERR unknown command")
			return nil
		}
		a, b, _ := strings.Cut(arg, " ")
		k, err := strconv.Atoi(b)
		if err != nil || k < 0 {
			ss.reply("-ERR bad line count")
			return nil
		}
		n, ok := ss.msgArg(a)
		if !ok {
			return nil
		}
		ss.reply("+OK")
		ss.bw.Write(topOf(ss.msgs[n-1].wire, k))
		ss.reply(".")
	case "DELE":
		n, ok := ss.msgArg(arg)
		if !ok {
			return nil
		}
		if ss.faults && slices.Contains(ss.cfg.DeleErr, n) {
			ss.reply("-ERR [SYS/TEMP] cannot delete message %d", n)
			return nil
		}
		ss.deleted[n-1] = true
		ss.reply("+OK message %d deleted", n)
	case "RSET":
		clear(ss.deleted)
		ss.reply("+OK")
	default:
		ss.reply("-ERR unknown command")
	}
	return nil
}

// topOf returns the header, the blank line and k body lines of wire.
func topOf(wire []byte, k int) []byte {
	i := 0
	inBody := false
	for i < len(wire) {
		j := bytes.Index(wire[i:], []byte("\r\n"))
		if j < 0 {
			return wire
		}
		line := wire[i : i+j]
		if inBody {
			if k == 0 {
				return wire[:i]
			}
			k--
		} else if len(line) == 0 {
			inBody = true
		}
		i += j + 2
	}
	return wire
}

// quit ends the session; from TRANSACTION it runs the UPDATE state.
func (ss *session) quit() error {
	if ss.mb == nil {
		ss.reply("+OK Logging out.")
		return errDrop
	}
	// The maildrop is unlocked before the reply (RFC 1939 section 6: the
	// UPDATE state ends the session's hold on it), so a client that logs
	// in again right after +OK is not refused with [IN-USE].
	if ss.faults && ss.cfg.QuitErr {
		ss.unlock()
		ss.reply("-ERR some deleted messages not removed")
		return errDrop
	}
	s := ss.s
	s.mu.Lock()
	gone := map[*msg]bool{}
	for i, m := range ss.msgs {
		if ss.deleted[i] || ss.cfg.Expire == "0" && ss.retrd[i] {
			gone[m] = true
		}
	}
	ss.mb.msgs = slices.DeleteFunc(ss.mb.msgs, func(m *msg) bool { return gone[m] })
	s.stats.Commits++
	s.stats.Deleted += len(gone)
	s.mu.Unlock()
	ss.unlock()
	ss.reply("+OK Logging out, %d messages deleted.", len(gone))
	return errDrop
}

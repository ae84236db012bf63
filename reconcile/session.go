package reconcile

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/popdedupe/popdedupe/pop3"
)

// session is the one connection of a run.
type session struct {
	c       *pop3.Client
	capa    *pop3.Capabilities // after login; nil for a server without CAPA
	preCapa *pop3.Capabilities // before login
	listing *pop3.Listing      // UIDL and LIST, read right after login
	host    string
	res     *Result
}

// facts copies the client's counters into the result.
func (s *session) facts() {
	if s.c == nil {
		return
	}
	s.res.Session.Commands, s.res.Session.Logins = s.c.Stats()
}

// connect dials, secures the connection per the TLS policy and logs in.
// Every failure closes the connection without QUIT.
func connect(ctx context.Context, o *Options, res *Result) (*session, error) {
	host, port, mode, err := o.Endpoint()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	res.Session.Server = addr
	res.Session.User = o.User
	s := &session{host: host, res: res}

	timeout := o.CommandTimeout
	if timeout <= 0 {
		timeout = pop3.DefaultCommandTimeout
	}
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(dctx, "tcp", addr)
	if err != nil {
		return s, fmt.Errorf("reconcile: connecting to %s: %w", addr, err)
	}
	loopback := isLoopback(conn.RemoteAddr())
	cfg := o.tlsConfig(host)
	if mode == TLSImplicit {
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(dctx); err != nil {
			conn.Close()
			return s, tlsError(addr, err)
		}
		conn = tc
	}
	window := o.PipelineWindow
	if window == 0 {
		window = DefaultPipelineWindow
	}
	popts := &pop3.Options{
		TLSConfig:          cfg,
		AllowPlaintextAuth: mode != TLSStartTLS && (loopback || o.AllowPlaintext),
		Trace:              o.Trace,
		CommandTimeout:     o.CommandTimeout,
		PipelineWindow:     window,
	}
	c := pop3.New(conn, popts)
	s.c = c
	fail := func(err error) (*session, error) {
		c.Close()
		s.facts()
		return s, err
	}
	if _, err := c.Greeting(ctx); err != nil {
		return fail(fmt.Errorf("reconcile: greeting from %s: %w", addr, err))
	}
	capa, err := s.capaOrOld(ctx)
	if err != nil {
		return fail(err)
	}
	switch mode {
	case TLSImplicit:
		res.Session.TLS = "implicit"
	case TLSStartTLS, TLSAuto:
		if capa != nil && capa.STLS {
			if err := c.StartTLS(ctx, nil); err != nil {
				if c.Botched() != nil {
					return fail(tlsError(addr, err))
				}
				return fail(fmt.Errorf("reconcile: STLS refused by %s: %w", addr, err))
			}
			res.Session.TLS = "starttls"
			if capa, err = s.capaOrOld(ctx); err != nil {
				return fail(err)
			}
			break
		}
		if mode == TLSStartTLS {
			return fail(fmt.Errorf("reconcile: --tls starttls: %s does not offer STLS: %w", addr, pop3.ErrTLSRequired))
		}
		fallthrough
	case TLSNone:
		res.Session.TLS = "none"
		if !loopback && !o.AllowPlaintext {
			why := "offers no STLS"
			if mode == TLSNone {
				why = "is not a loopback address (--tls none)"
			}
			return fail(fmt.Errorf("%w: %s %s", ErrPlaintext, addr, why))
		}
	}
	s.preCapa = capa
	if capa != nil && capa.LoginDelay > 0 {
		res.Session.LoginDelay = int(capa.LoginDelay / time.Second)
	}
	loginAt := o.now()
	// The login, CAPA again (RFC 2449: values with the USER suffix, and
	// the whole list on some servers, may change after login), UIDL and
	// LIST: one round trip with PIPELINING (see pop3.LoginList).
	listing, err := c.LoginList(ctx, o.User, o.Password, pop3.AuthAuto)
	if err != nil {
		if !c.Authed() {
			return fail(s.loginError(err, loginAt))
		}
		return fail(fmt.Errorf("reconcile: CAPA, UIDL or LIST after login: %w", err))
	}
	s.listing = listing
	s.facts()
	if s.res.Session.LoginDelay > 0 {
		next := loginAt.Add(time.Duration(s.res.Session.LoginDelay) * time.Second)
		s.res.Session.NextLogin = &next
	}
	s.capa = listing.Capa
	if s.capa != nil {
		res.Session.Pipelining = s.capa.Pipelining
		switch e := s.capa.Expire; e {
		case pop3.ExpireAbsent:
		case pop3.ExpireNever:
			res.Session.Expire = "NEVER"
		default:
			res.Session.Expire = strconv.Itoa(e)
		}
		if s.capa.LoginDelay > 0 {
			res.Session.LoginDelay = int(s.capa.LoginDelay / time.Second)
			next := loginAt.Add(s.capa.LoginDelay)
			s.res.Session.NextLogin = &next
		}
	}
	return s, nil
}

// isLoopback reports whether the connection goes to this machine, where a
// password in clear does not cross a network. A variable for tests.
var isLoopback = func(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// capaOrOld sends CAPA; a -ERR (an RFC 1939-only server) gives nil.
func (s *session) capaOrOld(ctx context.Context) (*pop3.Capabilities, error) {
	capa, err := s.c.Capa(ctx)
	var re *pop3.ResponseError
	if errors.As(err, &re) && s.c.Botched() == nil {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reconcile: CAPA: %w", err)
	}
	return capa, nil
}

// expire0 reports whether the server may delete retrieved messages at QUIT.
func (s *session) expire0() bool { return s.capa != nil && s.capa.Expire == 0 }

// hasTop reports whether TOP can be used: advertised, or (without CAPA)
// worth trying is not safe to assume, so no.
func (s *session) hasTop() bool { return s.capa != nil && s.capa.TOP }

// loginError explains a failed login.
func (s *session) loginError(err error, at time.Time) error {
	switch {
	case errors.Is(err, pop3.ErrLoginDelay):
		e := &LoginDelayError{Err: err}
		if d := s.res.Session.LoginDelay; d > 0 {
			e.Delay = time.Duration(d) * time.Second
			e.Next = at.Add(e.Delay)
			s.res.Session.NextLogin = &e.Next
		}
		return e
	case errors.Is(err, pop3.ErrInUse):
		return fmt.Errorf("reconcile: the mailbox is locked by another POP3 session (is a mail client running?); try again when it is done: %w", err)
	case errors.Is(err, pop3.ErrAuth):
		return fmt.Errorf("reconcile: the server refused user %q and this password: %w", s.res.Session.User, err)
	case errors.Is(err, pop3.ErrPlaintextRefused):
		return fmt.Errorf("%w: %w", ErrPlaintext, err)
	}
	return fmt.Errorf("reconcile: login: %w", err)
}

// tlsConfig returns the TLS configuration for host.
func (o *Options) tlsConfig(host string) *tls.Config {
	var cfg *tls.Config
	if o.TLSConfig != nil {
		cfg = o.TLSConfig.Clone()
	} else {
		cfg = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	if cfg.RootCAs == nil {
		cfg.RootCAs = o.RootCAs
	}
	return cfg
}

// tlsError explains a failed handshake.
func tlsError(addr string, err error) error {
	var uae x509.UnknownAuthorityError
	var hne x509.HostnameError
	var cie x509.CertificateInvalidError
	var ve *tls.CertificateVerificationError
	if errors.As(err, &uae) || errors.As(err, &hne) || errors.As(err, &cie) || errors.As(err, &ve) {
		return fmt.Errorf("reconcile: the TLS certificate of %s does not verify (use --ca FILE for a private CA): %w", addr, err)
	}
	return fmt.Errorf("reconcile: TLS with %s: %w", addr, err)
}

package pop3

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/emersion/go-sasl"
)

// AuthMethod selects how Login authenticates.
type AuthMethod int

const (
	// AuthAuto chooses by CAPA: SASL PLAIN if offered, else USER/PASS, else
	// APOP (when the greeting has a timestamp). Without CAPA: USER/PASS.
	AuthAuto AuthMethod = iota
	// AuthUserPass is USER then PASS (RFC 1939).
	AuthUserPass
	// AuthAPOP is APOP with the MD5 digest of the greeting's timestamp and
	// the password (RFC 1939 section 7). Legacy and weak.
	AuthAPOP
	// AuthPlain is AUTH PLAIN (RFC 5034, RFC 4616).
	AuthPlain
)

func (m AuthMethod) String() string {
	switch m {
	case AuthAuto:
		return "auto"
	case AuthUserPass:
		return "user"
	case AuthAPOP:
		return "apop"
	case AuthPlain:
		return "plain"
	}
	return fmt.Sprintf("AuthMethod(%d)", int(m))
}

// plaintextOK refuses to authenticate over an unencrypted connection unless
// the caller allowed it. It is checked before anything is sent.
func (c *Client) plaintextOK() error {
	if c.tlsOn || c.opt.AllowPlaintextAuth {
		return nil
	}
	return ErrPlaintextRefused
}

// Login authenticates with method. It refuses (ErrPlaintextRefused) over a
// connection without TLS unless Options.AllowPlaintextAuth is set. A failed
// login is a *ResponseError; test it with errors.Is against ErrAuth,
// ErrInUse, ErrLoginDelay, ErrSysTemp.
func (c *Client) Login(ctx context.Context, user, pass string, method AuthMethod) error {
	if err := checkArg("user name", user); err != nil {
		return err
	}
	if err := checkArg("password", pass); err != nil {
		return err
	}
	if err := c.plaintextOK(); err != nil {
		return err
	}
	if method == AuthAuto {
		capa, err := c.Capa(ctx)
		var re *ResponseError
		if err != nil && !errors.As(err, &re) {
			return err
		}
		switch {
		case capa.HasSASL("PLAIN"):
			method = AuthPlain
		case capa == nil || capa.USER:
			method = AuthUserPass
		case c.apopStamp != "":
			method = AuthAPOP
		default:
			return fmt.Errorf("%w: server offers none of SASL PLAIN, USER, APOP", ErrNoAuthMethod)
		}
	}
	switch method {
	case AuthUserPass:
		if err := c.User(ctx, user); err != nil {
			return err
		}
		return c.Pass(ctx, pass)
	case AuthAPOP:
		return c.APOP(ctx, user, pass)
	case AuthPlain:
		return c.AuthPlain(ctx, user, pass)
	}
	return fmt.Errorf("%w: unknown auth method %v", ErrBadArgument, method)
}

// User sends USER name.
func (c *Client) User(ctx context.Context, name string) error {
	if err := checkArg("user name", name); err != nil {
		return err
	}
	if err := c.plaintextOK(); err != nil {
		return err
	}
	_, err := c.cmd(ctx, "USER "+name, "USER "+name)
	return err
}

// Pass sends PASS; the password is masked in the trace and never put in
// errors.
func (c *Client) Pass(ctx context.Context, pass string) error {
	if err := checkArg("password", pass); err != nil {
		return err
	}
	if err := c.plaintextOK(); err != nil {
		return err
	}
	_, err := c.cmd(ctx, "PASS "+pass, "PASS ****")
	return c.loggedIn(err)
}

// APOP authenticates with the greeting's timestamp (RFC 1939 section 7).
func (c *Client) APOP(ctx context.Context, user, pass string) error {
	if err := checkArg("user name", user); err != nil {
		return err
	}
	if err := checkArg("password", pass); err != nil {
		return err
	}
	if err := c.plaintextOK(); err != nil {
		return err
	}
	if _, err := c.Greeting(ctx); err != nil {
		return err
	}
	if c.apopStamp == "" {
		return fmt.Errorf("%w: APOP: the greeting has no timestamp", ErrNoAuthMethod)
	}
	sum := md5.Sum([]byte(c.apopStamp + pass))
	_, err := c.cmd(ctx, "APOP "+user+" "+hex.EncodeToString(sum[:]), "APOP "+user+" ****")
	return c.loggedIn(err)
}

// AuthPlain authenticates with AUTH PLAIN (RFC 5034, RFC 4616).
func (c *Client) AuthPlain(ctx context.Context, user, pass string) error {
	if err := checkArg("user name", user); err != nil {
		return err
	}
	if err := checkArg("password", pass); err != nil {
		return err
	}
	return c.Auth(ctx, sasl.NewPlainClient("", user, pass))
}

// Auth authenticates with any SASL mechanism (RFC 5034): the initial
// response goes on the AUTH line when the line fits in 255 octets, server
// challenges ("+ base64") are answered until +OK or -ERR. Payloads are
// masked in the trace. Like the other logins it refuses to run over an
// unencrypted connection unless Options.AllowPlaintextAuth is set.
func (c *Client) Auth(ctx context.Context, sc sasl.Client) error {
	if err := c.plaintextOK(); err != nil {
		return err
	}
	mech, ir, err := sc.Start()
	if err != nil {
		return fmt.Errorf("pop3: AUTH: %w", err)
	}
	if err := checkArg("SASL mechanism", mech); err != nil {
		return err
	}
	display := "AUTH " + mech
	end, err := c.begin(ctx)
	if err != nil {
		return err
	}
	defer end()

	line := display
	var pending []byte // initial response not sent on the AUTH line
	if ir != nil {
		enc := "="
		if len(ir) > 0 {
			enc = base64.StdEncoding.EncodeToString(ir)
		}
		if len(line)+1+len(enc)+2 <= maxCommandLine {
			line += " " + enc
			display += " ****"
		} else {
			pending = ir
		}
	}
	r, err := c.cmdLockedCont(line, display)
	for err == nil && r.cont {
		var resp []byte
		if pending != nil {
			resp, pending = pending, nil
		} else {
			chal, derr := base64.StdEncoding.DecodeString(r.text)
			if derr != nil {
				return c.botch(display, fmt.Errorf("%w: bad base64 challenge", ErrProtocol))
			}
			resp, err = sc.Next(chal)
			if err != nil {
				// Cancel the exchange (RFC 5034 section 4) and expect -ERR.
				saslErr := err
				if _, err := c.cmdLockedCont("*", "*"); err == nil {
					return c.botch(display, fmt.Errorf("%w: server accepted a cancelled AUTH", ErrProtocol))
				}
				return fmt.Errorf("pop3: %s: %w", display, saslErr)
			}
		}
		enc := base64.StdEncoding.EncodeToString(resp)
		// A continuation line is not a command: only CR/LF matter, and
		// base64 has none.
		c.tracef("C: ****")
		c.bw.WriteString(enc)
		c.bw.WriteString("\r\n")
		if err := c.flush(display); err != nil {
			return err
		}
		r, err = c.readReply(display)
	}
	return c.loggedIn(err)
}

// cmdLockedCont is cmdLocked that accepts a "+" continuation.
func (c *Client) cmdLockedCont(line, display string) (reply, error) {
	if err := c.send(line, display); err != nil {
		return reply{}, err
	}
	if err := c.flush(display); err != nil {
		return reply{}, err
	}
	return c.readReply(display)
}

// loggedIn records a successful login: the server now is in the
// TRANSACTION state and its capabilities may differ.
func (c *Client) loggedIn(err error) error {
	if err != nil {
		return err
	}
	c.authed = true
	c.logins++
	c.capa, c.capaErr = nil, nil
	return nil
}

// Listing is what LoginList returns: the capabilities after login and the
// maildrop's listings.
type Listing struct {
	Capa    *Capabilities // after login; nil when CAPA was answered -ERR
	UIDs    []UIDEntry
	UIDErr  error // what UIDL returns besides the entries: nil, ErrNoUIDL, a *DuplicateUIDLError, a *ResponseError
	Sizes   []MsgInfo
	ListErr error // a *ResponseError to LIST, or nil
}

// LoginList logs in like Login, then sends CAPA (the list may change after
// login, RFC 2449 section 3), UIDL and LIST. When the server announced
// PIPELINING before login and the login is one or two single-line
// commands (USER and PASS, AUTH PLAIN with its initial response on the
// line, APOP), all of them go out together and cost one round trip instead
// of four or five: RFC 2449 section 3 requires a capability of the
// AUTHORIZATION state to be announced in both states, so PIPELINING still
// holds after the login. A failed login then leaves replies in flight: it
// is returned as Login returns it (a *ResponseError) and the client is
// botched (closed, no QUIT; the commands after it only got -ERR, or a CAPA
// listing, in the AUTHORIZATION state). Errors reading the listings botch
// the client too; a -ERR to UIDL or LIST is in the Listing, the session
// usable.
func (c *Client) LoginList(ctx context.Context, user, pass string, method AuthMethod) (*Listing, error) {
	lines, displays, err := c.loginLines(ctx, user, pass, method)
	if err != nil {
		return nil, err
	}
	if lines == nil {
		// Lock-step: the server cannot take a pipeline, or the login
		// needs a dialogue.
		if err := c.Login(ctx, user, pass, method); err != nil {
			return nil, err
		}
		l := &Listing{}
		var re *ResponseError
		if l.Capa, err = c.Capa(ctx); err != nil && !errors.As(err, &re) {
			return nil, err
		}
		if l.UIDs, l.UIDErr = c.UIDL(ctx); c.Botched() != nil {
			return nil, c.Botched()
		}
		if l.Sizes, l.ListErr = c.List(ctx); c.Botched() != nil {
			return nil, c.Botched()
		}
		return l, nil
	}
	end, err := c.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer end()
	for i := range lines {
		if err := c.send(lines[i], displays[i]); err != nil {
			return nil, err // nothing written yet
		}
	}
	for _, l := range []string{"CAPA", "UIDL", "LIST"} {
		c.send(l, l)
	}
	if err := c.flush(displays[0]); err != nil {
		return nil, err
	}
	for _, d := range displays {
		if _, err := c.readStatusLine(d); err != nil {
			var re *ResponseError
			if errors.As(err, &re) {
				c.botch(d, fmt.Errorf("login refused with commands in flight: %w", re))
				return nil, re
			}
			return nil, err
		}
	}
	c.loggedIn(nil)
	l := &Listing{}
	var re *ResponseError
	if l.Capa, err = c.readCapa(); err != nil && !errors.As(err, &re) {
		return nil, err
	}
	if l.UIDs, l.UIDErr = c.readUIDL(); c.Botched() != nil {
		return nil, c.Botched()
	}
	if l.Sizes, l.ListErr = c.readList(); c.Botched() != nil {
		return nil, c.Botched()
	}
	return l, nil
}

// loginLines returns the command lines of a login that may be pipelined
// (with their trace forms), or nil lines when it must go in lock-step.
// It checks the arguments and the plaintext rule as Login does.
func (c *Client) loginLines(ctx context.Context, user, pass string, method AuthMethod) (lines, displays []string, err error) {
	if err := checkArg("user name", user); err != nil {
		return nil, nil, err
	}
	if err := checkArg("password", pass); err != nil {
		return nil, nil, err
	}
	if err := c.plaintextOK(); err != nil {
		return nil, nil, err
	}
	capa, err := c.Capa(ctx)
	var re *ResponseError
	if err != nil && !errors.As(err, &re) {
		return nil, nil, err
	}
	if capa == nil || !capa.Pipelining {
		return nil, nil, nil
	}
	if method == AuthAuto {
		switch {
		case capa.HasSASL("PLAIN"):
			method = AuthPlain
		case capa.USER:
			method = AuthUserPass
		default:
			return nil, nil, nil // Login decides (APOP, or no method)
		}
	}
	switch method {
	case AuthUserPass:
		return []string{"USER " + user, "PASS " + pass}, []string{"USER " + user, "PASS ****"}, nil
	case AuthPlain:
		_, ir, err := sasl.NewPlainClient("", user, pass).Start()
		if err != nil {
			return nil, nil, fmt.Errorf("pop3: AUTH: %w", err)
		}
		line := "AUTH PLAIN " + base64.StdEncoding.EncodeToString(ir)
		if len(line)+2 > maxCommandLine {
			return nil, nil, nil // the response goes after a "+" (Auth)
		}
		return []string{line}, []string{"AUTH PLAIN ****"}, nil
	}
	return nil, nil, nil
}

package pop3

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Test for them with errors.Is.
var (
	// ErrProtocol means the server sent something that is not valid POP3
	// where a reply was expected: a line that is neither +OK nor -ERR, a
	// malformed STAT/LIST/UIDL line, data after STLS. The client is botched.
	ErrProtocol = errors.New("pop3: protocol error")
	// ErrBotched is returned by every call after the session was broken by an
	// I/O error, a timeout, a cancelled context, a protocol error or an error
	// from a caller's callback. The error wraps the original cause too.
	ErrBotched = errors.New("pop3: session botched, connection closed without QUIT")
	// ErrClosed is returned by calls after Quit or Close.
	ErrClosed = errors.New("pop3: client closed")
	// ErrPlaintextRefused means a login was refused before anything was sent
	// because the connection is not encrypted and Options.AllowPlaintextAuth
	// is not set.
	ErrPlaintextRefused = errors.New("pop3: refusing to send credentials over an unencrypted connection")
	// ErrNoUIDL means the server does not implement UIDL (RFC 1939 makes it
	// optional); without UIDL, messages cannot be identified across sessions.
	ErrNoUIDL = errors.New("pop3: server does not support UIDL")
	// ErrDuplicateUIDL means a UIDL listing names the same unique-id for two
	// messages. UIDL returns the listing together with a *DuplicateUIDLError.
	ErrDuplicateUIDL = errors.New("pop3: UIDL lists the same unique-id twice")
	// ErrLineTooLong means a reply line exceeded the client's limit (see
	// MaxReplyLine). The client is botched.
	ErrLineTooLong = errors.New("pop3: reply line too long")
	// ErrBadArgument means a command argument was refused before anything
	// was sent: it contains CR, LF or NUL, is empty where a value is needed,
	// is out of range, or the command line would exceed 255 octets.
	ErrBadArgument = errors.New("pop3: bad command argument")
	// ErrNoAuthMethod means Login(Auto) found no mechanism that both the
	// client and the server support.
	ErrNoAuthMethod = errors.New("pop3: no usable authentication method")
	// ErrTLSRequired means STLS was needed but is not offered or was refused.
	ErrTLSRequired = errors.New("pop3: TLS required but not available")
	// ErrTimeout means a network step did not finish within the command
	// timeout or the context deadline. The client is botched.
	ErrTimeout = errors.New("pop3: timeout")
)

// Sentinels for RFC 2449 / RFC 3206 response codes. A *ResponseError carrying
// the code matches them with errors.Is.
var (
	// ErrLoginDelay: [LOGIN-DELAY], the server wants a longer pause between
	// logins (RFC 2449). Wait, do not treat as a wrong password.
	ErrLoginDelay = errors.New("pop3: [LOGIN-DELAY] logging in too often")
	// ErrInUse: [IN-USE], credentials were fine but the maildrop is locked by
	// another session (RFC 2449).
	ErrInUse = errors.New("pop3: [IN-USE] maildrop in use")
	// ErrAuth: [AUTH], the credentials were wrong (RFC 3206).
	ErrAuth = errors.New("pop3: [AUTH] authentication failed")
	// ErrSysTemp: [SYS/TEMP], a temporary server problem (RFC 3206).
	ErrSysTemp = errors.New("pop3: [SYS/TEMP] temporary server failure")
	// ErrSysPerm: [SYS/PERM], a permanent server problem (RFC 3206).
	ErrSysPerm = errors.New("pop3: [SYS/PERM] permanent server failure")
	// ErrUpdateFailed: QUIT was answered with -ERR (RFC 1939 UPDATE state:
	// "some deleted messages not removed"). Some or none of the DELEs may
	// have been committed; check with UIDL in a new session.
	ErrUpdateFailed = errors.New("pop3: QUIT failed, deletions not (all) committed")
)

// ResponseError is a -ERR reply from the server. It does not botch the
// session: the server is still in step with the client.
type ResponseError struct {
	// Command is the command that was answered, with secrets left out
	// ("RETR 3", "PASS", "AUTH PLAIN", "APOP alice").
	Command string
	// Code is the RFC 2449 response code in upper case without brackets
	// ("IN-USE", "SYS/TEMP"), or "" when the reply had none.
	Code string
	// Text is the human-readable rest of the reply line.
	Text string
}

func (e *ResponseError) Error() string {
	var b strings.Builder
	b.WriteString("pop3: ")
	b.WriteString(e.Command)
	b.WriteString(": -ERR")
	if e.Code != "" {
		b.WriteString(" [")
		b.WriteString(e.Code)
		b.WriteString("]")
	}
	if e.Text != "" {
		b.WriteString(" ")
		b.WriteString(e.Text)
	}
	return b.String()
}

// Is reports whether the error carries the response code of target
// (ErrLoginDelay, ErrInUse, ErrAuth, ErrSysTemp, ErrSysPerm). Codes are
// hierarchical (RFC 2449): "SYS/TEMP/DISK" matches ErrSysTemp. A -ERR to
// QUIT matches ErrUpdateFailed.
func (e *ResponseError) Is(target error) bool {
	switch target {
	case ErrLoginDelay:
		return codeHas(e.Code, "LOGIN-DELAY")
	case ErrInUse:
		return codeHas(e.Code, "IN-USE")
	case ErrAuth:
		return codeHas(e.Code, "AUTH")
	case ErrSysTemp:
		return codeHas(e.Code, "SYS/TEMP")
	case ErrSysPerm:
		return codeHas(e.Code, "SYS/PERM")
	case ErrUpdateFailed:
		return e.Command == "QUIT"
	}
	return false
}

// Temporary reports whether retrying later may succeed: [LOGIN-DELAY],
// [IN-USE] and [SYS/TEMP].
func (e *ResponseError) Temporary() bool {
	return e.Is(ErrLoginDelay) || e.Is(ErrInUse) || e.Is(ErrSysTemp)
}

// codeHas reports whether code is want or a sub-code of it ("SYS/TEMP/X").
func codeHas(code, want string) bool {
	return code == want || strings.HasPrefix(code, want+"/")
}

// DuplicateUIDLError is returned by UIDL, together with the listing, when a
// unique-id is listed for more than one message. Deleting by such a UIDL
// could lose mail.
type DuplicateUIDLError struct {
	UID  string
	Nums []int // message numbers sharing UID
}

func (e *DuplicateUIDLError) Error() string {
	return fmt.Sprintf("pop3: UIDL lists unique-id %q for messages %v", e.UID, e.Nums)
}

// Is matches ErrDuplicateUIDL.
func (e *DuplicateUIDLError) Is(target error) bool { return target == ErrDuplicateUIDL }

// botchedError is what every call returns after the session broke.
type botchedError struct{ cause error }

func (e *botchedError) Error() string {
	return ErrBotched.Error() + ": " + e.cause.Error()
}

func (e *botchedError) Unwrap() []error { return []error{ErrBotched, e.cause} }

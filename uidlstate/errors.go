package uidlstate

import (
	"errors"
	"fmt"
)

// Sentinel errors. The typed errors below wrap one of them, so callers can
// test with errors.Is and read details with errors.As.
var (
	// ErrSyntax marks a state file line the client's format does not allow.
	ErrSyntax = errors.New("uidlstate: syntax error")
	// ErrTruncated marks a state file that ends in the middle of a line or
	// of a block: it was probably cut short.
	ErrTruncated = errors.New("uidlstate: truncated state file")
	// ErrIllegalUIDL marks a UIDL outside RFC 1939's rules (1–70 characters
	// in 0x21–0x7E), or one that the target format cannot hold.
	ErrIllegalUIDL = errors.New("uidlstate: illegal UIDL")
	// ErrDuplicateUIDL marks a UIDL listed twice.
	ErrDuplicateUIDL = errors.New("uidlstate: UIDL listed twice")
	// ErrUnknownFormat marks a format name or a file whose format is not
	// one of Formats().
	ErrUnknownFormat = errors.New("uidlstate: unknown state format")
	// ErrWrongAccount marks a per-account state file (getmail, claws) whose
	// name belongs to another account.
	ErrWrongAccount = errors.New("uidlstate: state file belongs to another account")
	// ErrReadOnly marks a target that is not writable; nothing was changed.
	ErrReadOnly = errors.New("uidlstate: target is read-only")
	// ErrLocked marks a target locked by a running client; nothing was
	// changed.
	ErrLocked = errors.New("uidlstate: target is locked by another process")
)

// ParseError reports a state file the reader refused, with its position.
type ParseError struct {
	Format Format
	Path   string // file name as given to Read; may be empty
	Line   int    // 1-based; 0 when the error is about the whole file
	Msg    string
	Err    error // ErrSyntax or ErrTruncated
}

func (e *ParseError) Error() string {
	where := e.Path
	if where == "" {
		where = "<input>"
	}
	if e.Line > 0 {
		where = fmt.Sprintf("%s:%d", where, e.Line)
	}
	return fmt.Sprintf("uidlstate: %s: %s state file: %s", where, e.Format, e.Msg)
}

func (e *ParseError) Unwrap() error { return e.Err }

// UIDLError reports an illegal UIDL.
type UIDLError struct {
	UID    string
	Index  int // 1-based position in the list it came from; 0 if unknown
	Reason string
}

func (e *UIDLError) Error() string {
	if e.Index > 0 {
		return fmt.Sprintf("uidlstate: UIDL #%d %q: %s", e.Index, e.UID, e.Reason)
	}
	return fmt.Sprintf("uidlstate: UIDL %q: %s", e.UID, e.Reason)
}

func (e *UIDLError) Unwrap() error { return ErrIllegalUIDL }

// DuplicateUIDLError reports a UIDL that appears twice in one list. First and
// Second are 1-based positions.
type DuplicateUIDLError struct {
	UID           string
	First, Second int
	Note          string // why two different UIDLs collide, when they do
}

func (e *DuplicateUIDLError) Error() string {
	s := fmt.Sprintf("uidlstate: UIDL %q listed twice (#%d and #%d)", e.UID, e.First, e.Second)
	if e.Note != "" {
		s += ": " + e.Note
	}
	return s + "; refusing to rebuild the state, it could lose mail"
}

func (e *DuplicateUIDLError) Unwrap() error { return ErrDuplicateUIDL }

// AccountError reports a per-account state file named for another account.
type AccountError struct {
	Path, Want string
}

func (e *AccountError) Error() string {
	return fmt.Sprintf("uidlstate: %s belongs to another account (this account's file is named %q)", e.Path, e.Want)
}

func (e *AccountError) Unwrap() error { return ErrWrongAccount }

// WriteError reports a failed WriteFile; the target was left as it was.
type WriteError struct {
	Path string
	Op   string
	Err  error
}

func (e *WriteError) Error() string {
	return fmt.Sprintf("uidlstate: write %s: %s: %v (target left unchanged)", e.Path, e.Op, e.Err)
}

func (e *WriteError) Unwrap() error { return e.Err }

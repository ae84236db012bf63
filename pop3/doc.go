// Package pop3 implements a POP3 client.
//
// It covers RFC 1939 (POP3: USER/PASS, APOP, STAT, LIST, UIDL, TOP, RETR,
// DELE, RSET, NOOP, QUIT), RFC 2449 (CAPA, PIPELINING, LOGIN-DELAY, EXPIRE,
// RESP-CODES), RFC 2595 (STLS), RFC 3206 (the SYS and AUTH response codes)
// and RFC 5034 (SASL AUTH, used here for PLAIN and any github.com/emersion/go-sasl
// client).
//
// # Safety rules
//
// RFC 1939 removes messages only in the UPDATE state, which a session reaches
// with QUIT. The client therefore treats any I/O error, timeout, cancelled
// context or unparsable reply as fatal: the connection is closed, the client
// is "botched" (see [Client.Botched]), every later call returns an error
// wrapping [ErrBotched], and [Client.Quit] refuses to send QUIT, so the server
// rolls back every DELE of the session. Only a +OK answer to QUIT is a commit.
//
// Passwords are never sent over an unencrypted connection unless
// [Options.AllowPlaintextAuth] is set, never appear in errors, and are masked
// in the debug trace ([Options.Trace]).
//
// # Reading messages
//
// [Client.Retr] and [Client.Top] stream the message to an io.Writer with the
// dot-stuffing undone and CRLF line ends turned into LF; lines of any length
// are passed through without being buffered whole. [Client.RetrEach],
// [Client.TopEach] and [Client.DeleEach] send their commands pipelined
// (a sliding window of [Options.PipelineWindow] commands, written by their
// own goroutine while the replies are read, so no window can deadlock)
// when the server advertises PIPELINING, and in lock-step otherwise.
// [Client.LoginList] logs in and sends CAPA, UIDL and LIST in the same
// round trip.
//
// A Client is not safe for concurrent use.
package pop3

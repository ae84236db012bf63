// Package reconcile owns the one POP3 session that repairs the server side
// of a duplicate-download incident: it identifies every server message
// against the local stores, then (only when asked to apply) saves what is
// missing locally and deletes what is verified saved, all in one login.
//
// It follows RFC 1939 (POP3; deletions happen only in the UPDATE state that
// QUIT starts, so a session that dies before QUIT deletes nothing), RFC 2449
// (CAPA, PIPELINING, LOGIN-DELAY, EXPIRE, response codes), RFC 2595 (STLS),
// RFC 3206 ([AUTH], [SYS/TEMP]) and RFC 8314 (implicit TLS on port 995).
//
// # The session
//
// Run makes exactly one connection and one login, and never a second one:
//
//  1. Dial and TLS per Options.TLS, CAPA, login, CAPA again (values may
//     change after login), UIDL and LIST; with PIPELINING the last four go
//     out together (one round trip, pop3.LoginList). A server without UIDL
//     is refused: without stable ids nothing can be deleted or recorded
//     safely.
//  2. Identification (read-only): TOP n 0 for messages larger than a few
//     KiB gives the header; fingerprint.Parser computes the same
//     Message-ID and key-header hash the scan computed for local copies.
//     Only server messages that could match something (a local copy with
//     the same Message-ID, or the same key headers when there is no
//     Message-ID, or a local X-UIDL naming this UIDL, or another server
//     message with the same header identity) are retrieved in full and
//     hashed, streaming, with the same Parser. When the server advertises
//     EXPIRE 0 (it may delete every retrieved message at QUIT) messages are
//     inspected with "TOP n 99999999" instead of RETR, always. Commands are
//     pipelined when the server offers PIPELINING.
//  3. The plan: one verdict per server message, with its evidence.
//  4. Only with Options.Apply: messages missing locally are saved (they
//     were written to a temporary file while being retrieved, and are
//     committed durably, fsync included); then the messages to delete go
//     through one choke point (deleteVerified) that checks the evidence
//     again and refuses a UIDL the server listed twice; then QUIT, only
//     after every DELE reply was read. Only a +OK to QUIT is a commit.
//
// Every phase keeps all of its commands in flight, so on a link with a
// long round trip a reconcile costs its bytes plus about a dozen round
// trips (connection, greeting, CAPA, the login flight, TCP slow start, the
// TOP, RETR and DELE phases, QUIT), not one per message; bench/wan
// measures it over an emulated 100 Mbit/s, 50 ms line.
//
// A dry run (the default) sends no DELE and ends with QUIT, so it changes
// nothing on the server; it writes nothing locally either.
//
// # Verdicts
//
//   - saved: the full server copy was fingerprinted and matches a local copy
//     (Message-ID and body hash; key headers and body hash for messages
//     without Message-ID). With MatchMessageID, a weaker "saved" is
//     given on Message-ID, key headers and size without the body; the
//     evidence says so.
//   - missing: no local copy.
//   - conflict: a local copy has the same Message-ID but another body.
//     Reported, never deleted, never fetched.
//   - fetched: saved locally by this run.
//   - deleted: DELE was acknowledged and QUIT answered +OK.
//   - unknown: could not be inspected (a malformed message, a -ERR to RETR).
//
// Server messages that are copies of each other (the same message delivered
// twice) carry ServerDuplicateOf and are treated like any saved message.
// A message whose UIDL the server lists twice is never deleted.
//
// # State files
//
// With Options.State, after the session has ended, the client's UIDL state
// file is rebuilt (package uidlstate): every UIDL whose message is verified
// saved (or fetched) is recorded, so the client downloads exactly what is
// missing locally. A dry run computes the diff and writes nothing.
package reconcile

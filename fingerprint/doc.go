// Package fingerprint decides when two stored copies are the same message.
//
// It reads one message (RFC 5322 header block, blank line, body) as a
// stream, never holding the whole message in memory, and produces a Print:
// the normalised Message-ID, an xxhash of the normalised body, and an xxhash
// of the key headers used for messages that have no Message-ID. The same
// Parser hashes local copies (Maildir files, mbox slices) and server copies
// (POP3 RETR/TOP output), so that reconcile and scan agree on identity.
//
// # Identity
//
// Two copies are duplicates when
//
//   - both have a Message-ID, the normalised Message-IDs are equal, and the
//     body hashes are equal; or
//   - neither has a Message-ID, the body hashes are equal, and the key-header
//     hashes (From, Date, Subject, To) are equal.
//
// Two copies with the same Message-ID and different body hashes are a
// conflict: they are reported, and never treated as duplicates.
//
// # Normalisation (the exact rules; reconcile relies on them)
//
// Applied to every copy, wherever it came from:
//
//  1. Line ends: every CRLF becomes LF (RFC 5322 §2.3 uses CRLF on the wire;
//     Maildir and mbox files usually hold LF; POP3 DotReader output is LF).
//     A bare CR inside a line is kept.
//  2. A leading mbox envelope line ("From " at the very start, RFC 4155) is
//     not part of the message and is skipped. Some clients store it in
//     Maildir files too.
//  3. The header block ends at the first empty line. Folded lines (starting
//     with SP or HTAB) are unfolded (RFC 5322 §2.2.3) and runs of white space
//     collapse to one space; values are trimmed. Field names are matched
//     case-insensitively. Header fields are not hashed, except the key
//     headers below, so fields that POP3 clients and local stores add on
//     download (Status, X-Status, X-UIDL, X-Mozilla-Status, X-Mozilla-Status2,
//     X-Mozilla-Keys, X-Keywords, X-IMAPbase, X-UID, Content-Length, Lines,
//     and any other) never break a match.
//  4. Message-ID (RFC 5322 §3.6.4): the first Message-ID field; the text
//     between the first "<" and the following ">" (the whole value when there
//     are no brackets), with all white space removed and the domain part
//     (after the last "@") lower-cased. The local part keeps its case. An
//     empty result means "no Message-ID".
//  5. Key headers: the first From, Date, Subject and To fields, unfolded and
//     collapsed as in rule 3, hashed in that order with their names.
//  6. Body: every line of the form ">...>From " (one or more ">" before
//     "From ") loses all its leading ">" characters, so mboxo quoting,
//     mboxrd quoting and no quoting all hash alike (RFC 4155 §2 and its
//     mboxrd note). This is deliberately one-way: a body line that really
//     began with ">From " matches one that began with "From ".
//  7. Body: trailing empty lines are dropped, and a missing final line end
//     counts as present (mbox writers add a separating blank line; some
//     stores drop the last newline).
//  8. The body hash is xxhash64 (github.com/cespare/xxhash/v2) of the body
//     after rules 1, 6 and 7, lines joined by LF.
//
// # Malformed input
//
// A message is malformed (ErrMalformed, with a reason) when it is empty,
// contains a NUL byte, has a header line that is neither a field nor a
// continuation before any empty line (no header/body separator), has a
// header block over MaxHeaderBytes, or ends inside a header line. Malformed
// messages are never given a Print: callers list them as skipped and never
// remove them.
package fingerprint

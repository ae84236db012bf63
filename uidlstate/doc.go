// Package uidlstate reads and writes the "already downloaded" state files of
// POP3 clients, and owns the policy for rebuilding them after a duplicate
// download incident.
//
// A POP3 client that leaves mail on the server remembers, per account, the
// UIDLs (RFC 1939 §7, "UIDL") of the messages it has already downloaded.
// When that list is lost the client downloads everything again. After
// reconcile knows which server messages are verified saved locally, Rebuild
// computes the new list and File writes it in the client's own format, so
// that the client downloads exactly the messages that are missing locally.
//
// # Formats
//
//   - fetchmail: the --idfile (default ~/.fetchids). One line per message,
//     "USER@POLLNAME SP UIDL LF"; no header, no times. fetchmail matches
//     USER and POLLNAME case-insensitively (strcasecmp) and keeps the lines of
//     accounts it did not poll, after its own, byte for byte. It writes the
//     lines of one account in server (UIDL listing) order.
//   - getmail: getmail6's oldmail-SERVER-PORT-USER file (the characters
//     /\:;<>| in the name become "-"). One line per message,
//     "UIDL NUL EPOCHSECONDS LF", the time the message was first seen.
//     getmail rewrites "/" in a UIDL to "-", and keeps UIDLs that vanished
//     from the server until they are 30 days old. The file holds one account.
//   - mpop: the uidls_file (default ~/.mpop_uidls/%U_at_%H). "#" comment
//     lines, then per account a line " COUNT HOST USER" (leading space)
//     followed by COUNT UIDLs, one per line, in ascending byte order. mpop
//     matches HOST and USER exactly and omits accounts with no UIDLs.
//   - thunderbird: <profile>/Mail/<server>/popstate.dat. The lines
//     "# POP3 State File", "# This is a generated file!  Do not edit.", an
//     empty line, "*HOST USER", then one line per message
//     "STATUS UIDL UNIXSECONDS" with STATUS one of k (kept), d (delete at the
//     next poll), b (too big, headers only) or f (fetch the body). Line ends
//     are the platform's (CRLF on Windows, LF elsewhere); the current client
//     (Pop3Client.sys.mjs) joins lines with the separator and writes no final
//     one. Reading accepts both line ends; writing keeps the file's own, and
//     File.SetLineEnding chooses one for a new file.
//   - claws: Claws Mail's ~/.claws-mail/uidl/SERVER-USERID. One line per
//     message, "UIDL TAB RECV_TIME TAB PARTIAL LF" (Unix seconds; PARTIAL 0 =
//     fully received, 1 = partially received, 2 = must complete), in server
//     order. The file holds one account.
//   - json: popdedupe's own form, for inspection and for clients without
//     a writer here; see "JSON form" below.
//
// # JSON form
//
//	{
//	  "popdedupe_uidl_state": 1,
//	  "accounts": [
//	    {
//	      "host": "pop.example.com",
//	      "port": 995,
//	      "user": "alice",
//	      "entries": [
//	        {"uid": "000000016b082e9d", "seen": "2025-01-02T03:04:05Z"}
//	      ]
//	    }
//	  ]
//	}
//
// Account fields: host and user (required), port and pollname (optional).
// Entry fields: uid (required, a legal UIDL), seen (RFC 3339, optional),
// flag (one printable character, optional), partial (optional). Unknown
// fields, a version other than 1 and a UIDL listed twice in one account are
// refused.
//
// # Safety
//
// Reading is strict where the client is lenient: a garbage line, binary
// bytes, a line end missing at the end of a file whose client always writes
// one (a sign of truncation), or a count that does not match are reported as
// a *ParseError with the path and line, and nothing is written. Entries of
// other accounts in a shared file are kept byte for byte (fetchmail, mpop,
// thunderbird) or unchanged in content (json). WriteFile replaces a file atomically (temporary file in
// the same directory, fsync, rename, fsync of the directory), keeps the
// previous file as FILE.popdedupe-bak, keeps the owner, writes mode 0600, and
// refuses a read-only target.
//
// Rebuild refuses a server listing that names a UIDL twice (deleting or
// skipping by such a UIDL could lose mail) and UIDLs outside RFC 1939's
// 1–70 characters in 0x21–0x7E.
package uidlstate

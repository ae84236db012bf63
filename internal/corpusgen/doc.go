// Package corpusgen generates realistic mail and realistic POP3
// duplicate-download incidents, deterministically from a seed, for tests,
// the demo and benchmarks.
//
// An incident is a POP3 mailbox of Options.Messages distinct messages (the
// server's view, ServerMessages) and local stores holding one or more
// copies of each saved message: the first download, before the incident,
// and re-downloads in a few bursts after the client lost its UIDL state.
// A copy differs from the server's copy only as POP3 clients make them
// differ: added header fields (ClientHeaders), CRLF line ends, mbox From_
// quoting (RFC 4155, mboxo or mboxrd) and trailing blank lines.
//
// WriteMaildir, WriteMaildirPP and WriteMbox stream a store to disk and
// return its Truth: which files or mbox entries are copies of which
// message, which distinct messages share a Message-ID with different
// bodies, and which server UIDs are saved locally. The Truth is recorded
// while writing, never recomputed from the bytes, so other packages can
// test their dedupe against it.
//
// Everything about message i comes from random streams seeded by
// (Options.Seed, i), so the same options always give the same bytes, and
// any message can be generated alone (Generator.Message). The package
// imports nothing from the rest of popdedupe.
package corpusgen

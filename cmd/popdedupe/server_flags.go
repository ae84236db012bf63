package main

import (
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/popdedupe/popdedupe/internal/secret"
	"github.com/popdedupe/popdedupe/reconcile"
)

// serverFlags are the flags of every command that talks to the POP3
// server (reconcile, repair): defined once so that their names and help
// never drift apart.
type serverFlags struct {
	rec          reconcile.Options
	passwordFile string
	caFile       string
	insecure     bool
	state        stateFlag
	traceFile    string
}

// insecureFlag is loudly named on purpose: it turns off the check that
// the server is who it says it is.
const insecureFlag = "tls-insecure-skip-verify"

func (s *serverFlags) register(fs *flag.FlagSet) {
	s.rec.TLS, s.rec.Match = reconcile.TLSAuto, reconcile.MatchFull
	fs.StringVar(&s.rec.Server, "server", "", "POP3 server HOST[:PORT] (port default: 995 for --tls auto|implicit, else 110)")
	fs.StringVar(&s.rec.User, "user", "", "POP3 user name")
	fs.StringVar(&s.passwordFile, "password-file", "", "read the password from FILE (mode 0600); else POPDEDUPE_PASSWORD, ~/.netrc, or a prompt on a terminal")
	fs.Var(&s.rec.TLS, "tls", "auto (implicit TLS on 995, else STLS when offered, else plain only to loopback), implicit, starttls or none")
	fs.BoolVar(&s.rec.AllowPlaintext, "allow-plaintext", false, "allow sending the password in clear to a non-loopback address")
	fs.StringVar(&s.caFile, "ca", "", "verify the server certificate against the CA certificates in FILE (PEM)")
	fs.BoolVar(&s.insecure, insecureFlag, false, "DANGEROUS: accept any server certificate (anyone on the path can read the password and the mail); prefer --ca FILE")
	fs.BoolVar(&s.rec.DeleteSaved, "delete-saved", false, "delete server messages verified saved locally (with --apply)")
	fs.StringVar(&s.rec.FetchMissing, "fetch-missing", "", "save messages missing locally into this Maildir or mbox file (maildir:PATH, mbox:PATH to say which) before deleting")
	fs.Var(&s.state, "state", "rebuild the client's UIDL state FORMAT:PATH (fetchmail, getmail, mpop, thunderbird, claws, json); dry run prints the diff")
	fs.StringVar(&s.rec.PollName, "poll-name", "", "fetchmail poll name, when it is not the server host")
	fs.Var(&s.rec.Match, "match", "evidence for \"saved\": full (default: whole server copy hashed) or message-id (weaker: header and size only)")
	fs.DurationVar(&s.rec.CommandTimeout, "timeout", 60*time.Second, "give up when the server makes no progress for this long")
	fs.StringVar(&s.traceFile, "trace", "", "write the POP3 dialogue to FILE (passwords masked)")
}

// prepare checks the user name and server, loads the CA file and sets
// the TLS policy, and gets the password (no prompt when noPrompt).
func (s *serverFlags) prepare(stderr io.Writer, noPrompt bool) error {
	if err := secret.CheckUser(s.rec.User); err != nil {
		return usageErrorf("--user: %v", err)
	}
	host, _, _, err := s.rec.Endpoint()
	if err != nil {
		return usageErrorf("%v", err)
	}
	if s.insecure && s.caFile != "" {
		return usageErrorf("--%s and --ca exclude each other", insecureFlag)
	}
	if s.caFile != "" && s.rec.RootCAs == nil {
		pem, err := os.ReadFile(s.caFile)
		if err != nil {
			return usageErrorf("--ca: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return usageErrorf("--ca %s: no PEM certificate in it", s.caFile)
		}
		s.rec.RootCAs = pool
	}
	if s.insecure && s.rec.TLSConfig == nil {
		fmt.Fprintf(stderr, "WARNING: --%s: the server certificate is NOT verified; the password and the mail can be read and changed on the way.\n", insecureFlag)
		s.rec.TLSConfig = &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12} // #nosec: asked for by name
	}
	if s.rec.Password == "" {
		pw, _, err := secret.Password(secret.Options{File: s.passwordFile, Machine: host, Login: s.rec.User, Prompt: stderr, NoPrompt: noPrompt})
		if err != nil {
			return err
		}
		s.rec.Password = pw
	}
	s.rec.State = s.state.t
	return nil
}

// openTrace opens the --trace file (0600); close it when done.
func (s *serverFlags) openTrace() (io.Closer, error) {
	if s.traceFile == "" {
		return io.NopCloser(nil), nil
	}
	f, err := os.OpenFile(s.traceFile, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("--trace: %w", err)
	}
	s.rec.Trace = f
	return f, nil
}

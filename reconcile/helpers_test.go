package reconcile

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/popdedupe/popdedupe/fingerprint"
	"github.com/popdedupe/popdedupe/pop3/pop3test"
	"github.com/popdedupe/popdedupe/scan"
)

const (
	testUser = "alice"
	testPass = "correct horse battery staple"
)

// mail returns test message i: distinct Message-ID, headers and body.
// Every third message is large (over smallSize) so that both the TOP
// path and the direct RETR path run; bodies contain dot-leading and
// "From " lines to exercise dot-stuffing and mbox quoting.
func mail(i int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: sender%d@example.org\nTo: alice@example.net\n", i)
	fmt.Fprintf(&b, "Subject: message %d\nDate: Mon, 3 Mar 2025 10:%02d:00 +0000\n", i, i%60)
	fmt.Fprintf(&b, "Message-ID: <msg%d@example.org>\n\n", i)
	lines := 5
	if i%3 == 0 {
		lines = 200
	}
	for l := 0; l < lines; l++ {
		fmt.Fprintf(&b, "line %d of message %d, some words to make it longer than it needs to be\n", l, i)
	}
	b.WriteString(".a line starting with a dot\nFrom the desk of nobody\n")
	return b.Bytes()
}

// noIDMail is a message without Message-ID.
func noIDMail(i int) []byte {
	return []byte(fmt.Sprintf("From: x%d@example.org\nTo: alice@example.net\nSubject: no id %d\nDate: Tue, 4 Mar 2025 11:00:00 +0000\n\nbody %d\n", i, i, i))
}

func uid(i int) string { return fmt.Sprintf("UID%04d", i) }

// newServer starts a fake server for alice with the messages.
func newServer(t testing.TB, cfg pop3test.Config, msgs ...[]byte) *pop3test.Server {
	t.Helper()
	srv := pop3test.NewServer(t, cfg)
	srv.AddUser(testUser, testPass)
	for i, m := range msgs {
		srv.AddMessage(testUser, uid(i), m)
	}
	return srv
}

// maildir makes an empty Maildir under dir.
func maildir(t testing.TB, dir string) string {
	t.Helper()
	for _, s := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, s), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

var fileSeq int

// put stores a local copy of a message in a Maildir; variant changes the
// form the way clients do (CRLF, added headers, X-UIDL) without changing
// the identity.
func put(t testing.TB, dir string, msg []byte, variant int, xuidl string) {
	t.Helper()
	fileSeq++
	data := msg
	switch variant % 3 {
	case 1:
		data = bytes.ReplaceAll(msg, []byte("\n"), []byte("\r\n"))
	case 2:
		data = append([]byte("Status: RO\nX-Mozilla-Status: 0001\n"), msg...)
	}
	if xuidl != "" {
		data = append([]byte("X-UIDL: "+xuidl+"\n"), data...)
	}
	name := fmt.Sprintf("%d.M%dP1.test:2,S", 1741000000+fileSeq, fileSeq)
	if err := os.WriteFile(filepath.Join(dir, "cur", name), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func scanStores(t testing.TB, stores ...string) *scan.Result {
	t.Helper()
	res, err := scan.Scan(context.Background(), stores, scan.Options{})
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	return res
}

func opts(srv *pop3test.Server) Options {
	return Options{Server: srv.Addr(), User: testUser, Password: testPass, TLS: TLSNone, CommandTimeout: 10 * time.Second}
}

// localKeys returns the identity of every local copy, counted, read
// afresh from disk with all bodies hashed.
func localKeys(t testing.TB, stores ...string) map[fingerprint.Key]int {
	t.Helper()
	res, err := scan.Scan(context.Background(), stores, scan.Options{HashAll: true})
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	if len(res.Skipped) > 0 {
		t.Errorf("local stores hold unreadable messages (half-written?): %+v", res.Skipped)
	}
	keys := map[fingerprint.Key]int{}
	for i := range res.Messages {
		keys[res.Key(&res.Messages[i])]++
	}
	return keys
}

func keyOf(t testing.TB, body []byte) fingerprint.Key {
	t.Helper()
	pr, err := fingerprint.NewParser().Sum(bytes.NewReader(body), -1, true)
	if err != nil {
		t.Fatalf("fingerprint: %v", err)
	}
	return pr.Key()
}

// checkInvariant is the safety check after every test, computed without
// reconcile's own logic: each message that left the server has a local
// copy with the same identity, and nothing left without a committed QUIT
// (when res says none happened).
func checkInvariant(t testing.TB, before, after []pop3test.Message, res *Result, stores ...string) {
	t.Helper()
	left := map[string]int{}
	for _, m := range after {
		left[m.UID+"\x00"+string(m.Body)]++
	}
	var gone []pop3test.Message
	for _, m := range before {
		k := m.UID + "\x00" + string(m.Body)
		if left[k] > 0 {
			left[k]--
			continue
		}
		gone = append(gone, m)
	}
	if len(gone) == 0 {
		return
	}
	keys := localKeys(t, stores...)
	for _, m := range gone {
		if keys[keyOf(t, m.Body)] == 0 {
			t.Errorf("INVARIANT: server message %s was deleted without a verified local copy", m.UID)
		}
	}
	if res != nil && !res.Session.QuitSent {
		t.Errorf("INVARIANT: %d messages left the server but the result says QUIT was never sent", len(gone))
	}
	if res != nil {
		for _, m := range gone {
			found := false
			for _, rm := range res.Messages {
				if rm.UIDL == m.UID && (rm.Dele == DeleCommitted || rm.Dele == DeleUncertain) {
					found = true
				}
			}
			if !found {
				t.Errorf("INVARIANT: server message %s is gone but the result does not say it was (or may have been) deleted", m.UID)
			}
		}
	}
}

func uids(msgs []pop3test.Message) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, m.UID)
	}
	sort.Strings(out)
	return out
}

func verdicts(res *Result) map[string]Verdict {
	out := map[string]Verdict{}
	for _, m := range res.Messages {
		out[m.UIDL] = m.Verdict
	}
	return out
}

func countCmd(cmds []string, verb string) int {
	n := 0
	for _, c := range cmds {
		if strings.HasPrefix(c, verb+" ") || c == verb {
			n++
		}
	}
	return n
}

package reliability

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

	"github.com/popdedupe/popdedupe/dedupe/dedupetest"
	"github.com/popdedupe/popdedupe/fingerprint"
	"github.com/popdedupe/popdedupe/internal/corpusgen"
	"github.com/popdedupe/popdedupe/journal"
	"github.com/popdedupe/popdedupe/pop3/pop3test"
	"github.com/popdedupe/popdedupe/scan"
)

// world is a set of local stores, the quarantines of the runs on them,
// and optionally a POP3 server: everything that holds a user's mail.
type world struct {
	e      *env
	dir    string
	stores []string
	srv    *pop3test.Server
	// before is what the world held at the start: message contents
	// (dedupetest.Contents) of the stores, and identities of the stores
	// and the server.
	snap     map[string]string
	contents map[[32]byte]int
	keys     map[fingerprint.Key]bool
	// skipped is how many malformed messages the stores hold at the start.
	skipped int
	// foreignLocks: other programs take dot-locks on these stores now.
	foreignLocks bool
}

// handIncident is dedupetest's hand-made incident (flags, Maildir++,
// mbox with CRLF and quoting, a conflict, malformed messages).
func handIncident(t *testing.T) *world {
	t.Helper()
	e := newEnv(t)
	w := &world{e: e, dir: filepath.Join(e.home, "mail")}
	w.stores = dedupetest.Incident(t, w.dir)
	w.record(t)
	return w
}

// genIncident is a generated incident (corpusgen): a Maildir++ and an
// mbox, each with n distinct messages and their re-downloaded copies.
func genIncident(t *testing.T, seed int64, n int) *world {
	t.Helper()
	e := newEnv(t)
	w := &world{e: e, dir: filepath.Join(e.home, "mail")}
	md := filepath.Join(w.dir, "Maildir")
	mb := filepath.Join(w.dir, "inbox.mbox")
	o := corpusgen.DefaultOptions(seed, n)
	o.MaxSize = 64 << 10
	if _, err := corpusgen.WriteMaildirPP(md, o); err != nil {
		t.Fatal(err)
	}
	o2 := corpusgen.DefaultOptions(seed+1, n)
	o2.MaxSize = 200 << 10 // some messages span several writes of a rewrite
	if _, err := corpusgen.WriteMbox(mb, o2); err != nil {
		t.Fatal(err)
	}
	w.stores = []string{md, mb}
	w.record(t)
	return w
}

// record takes the start state.
func (w *world) record(t *testing.T) {
	t.Helper()
	w.snap = dedupetest.Snapshot(t, w.stores...)
	w.contents = dedupetest.Contents(t, w.stores...)
	keys, sr := dedupetest.Keys(t, w.stores)
	w.keys = keys
	w.skipped = len(sr.Skipped)
	if w.srv != nil {
		for _, m := range w.srv.Messages(srvUser) {
			w.keys[keyOf(t, m.Body)] = true
		}
	}
}

// quarantines are the quarantine Maildirs under the state directory.
func (w *world) quarantines() []string {
	q, _ := filepath.Glob(filepath.Join(w.e.state, "quarantine", "*"))
	return q
}

// journals are the run journals, oldest first: by the time of their first
// line (run ids sort by the second only, and runs here are faster).
func (w *world) journals() []string {
	js, _ := filepath.Glob(filepath.Join(w.e.state, "journal-*.jsonl"))
	first := map[string]time.Time{}
	for _, j := range js {
		if es, err := journal.Read(j); err == nil && len(es) > 0 {
			first[j] = es[0].Time
		}
	}
	sort.SliceStable(js, func(a, b int) bool { return first[js[a]].Before(first[js[b]]) })
	return js
}

// noLoss checks the invariant of every run, killed or not: every message
// content of the start is in the stores or a quarantine, every identity
// of the start is in the stores, a quarantine or on the server, and every
// mbox still splits into as many readable messages as before (no new
// malformed message: a torn write would show as one).
func (w *world) noLoss(t *testing.T, when string, extraStores ...string) {
	t.Helper()
	roots := append(append([]string{}, w.stores...), w.quarantines()...)
	for _, x := range extraStores {
		x = targetPath(x)
		if fi, err := os.Stat(x); err == nil && (fi.IsDir() && scan.IsMaildir(x) || fi.Mode().IsRegular() && fi.Size() > 0) {
			roots = append(roots, x)
		}
	}
	if n := dedupetest.Missing(w.contents, dedupetest.Contents(t, roots...)); n > 0 {
		t.Errorf("%s: %d message contents of the start are in no store and no quarantine", when, n)
	}
	have, sr := dedupetest.Keys(t, roots)
	if w.srv != nil {
		for _, m := range w.srv.Messages(srvUser) {
			have[keyOf(t, m.Body)] = true
		}
	}
	lost := 0
	for k := range w.keys {
		if !have[k] {
			lost++
			if lost < 5 {
				t.Errorf("%s: lost message %q (body %x)", when, k.MessageID, k.BodyHash)
			}
		}
	}
	if lost > 0 {
		t.Errorf("%s: %d distinct messages lost", when, lost)
	}
	if len(sr.Skipped) > w.skipped {
		t.Errorf("%s: %d malformed messages, %d at the start (torn write?): %+v", when, len(sr.Skipped), w.skipped, sr.Skipped)
	}
	for _, s := range w.stores {
		if _, err := os.Stat(s + ".lock"); err == nil && !strings.HasSuffix(when, "killed") && !w.foreignLocks {
			t.Errorf("%s: dot-lock %s.lock left behind", when, s)
		}
	}
}

// restored checks that the stores are byte for byte, mode for mode, as at
// the start.
func (w *world) restored(t *testing.T, when string) {
	t.Helper()
	if d := dedupetest.DiffSnapshots(w.snap, dedupetest.Snapshot(t, w.stores...)); d != "" {
		t.Errorf("%s: stores differ from the start:\n%s", when, d)
	}
}

// unchanged is restored under another name: nothing may have changed.
func (w *world) unchanged(t *testing.T, when string) { w.restored(t, when) }

func keyOf(t *testing.T, body []byte) fingerprint.Key {
	t.Helper()
	p, err := fingerprint.NewParser().Sum(bytes.NewReader(body), int64(len(body)), true)
	if err != nil {
		t.Fatalf("fingerprint of a server message: %v", err)
	}
	return p.Key()
}

// dedupeArgs is `dedupe` on the world's stores with its state directory.
func (w *world) dedupeArgs(extra ...string) []string {
	return append(append([]string{"dedupe", "--progress", "never", "--state-dir", w.e.state}, extra...), w.stores...)
}

const srvUser = "alice"

// mailMsg is server message i with CRLF line ends: small, every third
// one long enough to need several reads, every tenth 300 KB.
func mailMsg(i int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "From: sender%d@example.org\r\nTo: alice@example.net\r\nSubject: reliability %d\r\n", i, i)
	fmt.Fprintf(&b, "Date: Mon, 3 Mar 2025 10:%02d:00 +0000\r\nMessage-ID: <rel%d@reliability.test>\r\n\r\n", i%60, i)
	lines := 3
	switch {
	case i%10 == 7:
		lines = 10000 // 300 KB: several writes to save it
	case i%3 == 0:
		lines = 400
	}
	for l := 0; l < lines; l++ {
		fmt.Fprintf(&b, "body line %d of message %d\r\n", l, i)
	}
	if i%4 == 1 {
		b.WriteString("\r\nFrom the server, a line an mbox must quote.\r\n.leading dot\r\n")
	}
	return []byte(b.String())
}

// saveLocal writes msg into the Maildir dir as a client would store it
// (LF, a Status header).
func saveLocal(t *testing.T, dir string, msg []byte, n int) {
	t.Helper()
	for _, s := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, s), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	data := append([]byte("Status: RO\n"), bytes.ReplaceAll(msg, []byte("\r\n"), []byte("\n"))...)
	name := fmt.Sprintf("%d.M%dP7.reliability:2,S", 1741000000+n, n)
	if err := os.WriteFile(filepath.Join(dir, "cur", name), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// serverIncident is the reconcile incident: a fake server with n
// messages, the even ones saved in a local Maildir (twice for every
// fourth: the duplicate incident), the odd ones missing.
func serverIncident(t *testing.T, cfg pop3test.Config, n int) *world {
	t.Helper()
	e := newEnv(t)
	w := &world{e: e, dir: filepath.Join(e.home, "mail")}
	w.srv = pop3test.NewServer(t, cfg)
	w.srv.AddUser(srvUser, password)
	md := filepath.Join(w.dir, "Maildir")
	for i := 0; i < n; i++ {
		w.srv.AddMessage(srvUser, fmt.Sprintf("uid-%04d", i), mailMsg(i))
		if i%2 == 0 {
			saveLocal(t, md, mailMsg(i), i)
			if i%4 == 0 {
				saveLocal(t, md, mailMsg(i), i+100000)
			}
		}
	}
	w.stores = []string{md}
	w.record(t)
	return w
}

// uids lists the UIDs left on the server.
func (w *world) uids() []string {
	var out []string
	for _, m := range w.srv.Messages(srvUser) {
		out = append(out, m.UID)
	}
	return out
}

// keyCounts scans roots and counts the copies of each identity; it
// returns the skipped messages too.
func keyCounts(t *testing.T, roots ...string) (map[fingerprint.Key]int, []scan.Skipped) {
	t.Helper()
	res, err := scan.Scan(context.Background(), roots, scan.Options{HashAll: true})
	if err != nil {
		t.Fatal(err)
	}
	out := map[fingerprint.Key]int{}
	for i := range res.Messages {
		out[res.Key(&res.Messages[i])]++
	}
	return out, res.Skipped
}

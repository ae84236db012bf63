package dedupe_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/popdedupe/popdedupe/dedupe"
	"github.com/popdedupe/popdedupe/dedupe/dedupetest"
	"github.com/popdedupe/popdedupe/internal/corpusgen"
	"github.com/popdedupe/popdedupe/journal"
	"github.com/popdedupe/popdedupe/scan"
	"github.com/popdedupe/popdedupe/store"
)

func plan(t *testing.T, stores []string, opts dedupe.Options, rule scan.KeepRule) *dedupe.Plan {
	t.Helper()
	res, err := scan.Scan(context.Background(), stores, scan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	groups, conflicts, err := res.Duplicates(context.Background(), rule)
	if err != nil {
		t.Fatal(err)
	}
	p, err := dedupe.Make(res, groups, conflicts, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// apply plans and executes; it returns the plan and the journal path.
func apply(t *testing.T, stores []string, opts dedupe.Options, stateDir string) (*dedupe.Plan, string, error) {
	t.Helper()
	p := plan(t, stores, opts, scan.KeepOldest)
	j, err := journal.Create(stateDir, opts.RunID)
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	_, err = dedupe.Execute(context.Background(), p, store.NewMutator(j, opts.Quarantine), "test")
	return p, j.Path(), err
}

func undo(t *testing.T, path string) *journal.UndoResult {
	t.Helper()
	r, err := journal.Undo(context.Background(), path, store.UndoHandlers())
	if err != nil {
		t.Fatalf("undo: %v (%+v)", err, r)
	}
	return r
}

// checkRun applies dedupe to stores and checks the invariants, a second
// run finding nothing, and undo restoring the start exactly.
func checkRun(t *testing.T, dir string, stores []string) *dedupe.Plan {
	t.Helper()
	state := filepath.Join(dir, "state")
	q := filepath.Join(state, "quarantine", "run1")
	snap0 := dedupetest.Snapshot(t, stores...)
	keys0, res0 := dedupetest.Keys(t, stores)
	contents0 := dedupetest.Contents(t, stores...)

	opts := dedupe.Options{Quarantine: q, RunID: "run1"}
	p, jpath, err := apply(t, stores, opts, state)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if p.Removals == 0 {
		t.Fatalf("incident has no duplicates to remove: the test proves nothing")
	}
	keys1, res1 := dedupetest.Keys(t, stores)
	if d := dedupetest.SameKeys(keys0, keys1); d != "" {
		t.Errorf("distinct fingerprints changed: %s", d)
	}
	if len(res1.Skipped) != len(res0.Skipped) {
		t.Errorf("skipped messages: %d before, %d after (an mbox no longer parses?)", len(res0.Skipped), len(res1.Skipped))
	}
	if got, want := len(res1.Messages), len(res0.Messages)-p.Removals; got != want {
		t.Errorf("messages after: %d, want %d", got, want)
	}
	if n := dedupetest.Missing(contents0, dedupetest.Contents(t, append(stores, q)...)); n > 0 {
		t.Errorf("%d original messages are neither in the stores nor in the quarantine", n)
	}
	if again := plan(t, stores, dedupe.Options{Quarantine: q + "2", RunID: "run2"}, scan.KeepOldest); again.Work() {
		t.Errorf("second run still finds %d removals and %d flag merges", again.Removals, again.Flagged)
	}
	r := undo(t, jpath)
	if r.Undone == 0 {
		t.Errorf("undo did nothing")
	}
	if d := dedupetest.DiffSnapshots(snap0, dedupetest.Snapshot(t, stores...)); d != "" {
		t.Errorf("undo did not restore the stores:\n%s", d)
	}
	// Undo again: nothing left to do, nothing changes.
	r = undo(t, jpath)
	if r.Undone != 0 || r.Already == 0 {
		t.Errorf("second undo: undone %d, already %d", r.Undone, r.Already)
	}
	if d := dedupetest.DiffSnapshots(snap0, dedupetest.Snapshot(t, stores...)); d != "" {
		t.Errorf("second undo changed the stores:\n%s", d)
	}
	return p
}

func TestIncident(t *testing.T) {
	dir := t.TempDir()
	stores := dedupetest.Incident(t, dir)
	p := checkRun(t, dir, stores)
	// What the plan decided, copy by copy.
	got := map[string]dedupe.Kind{}
	reason := map[string]string{}
	for _, a := range p.Actions {
		k := filepath.Base(a.Ref.Path)
		if a.Ref.Index > 0 {
			k += "#" + string(rune('0'+a.Ref.Index))
		}
		got[k], reason[k] = a.Kind, a.Reason
	}
	for _, tc := range []struct {
		copy string
		want dedupe.Kind
	}{
		{"1000000001.A1.host:2,S", dedupe.Keep},
		{"1000000050.A2.host", dedupe.Quarantine},
		{"1000000060.A3.host:2,RS", dedupe.Quarantine},
		{"inbox.mbox#1", dedupe.Keep},
		{"inbox.mbox#3", dedupe.Quarantine},
		{"inbox.mbox#5", dedupe.Quarantine},
		{"broken.mbox#1", dedupe.Keep},               // its mbox has an unreadable message
		{"1000000010.C1.host:2,S", dedupe.Keep},      // conflict: one copy of version a
		{"1000000011.C2.host:2,", dedupe.Quarantine}, // an exact copy of C1
		{"1000000012.C3.host:2,S", ""},               // version b: alone, never in a group
		{"1000000021.D2.host:2,ST", dedupe.Quarantine},
		{"1000000031.E2.host", dedupe.Quarantine},
	} {
		if got[tc.copy] != tc.want {
			t.Errorf("%s: %q (%s), want %q", tc.copy, got[tc.copy], reason[tc.copy], tc.want)
		}
	}
	if !strings.Contains(reason["broken.mbox#1"], "could not be read") {
		t.Errorf("broken.mbox#1 kept without the reason: %q", reason["broken.mbox#1"])
	}
	if _, ok := got["1000000003.BAD.host:2,S"]; ok {
		t.Errorf("a malformed copy is in the plan")
	}
	// Flags: m1's kept copy gets R from the removed copy; m7's kept copy
	// gets S but never T; m2's kept copy gets F from another folder but
	// not that folder's keyword 'a'.
	flagTo := map[string]string{}
	for _, a := range p.Actions {
		if a.Kind == dedupe.Keep && a.To != "" {
			flagTo[filepath.Base(a.Copy.Path)] = filepath.Base(a.To)
		}
	}
	for from, to := range map[string]string{
		"1000000001.A1.host:2,S": "1000000001.A1.host:2,RS",
		"1000000020.D1.host:2,":  "1000000020.D1.host:2,S",
		"1000000002.B1.host:2,":  "1000000002.B1.host:2,F",
	} {
		if flagTo[from] != to {
			t.Errorf("flag merge of %s: %q, want %q", from, flagTo[from], to)
		}
	}
}

func TestDeleteMode(t *testing.T) {
	dir := t.TempDir()
	stores := dedupetest.Incident(t, dir)
	keys0, _ := dedupetest.Keys(t, stores)
	state := filepath.Join(dir, "state")
	p, jpath, err := apply(t, stores, dedupe.Options{Delete: true, RunID: "del"}, state)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range p.Actions {
		if a.Kind == dedupe.Quarantine {
			t.Fatalf("delete plan quarantines %s", a.Ref)
		}
	}
	keys1, _ := dedupetest.Keys(t, stores)
	if d := dedupetest.SameKeys(keys0, keys1); d != "" {
		t.Errorf("distinct fingerprints changed: %s", d)
	}
	r := undo(t, jpath)
	if len(r.Notes) == 0 || !strings.Contains(strings.Join(r.Notes, "\n"), "deleted for good") {
		t.Errorf("undo of --delete says nothing about what it cannot put back: %q", r.Notes)
	}
}

// TestGenerated runs the invariants on corpusgen incidents: a Maildir++
// tree and mbox files (mboxrd and mboxo) holding copies of the same
// server messages.
func TestGenerated(t *testing.T) {
	for _, seed := range []int64{1, 2, 3} {
		dir := t.TempDir()
		opts := corpusgen.DefaultOptions(seed, 60)
		opts.MeanSize, opts.MaxSize = 4<<10, 40<<10
		if _, err := corpusgen.WriteMaildirPP(filepath.Join(dir, "Maildir"), opts); err != nil {
			t.Fatal(err)
		}
		// The mbox files sit in a directory store: every message of
		// inbox.mbox has an older copy in the Maildir, so it ends up
		// empty, and scan refuses an empty mbox named as a store.
		mail := filepath.Join(dir, "mail")
		os.MkdirAll(mail, 0o700)
		if _, err := corpusgen.WriteMbox(filepath.Join(mail, "inbox.mbox"), opts); err != nil {
			t.Fatal(err)
		}
		opts.Quoting = corpusgen.MboxO
		opts.Seed += 100
		if _, err := corpusgen.WriteMbox(filepath.Join(mail, "old.mbox"), opts); err != nil {
			t.Fatal(err)
		}
		checkRun(t, dir, []string{filepath.Join(dir, "Maildir"), mail})
	}
}

// TestRealCorpus runs the invariants on real mail: the notmuch Maildir
// (with its duplicate/ folder), real mbox files, and an incident made by
// delivering some real messages a second time.
func TestRealCorpus(t *testing.T) {
	real := filepath.Join("..", "..", "shared", "corpus", "real")
	if _, err := os.Stat(real); err != nil {
		t.Skipf("real corpus not found at %s: skipping (see shared/corpus/real/SOURCES.md)", real)
	}
	dir := t.TempDir()
	dedupetest.CopyTree(t, filepath.Join(real, "notmuch"), filepath.Join(dir, "notmuch"))
	dedupetest.CopyTree(t, filepath.Join(real, "spamassassin"), filepath.Join(dir, "spam"))
	enron, _ := filepath.Glob(filepath.Join(real, "enron-mbox", "*.mbox"))
	if len(enron) < 2 {
		t.Skip("enron mbox files missing")
	}
	b0, _ := os.ReadFile(enron[0])
	b1, _ := os.ReadFile(enron[1])
	// One mbox holding a file twice (a re-download), one holding another.
	os.WriteFile(filepath.Join(dir, "a.mbox"), append(append([]byte{}, b0...), b0...), 0o600)
	os.WriteFile(filepath.Join(dir, "b.mbox"), append(append([]byte{}, b1...), b0[:len(b0)/2]...), 0o640)
	// Deliver real Maildir messages again into new/.
	lm := filepath.Join(real, "linux-mips-maildir", "cur")
	ents, err := os.ReadDir(lm)
	if err != nil {
		t.Skip(err)
	}
	md := filepath.Join(dir, "mips")
	os.MkdirAll(filepath.Join(md, "new"), 0o755)
	dedupetest.CopyTree(t, lm, filepath.Join(md, "cur"))
	for i, e := range ents {
		if i%7 != 0 {
			continue
		}
		b, _ := os.ReadFile(filepath.Join(lm, e.Name()))
		if _, err := store.DeliverMaildir(md, strings.NewReader(string(b)), 0); err != nil {
			t.Fatal(err)
		}
	}
	os.RemoveAll(filepath.Join(md, "tmp"))
	checkRun(t, dir, []string{filepath.Join(dir, "notmuch"), filepath.Join(dir, "spam"), filepath.Join(dir, "a.mbox"), filepath.Join(dir, "b.mbox"), md})
}

func TestQuarantineInsideStore(t *testing.T) {
	dir := t.TempDir()
	stores := dedupetest.Incident(t, dir)
	res, _ := scan.Scan(context.Background(), stores, scan.Options{})
	g, c, _ := res.Duplicates(context.Background(), scan.KeepOldest)
	_, err := dedupe.Make(res, g, c, dedupe.Options{Quarantine: filepath.Join(stores[0], ".Quarantine")})
	if !errors.Is(err, dedupe.ErrQuarantineInStore) {
		t.Fatalf("quarantine inside the store: %v, want ErrQuarantineInStore", err)
	}
}

// TestKeepRules: every rule keeps exactly one copy of each group and
// never removes the last copy.
func TestKeepRules(t *testing.T) {
	dir := t.TempDir()
	stores := dedupetest.Incident(t, dir)
	for _, rule := range []scan.KeepRule{scan.KeepOldest, scan.KeepNewest, scan.KeepFirst} {
		p := plan(t, stores, dedupe.Options{Quarantine: filepath.Join(dir, "q"), RunID: "r"}, rule)
		kept := map[int]int{}
		for _, a := range p.Actions {
			if a.Kind == dedupe.Keep {
				kept[a.Group]++
			}
		}
		for gi := range p.Groups {
			if kept[gi] == 0 {
				t.Errorf("%s: group %d keeps no copy", rule, gi)
			}
		}
		if rule == scan.KeepFirst && p.Actions[0].Ref.Path != filepath.Join(stores[0], "cur", "1000000001.A1.host:2,S") && !strings.HasPrefix(p.Actions[0].Ref.Path, stores[0]) {
			t.Errorf("first: kept %s, want a copy from the first store", p.Actions[0].Ref)
		}
	}
}

// TestChangedBetweenScanAndApply: a copy that vanished, a copy replaced
// by a symbolic link, mail appended to an mbox, each after the plan: a
// clear error, nothing lost, and undo restores what was done.
func TestChangedBetweenScanAndApply(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, dir string)
		want   error
	}{
		{"vanished", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "Maildir/new/1000000050.A2.host"))
		}, store.ErrVanished},
		{"symlink", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "Maildir/new/1000000050.A2.host")
			os.Rename(p, p+".real")
			os.Symlink(p+".real", p)
		}, store.ErrSymlink},
		{"kept copy vanished", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, "Maildir/cur/1000000030.E1.host:2,S"))
		}, store.ErrVanished},
		{"mbox appended", func(t *testing.T, dir string) {
			if err := store.AppendMbox(filepath.Join(dir, "inbox.mbox"), strings.NewReader(dedupetest.Msg("late@example.org", "late", "arrived during the run\n")), "bob@example.org", scan.FromLineTime("From x Mon Mar 10 10:00:00 2025")); err != nil {
				t.Fatal(err)
			}
		}, store.ErrChanged},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			stores := dedupetest.Incident(t, dir)
			state := filepath.Join(dir, "state")
			q := filepath.Join(state, "q")
			p := plan(t, stores, dedupe.Options{Quarantine: q, RunID: "r"}, scan.KeepOldest)
			tc.change(t, dir)
			snap := dedupetest.Snapshot(t, stores...)
			contents := dedupetest.Contents(t, stores...)
			j, err := journal.Create(state, "r")
			if err != nil {
				t.Fatal(err)
			}
			_, err = dedupe.Execute(context.Background(), p, store.NewMutator(j, q), "test")
			j.Close()
			if !errors.Is(err, tc.want) {
				t.Fatalf("Execute: %v, want %v", err, tc.want)
			}
			if n := dedupetest.Missing(contents, dedupetest.Contents(t, stores[0], stores[1], stores[2], q)); n > 0 {
				t.Errorf("%d messages lost", n)
			}
			undo(t, j.Path())
			if d := dedupetest.DiffSnapshots(snap, dedupetest.Snapshot(t, stores...)); d != "" {
				t.Errorf("undo after the error did not restore:\n%s", d)
			}
		})
	}
}

// TestQuarantineDiskFull simulates ENOSPC while the quarantine copies of
// an mbox's messages are written: the mbox stays as it was.
func TestQuarantineDiskFull(t *testing.T) {
	dir := t.TempDir()
	stores := dedupetest.Incident(t, dir)
	snap := dedupetest.Snapshot(t, stores...)
	t.Setenv(store.ENOSPCEnv, "10")
	_, jpath, err := apply(t, stores, dedupe.Options{Quarantine: filepath.Join(dir, "state", "q"), RunID: "r"}, filepath.Join(dir, "state"))
	if err == nil || !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("apply on a full disk: %v, want ENOSPC", err)
	}
	mb := filepath.Join(dir, "inbox.mbox")
	b, _ := os.ReadFile(mb)
	if string(b)+"\x00mode:-rw-r--r--" != snap[mb] {
		t.Errorf("the mbox changed although its rewrite failed")
	}
	os.Unsetenv(store.ENOSPCEnv)
	undo(t, jpath)
	if d := dedupetest.DiffSnapshots(snap, dedupetest.Snapshot(t, stores...)); d != "" {
		t.Errorf("undo did not restore:\n%s", d)
	}
}

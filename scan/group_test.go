package scan

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cespare/xxhash/v2"
	"github.com/popdedupe/popdedupe/fingerprint"
	"github.com/popdedupe/popdedupe/internal/corpusgen"
)

// TestDuplicatesHashCollision: two identities whose candidate hashes are
// equal (a message without Message-ID is keyed by its header hash, here
// set to the hash of the other's Message-ID) and whose copies alternate in
// the store still form one group each, never one mixed group.
func TestDuplicatesHashCollision(t *testing.T) {
	r := &Result{Sources: []Source{{Path: "box.mbox", Kind: Mbox}}}
	prints := []fingerprint.Print{
		{MessageID: "a@x", KeyHash: 1, BodyHash: 10, HasBody: true},
		{KeyHash: xxhash.Sum64String("a@x"), BodyHash: 20, HasBody: true},
	}
	for i := range 6 {
		m := Message{Source: 0, Index: int32(i + 1), Offset: int64(i * 100), Size: 100}
		r.setPrint(&m, prints[i%2])
		r.Messages = append(r.Messages, m)
	}
	if candidateHash(r.MessageID(&r.Messages[0]), 1) != candidateHash("", r.Messages[1].KeyHash) {
		t.Fatal("test setup: the two identities do not collide")
	}
	groups, conflicts, err := r.Duplicates(context.Background(), KeepFirst)
	if err != nil || len(conflicts) != 0 {
		t.Fatal(err, conflicts)
	}
	if len(groups) != 2 {
		t.Fatalf("%d groups, want 2: %+v", len(groups), groups)
	}
	for _, g := range groups {
		if len(g.Copies) != 3 {
			t.Fatalf("group %+v: want 3 copies", g)
		}
		for _, c := range g.Copies {
			if c%2 != g.Copies[0]%2 {
				t.Fatalf("group %+v mixes the two identities", g)
			}
		}
	}
	if groups[0].Keep() != 0 || groups[1].Keep() != 1 {
		t.Errorf("kept %d and %d, want 0 and 1 (first copies, in order)", groups[0].Keep(), groups[1].Keep())
	}
}

// TestSortCandidates holds the radix sort to a stable comparison sort.
func TestSortCandidates(t *testing.T) {
	for _, n := range []int{0, 1, 63, 64, 255, 256, 1000, 70000} {
		ord := make([]candidate, n)
		x := uint64(12345)
		for i := range ord {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			h := x
			if i%3 == 0 {
				h &= 0xff00ff // many equal hashes, and equal bytes
			}
			ord[i] = candidate{h, int32(i)}
		}
		sortCandidates(ord, make([]candidate, n), 64)
		for i := 1; i < n; i++ {
			a, b := ord[i-1], ord[i]
			if a.h > b.h || a.h == b.h && a.i > b.i {
				t.Fatalf("n=%d: out of order at %d: %+v %+v", n, i, a, b)
			}
		}
	}
}

// TestSortedCandidates: the messages come out sorted by identity hash,
// each message once.
func TestSortedCandidates(t *testing.T) {
	r := &Result{Sources: []Source{{Path: "box.mbox", Kind: Mbox}}}
	for i := range 5000 {
		m := Message{Index: int32(i + 1)}
		pr := fingerprint.Print{KeyHash: uint64(i%700) * 0x9e3779b97f4a7c15}
		if i%3 == 0 {
			pr.MessageID = fmt.Sprintf("%d@x", i%500)
		}
		r.setPrint(&m, pr)
		r.Messages = append(r.Messages, m)
	}
	ord := r.sortedCandidates()
	seen := make([]bool, len(r.Messages))
	for k, c := range ord {
		m := &r.Messages[c.i]
		if c.h != candidateHash(r.MessageID(m), m.KeyHash) || seen[c.i] {
			t.Fatalf("candidate %d: %+v", k, c)
		}
		seen[c.i] = true
		if k > 0 && ord[k-1].h > c.h {
			t.Fatalf("out of order at %d: %+v %+v", k, ord[k-1], c)
		}
	}
	if len(ord) != len(r.Messages) {
		t.Fatalf("%d candidates for %d messages", len(ord), len(r.Messages))
	}
}

// TestSortGroupsOrder holds sortGroups (keys gathered, then sorted) to a
// plain sort by cmpFirst, on groups whose kept copies lie in Maildirs
// with long names, one with short names (whole in the key, ties broken by
// ordinal) and mbox files (no names: the ordinal is the order).
func TestSortGroupsOrder(t *testing.T) {
	dir := t.TempDir()
	opts := corpusgen.DefaultOptions(3, 300)
	opts.MinSize, opts.MaxSize, opts.MeanSize = 1024, 3000, 1500
	if _, err := corpusgen.WriteMaildir(filepath.Join(dir, "md"), opts); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a.mbox", "b.mbox"} {
		if _, err := corpusgen.WriteMbox(filepath.Join(dir, name), opts); err != nil {
			t.Fatal(err)
		}
	}
	short, later := filepath.Join(dir, "short"), filepath.Join(dir, "later")
	for _, md := range []string{short, later} {
		for _, sub := range []string{"cur", "new", "tmp"} {
			if err := os.MkdirAll(filepath.Join(md, sub), 0o700); err != nil {
				t.Fatal(err)
			}
		}
	}
	put := func(md, name, id string) {
		msg := fmt.Sprintf("Message-ID: <%s>\nSubject: s\n\nbody %s\n", id, id)
		if err := os.WriteFile(filepath.Join(md, "cur", name), []byte(msg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 40 {
		put(short, fmt.Sprint(40-i), fmt.Sprint(i%7)) // names of 1 and 2 bytes, out of order
	}
	// Names that tie on their first 16 bytes, a 16-byte one among them,
	// each a group's first copy (its other copy in a later store).
	for j, suffix := range []string{"10", "", "1", "0x", "2"} {
		put(short, strings.Repeat("p", 16)+suffix, fmt.Sprint("p", j))
		put(later, fmt.Sprint("x", j), fmt.Sprint("p", j))
	}
	mixed := []string{filepath.Join(dir, "b.mbox"), short, filepath.Join(dir, "md"), filepath.Join(dir, "a.mbox"), later}
	mboxes := []string{filepath.Join(dir, "b.mbox"), filepath.Join(dir, "a.mbox")} // no names: sorted by ordinal
	for _, stores := range [][]string{mixed, mboxes} {
		checkSortGroups(t, stores)
	}
}

func checkSortGroups(t *testing.T, stores []string) {
	t.Helper()
	res, err := Scan(context.Background(), stores, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, rule := range []KeepRule{KeepFirst, KeepNewest} {
		groups, _, err := res.Duplicates(context.Background(), rule)
		if err != nil {
			t.Fatal(err)
		}
		if len(groups) < 250 {
			t.Fatalf("only %d groups", len(groups))
		}
		want := slices.Clone(groups)
		slices.SortStableFunc(want, func(a, b Group) int { return res.cmpFirst(a.Keep(), b.Keep()) })
		got := slices.Clone(groups)
		rand.New(rand.NewPCG(1, 2)).Shuffle(len(got), func(i, j int) { got[i], got[j] = got[j], got[i] })
		res.sortGroups(got)
		for i := range want {
			if got[i].Keep() != want[i].Keep() {
				t.Fatalf("%s: group %d of %d: keeps %s, want %s", rule, i, len(want), res.Path(&res.Messages[got[i].Keep()]), res.Path(&res.Messages[want[i].Keep()]))
			}
		}
	}
}

package scan

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/popdedupe/popdedupe/fingerprint"
	"github.com/popdedupe/popdedupe/internal/corpusgen"
)

// truthSets turns the generator's truth into sorted copy lists, one per
// message stored more than once, in the form refsOf gives.
func truthSets(tr *corpusgen.Truth, root string) []string {
	var out []string
	for _, g := range tr.Groups {
		if len(g.Copies) < 2 {
			continue
		}
		var c []string
		for _, cp := range g.Copies {
			if cp.Ordinal > 0 {
				c = append(c, fmt.Sprintf("%s#%d", root, cp.Ordinal))
			} else {
				c = append(c, filepath.Join(root, filepath.FromSlash(cp.Path)))
			}
		}
		sort.Strings(c)
		out = append(out, strings.Join(c, " "))
	}
	sort.Strings(out)
	return out
}

func scanSets(res *Result, groups []Group) []string {
	var out []string
	for _, g := range groups {
		var c []string
		for _, i := range g.Copies {
			m := &res.Messages[i]
			if m.Index > 0 {
				c = append(c, fmt.Sprintf("%s#%d", res.Path(m), m.Index))
			} else {
				c = append(c, res.Path(m))
			}
		}
		sort.Strings(c)
		out = append(out, strings.Join(c, " "))
	}
	sort.Strings(out)
	return out
}

// Scan finds exactly the duplicate groups and conflicts the generator
// wrote, in every store layout.
func TestScanMatchesGeneratedTruth(t *testing.T) {
	opts := corpusgen.DefaultOptions(7, 1500)
	opts.NoMessageIDShare = 0.05
	opts.ConflictShare = 0.05
	opts.CRLFShare = 0.3
	opts.MaxSize = 40 << 10
	opts.MeanSize = 8 << 10
	for _, layout := range []string{"maildir", "maildir++", "mboxrd", "mboxo"} {
		t.Run(layout, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "store")
			var tr *corpusgen.Truth
			var err error
			switch layout {
			case "maildir":
				tr, err = corpusgen.WriteMaildir(root, opts)
			case "maildir++":
				tr, err = corpusgen.WriteMaildirPP(root, opts)
			case "mboxrd", "mboxo":
				o := opts
				if err := o.Quoting.Set(layout); err != nil {
					t.Fatal(err)
				}
				tr, err = corpusgen.WriteMbox(root, o)
			}
			if err != nil {
				t.Fatal(err)
			}
			res, err := Scan(context.Background(), []string{root}, Options{Workers: 4})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Skipped) != 0 {
				t.Fatalf("%d skipped, first: %+v", len(res.Skipped), res.Skipped[0])
			}
			if len(res.Messages) != tr.Copies {
				t.Fatalf("%d messages, truth says %d copies", len(res.Messages), tr.Copies)
			}
			groups, conflicts, err := res.Duplicates(context.Background(), KeepOldest)
			if err != nil {
				t.Fatal(err)
			}
			got, want := scanSets(res, groups), truthSets(tr, root)
			if len(got) != len(want) {
				t.Fatalf("%d groups, truth has %d", len(got), len(want))
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("group %d:\n got %s\nwant %s", i, got[i], want[i])
				}
			}
			extra := 0
			for _, g := range groups {
				extra += len(g.Copies) - 1
			}
			if extra != tr.Duplicates {
				t.Errorf("%d extra copies, truth says %d", extra, tr.Duplicates)
			}
			// Exactly the truth's conflicts with two or more stored
			// members are reported.
			var wantC, gotC []string
			for _, c := range tr.Conflicts {
				if len(c.Stored) >= 2 {
					wantC = append(wantC, fingerprint.NormalizeMessageID(c.MessageID))
				}
			}
			for _, c := range conflicts {
				gotC = append(gotC, c.MessageID)
			}
			sort.Strings(wantC)
			sort.Strings(gotC)
			if strings.Join(gotC, " ") != strings.Join(wantC, " ") {
				t.Errorf("conflicts %v, truth %v", gotC, wantC)
			}
			t.Logf("%s: %d messages, %d groups, %d conflicts", layout, len(res.Messages), len(groups), len(conflicts))
		})
	}
}

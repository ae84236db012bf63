package reconcile

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/popdedupe/popdedupe/fingerprint"
	"github.com/popdedupe/popdedupe/internal/corpusgen"
	"github.com/popdedupe/popdedupe/pop3/pop3test"
)

// TestCorpusIncident runs reconcile on generated incidents (realistic
// mixes: CRLF copies, client-added headers, mbox quoting, messages without
// Message-ID, Message-IDs reused with other bodies) and checks the result
// against the generator's truth, not against reconcile's own logic.
func TestCorpusIncident(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fetch bool
		write func(dir string, o corpusgen.Options) (*corpusgen.Truth, string, error)
	}{
		{"maildir++", false, func(dir string, o corpusgen.Options) (*corpusgen.Truth, string, error) {
			tr, err := corpusgen.WriteMaildirPP(dir, o)
			return tr, dir, err
		}},
		{"mbox", false, func(dir string, o corpusgen.Options) (*corpusgen.Truth, string, error) {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, "", err
			}
			p := filepath.Join(dir, "inbox.mbox")
			tr, err := corpusgen.WriteMbox(p, o)
			return tr, p, err
		}},
		{"maildir+fetch", true, func(dir string, o corpusgen.Options) (*corpusgen.Truth, string, error) {
			tr, err := corpusgen.WriteMaildir(dir, o)
			return tr, dir, err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := corpusgen.DefaultOptions(7, 300)
			o.ConflictShare = 0.05
			o.UnsavedShare = 0.3
			o.NoMessageIDShare = 0.05
			o.MaxSize = 40 << 10
			root := t.TempDir()
			truth, store, err := tc.write(filepath.Join(root, "local"), o)
			if err != nil {
				t.Fatal(err)
			}
			sms, err := corpusgen.ServerMessages(o)
			if err != nil {
				t.Fatal(err)
			}
			srv := pop3test.NewServer(t, pop3test.Config{})
			srv.AddUser(testUser, testPass)
			savedIDs := map[string]bool{}
			for _, m := range sms {
				srv.AddMessage(testUser, m.UID, m.Body)
				if m.Saved {
					savedIDs[mid(t, m.Body)] = true
				}
			}
			// What must stay: unsaved messages, all of them without
			// --fetch-missing, and with it those that are conflicts (a
			// saved message has their Message-ID).
			var want []string
			for _, m := range sms {
				if m.Saved {
					continue
				}
				id := mid(t, m.Body)
				if !tc.fetch || id != "" && savedIDs[id] {
					want = append(want, m.UID)
				}
			}
			slices.Sort(want)
			t.Logf("%d server messages, %d saved, %d must stay, %d conflicts in the truth", len(sms), len(truth.SavedUIDs), len(want), len(truth.Conflicts))
			before := srv.Messages(testUser)
			op := opts(srv)
			op.DeleteSaved, op.Apply = true, true
			stores := []string{store}
			if tc.fetch {
				op.FetchMissing = filepath.Join(root, "fetched")
				stores = append(stores, op.FetchMissing)
			}
			res, err := Run(context.Background(), scanStores(t, store), op)
			if err != nil {
				t.Fatal(err)
			}
			after := srv.Messages(testUser)
			checkInvariant(t, before, after, res, stores...)
			if got := uids(after); !slices.Equal(got, want) {
				t.Errorf("left on server: %d messages, want %d\n got %v\nwant %v", len(got), len(want), got, want)
			}
			if wantDel := len(sms) - len(want); res.Counts.Deleted != wantDel || len(truth.SavedUIDs) > wantDel {
				t.Errorf("counts %+v, want %d deleted (truth saves %d)", res.Counts, wantDel, len(truth.SavedUIDs))
			}
			if res.Session.Logins != 1 || !res.Session.QuitCommitted {
				t.Errorf("session %+v", res.Session)
			}
		})
	}
}

func mid(t *testing.T, body []byte) string {
	t.Helper()
	pr, err := fingerprint.NewParser().Sum(bytes.NewReader(body), -1, false)
	if err != nil {
		t.Fatal(err)
	}
	return pr.MessageID
}

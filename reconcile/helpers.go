package reconcile

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	"github.com/popdedupe/popdedupe/journal"
	"github.com/popdedupe/popdedupe/report"
	"github.com/popdedupe/popdedupe/store"
)

// Stores returns the stores to scan before Run: stores, plus the
// --fetch-missing target when it exists and lies outside them. Copies
// saved there by an earlier run whose session died before QUIT then count
// as saved, instead of being fetched a second time.
func Stores(stores []string, fetchMissing string) []string {
	if fetchMissing == "" {
		return stores
	}
	kind, path, err := fetchTarget(fetchMissing)
	if err != nil {
		return stores
	}
	fi, err := os.Stat(path)
	if err != nil || (kind == fetchMbox && fi.Size() == 0) {
		return stores
	}
	if kind == fetchMaildir {
		if ents, _ := os.ReadDir(filepath.Join(path, "cur")); len(ents) == 0 {
			if ents, _ := os.ReadDir(filepath.Join(path, "new")); len(ents) == 0 {
				return stores // empty or not yet a Maildir: nothing to see
			}
		}
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return stores
	}
	for _, s := range stores {
		sa, err := filepath.Abs(s)
		if err != nil {
			continue
		}
		if rel, err := filepath.Rel(sa, abs); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return stores
		}
	}
	return append(append([]string(nil), stores...), path)
}

// ServerSection renders the result for the HTML report.
func (r *Result) ServerSection() *report.ServerSection {
	s := &report.ServerSection{
		Host:          r.Session.Server,
		User:          r.Session.User,
		Logins:        r.Session.Logins,
		Commands:      r.Session.Commands,
		QuitCommitted: r.Session.QuitCommitted,
		Note:          r.Session.Error,
	}
	for _, m := range r.Messages {
		row := report.ServerRow{UIDL: m.UIDL, Size: m.Size, MessageID: m.MessageID, Verdict: string(m.Verdict)}
		if m.Local != nil {
			row.Local = m.Local.String()
		}
		s.Messages = append(s.Messages, row)
	}
	return s
}

// StateSection renders the state file part for the HTML report; nil when
// there was none.
func (r *Result) StateSection() *report.StateSection {
	if r.State == nil {
		return nil
	}
	st := r.State
	return &report.StateSection{
		Target:  st.Format + ":" + st.Path,
		Added:   len(st.Added),
		Removed: len(st.Removed),
		Kept:    len(st.Kept),
		Written: st.Written,
	}
}

// UndoHandlers returns the journal undo handlers for reconcile's steps.
// Nothing is reverted: a fetched message is mail the user did not have
// and stays, and server deletions cannot be taken back. The notes say so.
func UndoHandlers() journal.Handlers {
	return journal.Handlers{
		OpFetch: func(_ context.Context, s journal.Step) (string, error) {
			if !s.Done {
				// Killed while appending to an mbox: cut the partial
				// message off (only if that is all there is after
				// where the append began).
				var d struct {
					MboxSize *int64 `json:"mbox_size"`
				}
				if err := s.Decode(&d); err != nil || d.MboxSize == nil {
					return "", err
				}
				cut, err := store.CutTornTail(s.To, *d.MboxSize)
				if err != nil || !cut {
					return "", err
				}
				return "cut off the message a killed run had only partly written at the end of " + s.To, nil
			}
			return "kept the message fetched from the server into " + s.To + " (it is not on disk anywhere else)", nil
		},
		OpDele: func(_ context.Context, s journal.Step) (string, error) {
			return "server deletions cannot be undone; every deleted message had a verified local copy", nil
		},
		OpQuit: func(_ context.Context, s journal.Step) (string, error) { return "", nil },
	}
}

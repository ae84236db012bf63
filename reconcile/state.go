package reconcile

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/popdedupe/popdedupe/uidlstate"
)

// stateJob is the client state file of a run.
type stateJob struct {
	target  uidlstate.Target
	account uidlstate.Account
	file    *uidlstate.File
}

// prepareState reads the state file before the session, so that a file
// that cannot be used stops the run before the login.
func (r *runner) prepareState() (*stateJob, error) {
	o := r.o
	host, port, _, err := o.Endpoint()
	if err != nil {
		return nil, err
	}
	a := uidlstate.Account{Host: host, Port: port, User: o.User, PollName: o.PollName}
	if a.PollName == "" {
		a.PollName = host
	}
	t := *o.State
	f, err := uidlstate.ReadFile(t)
	if err != nil {
		return nil, fmt.Errorf("reconcile: state file: %w", err)
	}
	if err := f.CheckAccount(a); err != nil {
		return nil, fmt.Errorf("reconcile: state file: %w", err)
	}
	r.out.State = &StateResult{Format: string(t.Format), Path: t.Path, Account: a.String(),
		Added: []string{}, Kept: []string{}, Removed: []string{}, Refetch: []string{}}
	return &stateJob{target: t, account: a, file: f}, nil
}

// writeState rebuilds the state from the verdicts: computed always, written
// only with Apply, only after the session ended, and only when every server
// message was identified and the listing names no UIDL twice.
func (r *runner) writeState(sessErr error) error {
	sj, st := r.state, r.out.State
	fail := func(err error) error {
		st.Error = err.Error()
		return err
	}
	if errors.Is(sessErr, ErrNoUIDL) {
		return fail(errors.New("reconcile: state file not written: the server has no UIDL, so there are no message ids to record"))
	}
	if r.p == nil || !r.out.Complete {
		return fail(errors.New("reconcile: state file not written: the server's messages were not all identified (the session ended first)"))
	}
	if len(r.p.dupUID) > 0 {
		var one string
		for u := range r.p.dupUID {
			one = u
			break
		}
		return fail(fmt.Errorf("reconcile: state file not written: the server lists UIDL %q for more than one message; a client cannot tell those messages apart, so recording either could lose one", one))
	}
	saved := map[string]time.Time{}
	for uid, arr := range r.stateSaved() {
		var t time.Time
		if arr > 0 {
			t = time.Unix(arr, 0).UTC()
		}
		saved[uid] = t
	}
	old := sj.file.Entries(sj.account)
	entries, diff, err := uidlstate.Rebuild(old, r.p.uidls, saved, r.o.now().UTC(), sj.target.Format)
	if err != nil {
		return fail(fmt.Errorf("reconcile: state file not written: %w", err))
	}
	st.Added, st.Kept, st.Removed, st.Refetch = nonNil(diff.Added), nonNil(diff.Kept), nonNil(diff.Removed), nonNil(diff.Refetch)
	if !r.o.Apply {
		return nil
	}
	if err := sj.file.Replace(sj.account, entries); err != nil {
		return fail(fmt.Errorf("reconcile: state file not written: %w", err))
	}
	_, statErr := os.Stat(sj.target.Path)
	if err := uidlstate.WriteFile(sj.target, sj.file.Bytes()); err != nil {
		return fail(fmt.Errorf("reconcile: state file not written: %w", err))
	}
	st.Written = true
	if statErr == nil {
		st.Backup = sj.target.Path + uidlstate.BackupSuffix
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

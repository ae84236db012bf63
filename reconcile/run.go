package reconcile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/popdedupe/popdedupe/journal"
	"github.com/popdedupe/popdedupe/pop3"
	"github.com/popdedupe/popdedupe/report"
	"github.com/popdedupe/popdedupe/scan"
	"github.com/popdedupe/popdedupe/store"
)

// runner holds one run.
type runner struct {
	o     *Options
	res   *scan.Result // the local stores
	out   *Result
	s     *session
	p     *plan
	li    *localIndex
	fetch *fetcher
	state *stateJob
}

// Run reconciles the server with the local stores in res in one POP3
// session; see the package documentation. res must come from scan.Scan of
// every local store that may hold saved copies (it may be nil for a
// mailbox with no local copies). Run hashes local bodies it needs, so it
// may move unreadable messages from res.Messages to res.Skipped.
//
// The Result is returned whenever a session was attempted, also with an
// error; its Session part says what was committed. An error after QUIT
// committed (a state file that could not be written) leaves the server
// changes in place and says so.
func Run(ctx context.Context, res *scan.Result, opts Options) (*Result, error) {
	o := &opts
	if o.Match == "" {
		o.Match = MatchFull
	}
	out := &Result{Apply: o.Apply, DeleteSaved: o.DeleteSaved, Match: o.Match, Messages: []Message{}}
	if err := o.check(); err != nil {
		return out, err
	}
	r := &runner{o: o, res: res, out: out}
	// Everything that can fail locally fails before the login: a login
	// may be the only one allowed for minutes.
	if o.FetchMissing != "" {
		f, path, err := newFetcher(o.FetchMissing, o.Apply)
		out.FetchTo = path
		if err != nil {
			return out, err
		}
		r.fetch = f
		defer f.cleanup()
	}
	if o.State != nil {
		sj, err := r.prepareState()
		if err != nil {
			return out, err
		}
		r.state = sj
	}
	out.Session.Started = o.now()
	err := r.session(ctx)
	out.Session.Ended = o.now()
	if r.s != nil {
		r.s.facts()
	}
	r.finish()
	if err != nil {
		out.Session.Error = err.Error()
	}
	// The state file is written only after the session ended, and only
	// from a complete identification.
	if r.state != nil {
		if serr := r.writeState(err); serr != nil && err == nil {
			err = serr
		}
	}
	return out, err
}

// session runs the one POP3 session: phase 1, then phase 2 with Apply,
// then QUIT.
func (r *runner) session(ctx context.Context) error {
	s, err := connect(ctx, r.o, r.out)
	r.s = s
	if err != nil {
		return err
	}
	abort := func(err error) error {
		// Never QUIT after an error: the server rolls back every DELE.
		s.c.Close()
		return err
	}
	if err := r.list(ctx); err != nil {
		return abort(err)
	}
	if err := r.identify(ctx); err != nil {
		return abort(err)
	}
	r.out.Complete = true
	r.planActions()
	if r.o.Apply {
		if err := r.execute(ctx); err != nil {
			return abort(err)
		}
	}
	return r.quit(ctx)
}

// planActions sets what --apply does with each message.
func (r *runner) planActions() {
	for i := range r.p.msgs {
		m := &r.p.msgs[i]
		m.Action = Keep
		switch m.Verdict {
		case Saved:
			if r.o.DeleteSaved && deletable(m) == nil {
				m.Action = Delete
			} else if err := sizeMismatch(m); r.o.DeleteSaved && err != nil {
				m.Note = joinNote("not deleted: "+err.Error(), m.Note)
			}
		case Missing:
			if r.fetch != nil && m.ServerDuplicateOf == "" {
				m.Action = Fetch
				if r.o.DeleteSaved && !m.DuplicateUIDL {
					m.Action = FetchDelete
				}
			} else if r.fetch != nil && r.o.DeleteSaved && !m.DuplicateUIDL {
				// Saved by its first copy's fetch, then deleted.
				m.Action = Delete
			}
		}
	}
}

// execute is phase 2: save the missing messages, then delete.
func (r *runner) execute(ctx context.Context) error {
	if r.fetch != nil {
		fetched := map[string]*srvMsg{} // UIDL of the first copy -> it
		var batch []*srvMsg
		for i := range r.p.msgs {
			m := &r.p.msgs[i]
			if m.Action != Fetch && m.Action != FetchDelete {
				continue
			}
			if m.tmpName() == "" {
				m.Note = joinNote("not fetched: the retrieved copy was not kept", m.Note)
				m.Action = Keep
				continue
			}
			batch = append(batch, m)
		}
		if r.fetch.kind == fetchMaildir && len(batch) > 1 {
			if err := r.commitFetchBatch(ctx, batch); err != nil {
				return err
			}
			for _, m := range batch {
				if m.Verdict == Fetched {
					fetched[m.UIDL] = m
				}
			}
			batch = nil
		}
		for i, m := range batch {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := r.commitFetch(m); err != nil {
				// A message that could not be saved is neither marked
				// fetched nor deleted; the others go on.
				m.Note = joinNote("not fetched: "+err.Error(), m.Note)
				m.Action = Keep
				if errors.Is(err, errJournal) {
					return err
				}
				if errors.Is(err, store.ErrLocked) {
					// Another program held the mbox for all of the lock
					// timeout: the others would each wait as long.
					for _, rest := range batch[i+1:] {
						rest.Note = joinNote("not fetched: "+err.Error(), rest.Note)
						rest.Action = Keep
					}
					break
				}
				continue
			}
			fetched[m.UIDL] = m
		}
		// Server copies of a fetched message are now saved by it.
		for i := range r.p.msgs {
			m := &r.p.msgs[i]
			if m.Verdict != Missing || m.ServerDuplicateOf == "" {
				continue
			}
			first, ok := fetched[m.ServerDuplicateOf]
			if !ok {
				m.Action = Keep
				continue
			}
			m.Verdict = Saved
			m.Evidence = m.fullEvidence() // the same identity as the fetched copy
			m.Local = first.Local
			m.LocalCopies = 1
			m.Arrival = first.Arrival
		}
	}
	n := 0
	for i := range r.p.msgs {
		if a := r.p.msgs[i].Action; a == Delete || a == FetchDelete {
			n++
		}
	}
	del := make([]*srvMsg, 0, n)
	for i := range r.p.msgs {
		m := &r.p.msgs[i]
		if m.Action == Delete || m.Action == FetchDelete {
			del = append(del, m)
		}
	}
	return r.deleteVerified(ctx, del)
}

var errJournal = errors.New("reconcile: journal")

// commitFetch saves one retrieved message durably.
func (r *runner) commitFetch(m *srvMsg) error {
	at := r.o.now()
	var je journal.Entry
	if j := r.o.Journal; j != nil {
		var err error
		data := map[string]any{"uidl": m.UIDL, "message_id": m.MessageID, "size": m.Size}
		if r.fetch.kind == fetchMbox {
			// Where this append starts: undo of a step a kill cut
			// short removes the partial message from there.
			if fi, err := os.Stat(r.fetch.path); err == nil {
				data["mbox_size"] = fi.Size()
			}
		}
		je, err = j.Begin(journal.Entry{Op: OpFetch, To: r.fetch.path}, data)
		if err != nil {
			return fmt.Errorf("%w: %w", errJournal, err)
		}
	}
	ref, err := r.fetch.commit(m.tmpName(), at)
	m.setTmp("")
	if j := r.o.Journal; j != nil {
		je.To = ref.Path
		if jerr := j.Finish(je, err); jerr != nil && err == nil {
			return fmt.Errorf("%w: %w", errJournal, jerr)
		}
	}
	if err != nil {
		return err
	}
	m.Verdict = Fetched
	m.Evidence = &Evidence{Match: matchFetched, BodyHash: m.fullEvidence().BodyHash}
	m.Local = &ref
	m.LocalCopies = 1
	m.Arrival = at.Unix()
	return nil
}

// commitFetchBatch saves many retrieved messages into the Maildir target
// with a group commit: the same order as one message at a time (data
// durable, then renamed into new/, then the directory durable, all before
// any DELE), but one syncfs and one directory fsync for the whole batch
// instead of two fsyncs and a copy per message, and one journal step.
// The temporary files are already in the Maildir's tmp/, on the same
// filesystem, so each is committed by a rename.
func (r *runner) commitFetchBatch(ctx context.Context, batch []*srvMsg) error {
	at := r.o.now()
	uidls := make([]string, len(batch))
	for i, m := range batch {
		uidls[i] = m.UIDL
	}
	var je journal.Entry
	if j := r.o.Journal; j != nil {
		var err error
		je, err = j.Begin(journal.Entry{Op: OpFetch, To: r.fetch.path}, map[string]any{"uidls": uidls, "count": len(batch)})
		if err != nil {
			return fmt.Errorf("%w: %w", errJournal, err)
		}
	}
	err := store.SyncFS(r.fetch.path) // every temporary copy's bytes on disk
	newDir := filepath.Join(r.fetch.path, "new")
	for _, m := range batch {
		if err != nil || ctx.Err() != nil {
			break
		}
		dst := filepath.Join(newDir, store.UniqueName())
		if rerr := store.RenameNoReplace(m.tmpName(), dst); rerr != nil {
			m.Note = joinNote("not fetched: "+rerr.Error(), m.Note)
			m.Action = Keep
			continue
		}
		r.fetch.forget(m.tmpName())
		m.setTmp("")
		m.Local = &report.Ref{Path: dst}
	}
	if err == nil {
		err = store.SyncDir(newDir) // the renames on disk before any DELE
	}
	if j := r.o.Journal; j != nil {
		if jerr := j.Finish(je, err); jerr != nil && err == nil {
			return fmt.Errorf("%w: %w", errJournal, jerr)
		}
	}
	for _, m := range batch {
		if m.Action == Keep {
			continue
		}
		if err != nil || m.Local == nil {
			// Not durable (or not renamed): never marked fetched, so
			// never deleted; the file, if renamed, stays as a copy.
			m.Note = joinNote("not fetched: the batch could not be made durable", m.Note)
			m.Action = Keep
			m.Local = nil
			continue
		}
		m.Verdict = Fetched
		m.Evidence = &Evidence{Match: matchFetched, BodyHash: m.fullEvidence().BodyHash}
		m.LocalCopies = 1
		m.Arrival = at.Unix()
	}
	if err != nil {
		return fmt.Errorf("reconcile: saving fetched messages in %s: %w", r.fetch.path, err)
	}
	return ctx.Err()
}

// matchFetched is the evidence of a message saved by this run from the
// server copy itself.
const matchFetched = "fetched"

// Journal operations written by reconcile.
const (
	OpFetch = "pop3.fetch" // a missing message saved locally
	OpDele  = "pop3.dele"  // DELE sent for a batch of verified-saved messages
	OpQuit  = "pop3.quit"  // QUIT, committing (or not) the DELEs
)

// deletable checks, again, the evidence that allows deleting m: verified
// saved or fetched with full evidence (or the weaker mode's, which the user
// asked for), a local copy that still exists, and a UIDL listed once.
func deletable(m *srvMsg) error {
	if m.DuplicateUIDL {
		return errors.New("the server listed this UIDL twice: deleting by it could lose mail")
	}
	if m.Verdict != Saved && m.Verdict != Fetched {
		return fmt.Errorf("verdict %s", m.Verdict)
	}
	if m.Local == nil || m.Local.Path == "" {
		return errors.New("no local copy recorded")
	}
	if m.Evidence == nil || m.Evidence.Match == "" {
		return errors.New("no evidence recorded")
	}
	if (m.Verdict == Fetched) != (m.Evidence.Match == matchFetched) {
		return errors.New("evidence does not fit the verdict")
	}
	if m.Evidence.Match != matchWeak && !m.haveFull {
		return errors.New("the server copy was not read in full")
	}
	if err := sizeMismatch(m); err != nil {
		return err
	}
	if _, err := os.Stat(m.Local.Path); err != nil {
		return fmt.Errorf("the local copy is gone: %w", err)
	}
	return nil
}

// sizeMismatch fails when the copy the server sent is not the size LIST
// gave for the message (RFC 1939: the exact size, CRLF line ends): the
// server sent something else, or lies, and the copy is no evidence.
func sizeMismatch(m *srvMsg) error {
	if !m.haveFull || m.Evidence == nil || m.Evidence.Match == matchWeak || m.Size <= 0 || m.wire() == m.Size {
		return nil
	}
	return fmt.Errorf("the server sent %d octets for it, LIST said %d: not the message it listed", m.wire(), m.Size)
}

// deleteVerified is the one choke point for DELE: every message passes
// deletable again, the batch is journalled first, then sent (pipelined).
// It reuses msgs for the messages it sends DELE for.
func (r *runner) deleteVerified(ctx context.Context, msgs []*srvMsg) error {
	nums := make([]int, 0, len(msgs))
	ok := msgs[:0]
	for _, m := range msgs {
		if err := deletable(m); err != nil {
			m.Note = joinNote("not deleted: "+err.Error(), m.Note)
			m.Action = Keep
			if m.Verdict == Fetched {
				m.Action = Fetch
			}
			continue
		}
		nums = append(nums, m.Num)
		ok = append(ok, m)
	}
	if len(nums) == 0 {
		return nil
	}
	if j := r.o.Journal; j != nil {
		uidls := make([]string, len(ok))
		for i, m := range ok {
			uidls[i] = m.UIDL
		}
		e, err := j.Begin(journal.Entry{Op: OpDele, From: r.out.Session.Server}, map[string]any{"user": r.o.User, "uidls": uidls})
		if err != nil {
			return fmt.Errorf("%w: %w", errJournal, err)
		}
		defer func() { j.Finish(e, nil) }()
	}
	before, _ := r.s.c.Stats()
	errs, err := r.s.c.DeleEach(ctx, nums)
	after, _ := r.s.c.Stats()
	r.out.Session.DeleSent += after - before
	if r.s.c.Botched() != nil {
		// Replies were lost and errs is incomplete. Nothing is committed
		// without QUIT, which a botched session never sends.
		for _, m := range ok {
			m.Dele = DeleMarked
		}
		return fmt.Errorf("reconcile: DELE: %w", err)
	}
	for i, m := range ok {
		if errs[i] != nil {
			m.Dele = DeleRefused
			m.Note = joinNote("DELE refused: "+errs[i].Error(), m.Note)
			continue
		}
		m.Dele = DeleMarked
		r.out.Session.DeleAcked++
	}
	return nil
}

// quit ends the session. Only +OK commits the DELEs.
//
// QUIT is not pipelined behind the DELEs, though that would save a round
// trip: it is sent only after every DELE reply was read and made sense. A
// reply that shows the session out of step (garbage, a line too long, a
// lost connection) botches it, and the server then rolls back every DELE
// (RFC 1939 section 6); a QUIT already in flight would commit them.
func (r *runner) quit(ctx context.Context) error {
	s := r.s
	var je journal.Entry
	j := r.o.Journal
	marked := r.out.Session.DeleAcked > 0
	if j != nil && marked {
		var err error
		je, err = j.Begin(journal.Entry{Op: OpQuit, From: r.out.Session.Server}, nil)
		if err != nil {
			s.c.Close()
			return fmt.Errorf("%w: %w", errJournal, err)
		}
	}
	before, _ := s.c.Stats()
	err := s.c.Quit(ctx)
	after, _ := s.c.Stats()
	r.out.Session.QuitSent = after > before
	if j != nil && marked {
		j.Finish(je, err)
	}
	switch {
	case err == nil:
		r.out.Session.QuitCommitted = true
		return nil
	case !r.out.Session.QuitSent:
		return fmt.Errorf("%w: %w", ErrSessionLost, err)
	}
	// -ERR to QUIT ("some deleted messages not removed"), or QUIT sent and
	// its answer lost: some, all or none of the DELEs may have happened.
	for i := range r.p.msgs {
		m := &r.p.msgs[i]
		if m.Dele == DeleMarked {
			m.Dele = DeleUncertain
		}
	}
	if errors.Is(err, pop3.ErrUpdateFailed) {
		return fmt.Errorf("reconcile: QUIT: the server did not commit (all) deletions; run reconcile again later to see what is left: %w", err)
	}
	return fmt.Errorf("reconcile: QUIT sent but not answered: deletions may or may not have been committed; run reconcile again later to see what is left: %w", err)
}

// finish turns the working records into the result.
func (r *runner) finish() {
	out := r.out
	if r.p == nil {
		out.count()
		return
	}
	committed := out.Session.QuitCommitted
	for i := range r.p.msgs {
		m := &r.p.msgs[i]
		if !out.Complete && m.Verdict == Unknown && m.Note == "" {
			m.Note = "not identified: the session ended first"
		}
		switch m.Dele {
		case DeleMarked:
			if committed {
				m.Dele = DeleCommitted
				m.Verdict = Deleted
			} else {
				m.Note = joinNote("not deleted (session ended before QUIT)", m.Note)
			}
		case DeleUncertain:
			m.Note = joinNote("DELE sent; QUIT not confirmed: may or may not be deleted", m.Note)
		}
	}
	// The working records point into the result's messages: no copy.
	out.Messages = r.p.out
	out.count()
}

// stateSaved returns the UIDLs verified saved (or fetched) with their
// arrival times, for the state file: the same rule as for deleting,
// except that a duplicate UIDL blocks the whole file instead.
func (r *runner) stateSaved() map[string]int64 {
	saved := map[string]int64{}
	for i := range r.p.msgs {
		m := &r.p.msgs[i]
		switch m.Verdict {
		case Saved, Fetched, Deleted:
			if m.Local != nil {
				saved[m.UIDL] = m.Arrival
			}
		}
	}
	return saved
}

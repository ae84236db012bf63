package dedupe

import (
	"context"
	"fmt"
	"sort"

	"github.com/popdedupe/popdedupe/scan"
	"github.com/popdedupe/popdedupe/store"
)

// Outcome is what Execute did.
type Outcome struct {
	Done    []bool // per Plan.Actions: the action was carried out
	Removed int    // copies quarantined or deleted
	Bytes   int64  // their bytes
	Flagged int    // kept copies renamed to merged flags
}

// Execute carries out the plan through m, the choke point that journals
// each step first. It writes the run header, then for every group merges
// flags onto the kept copy and removes the extra Maildir copies, then
// rewrites each mbox that loses copies (one step per file). It stops at
// the first error and returns what was done with it; every step taken is
// in the journal, so undo can put it back, and a new scan and plan can
// finish the job.
func Execute(ctx context.Context, p *Plan, m *store.Mutator, command string) (*Outcome, error) {
	res := p.Result
	out := &Outcome{Done: make([]bool, len(p.Actions))}
	run := store.Run{RunID: p.Options.RunID, Command: command, Stores: res.Stores, Mboxes: p.Mboxes, Delete: p.Options.Delete}
	if !p.Options.Delete {
		run.Quarantine = p.Options.Quarantine
	}
	if err := m.StartRun(run); err != nil {
		return out, err
	}
	if err := Recover(res); err != nil {
		return out, err
	}
	// Where each kept copy is now: flag merges rename Maildir files, mbox
	// rewrites shift offsets.
	loc := map[int]store.Copy{}
	for _, a := range p.Actions {
		if a.Kind == Keep {
			loc[a.Msg] = a.Copy
		}
	}
	mboxRm := map[int32][]int{} // source -> action indices
	for i, a := range p.Actions {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		switch {
		case a.Kind == Keep && a.To != "":
			to, err := m.SetFlags(a.Copy.Path, a.Flags)
			if err != nil {
				return out, err
			}
			loc[a.Msg] = store.Copy{Path: to}
			out.Done[i] = true
			out.Flagged++
		case a.Kind == Keep:
		case a.Copy.IsMbox():
			src := res.Messages[a.Msg].Source
			mboxRm[src] = append(mboxRm[src], i)
		case a.Kind == Quarantine:
			if _, err := m.QuarantineFile(a.Copy.Path, a.Name, a.Key, loc[a.Kept]); err != nil {
				return out, err
			}
			out.Done[i], out.Removed, out.Bytes = true, out.Removed+1, out.Bytes+a.Size
		case a.Kind == Delete:
			if err := m.DeleteFile(a.Copy.Path, a.Key, loc[a.Kept]); err != nil {
				return out, err
			}
			out.Done[i], out.Removed, out.Bytes = true, out.Removed+1, out.Bytes+a.Size
		}
	}
	var srcs []int32
	for s := range mboxRm {
		srcs = append(srcs, s)
	}
	sort.Slice(srcs, func(i, j int) bool { return srcs[i] < srcs[j] })
	for _, si := range srcs {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		s := &res.Sources[si]
		req := store.MboxRewrite{Path: s.Path, Size: s.Size, ModTime: s.ModTime, Delete: p.Options.Delete}
		for _, i := range mboxRm[si] {
			a := &p.Actions[i]
			req.Remove = append(req.Remove, store.MboxCopy{
				Index: int(res.Messages[a.Msg].Index), Offset: a.Copy.Offset, Length: a.Copy.Length,
				Key: a.Key, To: a.Name, Kept: loc[a.Kept],
			})
		}
		if err := m.RewriteMbox(req); err != nil {
			return out, err
		}
		for _, i := range mboxRm[si] {
			out.Done[i], out.Removed, out.Bytes = true, out.Removed+1, out.Bytes+p.Actions[i].Size
		}
		shiftOffsets(loc, res, si, req.Remove)
	}
	return out, nil
}

// Recover cleans up after a crashed run on every mbox of res (a dot-lock
// left by a dead popdedupe, a half-written new version), so that mail
// programs are not kept waiting. Execute calls it; call it also when an
// applied run finds nothing to do.
func Recover(res *scan.Result) error {
	var mboxes []string
	for _, s := range res.Sources {
		if s.Kind == scan.Mbox {
			mboxes = append(mboxes, s.Path)
		}
	}
	return store.Recover(mboxes)
}

// shiftOffsets moves the recorded offsets of kept copies in a rewritten
// mbox by the bytes removed before them.
func shiftOffsets(loc map[int]store.Copy, res *scan.Result, src int32, rm []store.MboxCopy) {
	for msg, c := range loc {
		if res.Messages[msg].Source != src || !c.IsMbox() {
			continue
		}
		var shift int64
		for _, r := range rm {
			if r.Offset < c.Offset {
				shift += r.Length
			}
		}
		c.Offset -= shift
		loc[msg] = c
	}
}

// String is a one-line summary of the outcome.
func (o *Outcome) String() string {
	return fmt.Sprintf("%d copies removed, %d kept copies given merged flags", o.Removed, o.Flagged)
}

package journal

import (
	"context"
	"errors"
	"fmt"
)

// Handler undoes one step. It is called for every step that was begun and
// not yet undone, whether or not it was done (a crash may have cut it
// anywhere), so it must find out how far the step got and be idempotent:
// running it again after it succeeded, or after it was itself cut short,
// must leave the same result. It returns a note for the user (what it
// could not put back, for example) or an error when it must leave the
// step as it is.
type Handler func(ctx context.Context, s Step) (note string, err error)

// Handlers maps an op ("maildir.quarantine") or a namespace ("pop3") to
// its Handler; the exact op wins.
type Handlers map[string]Handler

// UndoResult says what Undo did.
type UndoResult struct {
	Journal string
	Steps   int          // steps in the journal
	Undone  int          // steps undone now
	Already int          // steps undone by an earlier undo
	Notes   []string     // what the handlers had to say
	Errors  []StepError  // steps that could not be undone (and stay as they are)
	Results []StepResult // one per step handled now, in the order handled
}

// StepResult is the outcome of one step's undo.
type StepResult struct {
	Seq  int    `json:"seq"`
	Op   string `json:"op"`
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	Note string `json:"note,omitempty"`
	Err  string `json:"error,omitempty"`
}

// StepError is a step that could not be undone.
type StepError struct {
	Seq int
	Op  string
	Err error
}

func (e StepError) Error() string { return fmt.Sprintf("step %d (%s): %v", e.Seq, e.Op, e.Err) }

// ErrIncomplete is returned by Undo when some steps could not be undone.
var ErrIncomplete = errors.New("undo incomplete")

// Undo replays the journal at path backwards: for each begun step not yet
// undone it calls the step's handler and, on success, appends an Undone
// line. A step that cannot be undone is reported and left alone; the walk
// goes on with the steps before it, since each step restores a different
// file. Undo is safe to interrupt and run again.
func Undo(ctx context.Context, path string, h Handlers) (*UndoResult, error) {
	entries, err := Read(path)
	if err != nil {
		return nil, err
	}
	steps := Steps(entries)
	res := &UndoResult{Journal: path, Steps: len(steps)}
	j, err := OpenAppend(path)
	if err != nil {
		return res, err
	}
	defer j.Close()
	for i := len(steps) - 1; i >= 0; i-- {
		s := steps[i]
		if s.Undone {
			res.Already++
			continue
		}
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if !s.Started {
			continue
		}
		fn := h[s.Op]
		if fn == nil {
			fn = h[namespace(s.Op)]
		}
		sr := StepResult{Seq: s.Seq, Op: s.Op, From: s.From, To: s.To}
		if fn == nil {
			err := fmt.Errorf("no way to undo %q (written by a newer popdedupe?)", s.Op)
			res.Errors = append(res.Errors, StepError{s.Seq, s.Op, err})
			sr.Err = err.Error()
			res.Results = append(res.Results, sr)
			continue
		}
		note, err := fn(ctx, s)
		sr.Note = note
		if note != "" {
			res.Notes = append(res.Notes, note)
		}
		if err != nil {
			res.Errors = append(res.Errors, StepError{s.Seq, s.Op, err})
			sr.Err = err.Error()
			res.Results = append(res.Results, sr)
			continue
		}
		if err := j.Mark(s.Entry, Undone); err != nil {
			return res, err
		}
		res.Undone++
		res.Results = append(res.Results, sr)
	}
	if len(res.Errors) > 0 {
		return res, fmt.Errorf("%w: %d of %d steps could not be undone", ErrIncomplete, len(res.Errors), len(steps))
	}
	return res, nil
}

package report

// Dedupe is the result of `popdedupe dedupe`: the scan contract plus what
// becomes of every copy of every duplicated message. On a dry run Applied
// is false, Journal is "" and nothing was changed.
type Dedupe struct {
	*Scan
	Applied    bool     `json:"applied"`
	Delete     bool     `json:"delete"`     // extra copies deleted for good, not quarantined
	Quarantine string   `json:"quarantine"` // the quarantine Maildir ("" with delete)
	Removed    int      `json:"removed"`    // extra copies removed (to be removed on a dry run)
	RemovedB   int64    `json:"removed_bytes"`
	Flagged    int      `json:"flagged"`        // kept copies given the flags of their removed copies
	Mboxes     []string `json:"mbox_rewritten"` // mbox files rewritten (to be rewritten)
	Actions    []Action `json:"actions"`        // one per copy of every group: keep, quarantine or delete
	Journal    string   `json:"journal"`        // the file `popdedupe undo` takes; "" on a dry run
	Undo       string   `json:"undo,omitempty"` // the undo command line
	Notes      []string `json:"notes"`
}

// Undo is the result of `popdedupe undo`.
type Undo struct {
	Version int          `json:"version"`
	Command string       `json:"command"`
	Journal string       `json:"journal"`
	Steps   int          `json:"steps"`
	Undone  int          `json:"undone"`  // steps undone now
	Already int          `json:"already"` // steps undone by an earlier undo
	Results []UndoResult `json:"results"`
	Notes   []string     `json:"notes"`
	Errors  []string     `json:"errors"`
}

// UndoResult is one undone (or not undoable) journal step.
type UndoResult struct {
	Seq   int    `json:"seq"`
	Op    string `json:"op"`
	From  string `json:"from,omitempty"`
	To    string `json:"to,omitempty"`
	Note  string `json:"note,omitempty"`
	Error string `json:"error,omitempty"`
}

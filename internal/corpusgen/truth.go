package corpusgen

import "time"

// Truth is what a correct dedupe of one written store must find. The
// writers record it while writing; nothing in it is recomputed from the
// bytes. It marshals to JSON as is.
type Truth struct {
	Format  string  `json:"format"` // "maildir", "maildir++" or "mbox"
	Options Options `json:"options"`
	Owner   string  `json:"owner"` // the POP3 mailbox's address

	Messages    int   `json:"messages"`      // distinct messages on the server
	Distinct    int   `json:"distinct"`      // distinct messages with local copies (len(Groups))
	Copies      int   `json:"copies"`        // message files or mbox entries written
	Duplicates  int   `json:"duplicates"`    // Copies - Distinct: what a dedupe removes
	Bytes       int64 `json:"bytes"`         // bytes written
	NoMessageID int   `json:"no_message_id"` // groups without a Message-ID header

	// Groups lists, in server order, each stored distinct message and its
	// copies. Every copy of a group has the same Message-ID and the same
	// body once line ends, mbox quoting, the ClientHeaders fields and
	// trailing blank lines are set aside; copies of different groups differ
	// in more than that.
	Groups []Group `json:"groups"`
	// Conflicts are sets of distinct messages sharing one Message-ID with
	// different bodies: a dedupe must not merge them.
	Conflicts []Conflict `json:"conflicts"`

	SavedUIDs   []string `json:"saved_uids"`   // server UIDs with local copies, server order
	UnsavedUIDs []string `json:"unsaved_uids"` // server UIDs without, server order
	Bursts      []Burst  `json:"bursts"`       // re-download runs of the incident
}

// Group is one distinct message and its local copies, first download first.
type Group struct {
	Message   int    `json:"message"`              // server index, from 0
	UID       string `json:"uid"`                  // server UIDL
	MessageID string `json:"message_id,omitempty"` // with angle brackets; empty when absent
	Copies    []Copy `json:"copies"`
}

// Copy is one stored copy of a message.
type Copy struct {
	// Path is the file, relative to the store root with '/' separators
	// (Maildir, Maildir++); Ordinal is the 1-based index of the entry's
	// From_ line (mbox).
	Path    string `json:"path,omitempty"`
	Ordinal int    `json:"ordinal,omitempty"`
	Size    int    `json:"size"` // bytes of the file or entry (From_ line and separator not counted)

	Time   time.Time `json:"time"`            // delivery: Maildir name and mtime, or From_ line
	Burst  int       `json:"burst"`           // -1 for the first download, else index into Truth.Bursts
	Client string    `json:"client"`          // "raw", "mutt", "thunderbird", "dovecot" or "x-uidl"
	CRLF   bool      `json:"crlf,omitempty"`  // CRLF line ends
	Flags  string    `json:"flags,omitempty"` // Maildir info flags (cur/ only)
}

// Conflict is a Message-ID shared by distinct messages with different
// bodies: an original and its re-deliveries.
type Conflict struct {
	MessageID string   `json:"message_id"`
	Messages  []int    `json:"messages"` // server indexes, ascending
	UIDs      []string `json:"uids"`
	// Stored are the members with local copies; a local dedupe can only
	// see a conflict when two or more are stored.
	Stored []int `json:"stored"`
}

// GroupByPath maps each copy's Path to its index in Groups.
func (t *Truth) GroupByPath() map[string]int {
	m := make(map[string]int, t.Copies)
	for gi, g := range t.Groups {
		for _, c := range g.Copies {
			if c.Path != "" {
				m[c.Path] = gi
			}
		}
	}
	return m
}

// GroupByOrdinal maps each copy's mbox Ordinal to its index in Groups.
func (t *Truth) GroupByOrdinal() map[int]int {
	m := make(map[int]int, t.Copies)
	for gi, g := range t.Groups {
		for _, c := range g.Copies {
			if c.Ordinal > 0 {
				m[c.Ordinal] = gi
			}
		}
	}
	return m
}

// truthBuilder records a Truth while a writer writes.
type truthBuilder struct {
	t         *Truth
	g         *Generator
	conflicts map[int]int // root -> index in t.Conflicts
}

func newTruth(g *Generator, format string) *truthBuilder {
	return &truthBuilder{
		t: &Truth{
			Format:   format,
			Options:  g.opts,
			Owner:    g.owner.addr,
			Messages: g.opts.Messages,
			Bursts:   g.Bursts(),
		},
		g:         g,
		conflicts: map[int]int{},
	}
}

// message records message p before its copies; it returns the group index,
// or -1 when p has no local copies.
func (b *truthBuilder) message(p *plan) int {
	t, g := b.t, b.g
	uid := g.UID(p.i)
	if p.root != p.i {
		k, ok := b.conflicts[p.root]
		if !ok {
			root := g.plan(p.root)
			k = len(t.Conflicts)
			b.conflicts[p.root] = k
			c := Conflict{MessageID: string(g.msgIDOf(p.root)), Messages: []int{p.root}, UIDs: []string{g.UID(p.root)}, Stored: []int{}}
			if root.saved {
				c.Stored = append(c.Stored, p.root)
			}
			t.Conflicts = append(t.Conflicts, c)
		}
		c := &t.Conflicts[k]
		c.Messages = append(c.Messages, p.i)
		c.UIDs = append(c.UIDs, uid)
		if p.saved {
			c.Stored = append(c.Stored, p.i)
		}
	}
	if !p.saved {
		t.UnsavedUIDs = append(t.UnsavedUIDs, uid)
		return -1
	}
	t.SavedUIDs = append(t.SavedUIDs, uid)
	grp := Group{Message: p.i, UID: uid, Copies: make([]Copy, 0, p.copies)}
	if p.hasMsgID {
		grp.MessageID = string(g.msgIDOf(p.i))
	} else {
		t.NoMessageID++
	}
	t.Groups = append(t.Groups, grp)
	t.Distinct++
	return len(t.Groups) - 1
}

// copy records one written copy of group gi.
func (b *truthBuilder) copy(gi int, c Copy) {
	b.t.Groups[gi].Copies = append(b.t.Groups[gi].Copies, c)
	b.t.Copies++
	b.t.Duplicates = b.t.Copies - b.t.Distinct
}

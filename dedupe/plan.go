// Package dedupe owns removing extra copies: it turns a scan's duplicate
// groups into a Plan that records, for every copy, what will become of it
// and on what evidence, and Execute carries a plan out through the one
// destructive choke point, store.Mutator, which journals every step
// before taking it.
//
// # Rules
//
//   - In each group the copy chosen by the keep rule (scan.KeepRule:
//     oldest, newest or first in argument order) stays; the others are
//     moved to the quarantine Maildir (default) or, with Options.Delete,
//     deleted for good. Malformed messages are never in a group (they have
//     no fingerprint), so they are never kept in place of a good copy nor
//     removed.
//   - A Message-ID in a conflict (copies with different bodies) stands for
//     several messages, one per body: copies are only ever removed in favour
//     of a copy with the same body (the same group), so one copy of every
//     version stays.
//   - A copy in an mbox with messages the scan could not read is never
//     removed: that mbox is never rewritten, since its split may be wrong.
//   - Every group keeps at least one copy; Plan checks it, and the choke
//     point re-reads the kept copy before each removal.
//   - Maildir flags: the kept copy gets the union of the passed, replied,
//     seen and flagged flags of all copies (store.MergeFlags); trashed is
//     never carried over. A kept copy in new/ that gets flags moves to
//     cur/. Flags of removed copies are not carried to a kept copy in an
//     mbox (that would change its bytes); the plan says so.
package dedupe

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/popdedupe/popdedupe/fingerprint"
	"github.com/popdedupe/popdedupe/report"
	"github.com/popdedupe/popdedupe/scan"
	"github.com/popdedupe/popdedupe/store"
)

// Options shape a plan.
type Options struct {
	// Delete removes extra copies for good instead of quarantining them.
	Delete bool
	// Quarantine is the Maildir that receives extra copies (created when
	// the plan is carried out). Required unless Delete. It must not be
	// inside a store.
	Quarantine string
	// RunID starts every quarantine file name, so that names stay unique
	// when several runs share one quarantine.
	RunID string
}

// Kind is what becomes of one copy.
type Kind string

const (
	Keep       Kind = "keep"       // stays (maybe renamed to merged flags)
	Quarantine Kind = "quarantine" // moved into the quarantine
	Delete     Kind = "delete"     // deleted for good
)

// Action is what becomes of one copy of a duplicated message, with the
// evidence: the fingerprint the copy must still have, and the copy kept.
type Action struct {
	Kind  Kind
	Msg   int             // index into Result.Messages
	Copy  store.Copy      // where the copy is
	Ref   report.Ref      // how reports name it
	Key   fingerprint.Key // its fingerprint at the scan
	Group int             // index into Plan.Groups
	Kept  int             // Msg of the copy kept in its group
	// Quarantine: the file name in the quarantine's cur/ (Name) and its
	// path (To). Keep: To is the new path after the flag merge, or "".
	Name  string
	To    string
	Flags scan.Flags // Keep with To: the merged flags
	// Reason says why a copy that the rule would remove is kept.
	Reason string
	Size   int64
}

// Plan is what dedupe will do.
type Plan struct {
	Result    *scan.Result
	Groups    []scan.Group
	Conflicts []scan.Conflict
	Options   Options
	Actions   []Action // per group: the kept copy first, then the others in group order
	Removals  int      // copies to quarantine or delete
	Bytes     int64    // their bytes
	Flagged   int      // kept copies whose flags change
	Mboxes    []string // mbox files to rewrite, in source order
	Notes     []string
}

// Work reports whether carrying out the plan would change anything.
func (p *Plan) Work() bool { return p.Removals > 0 || p.Flagged > 0 }

// ErrQuarantineInStore is returned when the quarantine is inside a store:
// the next scan would find the quarantined copies again.
var ErrQuarantineInStore = errors.New("the quarantine must not be inside a store")

// Make builds the plan for the duplicate groups and conflicts of res (as
// returned by res.Duplicates). It changes nothing.
func Make(res *scan.Result, groups []scan.Group, conflicts []scan.Conflict, opts Options) (*Plan, error) {
	if !opts.Delete && opts.Quarantine == "" {
		return nil, errors.New("dedupe: no quarantine directory (or ask for Delete)")
	}
	if !opts.Delete {
		if err := outsideStores(opts.Quarantine, res.Stores); err != nil {
			return nil, err
		}
	}
	p := &Plan{Result: res, Groups: groups, Conflicts: conflicts, Options: opts}
	inConflict := map[string]bool{}
	for _, c := range conflicts {
		inConflict[c.MessageID] = true
	}
	mboxRewrite := map[int32]bool{}
	n := 0
	lostFlags := 0
	for gi, g := range groups {
		if len(g.Copies) < 2 {
			continue
		}
		keep := g.Copies[0]
		km := &res.Messages[keep]
		kept := Action{Kind: Keep, Msg: keep, Group: gi, Kept: keep, Key: res.Key(km), Size: km.Size}
		p.locate(&kept)
		if id := res.MessageID(km); id != "" && inConflict[id] {
			kept.Reason = "its Message-ID also has copies with another body (conflict): one copy of each version is kept"
		}
		first := len(p.Actions)
		p.Actions = append(p.Actions, kept)
		removedFlags := scan.Flags(0)
		var others []scan.Flags
		var folders []string
		for _, i := range g.Copies[1:] {
			m := &res.Messages[i]
			a := Action{Kind: Keep, Msg: i, Group: gi, Kept: keep, Key: res.Key(m), Size: m.Size}
			p.locate(&a)
			src := &res.Sources[m.Source]
			switch {
			case a.Key != kept.Key:
				return nil, fmt.Errorf("dedupe: group %d mixes fingerprints: %s and %s", gi, a.Ref, kept.Ref)
			case src.Kind == scan.Mbox && src.Skipped > 0:
				a.Reason = fmt.Sprintf("its mbox has %d message(s) that could not be read, so it is never rewritten", src.Skipped)
			default:
				n++
				a.Kind = Quarantine
				if opts.Delete {
					a.Kind = Delete
				} else {
					a.Name = quarantineName(opts.RunID, n, res, m)
					a.To = filepath.Join(opts.Quarantine, "cur", a.Name)
				}
				p.Removals++
				p.Bytes += m.Size
				if src.Kind == scan.Mbox {
					mboxRewrite[m.Source] = true
				}
				removedFlags |= m.Flags
			}
			if src.Kind == scan.Maildir {
				others = append(others, m.Flags)
				folders = append(folders, src.Path)
			}
			p.Actions = append(p.Actions, a)
		}
		k := &p.Actions[first]
		if res.Kind(km) == scan.Maildir {
			merged := store.MergeFlags(km.Flags, res.Sources[km.Source].Path, others, folders)
			if to := store.FlagPath(k.Copy.Path, merged); to != k.Copy.Path {
				k.To, k.Flags = to, merged
				p.Flagged++
			}
		} else if removedFlags&store.FromMaildirFlags(store.MergedFlags) != 0 {
			lostFlags++
		}
	}
	for si := range res.Sources {
		if mboxRewrite[int32(si)] {
			p.Mboxes = append(p.Mboxes, res.Sources[si].Path)
		}
	}
	if lostFlags > 0 {
		p.Notes = append(p.Notes, fmt.Sprintf("%d kept copies are in mbox files: the Maildir flags of their removed copies are not carried over", lostFlags))
	}
	for si := range res.Sources {
		s := &res.Sources[si]
		if s.Kind == scan.Mbox && s.Skipped > 0 {
			p.Notes = append(p.Notes, fmt.Sprintf("%s: %d message(s) could not be read; this mbox is left as it is", s.Path, s.Skipped))
		}
	}
	if len(conflicts) > 0 {
		p.Notes = append(p.Notes, fmt.Sprintf("%d Message-IDs have copies with different bodies: one copy of each version is kept", len(conflicts)))
	}
	return p, p.check()
}

// check verifies the plan's safety rules.
func (p *Plan) check() error {
	kept := map[int]bool{}
	for _, a := range p.Actions {
		if a.Kind == Keep {
			kept[a.Group] = true
		}
	}
	for _, a := range p.Actions {
		if a.Kind != Keep && (!kept[a.Group] || a.Msg == a.Kept) {
			return fmt.Errorf("dedupe: internal error: the plan would remove the last copy of %s", a.Ref)
		}
	}
	return nil
}

func (p *Plan) locate(a *Action) {
	res := p.Result
	m := &res.Messages[a.Msg]
	a.Ref = report.RefOf(res, a.Msg)
	a.Copy = store.Copy{Path: res.Path(m)}
	if res.Kind(m) == scan.Mbox {
		a.Copy.Offset, a.Copy.Length = m.Offset, m.Size
	}
}

// quarantineName names the n-th quarantined copy: the run id, n, and the
// copy's own Maildir name (flags included), or the mbox file's name and
// the message's ordinal.
func quarantineName(runID string, n int, res *scan.Result, m *scan.Message) string {
	if runID == "" {
		runID = "popdedupe"
	}
	prefix := fmt.Sprintf("%s.%d.", runID, n)
	if res.Kind(m) == scan.Maildir {
		return fitName(prefix, filepath.Base(res.Path(m)))
	}
	base := strings.NewReplacer(":", "_", "/", "_").Replace(filepath.Base(res.Path(m)))
	return fitName(prefix, fmt.Sprintf("%s-%d:2,", base, m.Index))
}

// fitName is prefix+base cut to NAME_MAX (255 bytes): the middle of base
// goes, its Maildir info (":2,FLAGS") stays. The prefix keeps it unique.
func fitName(prefix, base string) string {
	const nameMax = 255
	if len(prefix)+len(base) <= nameMax {
		return prefix + base
	}
	info := ""
	if i := strings.LastIndex(base, ":2,"); i >= 0 {
		base, info = base[:i], base[i:]
	}
	if room := nameMax - len(prefix) - len(info); room > 0 && room < len(base) {
		base = base[:room]
	}
	return prefix + base + info
}

// outsideStores fails when dir is inside (or is) one of the stores.
func outsideStores(dir string, stores []string) error {
	q, err := absReal(dir)
	if err != nil {
		return err
	}
	for _, s := range stores {
		sp, err := absReal(s)
		if err != nil {
			return err
		}
		if q == sp || strings.HasPrefix(q, sp+string(filepath.Separator)) {
			return fmt.Errorf("%w: %s is inside %s", ErrQuarantineInStore, dir, s)
		}
	}
	return nil
}

// absReal is the absolute path with symbolic links resolved as far as the
// path exists.
func absReal(p string) (string, error) {
	a, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	rest := ""
	for cur := a; ; {
		if r, err := filepath.EvalSymlinks(cur); err == nil {
			return filepath.Join(r, rest), nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
		parent := filepath.Dir(cur)
		if parent == cur {
			return a, nil
		}
		rest = filepath.Join(filepath.Base(cur), rest)
		cur = parent
	}
}

package scan

import (
	"cmp"
	"slices"

	"context"
	"flag"
	"fmt"
	"math/bits"
	"sort"
	"strings"

	"github.com/popdedupe/popdedupe/fingerprint"
)

// Flags is a set of Maildir info flags: one bit per letter, 'A'-'Z' and
// 'a'-'z' (the standard P R S T D F and Dovecot's keyword letters).
type Flags uint64

// ParseFlags reads the flags of a Maildir file name ("...:2,FRS").
// Names without ":2," (as in new/) have none.
func ParseFlags(name string) Flags {
	i := strings.LastIndex(name, ":2,")
	if i < 0 {
		return 0
	}
	var f Flags
	for _, c := range name[i+3:] {
		f |= flagBit(c)
	}
	return f
}

func flagBit(c rune) Flags {
	switch {
	case c >= 'A' && c <= 'Z':
		return 1 << (c - 'A')
	case c >= 'a' && c <= 'z':
		return 1 << (26 + c - 'a')
	}
	return 0
}

// String returns the flags as Maildir writes them: ASCII order.
func (f Flags) String() string {
	var b strings.Builder
	for c := 'A'; c <= 'Z'; c++ {
		if f&flagBit(c) != 0 {
			b.WriteRune(c)
		}
	}
	for c := 'a'; c <= 'z'; c++ {
		if f&flagBit(c) != 0 {
			b.WriteRune(c)
		}
	}
	return b.String()
}

// Count is the number of flags set.
func (f Flags) Count() int { return bits.OnesCount64(uint64(f)) }

// KeepRule chooses the copy to keep in a group of duplicates.
type KeepRule string

const (
	// KeepOldest keeps the copy that arrived first (Maildir delivery
	// time, mbox From_ date); ties go to the copy with the most Maildir
	// flags, then to argument order, path and mbox ordinal.
	KeepOldest KeepRule = "oldest"
	// KeepNewest keeps the copy that arrived last; ties as for oldest.
	KeepNewest KeepRule = "newest"
	// KeepFirst keeps the first copy in argument order, then path order,
	// then mbox ordinal.
	KeepFirst KeepRule = "first"
)

var _ flag.Value = new(KeepRule)

func (k *KeepRule) String() string { return string(*k) }

// Set implements flag.Value.
func (k *KeepRule) Set(s string) error {
	switch KeepRule(s) {
	case KeepOldest, KeepNewest, KeepFirst:
		*k = KeepRule(s)
		return nil
	}
	return fmt.Errorf("keep rule must be oldest, newest or first, not %q", s)
}

// Group is a set of two or more copies of one message. Copies holds
// indices into Result.Messages, the kept copy first.
type Group struct {
	Key    fingerprint.Key
	Copies []int
}

// Keep is the index of the copy to keep.
func (g Group) Keep() int { return g.Copies[0] }

// Conflict is a Message-ID whose copies have different bodies: reported,
// never deduplicated. Copies holds indices into Result.Messages.
type Conflict struct {
	MessageID string
	Copies    []int
}

// Duplicates groups the messages by identity. Bodies are hashed where
// header identities collide and were not hashed yet. Groups come in a
// stable order (by the kept copy's position), so the same input always
// gives the same plan.
func (r *Result) Duplicates(ctx context.Context, rule KeepRule) ([]Group, []Conflict, error) {
	if rule == "" {
		rule = KeepOldest
	}
	// Copies that can be duplicates share a candidate (header) identity.
	// They are found by sorting an index by a 64-bit hash of it, not with
	// maps: a few bytes per message, even for millions of them.
	ord, ch := r.byCandidate()
	same := func(a, b int32) bool { return r.sameCandidate(ch, a, b) }
	// Counted first, so that the slices below are allocated once at their
	// size: with a million messages, append's regrowth would leave
	// garbage several times the result.
	colliding := 0
	forRuns(ord, same, func(run []int32) {
		if len(run) > 1 {
			colliding += len(run)
		}
	})
	need := make([]int, 0, colliding)
	forRuns(ord, same, func(run []int32) {
		if len(run) > 1 {
			for _, i := range run {
				need = append(need, int(i))
			}
		}
	})
	sort.Ints(need)
	before := len(r.Messages)
	if err := r.HashBodies(ctx, need, 0); err != nil {
		return nil, nil, err
	}
	need = nil
	if len(r.Messages) != before {
		// Indices moved: a message became unreadable. Sort again.
		ord, ch = r.byCandidate()
	} else {
		// Only body hashes changed: each run of one header identity is
		// put in body-hash order (the tail of byCandidate's order).
		forRuns(ord, same, func(run []int32) {
			if len(run) > 1 {
				slices.SortFunc(run, r.cmpBody)
			}
		})
	}
	sameBody := func(a, b int32) bool {
		x, y := &r.Messages[a], &r.Messages[b]
		return x.HasBody && y.HasBody && x.BodyHash == y.BodyHash
	}
	ngroups := 0
	forRuns(ord, same, func(run []int32) {
		forRuns(run, sameBody, func(copies []int32) {
			if len(copies) > 1 && r.Messages[copies[0]].HasBody {
				ngroups++
			}
		})
	})
	groups := make([]Group, 0, ngroups)
	var conflicts []Conflict
	forRuns(ord, same, func(run []int32) {
		versions := 0
		forRuns(run, sameBody, func(copies []int32) {
			if !r.Messages[copies[0]].HasBody {
				return // alone under its header identity: not a duplicate
			}
			versions++
			if len(copies) < 2 {
				return
			}
			idx := make([]int, len(copies))
			for k, i := range copies {
				idx[k] = int(i)
			}
			r.order(idx, rule)
			groups = append(groups, Group{Key: r.Key(&r.Messages[idx[0]]), Copies: idx})
		})
		if id := r.MessageID(&r.Messages[run[0]]); id != "" && versions > 1 {
			var idx []int
			for _, i := range run {
				if r.Messages[i].HasBody {
					idx = append(idx, int(i))
				}
			}
			r.order(idx, KeepFirst)
			conflicts = append(conflicts, Conflict{MessageID: id, Copies: idx})
		}
	})
	r.sortGroups(groups)
	sort.Slice(conflicts, func(i, j int) bool { return conflicts[i].MessageID < conflicts[j].MessageID })
	return groups, conflicts, nil
}

// sortGroups orders groups by their kept copy in the "first" order
// (before), in place: no path is built, nothing is allocated.
func (r *Result) sortGroups(groups []Group) {
	slices.SortFunc(groups, func(a, b Group) int { return r.cmpFirst(a.Keep(), b.Keep()) })
}

// byCandidate returns the message indices sorted by candidate identity
// (hash, then the identity itself, then body hash) and the hashes.
func (r *Result) byCandidate() ([]int32, []uint64) {
	ch := make([]uint64, len(r.Messages))
	ord := make([]int32, len(r.Messages))
	for i := range r.Messages {
		m := &r.Messages[i]
		ch[i] = candidateHash(r.MessageID(m), m.KeyHash) // sameCandidate compares the identities themselves
		ord[i] = int32(i)
	}
	slices.SortFunc(ord, func(a, b int32) int {
		if c := cmp.Compare(ch[a], ch[b]); c != 0 {
			return c
		}
		x, y := &r.Messages[a], &r.Messages[b]
		xid := r.MessageID(x)
		if c := cmp.Compare(xid, r.MessageID(y)); c != 0 {
			return c
		}
		if c := cmp.Compare(x.KeyHash, y.KeyHash); c != 0 && xid == "" {
			return c
		}
		return r.cmpBody(a, b)
	})
	return ord, ch
}

// cmpBody orders copies of one header identity: hashed bodies first, by
// body hash, then by position.
func (r *Result) cmpBody(a, b int32) int {
	x, y := &r.Messages[a], &r.Messages[b]
	if x.HasBody != y.HasBody {
		if x.HasBody {
			return -1
		}
		return 1
	}
	if c := cmp.Compare(x.BodyHash, y.BodyHash); c != 0 {
		return c
	}
	return cmp.Compare(a, b)
}

// sameCandidate reports whether messages a and b share a header identity.
func (r *Result) sameCandidate(ch []uint64, a, b int32) bool {
	x, y := &r.Messages[a], &r.Messages[b]
	if ch[a] != ch[b] {
		return false
	}
	xid := r.MessageID(x)
	if xid != r.MessageID(y) {
		return false
	}
	return xid != "" || x.KeyHash == y.KeyHash
}

// forRuns calls fn with each maximal run of s whose neighbours are same.
func forRuns(s []int32, same func(a, b int32) bool, fn func(run []int32)) {
	for i := 0; i < len(s); {
		j := i + 1
		for j < len(s) && same(s[j-1], s[j]) {
			j++
		}
		fn(s[i:j])
		i = j
	}
}

// Key returns the identity of a message whose body was hashed.
func (r *Result) Key(m *Message) fingerprint.Key {
	if id := r.MessageID(m); id != "" {
		return fingerprint.Key{MessageID: id, BodyHash: m.BodyHash}
	}
	return fingerprint.Key{BodyHash: m.BodyHash, KeyHash: m.KeyHash}
}

// order sorts copies so that the one to keep comes first.
func (r *Result) order(idx []int, rule KeepRule) {
	sort.SliceStable(idx, func(a, b int) bool {
		x, y := &r.Messages[idx[a]], &r.Messages[idx[b]]
		switch rule {
		case KeepOldest, KeepNewest:
			if x.Arrival != y.Arrival {
				return (x.Arrival < y.Arrival) == (rule == KeepOldest)
			}
			if cx, cy := x.Flags.Count(), y.Flags.Count(); cx != cy {
				return cx > cy
			}
		}
		return r.before(idx[a], idx[b])
	})
}

// before is the "first" order: argument order, then path, then ordinal.
func (r *Result) before(i, j int) bool { return r.cmpFirst(i, j) < 0 }

// cmpFirst compares messages i and j in the "first" order.
func (r *Result) cmpFirst(i, j int) int {
	x, y := &r.Messages[i], &r.Messages[j]
	if c := cmp.Compare(r.Sources[x.Source].Store, r.Sources[y.Source].Store); c != 0 {
		return c
	}
	r.dirsOnce.Do(r.prepareDirs)
	if r.dirRank != nil {
		dx, dy := 2*int(x.Source)+int(x.Sub), 2*int(y.Source)+int(y.Sub)
		if c := cmp.Compare(r.dirRank[dx], r.dirRank[dy]); c != 0 {
			return c
		}
		if c := strings.Compare(r.Name(x), r.Name(y)); c != 0 {
			return c
		}
		return cmp.Compare(x.Index, y.Index)
	}
	dx, nx := r.pathParts(x)
	dy, ny := r.pathParts(y)
	if c := cmpJoined(dx, nx, dy, ny); c != 0 {
		return c
	}
	return cmp.Compare(x.Index, y.Index)
}

// cmpJoined compares a1+a2 with b1+b2 without building either string.
func cmpJoined(a1, a2, b1, b2 string) int {
	for {
		if len(a1) == 0 {
			a1, a2 = a2, ""
		}
		if len(b1) == 0 {
			b1, b2 = b2, ""
		}
		if len(a1) == 0 || len(b1) == 0 {
			return cmp.Compare(len(a1), len(b1))
		}
		n := min(len(a1), len(b1))
		if c := strings.Compare(a1[:n], b1[:n]); c != 0 {
			return c
		}
		a1, b1 = a1[n:], b1[n:]
	}
}

package scan

import (
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
	cand := map[fingerprint.Key][]int{}
	for i := range r.Messages {
		k := r.Messages[i].candidate()
		cand[k] = append(cand[k], i)
	}
	var need []int
	for _, idx := range cand {
		if len(idx) > 1 {
			need = append(need, idx...)
		}
	}
	sort.Ints(need)
	if err := r.HashBodies(ctx, need, 0); err != nil {
		return nil, nil, err
	}
	// Indices may have moved if a message became unreadable: regroup.
	byKey := map[fingerprint.Key][]int{}
	byID := map[string]map[uint64]bool{}
	var keys []fingerprint.Key
	for i := range r.Messages {
		m := &r.Messages[i]
		if !m.HasBody {
			continue // alone under its header identity: not a duplicate
		}
		k := m.key()
		if _, ok := byKey[k]; !ok {
			keys = append(keys, k)
		}
		byKey[k] = append(byKey[k], i)
		if m.MessageID != "" {
			if byID[m.MessageID] == nil {
				byID[m.MessageID] = map[uint64]bool{}
			}
			byID[m.MessageID][m.BodyHash] = true
		}
	}
	var groups []Group
	for _, k := range keys {
		idx := byKey[k]
		if len(idx) < 2 {
			continue
		}
		r.order(idx, rule)
		groups = append(groups, Group{Key: k, Copies: idx})
	}
	sort.Slice(groups, func(i, j int) bool { return r.before(groups[i].Copies[0], groups[j].Copies[0]) })
	var conflicts []Conflict
	for id, hashes := range byID {
		if len(hashes) < 2 {
			continue
		}
		var idx []int
		for h := range hashes {
			idx = append(idx, byKey[fingerprint.Key{MessageID: id, BodyHash: h}]...)
		}
		r.order(idx, KeepFirst)
		conflicts = append(conflicts, Conflict{MessageID: id, Copies: idx})
	}
	sort.Slice(conflicts, func(i, j int) bool { return conflicts[i].MessageID < conflicts[j].MessageID })
	return groups, conflicts, nil
}

func (m *Message) candidate() fingerprint.Key {
	if m.MessageID != "" {
		return fingerprint.Key{MessageID: m.MessageID}
	}
	return fingerprint.Key{KeyHash: m.KeyHash}
}

func (m *Message) key() fingerprint.Key {
	if m.MessageID != "" {
		return fingerprint.Key{MessageID: m.MessageID, BodyHash: m.BodyHash}
	}
	return fingerprint.Key{BodyHash: m.BodyHash, KeyHash: m.KeyHash}
}

// Key returns the identity of a message whose body was hashed.
func (m *Message) Key() fingerprint.Key { return m.key() }

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
func (r *Result) before(i, j int) bool {
	x, y := &r.Messages[i], &r.Messages[j]
	sx, sy := r.Sources[x.Source].Store, r.Sources[y.Source].Store
	if sx != sy {
		return sx < sy
	}
	if px, py := r.Path(x), r.Path(y); px != py {
		return px < py
	}
	return x.Index < y.Index
}

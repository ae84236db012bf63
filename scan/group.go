package scan

import (
	"cmp"
	"encoding/binary"
	"slices"

	"context"
	"flag"
	"fmt"
	"math/bits"
	"runtime"
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
	// They are found by sorting the messages by a 64-bit hash of it, not
	// with maps: a few bytes per message, even for millions of them. Only
	// runs of two or more matter from here on.
	runs := r.candidateRuns()
	unhashed := 0
	runs.each(func(run []candidate) {
		for _, c := range run {
			if !r.Messages[c.i].HasBody {
				unhashed++
			}
		}
	})
	if unhashed > 0 {
		need := make([]int, 0, unhashed)
		runs.each(func(run []candidate) {
			for _, c := range run {
				if !r.Messages[c.i].HasBody {
					need = append(need, int(c.i))
				}
			}
		})
		slices.Sort(need)
		before := len(r.Messages)
		if err := r.HashBodies(ctx, need, 0); err != nil {
			return nil, nil, err
		}
		if len(r.Messages) != before {
			// Indices moved: a message became unreadable. Sort again.
			runs = r.candidateRuns()
		}
	}
	// Each run of one header identity in body-hash order.
	runs.each(func(run []candidate) {
		slices.SortFunc(run, func(a, b candidate) int { return r.cmpBody(a.i, b.i) })
	})
	sameBody := func(a, b candidate) bool {
		x, y := &r.Messages[a.i], &r.Messages[b.i]
		return x.HasBody && y.HasBody && x.BodyHash == y.BodyHash
	}
	// Counted first, so that the groups and their copies are allocated
	// once: with a million messages, regrowth would leave garbage several
	// times the result.
	ngroups, ncopies := 0, 0
	runs.each(func(run []candidate) {
		forRuns(run, sameBody, func(copies []candidate) {
			if len(copies) > 1 && r.Messages[copies[0].i].HasBody {
				ngroups++
				ncopies += len(copies)
			}
		})
	})
	groups := make([]Group, 0, ngroups)
	all := make([]int, 0, ncopies)
	var conflicts []Conflict
	runs.each(func(run []candidate) {
		versions := 0
		forRuns(run, sameBody, func(copies []candidate) {
			if !r.Messages[copies[0].i].HasBody {
				return // alone under its header identity: not a duplicate
			}
			versions++
			if len(copies) < 2 {
				return
			}
			k := len(all)
			for _, c := range copies {
				all = append(all, int(c.i))
			}
			idx := all[k:len(all):len(all)]
			r.order(idx, rule)
			groups = append(groups, Group{Key: r.Key(&r.Messages[idx[0]]), Copies: idx})
		})
		if id := r.MessageID(&r.Messages[run[0].i]); id != "" && versions > 1 {
			var idx []int
			for _, c := range run {
				if r.Messages[c.i].HasBody {
					idx = append(idx, int(c.i))
				}
			}
			r.order(idx, KeepFirst)
			conflicts = append(conflicts, Conflict{MessageID: id, Copies: idx})
		}
	})
	if len(r.Messages) >= 1<<17 {
		// The sorted candidates (16 bytes a message) are garbage now:
		// collect them, so that what follows reuses their memory rather
		// than adding to the peak of a million-message scan.
		runs = runSet{}
		runtime.GC()
	}
	r.sortGroups(groups)
	sort.Slice(conflicts, func(i, j int) bool { return conflicts[i].MessageID < conflicts[j].MessageID })
	return groups, conflicts, nil
}

// sortGroups orders groups by their kept copy in the "first" order
// (before), in place; no path is built. The order's leading parts (store,
// directory rank, the first 16 bytes of the name) are gathered into one
// array first, so that almost every comparison is of integers side by
// side; cmpFirst breaks the ties.
func (r *Result) sortGroups(groups []Group) {
	r.dirsOnce.Do(r.prepareDirs)
	if r.dirRank == nil {
		slices.SortFunc(groups, func(a, b Group) int { return r.cmpFirst(a.Keep(), b.Keep()) })
		return
	}
	// Store and directory in one rank, when it fits in 32 bits.
	dirs := uint64(len(r.dirRank))
	if uint64(len(r.Stores)+1)*dirs > 1<<32-1 {
		slices.SortFunc(groups, func(a, b Group) int { return r.cmpFirst(a.Keep(), b.Keep()) })
		return
	}
	type firstKey struct {
		n0, n1 uint64 // the name's first 16 bytes, big-endian, zero-padded
		dir    uint32 // store, then directory rank
		g      int32
		// index is the message's ordinal when its whole name is in n0
		// and n1, else -1: two such keys that tie on the name have equal
		// names, and cmpFirst's last step compares the ordinals (the
		// whole order of an mbox, whose messages have no name).
		index int32
	}
	keys := make([]firstKey, len(groups))
	for i, g := range groups {
		m := &r.Messages[g.Keep()]
		var name [16]byte
		n := copy(name[:], r.Name(m)) // names hold no NUL: padding sorts first
		index := m.Index
		if n < len(r.Name(m)) {
			index = -1
		}
		dir := uint64(r.Sources[m.Source].Store)*dirs + uint64(r.dirRank[2*int(m.Source)+int(m.Sub)])
		keys[i] = firstKey{binary.BigEndian.Uint64(name[:8]), binary.BigEndian.Uint64(name[8:]), uint32(dir), int32(i), index}
	}
	if slices.ContainsFunc(keys, func(k firstKey) bool { return k.n0 != 0 || k.n1 != 0 || k.index < 0 }) {
		slices.SortFunc(keys, func(a, b firstKey) int {
			if a.dir != b.dir {
				return cmp.Compare(a.dir, b.dir)
			}
			if a.n0 != b.n0 {
				return cmp.Compare(a.n0, b.n0)
			}
			if a.n1 != b.n1 {
				return cmp.Compare(a.n1, b.n1)
			}
			if a.index >= 0 && b.index >= 0 {
				return cmp.Compare(a.index, b.index)
			}
			return r.cmpFirst(groups[a.g].Keep(), groups[b.g].Keep())
		})
	} else {
		// Every kept copy lies in an mbox (no names): the order is
		// directory, then ordinal, one 64-bit key that the radix sort
		// of candidates takes, where a comparison sort calls a
		// function some twenty times a group.
		ord := make([]candidate, len(keys))
		for i, k := range keys {
			ord[i] = candidate{uint64(k.dir)<<32 | uint64(k.index), k.g}
		}
		sortCandidates(ord, make([]candidate, len(ord)), 64)
		for i, c := range ord {
			keys[i].g = c.i
		}
	}
	// Put each group where its key went, following the permutation's
	// cycles in place (a sorted copy would cost 48 bytes a group).
	for i := range keys {
		if keys[i].g < 0 {
			continue
		}
		held := groups[i]
		j := i
		for {
			from := int(keys[j].g)
			keys[j].g = -1
			if from == i {
				groups[j] = held
				break
			}
			groups[j] = groups[from]
			j = from
		}
	}
}

// candidate is a message in byCandidate's order: the hash of its header
// identity beside its index, so that sorting compares neighbours in one
// array rather than looking both up.
type candidate struct {
	h uint64
	i int32
}

// runSet is the messages in candidate order with the start of each run of
// one header identity marked: a bit a message, where a list of the runs
// would cost 24 bytes each.
type runSet struct {
	ord   []candidate
	start []uint64 // bit k set: ord[k] starts a run
}

// each calls fn with every run of two or more messages.
func (s runSet) each(fn func(run []candidate)) {
	for k := 0; k < len(s.ord); {
		j := k + 1
		for j < len(s.ord) && s.start[j>>6]&(1<<(j&63)) == 0 {
			j++
		}
		if j-k > 1 {
			fn(s.ord[k:j])
		}
		k = j
	}
}

// candidateRuns finds the runs of messages that share a header identity,
// each in position order. The messages are sorted by a hash of the
// identity, then each stretch of one hash by position; where different
// identities share a hash (a 64-bit collision), that stretch is sorted by
// the identities themselves.
func (r *Result) candidateRuns() runSet {
	s := runSet{ord: r.sortedCandidates(), start: make([]uint64, (len(r.Messages)+63)/64)}
	for k := range s.start {
		s.start[k] = ^uint64(0)
	}
	join := func(base int, run []candidate) { // run is one identity
		for k := base + 1; k < base+len(run); k++ {
			s.start[k>>6] &^= 1 << (k & 63)
		}
	}
	base := 0
	sameHash := func(a, b candidate) bool { return a.h == b.h }
	forRuns(s.ord, sameHash, func(run []candidate) {
		defer func() { base += len(run) }()
		if len(run) < 2 {
			return
		}
		slices.SortFunc(run, func(a, b candidate) int { return cmp.Compare(a.i, b.i) })
		for _, c := range run[1:] {
			if !r.sameCandidate(run[0], c) {
				slices.SortStableFunc(run, r.cmpCandidate)
				at := base
				forRuns(run, r.sameCandidate, func(same []candidate) {
					join(at, same)
					at += len(same)
				})
				return
			}
		}
		join(base, run)
	})
	return s
}

// sortedCandidates returns every message as a candidate, sorted by hash;
// equal hashes come in no particular order. A radix sort, several times
// faster than a comparison sort here: the candidates are first permuted
// in place into 256 buckets by the hash's top byte, then each bucket is
// sorted by the other bytes through a scratch array of the largest
// bucket's size, so that sorting costs 16 bytes a message, not 32.
func (r *Result) sortedCandidates() []candidate {
	ord := make([]candidate, len(r.Messages))
	var start, next [257]int
	for i := range r.Messages {
		m := &r.Messages[i]
		h := candidateHash(r.MessageID(m), m.KeyHash)
		ord[i] = candidate{h, int32(i)}
		start[h>>56+1]++
	}
	largest := 0
	for b := range 256 {
		largest = max(largest, start[b+1])
		start[b+1] += start[b]
	}
	next = start
	for b := range 256 {
		for next[b] < start[b+1] {
			c := ord[next[b]]
			for d := int(c.h >> 56); d != b; d = int(c.h >> 56) {
				ord[next[d]], c = c, ord[next[d]]
				next[d]++
			}
			ord[next[b]] = c
			next[b]++
		}
	}
	tmp := make([]candidate, largest)
	for b := range 256 {
		sortCandidates(ord[start[b]:start[b+1]], tmp, 56)
	}
	return ord
}

// sortCandidates sorts ord by the low bits bits of its hashes, keeping the
// order of equal keys: a byte per pass through tmp (len(tmp) >= len(ord)),
// skipping passes where every hash has the same byte.
func sortCandidates(ord, tmp []candidate, bits uint) {
	if len(ord) < 64 {
		slices.SortStableFunc(ord, func(a, b candidate) int { return cmp.Compare(a.h, b.h) })
		return
	}
	src, dst := ord, tmp[:len(ord)]
	for shift := uint(0); shift < bits; shift += 8 {
		var count [256]int
		for _, c := range src {
			count[byte(c.h>>shift)]++
		}
		if count[byte(src[0].h>>shift)] == len(src) {
			continue
		}
		pos := 0
		for b, n := range count {
			count[b] = pos
			pos += n
		}
		for _, c := range src {
			d := byte(c.h >> shift)
			dst[count[d]] = c
			count[d]++
		}
		src, dst = dst, src
	}
	if &src[0] != &ord[0] {
		copy(ord, src)
	}
}

// cmpCandidate orders messages of one candidate hash by identity.
func (r *Result) cmpCandidate(a, b candidate) int {
	x, y := &r.Messages[a.i], &r.Messages[b.i]
	xid := r.MessageID(x)
	if c := cmp.Compare(xid, r.MessageID(y)); c != 0 {
		return c
	}
	if xid == "" {
		return cmp.Compare(x.KeyHash, y.KeyHash)
	}
	return 0
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

// sameCandidate reports whether two messages share a header identity.
func (r *Result) sameCandidate(a, b candidate) bool {
	if a.h != b.h {
		return false
	}
	x, y := &r.Messages[a.i], &r.Messages[b.i]
	xid := r.MessageID(x)
	if xid != r.MessageID(y) {
		return false
	}
	return xid != "" || x.KeyHash == y.KeyHash
}

// forRuns calls fn with each maximal run of s whose neighbours are same.
func forRuns[T any](s []T, same func(a, b T) bool, fn func(run []T)) {
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
	slices.SortStableFunc(idx, func(a, b int) int {
		x, y := &r.Messages[a], &r.Messages[b]
		switch rule {
		case KeepOldest, KeepNewest:
			if x.Arrival != y.Arrival {
				if (x.Arrival < y.Arrival) == (rule == KeepOldest) {
					return -1
				}
				return 1
			}
			if cx, cy := x.Flags.Count(), y.Flags.Count(); cx != cy {
				return cmp.Compare(cy, cx)
			}
		}
		return r.cmpFirst(a, b)
	})
}

// cmpFirst compares messages i and j in the "first" order: argument
// order, then path, then ordinal.
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

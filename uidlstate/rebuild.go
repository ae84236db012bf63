package uidlstate

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// MaxUIDLLen is the longest UIDL RFC 1939 §7 allows.
const MaxUIDLLen = 70

// GetmailVanishedAge is how long getmail6 keeps a UIDL that is no longer on
// the server (its VANISHED_AGE).
const GetmailVanishedAge = 30 * 24 * time.Hour

// ValidUIDL checks RFC 1939 §7: a UIDL is 1 to 70 characters in the range
// 0x21 to 0x7E. It returns a *UIDLError otherwise.
func ValidUIDL(uid string) error {
	if uid == "" {
		return &UIDLError{UID: uid, Reason: "empty"}
	}
	if len(uid) > MaxUIDLLen {
		return &UIDLError{UID: uid, Reason: fmt.Sprintf("%d characters, RFC 1939 allows at most %d", len(uid), MaxUIDLLen)}
	}
	for i := 0; i < len(uid); i++ {
		if c := uid[i]; c < 0x21 || c > 0x7e {
			return &UIDLError{UID: uid, Reason: fmt.Sprintf("byte 0x%02x at %d is outside 0x21-0x7E (RFC 1939)", c, i+1)}
		}
	}
	return nil
}

// ClientUID returns the UIDL as format f's client stores it: getmail
// rewrites "/" to "-"; the others keep it.
func ClientUID(f Format, uidl string) string {
	if f == Getmail {
		return strings.ReplaceAll(uidl, "/", "-")
	}
	return uidl
}

// Diff says what Rebuild changed. UIDLs are as the server lists them, except
// Removed ones that are no longer on the server, which are as the file held
// them.
type Diff struct {
	Added   []string // now recorded as downloaded, not before
	Kept    []string // recorded before and still
	Removed []string // recorded before, dropped: gone from the server, or not saved locally
	Refetch []string // on the server and not recorded: the client will download them
}

// String summarises the diff for people.
func (d Diff) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d kept, %d added, %d removed", len(d.Kept), len(d.Added), len(d.Removed))
	if n := len(d.Refetch); n > 0 {
		fmt.Fprintf(&b, "; the client will download %d message%s again", n, plural(n))
	} else {
		b.WriteString("; the client will download nothing")
	}
	list := func(name string, uids []string) {
		if len(uids) == 0 {
			return
		}
		const max = 10
		shown := uids
		if len(shown) > max {
			shown = shown[:max]
		}
		fmt.Fprintf(&b, "\n  %s: %s", name, strings.Join(shown, " "))
		if len(uids) > max {
			fmt.Fprintf(&b, " ... (%d more)", len(uids)-max)
		}
	}
	list("added", d.Added)
	list("removed", d.Removed)
	list("to download", d.Refetch)
	return b.String()
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// Rebuild computes a client's new "already downloaded" list.
//
// old is the account's current entries (File.Entries), serverUIDLs the
// server's UIDL listing in message-number order, saved the server UIDLs
// whose messages are verified saved locally, each with the local copy's
// arrival time. The result holds every UIDL still on the server that is in
// saved; messages not saved are left out so the client downloads them;
// UIDLs no longer on the server are dropped, except that getmail keeps them
// until GetmailVanishedAge old (as getmail does). An entry already present
// keeps its time and flags; a new one gets the arrival time from saved (now
// when that is zero) and, for thunderbird, status k.
//
// The order is the client's own: server order for fetchmail, getmail and
// claws (getmail's own order is its hash order, so any order is
// equivalent) and json; ascending for mpop; for thunderbird, whose state
// is an insertion-ordered map, the kept entries in their old order, then the
// new ones in server order.
//
// Rebuild refuses, with a *DuplicateUIDLError, a listing that names a UIDL
// twice (for getmail, also two UIDLs that differ only by "/" and "-"), and,
// with a *UIDLError, a UIDL outside RFC 1939's rules.
func Rebuild(old []Entry, serverUIDLs []string, saved map[string]time.Time, now time.Time, format Format) ([]Entry, Diff, error) {
	if !format.valid() {
		return nil, Diff{}, fmt.Errorf("%w %q", ErrUnknownFormat, format)
	}
	clientUIDs := make([]string, len(serverUIDLs))
	pos := make(map[string]int, len(serverUIDLs))
	for i, u := range serverUIDLs {
		if err := ValidUIDL(u); err != nil {
			err.(*UIDLError).Index = i + 1
			return nil, Diff{}, err
		}
		cu := ClientUID(format, u)
		if j, dup := pos[cu]; dup {
			e := &DuplicateUIDLError{UID: u, First: j + 1, Second: i + 1}
			if serverUIDLs[j] != u {
				e.Note = fmt.Sprintf("getmail stores %q and %q both as %q", serverUIDLs[j], u, cu)
			}
			return nil, Diff{}, e
		}
		pos[cu] = i
		clientUIDs[i] = cu
	}
	oldIdx := make(map[string]int, len(old))
	for i, e := range old {
		if _, dup := oldIdx[e.UID]; !dup {
			oldIdx[e.UID] = i
		}
	}

	type ranked struct {
		e    Entry
		rank int
	}
	var out []ranked
	var d Diff
	for i, u := range serverUIDLs {
		cu := clientUIDs[i]
		oi, had := oldIdx[cu]
		arrived, ok := saved[u]
		if !ok {
			if had {
				d.Removed = append(d.Removed, u)
			}
			d.Refetch = append(d.Refetch, u)
			continue
		}
		rank := i
		var e Entry
		if had {
			e = old[oi]
			d.Kept = append(d.Kept, u)
			if format == Thunderbird {
				rank = oi - len(old) // kept entries first, in their old order
			}
		} else {
			e = Entry{UID: cu}
			switch format {
			case Thunderbird:
				e.Flag = 'k'
			case Claws:
				e.Flag = '0'
			}
			d.Added = append(d.Added, u)
		}
		if e.Seen.IsZero() {
			e.Seen = arrived
			if e.Seen.IsZero() {
				e.Seen = now
			}
		}
		out = append(out, ranked{e, rank})
	}
	// Entries no longer on the server.
	for i, e := range old {
		if _, on := pos[e.UID]; on || oldIdx[e.UID] != i {
			continue
		}
		if format == Getmail && ValidUIDL(e.UID) == nil && !strings.Contains(e.UID, "/") &&
			!e.Seen.IsZero() && now.Sub(e.Seen) <= GetmailVanishedAge {
			out = append(out, ranked{e, len(serverUIDLs) + i})
			d.Kept = append(d.Kept, e.UID)
			continue
		}
		d.Removed = append(d.Removed, e.UID)
	}
	slices.SortStableFunc(out, func(a, b ranked) int { return a.rank - b.rank })
	entries := make([]Entry, len(out))
	for i, r := range out {
		entries[i] = r.e
	}
	if format == Mpop {
		slices.SortFunc(entries, func(a, b Entry) int { return strings.Compare(a.UID, b.UID) })
	}
	return entries, d, nil
}

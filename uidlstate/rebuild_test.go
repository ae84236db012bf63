package uidlstate

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func uids(es []Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.UID
	}
	return out
}

func TestRebuildOrder(t *testing.T) {
	now := time.Unix(1_750_000_000, 0).UTC()
	server := []string{"c", "a", "d", "b"}
	saved := map[string]time.Time{"a": now, "b": now, "c": now, "d": now}
	old := []Entry{{UID: "d", Seen: now, Flag: 'd'}, {UID: "b", Seen: now, Flag: 'k'}}
	tests := []struct {
		format Format
		want   []string
	}{
		{Fetchmail, []string{"c", "a", "d", "b"}}, // server order
		{Getmail, []string{"c", "a", "d", "b"}},
		{Claws, []string{"c", "a", "d", "b"}},
		{JSON, []string{"c", "a", "d", "b"}},
		{Mpop, []string{"a", "b", "c", "d"}},        // ascending
		{Thunderbird, []string{"d", "b", "c", "a"}}, // kept in old order, then new in server order
	}
	for _, tt := range tests {
		got, _, err := Rebuild(old, server, saved, now, tt.format)
		if err != nil {
			t.Fatalf("%s: %v", tt.format, err)
		}
		if !slices.Equal(uids(got), tt.want) {
			t.Errorf("%s: order %v, want %v", tt.format, uids(got), tt.want)
		}
	}
}

func TestRebuildKeepsOldEntryFields(t *testing.T) {
	now := time.Unix(1_750_000_000, 0).UTC()
	oldT := time.Unix(1_600_000_000, 0).UTC()
	arrived := time.Unix(1_700_000_000, 0).UTC()
	old := []Entry{{UID: "a", Seen: oldT, Flag: 'b', Partial: true}, {UID: "b"}}
	got, _, err := Rebuild(old, []string{"a", "b", "c", "d"}, map[string]time.Time{"a": arrived, "b": arrived, "c": arrived, "d": {}}, now, Thunderbird)
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{
		{UID: "a", Seen: oldT, Flag: 'b', Partial: true}, // kept as it was
		{UID: "b", Seen: arrived},                        // kept, time filled from the local copy
		{UID: "c", Seen: arrived, Flag: 'k'},             // new: local arrival time
		{UID: "d", Seen: now, Flag: 'k'},                 // new, arrival unknown: now
	}
	if !slices.Equal(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
}

func TestRebuildGetmailVanished(t *testing.T) {
	now := time.Unix(1_750_000_000, 0).UTC()
	day := 24 * time.Hour
	old := []Entry{
		{UID: "edge", Seen: now.Add(-30 * day)},             // exactly 30 days: getmail keeps (age > 30 days drops)
		{UID: "over", Seen: now.Add(-30*day - time.Second)}, // dropped
		{UID: "young", Seen: now.Add(-time.Hour)},           // kept
		{UID: "notime"},                                       // no time: dropped
		{UID: "bad uid", Seen: now},                           // illegal: dropped
		{UID: "on-server", Seen: now.Add(-100 * day)},         // on the server, saved: kept whatever its age
		{UID: "on-server-unsaved", Seen: now.Add(-time.Hour)}, // on the server, not saved: removed
	}
	server := []string{"on-server", "on-server-unsaved"}
	saved := map[string]time.Time{"on-server": now}
	got, d, err := Rebuild(old, server, saved, now, Getmail)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"on-server", "edge", "young"}; !slices.Equal(uids(got), want) {
		t.Errorf("getmail entries %v, want %v", uids(got), want)
	}
	if want := []string{"on-server-unsaved", "over", "notime", "bad uid"}; !slices.Equal(d.Removed, want) {
		t.Errorf("Removed %v, want %v", d.Removed, want)
	}
	// Every other format drops all vanished UIDLs.
	for _, f := range []Format{Fetchmail, Mpop, Thunderbird, Claws, JSON} {
		got, _, err := Rebuild(old, server, saved, now, f)
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"on-server"}; !slices.Equal(uids(got), want) {
			t.Errorf("%s entries %v, want %v", f, uids(got), want)
		}
	}
}

func TestRebuildGetmailSlash(t *testing.T) {
	now := time.Unix(1_750_000_000, 0).UTC()
	old := []Entry{{UID: "a-b", Seen: time.Unix(5, 0).UTC()}}
	got, d, err := Rebuild(old, []string{"a/b", "c/d"}, map[string]time.Time{"a/b": now, "c/d": now}, now, Getmail)
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{{UID: "a-b", Seen: time.Unix(5, 0).UTC()}, {UID: "c-d", Seen: now}}
	if !slices.Equal(got, want) || !slices.Equal(d.Kept, []string{"a/b"}) || !slices.Equal(d.Added, []string{"c/d"}) {
		t.Errorf("got %v %+v", got, d)
	}
	// Two server UIDLs that getmail stores alike.
	_, _, err = Rebuild(nil, []string{"a/b", "x", "a-b"}, nil, now, Getmail)
	var de *DuplicateUIDLError
	if !errors.As(err, &de) || de.First != 1 || de.Second != 3 || !strings.Contains(err.Error(), "getmail") {
		t.Errorf("getmail collision: %v", err)
	}
	// ... which other clients tell apart.
	if _, _, err := Rebuild(nil, []string{"a/b", "x", "a-b"}, nil, now, Fetchmail); err != nil {
		t.Errorf("fetchmail: %v", err)
	}
}

func TestRebuildRefuses(t *testing.T) {
	now := time.Unix(1_750_000_000, 0)
	tests := []struct {
		server []string
		want   error
		index  int
	}{
		{[]string{"a", "b", "a"}, ErrDuplicateUIDL, 3},
		{[]string{"a", "b c"}, ErrIllegalUIDL, 2},
		{[]string{""}, ErrIllegalUIDL, 1},
		{[]string{"ok", strings.Repeat("x", 71)}, ErrIllegalUIDL, 2},
		{[]string{"a\x7f"}, ErrIllegalUIDL, 1},
		{[]string{"tab\t"}, ErrIllegalUIDL, 1},
		{[]string{"\xc3\xa9"}, ErrIllegalUIDL, 1},
		{[]string{"a\r\nDELE 1"}, ErrIllegalUIDL, 1},
	}
	for i, tt := range tests {
		saved := map[string]time.Time{}
		for _, u := range tt.server {
			saved[u] = now
		}
		for _, f := range Formats() {
			got, _, err := Rebuild(nil, tt.server, saved, now, f)
			if !errors.Is(err, tt.want) || got != nil {
				t.Errorf("#%d %s Rebuild(%q) = %v, %v; want %v", i, f, tt.server, got, err, tt.want)
				continue
			}
			var ue *UIDLError
			var de *DuplicateUIDLError
			switch {
			case errors.As(err, &ue):
				if ue.Index != tt.index {
					t.Errorf("#%d: UIDLError index %d, want %d", i, ue.Index, tt.index)
				}
			case errors.As(err, &de):
				if de.Second != tt.index {
					t.Errorf("#%d: duplicate at %d, want %d", i, de.Second, tt.index)
				}
			}
		}
	}
	if err := ValidUIDL(strings.Repeat("x", 70)); err != nil {
		t.Errorf("70 characters refused: %v", err)
	}
	if _, _, err := Rebuild(nil, nil, nil, now, "outlook"); !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("unknown format: %v", err)
	}
}

func TestRebuildIgnoresSavedNotOnServer(t *testing.T) {
	now := time.Unix(1_750_000_000, 0)
	got, d, err := Rebuild(nil, []string{"a"}, map[string]time.Time{"a": now, "gone": now}, now, Fetchmail)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(uids(got), []string{"a"}) || len(d.Refetch) != 0 {
		t.Errorf("got %v, diff %+v", uids(got), d)
	}
}

func TestDiffString(t *testing.T) {
	d := Diff{Added: []string{"a"}, Kept: []string{"k1", "k2"}, Removed: []string{"r"}, Refetch: []string{"r", "s"}}
	s := d.String()
	for _, want := range []string{"2 kept, 1 added, 1 removed", "download 2 messages again", "added: a", "removed: r", "to download: r s"} {
		if !strings.Contains(s, want) {
			t.Errorf("Diff.String() = %q, missing %q", s, want)
		}
	}
	var many Diff
	for i := range 25 {
		many.Refetch = append(many.Refetch, fmt.Sprint("u", i))
	}
	if s := many.String(); !strings.Contains(s, "(15 more)") || strings.Contains(s, "u10") {
		t.Errorf("long list not shortened: %q", s)
	}
	if s := (Diff{}).String(); !strings.Contains(s, "download nothing") {
		t.Errorf("empty diff: %q", s)
	}
}

package uidlstate

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.want from the current output (review the diff!)")

// The golden scenario: account alice on pop.example.com; the server lists
// five messages; four are verified saved locally (u2-bbb is not); the old
// state knows u2-bbb, u4-ddd and u9-gone (no longer on the server), and for
// getmail u3-ccc ("/" stored as "-") and u8-old (vanished 40 days ago).
var (
	goldenAcct   = Account{Host: "pop.example.com", Port: 110, User: "alice"}
	goldenServer = []string{"u1-aaa", "u2-bbb", "u3/ccc", "u4-ddd", "u5-eee"}
	goldenNow    = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	goldenSaved  = map[string]time.Time{
		"u1-aaa": time.Date(2025, 5, 1, 10, 0, 0, 0, time.UTC),
		"u3/ccc": time.Date(2025, 5, 2, 11, 0, 0, 0, time.UTC),
		"u4-ddd": time.Date(2025, 5, 3, 12, 0, 0, 0, time.UTC),
		"u5-eee": {}, // arrival unknown: Rebuild uses now
	}
)

func TestGoldenRebuild(t *testing.T) {
	tests := []struct {
		name    string
		format  Format
		crlf    bool
		added   []string
		kept    []string
		removed []string
	}{
		{"fetchmail", Fetchmail, false, []string{"u1-aaa", "u3/ccc", "u5-eee"}, []string{"u4-ddd"}, []string{"u2-bbb", "u9-gone"}},
		{"fetchmail-new", Fetchmail, false, []string{"u1-aaa", "u3/ccc", "u4-ddd", "u5-eee"}, nil, nil},
		{"getmail", Getmail, false, []string{"u1-aaa", "u5-eee"}, []string{"u3/ccc", "u4-ddd", "u9-gone"}, []string{"u2-bbb", "u8-old"}},
		{"getmail-new", Getmail, false, []string{"u1-aaa", "u3/ccc", "u4-ddd", "u5-eee"}, nil, nil},
		{"mpop", Mpop, false, []string{"u1-aaa", "u3/ccc", "u5-eee"}, []string{"u4-ddd"}, []string{"u2-bbb", "u9-gone"}},
		{"mpop-new", Mpop, false, []string{"u1-aaa", "u3/ccc", "u4-ddd", "u5-eee"}, nil, nil},
		{"thunderbird", Thunderbird, false, []string{"u1-aaa", "u3/ccc", "u5-eee"}, []string{"u4-ddd"}, []string{"u2-bbb", "u9-gone"}},
		{"thunderbird-crlf", Thunderbird, true, []string{"u1-aaa", "u3/ccc", "u5-eee"}, []string{"u4-ddd"}, []string{"u2-bbb", "u9-gone"}},
		{"thunderbird-new", Thunderbird, false, []string{"u1-aaa", "u3/ccc", "u4-ddd", "u5-eee"}, nil, nil},
		{"claws", Claws, false, []string{"u1-aaa", "u3/ccc", "u5-eee"}, []string{"u4-ddd"}, []string{"u2-bbb", "u9-gone"}},
		{"claws-new", Claws, false, []string{"u1-aaa", "u3/ccc", "u4-ddd", "u5-eee"}, nil, nil},
		{"json", JSON, false, []string{"u1-aaa", "u3/ccc", "u5-eee"}, []string{"u4-ddd"}, []string{"u2-bbb", "u9-gone"}},
		{"json-new", JSON, false, []string{"u1-aaa", "u3/ccc", "u4-ddd", "u5-eee"}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := filepath.Join("testdata", "golden", tt.name+".in")
			f, err := ReadFile(Target{Format: tt.format, Path: in})
			if err != nil {
				t.Fatal(err)
			}
			if got := f.LineEnding() == CRLF; got != tt.crlf {
				t.Errorf("LineEnding CRLF = %v, want %v", got, tt.crlf)
			}
			entries, diff, err := Rebuild(f.Entries(goldenAcct), goldenServer, goldenSaved, goldenNow, tt.format)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(diff.Added, tt.added) || !slices.Equal(diff.Kept, tt.kept) || !slices.Equal(diff.Removed, tt.removed) {
				t.Errorf("diff = %+v\nwant added %v kept %v removed %v", diff, tt.added, tt.kept, tt.removed)
			}
			if want := []string{"u2-bbb"}; !slices.Equal(diff.Refetch, want) {
				t.Errorf("Refetch = %v, want %v", diff.Refetch, want)
			}
			if err := f.Replace(goldenAcct, entries); err != nil {
				t.Fatal(err)
			}
			got := f.Bytes()
			wantPath := filepath.Join("testdata", "golden", tt.name+".want")
			if *update {
				if err := os.WriteFile(wantPath, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(wantPath)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("output differs from %s\ngot:\n%q\nwant:\n%q", wantPath, got, want)
			}
			// The written file reads back to the same entries, and other
			// accounts are untouched.
			back, err := Read(tt.format, bytes.NewReader(got), "")
			if err != nil {
				t.Fatalf("re-read: %v", err)
			}
			if g := back.Entries(goldenAcct); !entriesEqual(g, entries, tt.format) {
				t.Errorf("re-read entries = %v, want %v", g, entries)
			}
			bob := Account{Host: "other.example.org", User: "bob", PollName: "other.example.org"}
			if !tt.format.perAccountFile() && !entriesEqual(back.Entries(bob), f.Entries(bob), tt.format) {
				t.Errorf("other account changed: %v, was %v", back.Entries(bob), f.Entries(bob))
			}
		})
	}
}

// entriesEqual compares what format f stores: times to the second where the
// format stores them, the UID order except for mpop (sorted on write).
func entriesEqual(a, b []Entry, f Format) bool {
	if len(a) != len(b) {
		return false
	}
	norm := func(es []Entry) []Entry {
		out := make([]Entry, len(es))
		for i, e := range es {
			if f == Fetchmail || f == Mpop {
				e = Entry{UID: e.UID}
			} else {
				e.Seen = e.Seen.Truncate(time.Second).UTC()
				if f == Thunderbird && e.Flag == 0 {
					e.Flag = 'k'
				}
				if f == Claws && e.Flag == 0 {
					e.Flag = '0'
				}
			}
			out[i] = e
		}
		if f == Mpop {
			slices.SortFunc(out, func(x, y Entry) int {
				if x.UID < y.UID {
					return -1
				} else if x.UID > y.UID {
					return 1
				}
				return 0
			})
		}
		return out
	}
	na, nb := norm(a), norm(b)
	for i := range na {
		if na[i].UID != nb[i].UID || !na[i].Seen.Equal(nb[i].Seen) || na[i].Flag != nb[i].Flag || na[i].Partial != nb[i].Partial {
			return false
		}
	}
	return true
}

// TestGoldenRoundTrip: reading a file and writing it back unchanged gives
// the same bytes; replacing an account's entries with themselves does too
// for the canonical (.want) files.
func TestGoldenRoundTrip(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "golden", "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, path := range files {
		base := filepath.Base(path)
		format := formatOfGolden(base)
		t.Run(base, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			f, err := Read(format, bytes.NewReader(data), path)
			if err != nil {
				t.Fatal(err)
			}
			if format != JSON || filepath.Ext(base) == ".want" {
				if got := f.Bytes(); !bytes.Equal(got, data) {
					t.Errorf("read+write changed the file:\ngot  %q\nwant %q", got, data)
				}
			}
			if filepath.Ext(base) != ".want" {
				return
			}
			for _, a := range append(f.Accounts(), goldenAcct) {
				if err := f.Replace(a, f.Entries(a)); err != nil {
					t.Fatalf("Replace(%v): %v", a, err)
				}
			}
			if got := f.Bytes(); !bytes.Equal(got, data) {
				t.Errorf("Replace with the same entries changed the file:\ngot  %q\nwant %q", got, data)
			}
		})
	}
}

func formatOfGolden(base string) Format {
	for _, f := range Formats() {
		if len(base) > len(f) && base[:len(f)] == string(f) {
			return f
		}
	}
	return ""
}

// TestDetectGolden: every golden file is detected as its own format, by
// content alone.
func TestDetectGolden(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "golden", "*"))
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		want := formatOfGolden(filepath.Base(path))
		got, err := DetectBytes("", data)
		if err != nil || got != want {
			t.Errorf("DetectBytes(%s) = %v, %v; want %v", path, got, err, want)
		}
	}
}

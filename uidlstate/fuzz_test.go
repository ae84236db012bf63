package uidlstate

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fuzzRead checks, for any input a reader accepts: writing it back unchanged
// gives the same bytes (json: an equivalent file); replacing each account's
// entries with themselves gives a file that reads back to the same entries;
// and Rebuild over those entries never yields a file that fails to read.
func fuzzRead(f *testing.F, format Format) {
	files, _ := filepath.Glob(filepath.Join("testdata", "golden", string(format)+"*"))
	for _, p := range files {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Read(format, bytes.NewReader(data), "fuzz")
		if err != nil {
			if _, ok := err.(*ParseError); !ok {
				t.Fatalf("error %T is not a *ParseError: %v", err, err)
			}
			return
		}
		out := file.Bytes()
		if format != JSON && !bytes.Equal(out, data) {
			t.Fatalf("read+write changed the file:\n in %q\nout %q", data, out)
		}
		again, err := Read(format, bytes.NewReader(out), "fuzz-out")
		if err != nil {
			t.Fatalf("own output does not read: %v\n%q", err, out)
		}
		accts := file.Accounts()
		if format.perAccountFile() {
			accts = []Account{{Host: "h", User: "u"}}
		}
		for _, a := range accts {
			if !entriesEqual(again.Entries(a), file.Entries(a), format) {
				t.Fatalf("entries of %v changed on re-read", a)
			}
		}
		for _, a := range accts {
			old := file.Entries(a)
			var server []string
			saved := map[string]time.Time{}
			seen := map[string]bool{}
			for i, e := range old {
				if ValidUIDL(e.UID) != nil || strings.Contains(e.UID, "/") || seen[e.UID] {
					continue
				}
				seen[e.UID] = true
				server = append(server, e.UID)
				if i%2 == 0 {
					saved[e.UID] = time.Unix(1_700_000_000, 0)
				}
			}
			entries, _, err := Rebuild(old, server, saved, time.Unix(1_750_000_000, 0), format)
			if err != nil {
				t.Fatalf("Rebuild: %v", err)
			}
			if err := file.Replace(a, entries); err != nil {
				// Accounts that the format cannot write back (for
				// example a fetchmail user starting with a blank) are
				// refused, and the file is left as it was.
				if !bytes.Equal(file.Bytes(), out) {
					t.Fatalf("refused Replace changed the file")
				}
				continue
			}
			out = file.Bytes()
			back, err := Read(format, bytes.NewReader(out), "fuzz-rebuilt")
			if err != nil {
				t.Fatalf("rebuilt file does not read: %v\n%q", err, out)
			}
			if got := back.Entries(a); !entriesEqual(got, entries, format) {
				t.Fatalf("rebuilt entries of %v: got %v, want %v", a, got, entries)
			}
		}
	})
}

func FuzzReadFetchmail(f *testing.F) {
	f.Add([]byte("testuser@127.0.0.1 000000016b082e9d\n"))
	f.Add([]byte("a b@c@d <x@y>\n\n  e@f  g\t\n"))
	fuzzRead(f, Fetchmail)
}

func FuzzReadGetmail(f *testing.F) {
	f.Add([]byte("000000026b0830d4\x001795698901\n"))
	fuzzRead(f, Getmail)
}

func FuzzReadMpop(f *testing.F) {
	f.Add([]byte("# c\n 2 h u\na\nb\n# x\n 1 h2 u2\nc\n"))
	fuzzRead(f, Mpop)
}

func FuzzReadThunderbird(f *testing.F) {
	f.Add([]byte("# POP3 State File\r\n# This is a generated file!  Do not edit.\r\n\r\n*h u\r\nk a 1\r\nb b 2"))
	fuzzRead(f, Thunderbird)
}

func FuzzReadClaws(f *testing.F) {
	f.Add([]byte("a\t1\t0\nb\t2\nc\n"))
	fuzzRead(f, Claws)
}

func FuzzReadJSON(f *testing.F) {
	f.Add([]byte(`{"popdedupe_uidl_state":1,"accounts":[{"host":"h","user":"u","entries":[{"uid":"a","seen":"2020-01-01T00:00:00Z","flag":"k"}]}]}`))
	fuzzRead(f, JSON)
}

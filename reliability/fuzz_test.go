package reliability

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode"

	"github.com/popdedupe/popdedupe/fingerprint"
	"github.com/popdedupe/popdedupe/internal/runlock"
	"github.com/popdedupe/popdedupe/journal"
	"github.com/popdedupe/popdedupe/uidlstate"
)

// Fuzz targets for the readers no other package fuzzes: the run journal
// (read by undo after a crash), the run lock file (read by the next run),
// state-file detection, and the Message-ID normaliser. (The POP3 reply
// parser, listings and dot-reader are fuzzed in pop3/, the message parser
// in fingerprint/, the mbox splitter in scan/, each state-file format's
// reader in uidlstate/.) Seeds are in testdata/fuzz; scripts/test runs each
// target briefly.

const validJournal = `{"seq":1,"op":"run","state":"begin","time":"2026-01-02T15:04:05Z","data":{"run_id":"x","command":"dedupe","stores":["/m"]}}
{"seq":2,"op":"maildir.quarantine","state":"begin","time":"2026-01-02T15:04:06Z","from":"/m/cur/a","to":"/q/cur/a"}
{"seq":2,"op":"maildir.quarantine","state":"done","time":"2026-01-02T15:04:06Z"}
`

// FuzzJournalRead: journal.Read never panics on any file, nor Steps on
// what it returns; and a journal whose last line was cut short by a crash
// (a strict prefix of a real line: no newline, not JSON) reads as the
// journal before it.
func FuzzJournalRead(f *testing.F) {
	f.Add([]byte(validJournal), "/m/cur/1000.x:2,S", uint16(10))
	f.Add([]byte(`{"seq":1,"op":"run","state":"beg`), "", uint16(1))
	f.Add([]byte("{}\n{}\n"), "\x00\n\"", uint16(200))
	f.Add([]byte("\n\n\n"), "x", uint16(0))
	f.Add([]byte(`{"seq":-1,"op":"","state":"undone"}`+"\n"), "\u2028", uint16(77))
	f.Add([]byte(`{"seq":99999999999999999999}`+"\n"), "y", uint16(65535))
	dir := f.TempDir()
	want, err := journal.Read(write(f, dir, "base", []byte(validJournal)))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte, path string, cut uint16) {
		entries, err := journal.Read(write(t, dir, "j", data))
		if err == nil {
			journal.Steps(entries)
		}
		line, err := json.Marshal(journal.Entry{Seq: 3, Op: "maildir.quarantine", State: journal.Begin, From: path, To: path + ".q", Data: json.RawMessage(`{"size":1}`)})
		if err != nil {
			return
		}
		k := 1 + int(cut)%(len(line)-1) // a strict, non-empty prefix
		got, err := journal.Read(write(t, dir, "torn", append([]byte(validJournal), line[:k]...)))
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("a torn last line %q changed the journal: %v\n%v\nwant %v", line[:k], err, got, want)
		}
	})
}

func write(t testing.TB, dir, name string, data []byte) string {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// FuzzRunLockFile: whatever a lock file holds (left by a killed run, by
// an older version, damaged), the next run takes the free lock, never
// panics, and leaves the file empty when it releases it.
func FuzzRunLockFile(f *testing.F) {
	f.Add([]byte(`{"pid":12345,"host":"h","time":"2026-01-02T15:04:05Z","store":"/m","command":"popdedupe dedupe"}` + "\n"))
	f.Add([]byte(`{"pid":-1}`))
	f.Add([]byte("garbage\x00\xff"))
	f.Add([]byte(""))
	f.Add([]byte(`{"pid":1,"time":"not a time"}`))
	state := f.TempDir()
	store := filepath.Join(f.TempDir(), "Maildir")
	l, err := runlock.Acquire(state, store, "fuzz")
	if err != nil {
		f.Fatal(err)
	}
	file := l.File
	l.Release()
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
		l, err := runlock.Acquire(state, store, "fuzz")
		if err != nil {
			t.Fatalf("a free lock with content %q: %v", data, err)
		}
		_ = l.Note()
		if err := l.Release(); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(file); len(b) != 0 {
			t.Fatalf("released lock file holds %q", b)
		}
	})
}

// FuzzDetectState: state-file detection never panics, and a file
// detected as a format is read by that format's reader without a panic.
func FuzzDetectState(f *testing.F) {
	f.Add(".fetchids", []byte("alice@pop.example.net 000000016b082e9d\n"))
	f.Add("oldmail-pop.example.net-110-alice", []byte("000000026b0830d4\x001795698901\n"))
	f.Add("popstate.dat", []byte("# POP3 State File\r\n# This is a generated file!  Do not edit.\r\n\r\n*pop.example.net alice\r\nk UID1 1700000000\r\n"))
	f.Add("alice_at_pop", []byte("# mpop\n 2 pop.example.net alice\nA\nB\n"))
	f.Add("pop-alice", []byte("UID1\t1700000000\t0\n"))
	f.Add("state.json", []byte(`{"version":1}`))
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		format, err := uidlstate.DetectBytes(name, data)
		if err != nil {
			return
		}
		uidlstate.Read(format, bytes.NewReader(data), name)
	})
}

// FuzzNormalizeMessageID checks rule 4 of fingerprint's doc on any value:
// no white space is left, the domain part has no upper-case ASCII, and the
// text around the first bracketed ID does not matter.
func FuzzNormalizeMessageID(f *testing.F) {
	for _, s := range []string{"<a@B.EXAMPLE>", " <x y@Z> (comment)", "no-brackets@Host", "<<a>>", "<a@b@C>", "", "<>", "\t<\r\n a@b>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		n := fingerprint.NormalizeMessageID(v)
		if strings.ContainsAny(n, " \t\r\n") {
			t.Fatalf("%q -> %q: white space left", v, n)
		}
		if i := strings.LastIndexByte(n, '@'); i >= 0 {
			for _, r := range n[i+1:] {
				if r < unicode.MaxASCII && unicode.IsUpper(r) {
					t.Fatalf("%q -> %q: upper case in the domain", v, n)
				}
			}
		}
		if !strings.ContainsAny(v, "<>") {
			for _, wrapped := range []string{"<" + v + ">", "junk <" + v + "> (a comment)"} {
				if w := fingerprint.NormalizeMessageID(wrapped); w != n {
					t.Fatalf("%q -> %q, but %q -> %q", v, n, wrapped, w)
				}
			}
		}
	})
}

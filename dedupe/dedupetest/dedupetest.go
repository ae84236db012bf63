// Package dedupetest owns the test fixtures of dedupe and its CLI: small
// hand-made duplicate incidents, snapshots of store trees, and the
// invariants every run must keep (no distinct message lost, every
// original byte still somewhere, undo restores the start exactly).
package dedupetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/popdedupe/popdedupe/fingerprint"
	"github.com/popdedupe/popdedupe/scan"
)

// Msg builds a small RFC 5322 message.
func Msg(id, subject, body string) string {
	h := "From: Alice <alice@example.org>\nTo: bob@example.org\nDate: Mon, 10 Mar 2025 09:00:00 +0000\nSubject: " + subject + "\n"
	if id != "" {
		h += "Message-ID: <" + id + ">\n"
	}
	return h + "\n" + body
}

// Write writes files (relative path → content) under dir.
func Write(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// Incident writes a mixed incident under dir and returns its stores: a
// Maildir with a Maildir++ folder (flags on copies, a copy in new/, a
// malformed file, a conflict, a trashed copy), an mbox with duplicates
// inside it (a CRLF message, a quoted ">From " body line), and an mbox
// with an unreadable message that must never be rewritten.
func Incident(t testing.TB, dir string) []string {
	t.Helper()
	m1 := Msg("one@example.org", "one", "first body\n")
	m2 := Msg("two@example.org", "two", "second body\nFrom the start\n")
	m3 := Msg("three@example.org", "three", "third body\n")
	m5 := strings.ReplaceAll(Msg("five@example.org", "five", "crlf body\n"), "\n", "\r\n")
	m6a := Msg("six@example.org", "six", "version A\n")
	m6b := Msg("six@example.org", "six", "version B, with a list footer\n")
	m7 := Msg("seven@example.org", "seven", "trash one copy\n")
	m8 := Msg("", "no id", "a message without Message-ID\n")
	md := "Maildir/"
	Write(t, dir, map[string]string{
		md + "cur/1000000001.A1.host:2,S":           m1,
		md + "new/1000000050.A2.host":               m1,
		md + "cur/1000000060.A3.host:2,RS":          m1,
		md + "cur/1000000002.B1.host:2,":            m2,
		md + ".Archive/cur/1000000070.B2.host:2,Fa": m2,
		md + ".Archive/new/.keep":                   "",
		md + "cur/1000000003.BAD.host:2,S":          "From: x\nbad header line without colon\x00\n",
		md + "cur/1000000010.C1.host:2,S":           m6a,
		md + "cur/1000000011.C2.host:2,":            m6a,
		md + "cur/1000000012.C3.host:2,S":           m6b,
		md + "cur/1000000020.D1.host:2,":            m7,
		md + "cur/1000000021.D2.host:2,ST":          m7,
		md + "cur/1000000030.E1.host:2,S":           m8,
		md + "new/1000000031.E2.host":               m8,
		md + "cur/1000000040.F1.host:2,S":           m5,
		"inbox.mbox": "From alice@example.org Mon Mar 10 09:00:00 2025\n" + m3 + "\n" +
			"From alice@example.org Mon Mar 10 09:05:00 2025\n" + strings.Replace(m2, "\nFrom the start", "\n>From the start", 1) + "\n" +
			"From alice@example.org Mon Mar 10 09:10:00 2025\n" + m3 + "\n" +
			"From alice@example.org Mon Mar 10 09:20:00 2025\r\n" + m5 + "\r\n" +
			"From alice@example.org Mon Mar 10 09:30:00 2025\n" + m3 + "\n",
		"broken.mbox": "From alice@example.org Mon Mar 10 09:00:00 2025\n" + m3 + "\n" +
			"From alice@example.org Mon Mar 10 09:01:00 2025\nno header separator\x00\n\n" +
			"From alice@example.org Mon Mar 10 09:02:00 2025\n" + m1 + "\n",
	})
	os.Remove(filepath.Join(dir, md, ".Archive/new/.keep"))
	for _, d := range []string{md + "tmp", md + ".Archive/tmp"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	return []string{filepath.Join(dir, "Maildir"), filepath.Join(dir, "inbox.mbox"), filepath.Join(dir, "broken.mbox")}
}

// Snapshot returns every regular file and symbolic link under the roots
// (a root may be a file): path → content (a link's target for links),
// with each file's permission bits appended.
func Snapshot(t testing.TB, roots ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, root := range roots {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			switch {
			case d.Type()&fs.ModeSymlink != 0:
				l, lerr := os.Readlink(p)
				if lerr != nil {
					return lerr
				}
				out[p] = "symlink:" + l
			case d.Type().IsRegular():
				b, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				fi, _ := d.Info()
				out[p] = string(b) + "\x00mode:" + fi.Mode().Perm().String()
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// DiffSnapshots describes how two snapshots differ ("" when equal).
func DiffSnapshots(a, b map[string]string) string {
	var diffs []string
	for p, x := range a {
		y, ok := b[p]
		switch {
		case !ok:
			diffs = append(diffs, "missing: "+p)
		case x != y:
			diffs = append(diffs, "changed: "+p)
		}
	}
	for p := range b {
		if _, ok := a[p]; !ok {
			diffs = append(diffs, "extra: "+p)
		}
	}
	sort.Strings(diffs)
	if len(diffs) > 10 {
		diffs = append(diffs[:10], "...")
	}
	return strings.Join(diffs, "\n")
}

// Contents returns the multiset of message contents under the roots: each
// Maildir message file's bytes, and each mbox message's bytes after its
// From_ line (as a quarantined mbox message is stored), by SHA-256.
func Contents(t testing.TB, roots ...string) map[[32]byte]int {
	t.Helper()
	out := map[[32]byte]int{}
	for _, root := range roots {
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() || strings.HasPrefix(d.Name(), ".") {
				return err
			}
			sub := filepath.Base(filepath.Dir(p))
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if (sub == "cur" || sub == "new") && scan.IsMaildir(filepath.Dir(filepath.Dir(p))) {
				out[sha256.Sum256(b)]++
				return nil
			}
			if !bytes.HasPrefix(b, []byte("From ")) {
				return nil
			}
			mr := scan.NewMboxReader(bytes.NewReader(b))
			for {
				_, body, err := mr.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("%s: %v", p, err)
				}
				m, _ := io.ReadAll(body)
				out[sha256.Sum256(m)]++
			}
			return nil
		})
	}
	return out
}

// Missing lists contents of before that after does not hold.
func Missing(before, after map[[32]byte]int) int {
	n := 0
	for h := range before {
		if after[h] == 0 {
			n++
		}
	}
	return n
}

// Keys scans the stores and returns the set of distinct fingerprints,
// the number of skipped messages and the scan result.
func Keys(t testing.TB, stores []string) (map[fingerprint.Key]bool, *scan.Result) {
	t.Helper()
	res, err := scan.Scan(context.Background(), stores, scan.Options{HashAll: true})
	if err != nil {
		t.Fatal(err)
	}
	keys := map[fingerprint.Key]bool{}
	for i := range res.Messages {
		keys[res.Key(&res.Messages[i])] = true
	}
	return keys, res
}

// SameKeys describes the difference of two fingerprint sets.
func SameKeys(a, b map[fingerprint.Key]bool) string {
	var d []string
	for k := range a {
		if !b[k] {
			d = append(d, "lost "+k.MessageID)
		}
	}
	for k := range b {
		if !a[k] {
			d = append(d, "new "+k.MessageID)
		}
	}
	return strings.Join(d, ", ")
}

// CopyTree copies a directory tree (files, directories, symbolic links)
// from src to dst, keeping permission bits.
func CopyTree(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(to, fi.Mode().Perm()|0o700)
		case d.Type()&fs.ModeSymlink != 0:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(l, to)
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if err := os.WriteFile(to, b, fi.Mode().Perm()|0o600); err != nil {
				return err
			}
			return os.Chtimes(to, fi.ModTime(), fi.ModTime())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

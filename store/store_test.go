package store

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/popdedupe/popdedupe/fingerprint"
	"github.com/popdedupe/popdedupe/journal"
	"github.com/popdedupe/popdedupe/scan"
)

const msgA = "From: a@example.org\nMessage-ID: <a@example.org>\nSubject: a\n\nbody a\n"

func split(t *testing.T, b []byte) (froms []string, bodies []string) {
	t.Helper()
	mr := scan.NewMboxReader(bytes.NewReader(b))
	for {
		env, body, err := mr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		x, _ := io.ReadAll(body)
		froms, bodies = append(froms, env.From), append(bodies, string(x))
	}
}

func key(t *testing.T, s string) fingerprint.Key {
	t.Helper()
	pr, err := fingerprint.NewParser().Sum(strings.NewReader(s), -1, true)
	if err != nil {
		t.Fatal(err)
	}
	return pr.Key()
}

func TestAppendMbox(t *testing.T) {
	when := time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC)
	for i, tc := range []struct {
		existing, msg, wantBody string
	}{
		{"", msgA, msgA + "\n"},
		{"From x Mon Mar 10 08:00:00 2025\n" + msgA + "\n", msgA, msgA + "\n"},
		// No separating empty line, no final newline: added before.
		{"From x Mon Mar 10 08:00:00 2025\n" + msgA, msgA, msgA + "\n"},
		{"From x Mon Mar 10 08:00:00 2025\n" + strings.TrimSuffix(msgA, "\n"), msgA, msgA + "\n"},
		// mboxrd quoting of From_ lines at any depth; other lines as they are.
		{"", "Subject: q\n\nFrom here\n>From there\n>>From far\n From not\nFrom", "Subject: q\n\n>From here\n>>From there\n>>>From far\n From not\nFrom\n\n"},
		// CRLF kept.
		{"", "Subject: c\r\n\r\nline\r\n", "Subject: c\r\n\r\nline\r\n\n"},
	} {
		p := filepath.Join(t.TempDir(), "mbox")
		os.WriteFile(p, []byte(tc.existing), 0o600)
		if err := AppendMbox(p, strings.NewReader(tc.msg), "bob@example.org", when); err != nil {
			t.Fatalf("#%d: %v", i, err)
		}
		b, _ := os.ReadFile(p)
		froms, bodies := split(t, b)
		wantN := 1
		if tc.existing != "" {
			wantN = 2
		}
		if len(bodies) != wantN {
			t.Fatalf("#%d: %d messages after append, want %d:\n%q", i, len(bodies), wantN, b)
		}
		if got := bodies[len(bodies)-1]; got != tc.wantBody {
			t.Errorf("#%d: appended %q, want %q", i, got, tc.wantBody)
		}
		if froms[len(froms)-1] != "From bob@example.org Mon Mar 10 09:00:00 2025" {
			t.Errorf("#%d: From_ line %q", i, froms[len(froms)-1])
		}
		if !strings.HasPrefix(string(b), tc.existing) {
			t.Errorf("#%d: the existing messages changed", i)
		}
		if key(t, bodies[len(bodies)-1]) != key(t, tc.msg) {
			t.Errorf("#%d: the appended copy has another fingerprint than the message", i)
		}
	}
}

func TestAppendMboxFailures(t *testing.T) {
	old := LockTimeout
	LockTimeout = 300 * time.Millisecond
	defer func() { LockTimeout = old }()
	orig := "From x Mon Mar 10 08:00:00 2025\n" + msgA + "\n"
	host, _ := os.Hostname()
	dead := exec.Command("true")
	dead.Run()
	deadPID := dead.ProcessState.Pid()
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, p string)
		ok    bool
	}{
		{"held dot-lock of another program", func(t *testing.T, p string) { os.WriteFile(p+".lock", []byte("0"), 0o644) }, false},
		{"dot-lock of a live popdedupe", func(t *testing.T, p string) {
			os.WriteFile(p+".lock", []byte(strconv.Itoa(os.Getppid())+" "+host+"\n"), 0o644)
		}, false},
		{"dot-lock of a dead popdedupe", func(t *testing.T, p string) {
			os.WriteFile(p+".lock", []byte(strconv.Itoa(deadPID)+" "+host+"\n"), 0o644)
		}, true},
		{"old dot-lock", func(t *testing.T, p string) {
			os.WriteFile(p+".lock", []byte("0"), 0o644)
			old := time.Now().Add(-DotLockStale - time.Minute)
			os.Chtimes(p+".lock", old, old)
		}, true},
		{"disk full", func(t *testing.T, p string) { t.Setenv(ENOSPCEnv, "20") }, false},
		{"symlink", func(t *testing.T, p string) {
			os.Rename(p, p+".real")
			os.Symlink(p+".real", p)
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "mbox")
			os.WriteFile(p, []byte(orig), 0o600)
			tc.setup(t, p)
			err := AppendMbox(p, strings.NewReader(msgA), "x", time.Now())
			if (err == nil) != tc.ok {
				t.Fatalf("AppendMbox: %v, want ok=%v", err, tc.ok)
			}
			b, _ := os.ReadFile(p)
			if !tc.ok && string(b) != orig {
				t.Errorf("failed append changed the mbox: %q", b)
			}
			if tc.ok {
				if _, err := os.Stat(p + ".lock"); err == nil {
					t.Errorf("dot-lock left after the append")
				}
			}
		})
	}
}

func TestDeliverMaildir(t *testing.T) {
	for _, tc := range []struct {
		flags  scan.Flags
		sub    string
		suffix string
		enospc bool
	}{
		{0, "new", "", false},
		{scan.ParseFlags(":2,SR"), "cur", ":2,RS", false},
		{0, "", "", true},
	} {
		dir := t.TempDir()
		os.Mkdir(filepath.Join(dir, "cur"), 0o700)
		os.Mkdir(filepath.Join(dir, "new"), 0o700)
		if tc.enospc {
			t.Setenv(ENOSPCEnv, "10")
		}
		p, err := DeliverMaildir(dir, strings.NewReader(msgA), tc.flags)
		os.Unsetenv(ENOSPCEnv)
		tmp, _ := os.ReadDir(filepath.Join(dir, "tmp"))
		if len(tmp) != 0 {
			t.Errorf("tmp/ not empty after delivery: %v", tmp)
		}
		if tc.enospc {
			cur, _ := os.ReadDir(filepath.Join(dir, "cur"))
			nw, _ := os.ReadDir(filepath.Join(dir, "new"))
			if err == nil || len(cur)+len(nw) != 0 {
				t.Errorf("full disk: %v, %d files visible", err, len(cur)+len(nw))
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Base(filepath.Dir(p)) != tc.sub || !strings.HasSuffix(p, tc.suffix) {
			t.Errorf("delivered to %s, want %s/...%s", p, tc.sub, tc.suffix)
		}
		if b, _ := os.ReadFile(p); string(b) != msgA {
			t.Errorf("delivered %q", b)
		}
	}
	if _, err := DeliverMaildir(t.TempDir(), strings.NewReader(msgA), 0); err == nil {
		t.Errorf("delivery into a directory that is not a Maildir succeeded")
	}
}

func TestFlagPath(t *testing.T) {
	S, RS := scan.ParseFlags(":2,S"), scan.ParseFlags(":2,RS")
	for i, tc := range []struct {
		path  string
		flags scan.Flags
		want  string
	}{
		{"/m/cur/1.a.h:2,S", S, "/m/cur/1.a.h:2,S"},
		{"/m/cur/1.a.h:2,S", RS, "/m/cur/1.a.h:2,RS"},
		{"/m/new/1.a.h", 0, "/m/new/1.a.h"},
		{"/m/new/1.a.h", S, "/m/cur/1.a.h:2,S"},
		{"/m/cur/1.a.h", S, "/m/cur/1.a.h:2,S"},
		{"/m/cur/1.a.h,S=12:2,", RS | scan.ParseFlags(":2,a"), "/m/cur/1.a.h,S=12:2,RSa"},
	} {
		if got := FlagPath(tc.path, tc.flags); got != tc.want {
			t.Errorf("#%d FlagPath(%q, %s) = %q, want %q", i, tc.path, tc.flags, got, tc.want)
		}
	}
	got := MergeFlags(scan.ParseFlags(":2,S"), "/a", []scan.Flags{scan.ParseFlags(":2,RTb"), scan.ParseFlags(":2,Fc")}, []string{"/b", "/a"})
	if got.String() != "FRSc" {
		t.Errorf("MergeFlags = %s, want FRSc (no T, keyword b from another folder dropped)", got)
	}
}

// TestRewriteMbox rewrites an mbox owned by another user with mode 0640
// and checks bytes, mode and owner, then undo.
func TestRewriteMbox(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "inbox")
	m2 := strings.Replace(msgA, "<a@", "<b@", 1)
	orig := "From x Mon Mar 10 08:00:00 2025\n" + msgA + "\n" +
		"From x Mon Mar 10 08:01:00 2025\r\n" + msgA + "\n" +
		"From x Mon Mar 10 08:02:00 2025\n" + m2 + "\n"
	os.WriteFile(p, []byte(orig), 0o640)
	if os.Geteuid() == 0 {
		os.Chown(p, 65534, 65534)
	}
	fi0, _ := os.Stat(p)
	res, err := scan.Scan(context.Background(), []string{p}, scan.Options{HashAll: true})
	if err != nil {
		t.Fatal(err)
	}
	m1, dup := &res.Messages[0], &res.Messages[1]
	j, err := journal.Create(filepath.Join(dir, "state"), "t")
	if err != nil {
		t.Fatal(err)
	}
	mu := NewMutator(j, filepath.Join(dir, "q"))
	src := res.Sources[0]
	err = mu.RewriteMbox(MboxRewrite{Path: p, Size: src.Size, ModTime: src.ModTime, Remove: []MboxCopy{{
		Index: 2, Offset: dup.Offset, Length: dup.Size, Key: res.Key(dup), To: "t.1.inbox-2:2,",
		Kept: Copy{Path: p, Offset: m1.Offset, Length: m1.Size},
	}}})
	j.Close()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	want := "From x Mon Mar 10 08:00:00 2025\n" + msgA + "\n" + "From x Mon Mar 10 08:02:00 2025\n" + m2 + "\n"
	if string(b) != want {
		t.Errorf("rewritten mbox:\n%q\nwant\n%q", b, want)
	}
	fi1, _ := os.Stat(p)
	st0, st1 := fi0.Sys().(*syscall.Stat_t), fi1.Sys().(*syscall.Stat_t)
	if fi1.Mode() != fi0.Mode() || st0.Uid != st1.Uid || st0.Gid != st1.Gid {
		t.Errorf("mode/owner %v %d:%d, want %v %d:%d", fi1.Mode(), st1.Uid, st1.Gid, fi0.Mode(), st0.Uid, st0.Gid)
	}
	q, _ := os.ReadFile(filepath.Join(dir, "q", "cur", "t.1.inbox-2:2,"))
	if string(q) != msgA+"\n" {
		t.Errorf("quarantined %q", q)
	}
	if _, err := os.Stat(p + ".lock"); err == nil {
		t.Errorf("dot-lock left")
	}
	if _, err := journal.Undo(context.Background(), j.Path(), UndoHandlers()); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != orig {
		t.Errorf("undo gave\n%q\nwant\n%q", b, orig)
	}
	fi2, _ := os.Stat(p)
	if st2 := fi2.Sys().(*syscall.Stat_t); fi2.Mode() != fi0.Mode() || st2.Uid != st0.Uid {
		t.Errorf("undo: mode/owner %v %d", fi2.Mode(), st2.Uid)
	}
	// A rewrite of a symbolic link is refused.
	os.Rename(p, p+".real")
	os.Symlink(p+".real", p)
	j2, _ := journal.Create(filepath.Join(dir, "state"), "t2")
	err = NewMutator(j2, filepath.Join(dir, "q")).RewriteMbox(MboxRewrite{Path: p, Remove: []MboxCopy{{Index: 2, Kept: Copy{Path: p + ".real", Offset: 0, Length: m1.Size}, Key: res.Key(dup)}}})
	if !errors.Is(err, ErrSymlink) {
		t.Errorf("rewrite through a symlink: %v, want ErrSymlink", err)
	}
}

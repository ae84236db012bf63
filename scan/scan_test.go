package scan

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/popdedupe/popdedupe/internal/corpusgen"
)

func msg(id, subject, body string) string {
	h := "From: Alice <alice@example.org>\nTo: bob@example.net\nSubject: " + subject + "\nDate: Mon, 2 Jan 2006 15:04:05 +0000\n"
	if id != "" {
		h += "Message-ID: <" + id + ">\n"
	}
	return h + "\n" + body
}

func mkMaildir(t *testing.T, dir string) {
	t.Helper()
	for _, s := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, s), 0o700); err != nil {
			t.Fatal(err)
		}
	}
}

func put(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func mboxOf(msgs ...string) string {
	var b strings.Builder
	for i, m := range msgs {
		fmt.Fprintf(&b, "From alice@example.org Mon Jan  1 15:%02d:05 2024\n", i)
		lines := strings.Split(strings.TrimSuffix(m, "\n"), "\n")
		for _, l := range lines {
			if strings.HasPrefix(strings.TrimLeft(l, ">"), "From ") {
				l = ">" + l // mboxrd
			}
			b.WriteString(l + "\n")
		}
		b.WriteString("\n")
	}
	return b.String()
}

type refs []string

func (r *Result) refs(idx []int) refs {
	var out refs
	for _, i := range idx {
		m := &r.Messages[i]
		p := r.Path(m)
		if m.Index > 0 {
			p = fmt.Sprintf("%s#%d", filepath.Base(p), m.Index)
		} else {
			p = filepath.Base(filepath.Dir(p)) + "/" + filepath.Base(p)
		}
		out = append(out, p)
	}
	return out
}

func TestScanIncident(t *testing.T) {
	root := t.TempDir()
	md := filepath.Join(root, "Maildir")
	mkMaildir(t, md)
	mkMaildir(t, filepath.Join(md, ".Archive"))
	a := msg("a@example.org", "A", "From here on\n.dot line\nbody A\n")
	b := msg("b@example.org", "B", "body B\n")
	d1 := msg("d@example.org", "D", "first body\n")
	d2 := msg("d@example.org", "D", "second body\n")
	noid := msg("", "no id", "same body\n")
	put(t, filepath.Join(md, "cur", "1700000300.M1P1.h:2,S"), "Status: RO\n"+a)
	put(t, filepath.Join(md, "cur", "1700000100.M2P1.h:2,RS"), strings.ReplaceAll(a, "\n", "\r\n"))
	put(t, filepath.Join(md, "new", "1700000200.M3P1.h"), "X-UIDL: 0001\n"+a)
	put(t, filepath.Join(md, "cur", "1700000400.M4P1.h:2,"), b)
	put(t, filepath.Join(md, "cur", "1700000500.M5P1.h:2,"), d1)
	put(t, filepath.Join(md, ".Archive", "cur", "1700000600.M6P1.h:2,F"), d2)
	put(t, filepath.Join(md, ".Archive", "cur", "1700000700.M7P1.h:2,"), noid)
	put(t, filepath.Join(md, "tmp", "1700000800.M8P1.h"), a) // being delivered: never read
	os.MkdirAll(filepath.Join(md, ".cache"), 0o700)          // not a Maildir++ folder: never read
	put(t, filepath.Join(md, ".cache", "old.mbox"), mboxOf(a))
	mbox := filepath.Join(root, "inbox.mbox")
	put(t, mbox, mboxOf(a, b, noid, msg("", "other", "same body\n")))

	res, err := Scan(context.Background(), []string{md, mbox}, Options{Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Skipped) != 0 {
		t.Fatalf("skipped: %+v", res.Skipped)
	}
	if got := len(res.Messages); got != 11 {
		t.Fatalf("messages = %d, want 11", got)
	}
	if got := len(res.Sources); got != 3 {
		t.Fatalf("sources = %d, want 3 (Maildir, .Archive, mbox)", got)
	}
	groups, conflicts, err := res.Duplicates(context.Background(), KeepOldest)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, g := range groups {
		got = append(got, strings.Join(res.refs(g.Copies), " "))
	}
	want := []string{ // ordered by the kept copy's path: Maildir/.Archive sorts first
		"cur/1700000700.M7P1.h:2, inbox.mbox#3",
		"cur/1700000100.M2P1.h:2,RS new/1700000200.M3P1.h cur/1700000300.M1P1.h:2,S inbox.mbox#1",
		"cur/1700000400.M4P1.h:2, inbox.mbox#2",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("groups:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	xuidls := 0
	for i := range res.Messages {
		if u := res.XUIDL(&res.Messages[i]); u != "" {
			xuidls++
			if u != "0001" || res.Messages[i].Sub != 1 {
				t.Errorf("X-UIDL %q on %s, want 0001 on the copy in new/", u, res.Path(&res.Messages[i]))
			}
		}
	}
	if xuidls != 1 {
		t.Errorf("%d messages with X-UIDL, want 1", xuidls)
	}
	if len(conflicts) != 1 || conflicts[0].MessageID != "d@example.org" || len(conflicts[0].Copies) != 2 {
		t.Errorf("conflicts = %+v, want d@example.org with 2 copies", conflicts)
	}

	// Keep rules change only which copy comes first.
	groups, _, _ = res.Duplicates(context.Background(), KeepNewest)
	if k := res.refs(groups[0].Copies)[0]; k != "inbox.mbox#1" {
		t.Errorf("newest keeps %s, want the mbox copy (2024 is the newest)", k)
	}
}

func TestKeepRules(t *testing.T) {
	root := t.TempDir()
	md := filepath.Join(root, "Maildir")
	mkMaildir(t, md)
	a := msg("a@x", "A", "body\n")
	put(t, filepath.Join(md, "cur", "1700000100.M1P1.h:2,"), a)
	put(t, filepath.Join(md, "cur", "1700000100.M2P1.h:2,FS"), a)
	put(t, filepath.Join(md, "cur", "1700000050.M3P1.h:2,S"), a)
	put(t, filepath.Join(md, "cur", "1700000900.M4P1.h:2,S"), a)
	res, err := Scan(context.Background(), []string{md}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		rule KeepRule
		want string
	}{
		{KeepOldest, "cur/1700000050.M3P1.h:2,S"},
		{KeepNewest, "cur/1700000900.M4P1.h:2,S"},
		{KeepFirst, "cur/1700000050.M3P1.h:2,S"},
	} {
		g, _, err := res.Duplicates(context.Background(), tt.rule)
		if err != nil || len(g) != 1 || len(g[0].Copies) != 4 {
			t.Fatalf("%s: %v %+v", tt.rule, err, g)
		}
		if k := res.refs(g[0].Copies)[0]; k != tt.want {
			t.Errorf("%s keeps %s, want %s", tt.rule, k, tt.want)
		}
	}
	// Equal times: the copy with more flags wins.
	os.Remove(filepath.Join(md, "cur", "1700000050.M3P1.h:2,S"))
	res, _ = Scan(context.Background(), []string{md}, Options{})
	g, _, _ := res.Duplicates(context.Background(), KeepOldest)
	if k := res.refs(g[0].Copies)[0]; k != "cur/1700000100.M2P1.h:2,FS" {
		t.Errorf("tie on time keeps %s, want the one with most flags", k)
	}
}

func TestScanBadInput(t *testing.T) {
	root := t.TempDir()
	md := filepath.Join(root, "Maildir")
	mkMaildir(t, md)
	good := msg("a@x", "A", "body\n")
	put(t, filepath.Join(md, "cur", "1.M1.h:2,"), good)
	put(t, filepath.Join(md, "cur", "2.M2.h:2,"), "")
	put(t, filepath.Join(md, "cur", "3.M3.h:2,"), "Subject: x\x00\n\nb\n")
	put(t, filepath.Join(md, "cur", "4.M4.h:2,"), "not a header\nbody\n")
	put(t, filepath.Join(md, "cur", ".hidden"), good)
	os.Symlink("/etc/passwd", filepath.Join(md, "cur", "5.M5.h:2,"))
	os.Mkdir(filepath.Join(md, "cur", "subdir"), 0o700)
	mbox := filepath.Join(root, "trunc.mbox")
	put(t, mbox, mboxOf(good, good)+"From x Mon Jan  2 15:04:05 2006\nSubject: cut")
	res, err := Scan(context.Background(), []string{md, mbox}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]string{}
	for _, s := range res.Skipped {
		reasons[fmt.Sprintf("%s#%d", filepath.Base(s.Path), s.Index)] = s.Reason
	}
	for ref, want := range map[string]string{
		"2.M2.h:2,#0":  "empty",
		"3.M3.h:2,#0":  "NUL",
		"4.M4.h:2,#0":  "not a header field",
		"5.M5.h:2,#0":  "symbolic link",
		"trunc.mbox#3": "truncated",
	} {
		if !strings.Contains(reasons[ref], want) {
			t.Errorf("%s: reason %q, want it to mention %q", ref, reasons[ref], want)
		}
	}
	if len(res.Skipped) != 5 || len(res.Messages) != 3 {
		t.Errorf("skipped %d, messages %d; want 5 and 3: %+v", len(res.Skipped), len(res.Messages), res.Skipped)
	}
	for _, s := range res.Sources {
		if s.Kind == Mbox && s.Skipped != 1 {
			t.Errorf("mbox source records %d skipped, want 1", s.Skipped)
		}
	}
}

func TestScanEmptyMbox(t *testing.T) {
	path := filepath.Join(t.TempDir(), "emptied.mbox")
	put(t, path, "")
	res, err := Scan(context.Background(), []string{path}, Options{})
	if err != nil || len(res.Sources) != 1 || res.Sources[0].Kind != Mbox || len(res.Messages) != 0 || len(res.Skipped) != 0 {
		t.Fatalf("empty mbox named as a store: err %v, result %+v", err, res)
	}
}

func TestScanStoreErrors(t *testing.T) {
	root := t.TempDir()
	put(t, filepath.Join(root, "plain.txt"), "hello\n")
	for _, p := range []string{filepath.Join(root, "missing"), filepath.Join(root, "plain.txt"), root} {
		if _, err := Scan(context.Background(), []string{p}, Options{}); err == nil {
			t.Errorf("Scan(%s) succeeded, want an error", p)
		}
	}
}

// Messages whose body is larger than the first read are hashed only when
// their header identity collides, and then grouped correctly.
func TestLazyBodyHash(t *testing.T) {
	md := filepath.Join(t.TempDir(), "Maildir")
	mkMaildir(t, md)
	big := strings.Repeat("a long line of body text\n", 10000)
	put(t, filepath.Join(md, "cur", "1.A:2,"), msg("big@x", "Big", big))
	put(t, filepath.Join(md, "cur", "2.B:2,"), "Status: RO\n"+msg("big@x", "Big", big))
	put(t, filepath.Join(md, "cur", "3.C:2,"), msg("alone@x", "Alone", big))
	res, err := Scan(context.Background(), []string{md}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The header pass hashes a large body only when its identity was met
	// before: the second copy of big@x, never the first, never alone@x.
	hashed := map[string]int{}
	for _, m := range res.Messages {
		if m.HasBody {
			hashed[res.MessageID(&m)]++
		}
	}
	if len(hashed) != 1 || hashed["big@x"] != 1 {
		t.Fatalf("large bodies hashed in the header pass: %v, want big@x once", hashed)
	}
	g, _, err := res.Duplicates(context.Background(), KeepOldest)
	if err != nil || len(g) != 1 || len(g[0].Copies) != 2 {
		t.Fatalf("groups %+v err %v", g, err)
	}
	for _, m := range res.Messages {
		if res.MessageID(&m) == "alone@x" && m.HasBody {
			t.Error("the message with a unique Message-ID was hashed")
		}
	}
}

func TestMboxReaderOffsets(t *testing.T) {
	data := mboxOf(msg("a@x", "A", "one\n\nFrom the top\n"), msg("b@x", "B", "two\r\n"), msg("c@x", "C", "x\nFrom no blank line 10:00\n"))
	mr := NewMboxReader(strings.NewReader(data))
	var got []string
	for {
		env, body, err := mr.Next()
		if err != nil {
			break
		}
		b := new(strings.Builder)
		if _, err := fmt.Fprint(b, readAll(t, body)); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(data[env.Offset:], env.From+"\n"+b.String()) || int64(len(env.From)+1+b.Len()) != env.Length {
			t.Errorf("message %d: offset %d length %d do not frame its bytes", env.Index, env.Offset, env.Length)
		}
		got = append(got, fmt.Sprint(env.Index))
	}
	if strings.Join(got, ",") != "1,2,3" {
		t.Errorf("split into %v, want 3 messages", got)
	}
}

func readAll(t *testing.T, r interface{ Read([]byte) (int, error) }) string {
	var b strings.Builder
	buf := make([]byte, 7) // small reads cross every boundary
	for {
		n, err := r.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String()
		}
	}
}

func TestFromLineTime(t *testing.T) {
	for i, tt := range []struct {
		line string
		want time.Time
	}{
		{"From a@b Mon Jan  2 15:04:05 2006", time.Date(2006, 1, 2, 15, 4, 5, 0, time.UTC)},
		{"From MAILER-DAEMON Wed Nov 28 22:40:10 2012 +0100", time.Date(2012, 11, 28, 21, 40, 10, 0, time.UTC)},
		{"From a@b garbage", time.Time{}},
	} {
		if got := FromLineTime(tt.line); !got.Equal(tt.want) {
			t.Errorf("FromLineTime(%q) #%d = %v, want %v", tt.line, i, got, tt.want)
		}
	}
}

func TestFlags(t *testing.T) {
	f := ParseFlags("123.M1.h:2,SRa")
	if f.String() != "RSa" || f.Count() != 3 {
		t.Errorf("flags %q count %d", f, f.Count())
	}
	if ParseFlags("123.M1.h") != 0 {
		t.Error("a name without info has no flags")
	}
	keys := []string{(f | ParseFlags("x:2,F")).String()}
	sort.Strings(keys)
	if keys[0] != "FRSa" {
		t.Errorf("merged flags %q", keys[0])
	}
}

// Open returns exactly a message's stored bytes after its From_ line.
func TestOpenMboxMessage(t *testing.T) {
	big := msg("big@x", "Big", strings.Repeat("x", 3*mboxBufSize/2)+"\n")
	data := mboxOf(msg("a@x", "A", "one\n"), big, msg("c@x", "C", "three\n"))
	path := filepath.Join(t.TempDir(), "box")
	put(t, path, data)
	res, err := Scan(context.Background(), []string{path}, Options{})
	if err != nil || len(res.Messages) != 3 {
		t.Fatalf("scan: %v, %d messages", err, len(res.Messages))
	}
	for i := range res.Messages {
		m := &res.Messages[i]
		rc, err := res.Open(m)
		if err != nil {
			t.Fatal(err)
		}
		got := readAll(t, rc)
		rc.Close()
		framed := data[m.Offset : m.Offset+m.Size]
		want := framed[strings.IndexByte(framed, '\n')+1:]
		if got != want {
			t.Errorf("message %d: Open returned %d bytes, want %d", m.Index, len(got), len(want))
		}
	}
}

// TestPathPieces holds the allocation-free path order to the order of the
// built paths it stands for.
func TestPathPieces(t *testing.T) {
	pieces := []string{"", "a", "ab", "/x/Maildir/", "/x/Maildir/.F/", "cur/", "b", "a/"}
	for _, a1 := range pieces {
		for _, a2 := range pieces {
			for _, b1 := range pieces {
				for _, b2 := range pieces {
					if got, want := cmpJoined(a1, a2, b1, b2), strings.Compare(a1+a2, b1+b2); got != want {
						t.Fatalf("cmpJoined(%q,%q,%q,%q) = %d, want %d", a1, a2, b1, b2, got, want)
					}
				}
			}
		}
	}
	md := filepath.Join(t.TempDir(), "Maildir")
	mkMaildir(t, md)
	mkMaildir(t, filepath.Join(md, ".Sub"))
	put(t, filepath.Join(md, "cur", "1.A:2,S"), msg("a@x", "A", "x\n"))
	put(t, filepath.Join(md, "new", "2.B"), msg("b@x", "B", "x\n"))
	put(t, filepath.Join(md, ".Sub", "cur", "3.C:2,"), msg("c@x", "C", "x\n"))
	res, err := Scan(context.Background(), []string{md + "/./"}, Options{})
	if err != nil || len(res.Messages) != 3 {
		t.Fatalf("%v %d", err, len(res.Messages))
	}
	for i := range res.Messages {
		m := &res.Messages[i]
		if d, n := res.pathParts(m); d+n != res.Path(m) {
			t.Errorf("pieces %q + %q, path %q", d, n, res.Path(m))
		}
	}
}

// TestScanLeavesAccessTimes: a scan reads with O_NOATIME where it may, so
// that even the access times of the store stay as they were (on a
// relatime mount, a read of a file whose atime is older than its mtime
// would update it).
func TestScanLeavesAccessTimes(t *testing.T) {
	md := filepath.Join(t.TempDir(), "Maildir")
	mkMaildir(t, md)
	p := filepath.Join(md, "cur", "1.A,S=40:2,S")
	put(t, p, msg("a@x", "A", "x\n"))
	old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := os.Chtimes(p, old, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := Scan(context.Background(), []string{md}, Options{HashAll: true}); err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil {
		t.Fatal(err)
	}
	if got := time.Unix(st.Atim.Sec, st.Atim.Nsec); !got.Equal(old) {
		t.Errorf("access time %v after the scan, want %v", got, old)
	}
}

// TestLongMessageID: Message-IDs too long for an arena reference keep
// their exact identity: equal ones group, ones that differ in the last
// byte do not.
func TestLongMessageID(t *testing.T) {
	md := filepath.Join(t.TempDir(), "Maildir")
	mkMaildir(t, md)
	long := strings.Repeat("i", 70<<10)
	put(t, filepath.Join(md, "cur", "1.A:2,"), msg(long+"a@x", "A", "same\n"))
	put(t, filepath.Join(md, "cur", "2.B:2,"), msg(long+"a@x", "A", "same\n"))
	put(t, filepath.Join(md, "cur", "3.C:2,"), msg(long+"b@x", "A", "same\n"))
	res, err := Scan(context.Background(), []string{md}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	g, _, err := res.Duplicates(context.Background(), KeepFirst)
	if err != nil || len(g) != 1 || len(g[0].Copies) != 2 || g[0].Key.MessageID != long+"a@x" {
		t.Fatalf("groups %d, err %v", len(g), err)
	}
	for i := range res.Messages {
		if id := res.MessageID(&res.Messages[i]); len(id) != len(long)+3 {
			t.Errorf("message %d: Message-ID of %d bytes", i, len(id))
		}
	}
}

// TestFirstOrderByRank: the "first" order compares directories by rank and
// then names; it must order exactly as the whole paths do, and fall back
// to whole paths when a Maildir lies inside another one's cur/.
func TestFirstOrderByRank(t *testing.T) {
	d := t.TempDir()
	for _, md := range []string{"M", "M.b", "Ma", "M/.F", "M/.F.G", "N", "N/cur/sub"} {
		mkMaildir(t, filepath.Join(d, md))
	}
	names := []string{"1.A:2,", "1.A:2,S", "10.B", "2.C:2,F", "1.A"}
	for i, md := range []string{"M", "M.b", "Ma", "M/.F", "M/.F.G", "N", "N/cur/sub"} {
		for j, n := range names {
			sub := "cur"
			if (i+j)%3 == 0 {
				sub = "new"
			}
			put(t, filepath.Join(d, md, sub, n), msg(fmt.Sprintf("%d.%d@x", i, j), "x", "x\n"))
		}
	}
	put(t, filepath.Join(d, "M.box"), mboxOf(msg("b1@x", "x", "x\n"), msg("b2@x", "x", "x\n")))
	check := func(stores []string, wantRank bool) {
		res, err := Scan(context.Background(), stores, Options{})
		if err != nil {
			t.Fatal(err)
		}
		n := len(res.Messages)
		t.Logf("%d messages in %d sources, %d skipped", n, len(res.Sources), len(res.Skipped))
		for i := 0; i < n; i++ {
			for j := 0; j < n; j++ {
				x, y := &res.Messages[i], &res.Messages[j]
				want := cmp.Compare(res.Sources[x.Source].Store, res.Sources[y.Source].Store)
				if want == 0 {
					want = strings.Compare(res.Path(x), res.Path(y))
				}
				if want == 0 {
					want = cmp.Compare(x.Index, y.Index)
				}
				if got := res.cmpFirst(i, j); got != want {
					t.Fatalf("cmpFirst(%s#%d, %s#%d) = %d, want %d", res.Path(x), x.Index, res.Path(y), y.Index, got, want)
				}
			}
		}
		if (res.dirRank != nil) != wantRank {
			t.Errorf("stores %v: by rank %v, want %v", stores, res.dirRank != nil, wantRank)
		}
	}
	check([]string{d}, true)
	check([]string{filepath.Join(d, "N"), filepath.Join(d, "N/cur/sub"), filepath.Join(d, "M")}, false)
}

// TestMboxLastMessageWithoutNewline: the last message of an mbox without a
// final newline (cut short, or still being written) is skipped with its
// reason, read in one segment or in several.
func TestMboxLastMessageWithoutNewline(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 40; i++ {
		b.WriteString(mboxOf(msg(fmt.Sprintf("m%d@x", i), "S", strings.Repeat("line of text\n", 20))))
	}
	b.WriteString(mboxOf(msg("last@x", "S", "no newline at the end")))
	data := strings.TrimRight(b.String(), "\n")
	p := filepath.Join(t.TempDir(), "box.mbox")
	put(t, p, data)
	for _, segments := range []bool{false, true} {
		if segments {
			inSmallSegments(t, p, int64(len(data)), 2)
		}
		res, err := Scan(context.Background(), []string{p}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Messages) != 40 || len(res.Skipped) != 1 || res.Skipped[0].Index != 41 || !strings.Contains(res.Skipped[0].Reason, "no final newline") {
			t.Errorf("segments %v: %d messages, skipped %+v", segments, len(res.Messages), res.Skipped)
		}
	}
}

// TestHeaderFirstJudgement: in an incident store, where half the messages
// have copies, the first pass soon hashes every body (one pass over each
// file is cheapest there); in a store without duplicates it reads headers
// only and hashes almost no large body.
func TestHeaderFirstJudgement(t *testing.T) {
	for _, share := range []float64{0.5, 0} {
		opts := corpusgen.DefaultOptions(7, 2000)
		opts.MinSize, opts.MeanSize, opts.MaxSize = 16<<10, 20<<10, 40<<10
		opts.DupShare = share
		dir := filepath.Join(t.TempDir(), "md")
		if _, err := corpusgen.WriteMaildir(dir, opts); err != nil {
			t.Fatal(err)
		}
		res, err := Scan(context.Background(), []string{dir}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		hashed := 0
		for i := range res.Messages {
			if res.Messages[i].HasBody {
				hashed++
			}
		}
		frac := float64(hashed) / float64(len(res.Messages))
		t.Logf("duplicate share %.1f: %d of %d bodies hashed in the first pass", share, hashed, len(res.Messages))
		// (A store without duplicates still has a few: conflicts, and
		// messages without Message-ID whose key headers agree.)
		if share > 0 && frac < 0.9 || share == 0 && frac > 0.05 {
			t.Errorf("duplicate share %.1f: %.2f of the bodies hashed in the first pass", share, frac)
		}
	}
}

// inSmallSegments has mbox files read in segments of 512 bytes or more,
// on four cores, until the test ends, and fails unless the mbox at p
// (size bytes) is cut into at least least of them.
func inSmallSegments(t *testing.T, p string, size int64, least int) {
	t.Helper()
	old, procs := mboxMinSegment, runtime.GOMAXPROCS(4)
	mboxMinSegment = 512
	t.Cleanup(func() { mboxMinSegment = old; runtime.GOMAXPROCS(procs) })
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if n := len(mboxSegments(f, size, 4)); n < least {
		t.Fatalf("%d segments, want %d or more", n, least)
	}
}

package scan

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/popdedupe/popdedupe/internal/corpusgen"
)

// mappedMbox writes an mbox of at least size bytes, messages of lines
// lines each, and maps it; the file and mapping are closed at the end.
func mappedMbox(t *testing.T, size, lines int) (string, *os.File, []byte) {
	t.Helper()
	var b strings.Builder
	for i := 0; b.Len() < size; i++ {
		b.WriteString(mboxOf(msg(fmt.Sprintf("m%d@x", i), "S", strings.Repeat("line of text\n", lines))))
	}
	p := filepath.Join(t.TempDir(), "box.mbox")
	put(t, p, b.String())
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	data := mapFile(f, int64(b.Len()))
	if data == nil {
		t.Skip("mbox files are not mapped on this system")
	}
	t.Cleanup(func() { unmapFile(data) })
	return p, f, data
}

// TestMappedMboxShrinks: an mbox cut short by another program while it is
// mapped makes reading its lost pages fault. The scan must report the file
// as skipped (so it is never rewritten) and go on, not crash.
func TestMappedMboxShrinks(t *testing.T) {
	p, _, data := mappedMbox(t, 256<<10, 40)
	if err := os.Truncate(p, 100); err != nil {
		t.Fatal(err)
	}
	r := &Result{}
	msgs, skipped, err := r.readMboxMapped(context.Background(), p, 0, data, time.Now(), nil)
	if err != nil || len(msgs) != 0 || len(skipped) != 1 || skipped[0].Reason != errShrank.Error() {
		t.Fatalf("got %d messages, skipped %+v, err %v; want only the file skipped as shrunk", len(msgs), skipped, err)
	}
}

// TestMappedMboxGivesPagesBack: the pages of a mapped mbox are given back
// as the scan advances, so its RSS does not grow with the file.
func TestMappedMboxGivesPagesBack(t *testing.T) {
	p, f, data := mappedMbox(t, 6*mboxGiveBack, 400)
	size := int64(len(data))
	rss := func() int64 {
		s, err := os.ReadFile("/proc/self/status")
		if err != nil {
			t.Skip("no /proc/self/status")
		}
		for _, l := range strings.Split(string(s), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "RssFile:" {
				var kb int64
				fmt.Sscan(f[1], &kb)
				return kb << 10
			}
		}
		t.Skip("no RssFile in /proc/self/status")
		return 0
	}
	before := rss()
	r := &Result{}
	msgs, skipped, err := r.readMboxMapped(context.Background(), p, 0, data, time.Now(), nil)
	if err != nil || len(skipped) != 0 || len(msgs) == 0 {
		t.Fatalf("%d messages, skipped %+v, err %v", len(msgs), skipped, err)
	}
	// At most one give-back interval (plus one message and page rounding)
	// per segment stays mapped.
	grown := rss() - before
	limit := int64(len(mboxSegments(f, size, runtime.GOMAXPROCS(0)))) * (mboxGiveBack + 1<<20)
	if grown > limit {
		t.Errorf("file-backed RSS grew by %d bytes reading %d (limit %d)", grown, size, limit)
	}
	t.Logf("%d messages, %d bytes: file RSS +%d", len(msgs), size, grown)
}

// FuzzFromLineUnix holds the allocation-free date reader of the mapped
// scan to FromLineTime wherever it answers, and checks that it answers for
// the lines mbox writers write.
func FuzzFromLineUnix(f *testing.F) {
	for _, l := range []string{
		"From a@b Mon Jan  2 15:04:05 2006",
		"From a@b Mon Jan 02 15:04:05 2006",
		"From MAILER-DAEMON Wed Nov 28 22:40:10 2012 +0100",
		"From a@b Thu Feb 29 09:03:59 2024",
		"From a@b Thu Feb 29 09:03:59 2023",
		"From a@b Sat Dec 31 23:59:59 1999",
		"From a@b Sun Jan  1 0:00:00 0000",
		"From a@b mon jan  2 15:04:05 2006",
		"From a@b Mon Jan  2 15:04:05\t2006",
		"From a@b Mon Jan  2 15:04:60 2006",
		"From a@b Mon Jan 32 15:04:05 2006",
		"From a@b Mon Jan  2 24:04:05 2006",
		"From  a@b  Mon  Jan  2  15:04:05  2006  ",
		"From a@b atS Dec  1 00:00:00 2000", // straddles two weekday names
		"From a@b Mon Jan  1 00:00:00 0001", // the zero time: FromLineTime's "no date"
	} {
		f.Add(l)
	}
	f.Fuzz(func(t *testing.T, line string) {
		got, ok := fromLineUnix([]byte(line))
		want := FromLineTime(line)
		if ok && (want.IsZero() || got != want.Unix()) {
			t.Fatalf("fromLineUnix(%q) = %d, FromLineTime gives %v", line, got, want)
		}
	})
}

func TestFromLineUnixAnswersCommonLines(t *testing.T) {
	for _, l := range []string{
		"From a@b Mon Jan  2 15:04:05 2006",
		"From toms.hansen@consult.example Thu Apr 11 09:03:59 2024",
		"From MAILER-DAEMON Mon Apr 18 14:26:11 2022",
		"From a@b Thu Feb 29 09:03:59 2024",
	} {
		got, ok := fromLineUnix([]byte(l))
		if want := FromLineTime(l); !ok || got != want.Unix() {
			t.Errorf("fromLineUnix(%q) = %d, %v; want %d", l, got, ok, want.Unix())
		}
	}
	if _, ok := fromLineUnix([]byte("From a@b Thu Feb 29 09:03:59 2023")); ok {
		t.Error("29 February 2023 accepted")
	}
}

// TestMappedMboxSkipsKeepOrdinals: messages that cannot be fingerprinted
// (a NUL byte) still count in the ordinals of the messages after them,
// in whatever segment they lie: the mapped scan gives the ordinals,
// offsets and skips of the streaming one, in one segment or in several.
func TestMappedMboxSkipsKeepOrdinals(t *testing.T) {
	var b strings.Builder
	for i := range 60 {
		body := strings.Repeat("line of text\n", 20)
		if i%7 == 3 {
			body = "a NUL \x00 byte\n" + body
		}
		b.WriteString(mboxOf(msg(fmt.Sprintf("m%d@x", i), "S", body)))
	}
	p := filepath.Join(t.TempDir(), "box.mbox")
	put(t, p, b.String())
	type view struct {
		Index        int32
		Offset, Size int64
		ID           string
	}
	scanOnce := func(mapped bool) ([]view, []Skipped) {
		old := mapMboxes
		mapMboxes = mapped
		defer func() { mapMboxes = old }()
		res, err := Scan(context.Background(), []string{p}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		var v []view
		for i := range res.Messages {
			m := &res.Messages[i]
			v = append(v, view{m.Index, m.Offset, m.Size, res.MessageID(m)})
		}
		return v, res.Skipped
	}
	for _, segments := range []bool{false, true} {
		if segments {
			inSmallSegments(t, p, int64(b.Len()), 4)
		}
		streamed, streamedSkips := scanOnce(false)
		mapped, mappedSkips := scanOnce(true)
		if len(streamedSkips) != 9 || len(streamed) != 51 {
			t.Fatalf("streamed: %d messages, %d skipped", len(streamed), len(streamedSkips))
		}
		if !reflect.DeepEqual(streamed, mapped) || !reflect.DeepEqual(streamedSkips, mappedSkips) {
			t.Fatalf("segments %v: mapped scan differs:\n%v %v\nstreamed:\n%v %v", segments, mapped, mappedSkips, streamed, streamedSkips)
		}
		if last, skip := mapped[len(mapped)-1], mappedSkips[len(mappedSkips)-1]; last.Index != 59 || skip.Index != 60 {
			t.Errorf("segments %v: the last message is #%d and the last skip #%d, want 59 and 60", segments, last.Index, skip.Index)
		}
	}
}

// TestCivilDays holds the From_ date arithmetic to package time on every
// day of years around the calendar's turns (year 0 and before the
// era's start, centuries, leap centuries, the epoch, the last year).
func TestCivilDays(t *testing.T) {
	for _, y := range []int{0, 1, 2, 99, 100, 399, 400, 1600, 1899, 1900, 1969, 1970, 2000, 2024, 2100, 9999} {
		for m := 1; m <= 12; m++ {
			if got, want := daysIn(m, y), time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day(); got != want {
				t.Fatalf("daysIn(%d, %d) = %d, want %d", m, y, got, want)
			}
			for d := 1; d <= daysIn(m, y); d++ {
				if got, want := civilDays(y, m, d)*86400, time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC).Unix(); got != want {
					t.Fatalf("%04d-%02d-%02d: %d, want %d", y, m, d, got, want)
				}
			}
		}
	}
	// The zero time is FromLineTime's "no date"; a second after it is a date.
	if _, ok := fromLineUnix([]byte("From a@b Mon Jan  1 00:00:00 0001")); ok {
		t.Error("the zero time accepted")
	}
	if got, ok := fromLineUnix([]byte("From a@b Mon Jan  1 00:00:01 0001")); !ok || got != time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC).Unix() {
		t.Errorf("0001-01-01 00:00:01: %d, %v", got, ok)
	}
}

// TestSplitPointWindows: the split point found in the small window first
// is the one the large window alone finds (the first boundary after the
// cut), at every cut of a generated mbox and of one whose messages are
// longer than the small window.
func TestSplitPointWindows(t *testing.T) {
	opts := corpusgen.DefaultOptions(5, 120)
	var big bytes.Buffer
	for i := range 40 {
		fmt.Fprintf(&big, "From a@b Mon Jan  2 15:04:%02d 2006\nSubject: %d\n\n%s\n\n", i%60, i, strings.Repeat("x line\n", 6000*(i%3)+10))
	}
	path := filepath.Join(t.TempDir(), "m.mbox")
	if _, err := corpusgen.WriteMbox(path, opts); err != nil {
		t.Fatal(err)
	}
	gen, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, data := range [][]byte{gen, big.Bytes()} {
		size := int64(len(data))
		for from := int64(1); from < size; from += 997 {
			// The large window alone, as splitPoint read before.
			lo := max(from-64<<10, 0)
			want, wantOK := firstSplit(data[lo:min(size, from+1<<20)], int(from-lo), lo > 0)
			got, ok := splitPoint(bytes.NewReader(data), from, size)
			if ok != wantOK || ok && got != lo+int64(want) {
				t.Fatalf("cut at %d of %d: %d %v, want %d %v", from, size, got, ok, lo+int64(want), wantOK)
			}
		}
	}
}

// FuzzLooksLikeFromLine holds the envelope line test to its definition:
// "From " then somewhere "dd:dd" (two digits, a colon, two digits).
func FuzzLooksLikeFromLine(f *testing.F) {
	for _, s := range []string{"From a@b Mon Jan  2 15:04:05 2006", "From x 1:2", "From 12:34", "From :12:3", "From ab12:3412:34", "From", "From 12:3", "From 2:34 56:78"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, l []byte) {
		want := false
		if bytes.HasPrefix(l, []byte("From ")) {
			rest := l[5:]
			for i := 0; i+4 < len(rest); i++ {
				if isDigit(rest[i]) && isDigit(rest[i+1]) && rest[i+2] == ':' && isDigit(rest[i+3]) && isDigit(rest[i+4]) {
					want = true
				}
			}
		}
		if got := looksLikeFromLine(l); got != want {
			t.Fatalf("looksLikeFromLine(%q) = %v, want %v", l, got, want)
		}
	})
}

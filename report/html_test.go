package report

import (
	"bytes"
	"encoding/xml"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

// at returns the Unix time of day 1 March 2024 + d, hour h, minute m, UTC.
func at(d, h, m int) int64 {
	return time.Date(2024, 3, 1+d, h, m, 0, 0, time.UTC).Unix()
}

// samplePage is a small incident: messages delivered on 1 March, then
// the client re-downloads them in a burst on 2 March 14:00-16:00.
func samplePage() *Page {
	md := "/home/ann/Maildir/cur/"
	s := &Scan{
		Version: Version, Command: "scan", Stores: []string{"/home/ann/Maildir", "/home/ann/mail/inbox.mbox"},
		Messages: 1234, Bytes: 52_428_800, Duplicates: 8, ExtraBytes: 160_000,
		Skipped: []Skipped{{Path: "/home/ann/mail/inbox.mbox", Index: 17, Reason: "truncated message"}},
		Conflicts: []Conflict{{MessageID: "c1@example.org", Copies: []Ref{
			{Path: md + "1709280000.M1P1.host:2,S"}, {Path: "/home/ann/mail/inbox.mbox", Index: 3}}}},
	}
	add := func(id string, arrivals ...int64) {
		g := Group{MessageID: id, BodyHash: fmt.Sprintf("%016x", len(s.Groups)+1), ExtraBytes: 20_000, Arrivals: arrivals}
		for i := range arrivals {
			g.Copies = append(g.Copies, Ref{Path: fmt.Sprintf("%s%d.M%dP%d.host:2,S", md, arrivals[i], i, len(s.Groups))})
		}
		g.Keep = g.Copies[0]
		s.Groups = append(s.Groups, g)
	}
	add("a1@example.org", at(0, 9, 5), at(1, 14, 2))
	add("a2@example.org", at(0, 9, 40), at(1, 14, 3), at(1, 15, 10))
	add("a3@example.org", at(0, 11, 0), at(1, 14, 4))
	add("a4@example.org", at(0, 11, 30), at(1, 14, 5), at(1, 15, 11))
	add("", at(0, 16, 0), at(1, 14, 6))
	// The keep rule kept the newest copy here: still one first download.
	add("a6@example.org", at(1, 14, 7), at(0, 16, 20))
	var actions []Action
	for i, g := range s.Groups {
		for j, c := range g.Copies[1:] {
			a := Action{Ref: c, Action: "quarantine", To: fmt.Sprintf("/home/ann/.popdedupe/q/%d-%d", i, j)}
			if i == 3 && j == 1 {
				a = Action{Ref: c, Action: "delete"}
			}
			actions = append(actions, a)
		}
	}
	return &Page{
		Title:     "Mailbox repair for ann@example.org",
		Generated: time.Date(2024, 3, 3, 10, 0, 0, 0, time.UTC),
		Scan:      s,
		Actions:   actions,
		Journal:   "/home/ann/.popdedupe/journal-20240303T100000.jsonl",
		Server: &ServerSection{
			Host: "pop.example.org:995", User: "ann", Logins: 1, Commands: 14, QuitCommitted: true,
			Messages: []ServerRow{
				{UIDL: "U1", Size: 20_000, MessageID: "a1@example.org", Verdict: "deleted", Local: md + "a1"},
				{UIDL: "U2", Size: 21_000, MessageID: "a2@example.org", Verdict: "saved", Local: md + "a2"},
				{UIDL: "U3", Size: 22_000, MessageID: "new@example.org", Verdict: "missing"},
				{UIDL: "U4", Size: 23_000, MessageID: "c1@example.org", Verdict: "conflict"},
			},
		},
		State: &StateSection{Target: "/home/ann/.fetchids", Added: 2, Removed: 5, Kept: 1200, Written: true},
		NextSteps: []string{
			"Check the quarantine, then empty it: popdedupe purge.",
			"Fix the mail client's settings so it keeps its UIDL state.",
		},
	}
}

func render(t testing.TB, p *Page) string {
	t.Helper()
	var b bytes.Buffer
	if err := WriteHTML(&b, p); err != nil {
		t.Fatalf("WriteHTML: %v", err)
	}
	return b.String()
}

// svgBar is one bucket of the timeline as the page draws it.
type svgBar struct {
	Bucket string    `xml:"data-bucket,attr"`
	First  int       `xml:"data-first,attr"`
	Extra  int       `xml:"data-extra,attr"`
	Rects  []svgRect `xml:"rect"`
}

type svgRect struct {
	Class  string  `xml:"class,attr"`
	X      float64 `xml:"x,attr"`
	Y      float64 `xml:"y,attr"`
	Width  float64 `xml:"width,attr"`
	Height float64 `xml:"height,attr"`
	Fill   string  `xml:"fill,attr"`
}

type svgDoc struct {
	ViewBox string `xml:"viewBox,attr"`
	Groups  []struct {
		Class string   `xml:"class,attr"`
		Bars  []svgBar `xml:"g"`
		Texts []string `xml:"text"`
	} `xml:"g"`
}

// parseSVG parses the page's first timeline chart as XML: the template
// writes it as well-formed SVG.
func parseSVG(t *testing.T, page string) (bars []svgBar, xlabels []string) {
	t.Helper()
	charts := parseSVGs(t, page)
	if len(charts) == 0 {
		t.Fatalf("no <svg> in the page")
	}
	return charts[0].bars, charts[0].xlabels
}

type parsedChart struct {
	bars    []svgBar
	xlabels []string
}

func parseSVGs(t *testing.T, page string) []parsedChart {
	t.Helper()
	var charts []parsedChart
	for {
		i := strings.Index(page, "<svg")
		j := strings.Index(page, "</svg>")
		if i < 0 || j < i {
			return charts
		}
		var doc svgDoc
		if err := xml.Unmarshal([]byte(page[i:j+len("</svg>")]), &doc); err != nil {
			t.Fatalf("timeline SVG %d is not well-formed: %v", len(charts)+1, err)
		}
		var c parsedChart
		for _, g := range doc.Groups {
			switch g.Class {
			case "bars":
				c.bars = g.Bars
			case "xaxis":
				c.xlabels = g.Texts
			}
		}
		charts = append(charts, c)
		page = page[j+len("</svg>"):]
	}
}

// checkProportional checks that every rect's height is its count times
// one common scale, and that the stacked rects sit on the axis.
func checkProportional(t *testing.T, bars []svgBar) {
	t.Helper()
	scale := math.NaN()
	var base float64
	for _, b := range bars {
		want := map[string]int{"first": b.First, "extra": b.Extra}
		bottom := math.NaN()
		seen := 0
		// Rects are drawn bottom-up: first copies, then re-downloads on top.
		for _, r := range b.Rects {
			n, ok := want[r.Class]
			if !ok || n == 0 {
				t.Errorf("bucket %s: unexpected rect %q (counts %+v)", b.Bucket, r.Class, want)
				continue
			}
			seen++
			if math.IsNaN(scale) {
				scale = r.Height / float64(n)
			} else if math.Abs(r.Height-scale*float64(n)) > 0.11 { // one decimal in the markup
				t.Errorf("bucket %s %s: height %.1f for %d copies, want %.1f (scale %.3f)", b.Bucket, r.Class, r.Height, n, scale*float64(n), scale)
			}
			if r.Width <= 0 {
				t.Errorf("bucket %s %s: width %.1f", b.Bucket, r.Class, r.Width)
			}
			if !math.IsNaN(bottom) && math.Abs(r.Y+r.Height-bottom) > 0.11 {
				t.Errorf("bucket %s %s: not stacked: bottom %.1f, want %.1f", b.Bucket, r.Class, r.Y+r.Height, bottom)
			}
			if math.IsNaN(bottom) {
				if base == 0 {
					base = r.Y + r.Height
				} else if math.Abs(r.Y+r.Height-base) > 0.11 {
					t.Errorf("bucket %s: bar starts at %.1f, others at %.1f", b.Bucket, r.Y+r.Height, base)
				}
			}
			bottom = r.Y
		}
		if want := btoi(b.First > 0) + btoi(b.Extra > 0); seen != want {
			t.Errorf("bucket %s: %d rects, want %d", b.Bucket, seen, want)
		}
	}
	if math.IsNaN(scale) || scale <= 0 {
		t.Errorf("no bar height found (scale %v)", scale)
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestHTMLTimelineHourly(t *testing.T) {
	bars, xlabels := parseSVG(t, render(t, samplePage()))
	type counts struct{ first, extra int }
	// Worked out by hand from samplePage's arrivals.
	want := map[string]counts{
		"2024-03-01T09:00": {2, 0},
		"2024-03-01T11:00": {2, 0},
		"2024-03-01T16:00": {2, 0}, // the unnamed message and a6's older copy
		"2024-03-02T14:00": {0, 6},
		"2024-03-02T15:00": {0, 2},
	}
	got := map[string]counts{}
	for _, b := range bars {
		if _, dup := got[b.Bucket]; dup {
			t.Errorf("bucket %s drawn twice", b.Bucket)
		}
		got[b.Bucket] = counts{b.First, b.Extra}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("bars:\n got %v\nwant %v", got, want)
	}
	checkProportional(t, bars)
	// The 14:00 bar (6) is three times the 09:00 bar (2).
	h := map[string]float64{}
	for _, b := range bars {
		for _, r := range b.Rects {
			h[b.Bucket] += r.Height
		}
	}
	if r := h["2024-03-02T14:00"] / h["2024-03-01T09:00"]; math.Abs(r-3) > 0.01 {
		t.Errorf("height ratio 14:00/09:00 = %.3f, want 3", r)
	}
	// Bars are in time order, left to right, and do not overlap.
	for i := 1; i < len(bars); i++ {
		a, b := bars[i-1].Rects[0], bars[i].Rects[0]
		if bars[i-1].Bucket >= bars[i].Bucket || a.X+a.Width > b.X {
			t.Errorf("bars %s and %s out of order or overlapping", bars[i-1].Bucket, bars[i].Bucket)
		}
	}
	joined := strings.Join(xlabels, " ")
	for _, l := range []string{"1 Mar", "2 Mar"} {
		if !strings.Contains(joined, l) {
			t.Errorf("x axis labels %q lack %q", joined, l)
		}
	}
}

func TestHTMLTimelineDaily(t *testing.T) {
	// Span of 10 days: one bucket per calendar day, not per hour.
	s := &Scan{Groups: []Group{
		{MessageID: "x@y", Copies: []Ref{{Path: "a"}, {Path: "b"}, {Path: "c"}}, Arrivals: []int64{at(0, 1, 0), at(0, 23, 59), at(9, 12, 0)}},
		{MessageID: "z@y", Copies: []Ref{{Path: "d"}, {Path: "e"}}, Arrivals: []int64{at(4, 8, 0), at(9, 0, 0)}},
		{MessageID: "w@y", Copies: []Ref{{Path: "f"}, {Path: "g"}}, Arrivals: []int64{0, at(4, 9, 0)}}, // one unknown
	}}
	page := render(t, &Page{Scan: s, Generated: time.Date(2024, 4, 1, 0, 0, 0, 0, time.UTC)})
	bars, _ := parseSVG(t, page)
	var got []string
	for _, b := range bars {
		got = append(got, fmt.Sprintf("%s:%d+%d", b.Bucket, b.First, b.Extra))
	}
	want := "2024-03-01T00:00:1+1 2024-03-05T00:00:2+0 2024-03-10T00:00:0+2"
	if strings.Join(got, " ") != want {
		t.Errorf("daily bars:\n got %s\nwant %s", strings.Join(got, " "), want)
	}
	checkProportional(t, bars)
	if !strings.Contains(page, "per day") || !strings.Contains(page, "1 copies have no known arrival time") {
		t.Errorf("page does not say it is per day or does not count the unknown arrival")
	}
}

func TestHTMLTimelineZoom(t *testing.T) {
	// First copies spread over two years, re-downloads within five hours:
	// the main chart is monthly, a second chart shows the burst per hour.
	burst := func(h, m int) int64 { return time.Date(2025, 6, 10, h, m, 0, 0, time.UTC).Unix() }
	s := &Scan{Groups: []Group{
		{MessageID: "1@x", Copies: []Ref{{Path: "a"}, {Path: "b"}}, Arrivals: []int64{at(0, 9, 0), burst(10, 0)}},
		{MessageID: "2@x", Copies: []Ref{{Path: "c"}, {Path: "d"}, {Path: "e"}}, Arrivals: []int64{at(200, 9, 0), burst(10, 30), burst(14, 59)}},
		{MessageID: "3@x", Copies: []Ref{{Path: "f"}, {Path: "g"}}, Arrivals: []int64{at(300, 9, 0), burst(12, 1)}},
		// Its first copy arrived during the burst: drawn in the close-up too.
		{MessageID: "4@x", Copies: []Ref{{Path: "h"}, {Path: "i"}}, Arrivals: []int64{burst(12, 5), burst(12, 6)}},
	}}
	page := render(t, &Page{Scan: s})
	charts := parseSVGs(t, page)
	if len(charts) != 2 {
		t.Fatalf("%d charts, want the timeline and a close-up", len(charts))
	}
	summary := func(bars []svgBar) string {
		var got []string
		for _, b := range bars {
			got = append(got, fmt.Sprintf("%s:%d+%d", b.Bucket, b.First, b.Extra))
		}
		return strings.Join(got, " ")
	}
	if got, want := summary(charts[0].bars), "2024-03-01T00:00:1+0 2024-09-01T00:00:1+0 2024-12-01T00:00:1+0 2025-06-01T00:00:1+5"; got != want {
		t.Errorf("monthly bars:\n got %s\nwant %s", got, want)
	}
	if got, want := summary(charts[1].bars), "2025-06-10T10:00:0+2 2025-06-10T12:00:1+2 2025-06-10T14:00:0+1"; got != want {
		t.Errorf("close-up bars:\n got %s\nwant %s", got, want)
	}
	checkProportional(t, charts[0].bars)
	checkProportional(t, charts[1].bars)
	if !strings.Contains(page, "The re-downloads, per hour") {
		t.Errorf("close-up heading missing")
	}
	// The sample incident is hourly already: no close-up.
	if n := len(parseSVGs(t, render(t, samplePage()))); n != 1 {
		t.Errorf("sample page has %d charts, want 1", n)
	}
}

func TestHTMLTimelineZone(t *testing.T) {
	// Buckets follow the time zone of Generated: 23:30 UTC is 00:30 in
	// UTC+1, the next day.
	zone := time.FixedZone("CET", 3600)
	s := &Scan{Groups: []Group{{MessageID: "x@y", Copies: []Ref{{Path: "a"}, {Path: "b"}},
		Arrivals: []int64{at(0, 23, 30), at(1, 0, 10)}}}}
	bars, _ := parseSVG(t, render(t, &Page{Scan: s, Generated: time.Date(2024, 3, 5, 0, 0, 0, 0, zone)}))
	if len(bars) != 2 || bars[0].Bucket != "2024-03-02T00:00" || bars[1].Bucket != "2024-03-02T01:00" {
		t.Errorf("bars %+v, want 2024-03-02T00:00 and 01:00 (CET)", bars)
	}
}

func TestHTMLTimelineNoArrivals(t *testing.T) {
	s := &Scan{Groups: []Group{{MessageID: "x@y", Copies: []Ref{{Path: "a"}, {Path: "b"}}}}}
	page := render(t, &Page{Scan: s})
	if strings.Contains(page, "<svg") {
		t.Errorf("timeline drawn without any arrival time")
	}
	if !strings.Contains(page, "No copy has a known arrival time (2 copies)") {
		t.Errorf("page does not say why there is no timeline")
	}
}

func TestHTMLNumbers(t *testing.T) {
	p := samplePage()
	page := render(t, p)
	for _, want := range []string{
		"1,234",                      // messages scanned
		Bytes(p.Scan.Bytes),          // scanned bytes
		"of 6 messages",              // groups
		"1 deleted, 7 quarantined",   // actions
		"a4@example.org",             // a group
		"1709280000.M1P1.host:2,S",   // conflict copy
		"truncated message",          // skipped reason
		"pop.example.org:995",        // server
		"/home/ann/.fetchids",        // state target
		"popdedupe purge",            // next step
		p.Journal,                    // undo journal
		"/home/ann/.popdedupe/q/3-0", // quarantine destination
		"The session ended with QUIT, so the server applied 1 deletion.",
		// a6's kept copy arrived on 2 Mar but its older copy came first.
		"Re-downloads arrived 2 Mar 2024 14:02 – 2 Mar 2024 15:11",
		"Busiest hour: 6 re-downloads between 14:00 and 15:00 on 2 Mar 2024",
		"14 copies charted, 8 of them re-downloads",
		"1 missing", "1 conflict", "1 saved", "1 deleted",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	cards := map[string]string{}
	for _, m := range regexp.MustCompile(`<div class="k">([^<]*)</div><div class="v">([^<]*)</div>`).FindAllStringSubmatch(page, -1) {
		cards[m[1]] = m[2]
	}
	want := map[string]string{
		"Messages scanned":    "1,234",
		"Extra copies":        "8",
		"Reclaimable":         "156.2 KiB",
		"Conflicts":           "1",
		"Skipped":             "1",
		"Copies removed":      "8",
		"Still on the server": "3", // U1 deleted with QUIT committed
	}
	if fmt.Sprint(cards) != fmt.Sprint(want) {
		t.Errorf("summary cards:\n got %v\nwant %v", cards, want)
	}
}

func TestHTMLServerNotCommitted(t *testing.T) {
	p := samplePage()
	p.Server.QuitCommitted = false
	page := render(t, p)
	// Without QUIT the DELE of U1 was rolled back: all four remain.
	if !strings.Contains(page, `<div class="k">Still on the server</div><div class="v">4</div>`) {
		t.Errorf("held count should be 4 when QUIT was not committed")
	}
	if !strings.Contains(page, "rolled back every deletion") {
		t.Errorf("page does not explain the rollback")
	}
	// Problems first: conflict, missing, then saved, deleted.
	order := regexp.MustCompile(`<code>(U\d)</code>`).FindAllStringSubmatch(page, -1)
	var got []string
	for _, m := range order {
		got = append(got, m[1])
	}
	if strings.Join(got, " ") != "U4 U3 U2 U1" {
		t.Errorf("server rows in order %v, want U4 U3 U2 U1", got)
	}
}

func TestHTMLEscaping(t *testing.T) {
	const evil = `<script>alert(1)</script>@x`
	const evilPath = `/tmp/"><img src=x onerror=alert(2)>`
	p := samplePage()
	p.Title = evil
	p.Scan.Groups[0].MessageID = evil
	p.Scan.Groups[1].Copies[1].Path = evilPath
	p.Scan.Conflicts[0].MessageID = evil
	p.Scan.Skipped[0].Reason = evil
	p.Actions[0].To = evilPath
	p.Server.Messages[0].MessageID = evil
	p.Server.Messages[1].UIDL = evil
	p.Server.Note = evil
	p.State.Target = evilPath
	p.Journal = evilPath
	p.NextSteps = append(p.NextSteps, evil)
	page := render(t, p)
	for _, bad := range []string{"<script", "<img"} {
		if strings.Contains(strings.ToLower(page), bad) {
			i := strings.Index(strings.ToLower(page), bad)
			t.Errorf("unescaped %q in the page: ...%s...", bad, page[max(0, i-60):min(len(page), i+60)])
		}
	}
	const esc = "&lt;script&gt;alert(1)&lt;/script&gt;@x"
	if n := strings.Count(page, esc); n < 8 {
		t.Errorf("escaped Message-ID appears %d times, want at least 8", n)
	}
	if !strings.Contains(page, "&lt;img src=x onerror=alert(2)&gt;") {
		t.Errorf("escaped path missing")
	}
}

func TestHTMLSelfContained(t *testing.T) {
	page := render(t, samplePage())
	low := strings.ToLower(page)
	for _, bad := range []string{"http://", "https://", "src=", "url(", "@import", "<script", "<link rel=\"stylesheet\""} {
		if strings.Contains(low, bad) {
			t.Errorf("page contains %q: it must not fetch anything", bad)
		}
	}
	for _, m := range regexp.MustCompile(`href="([^"]*)"`).FindAllStringSubmatch(page, -1) {
		if !strings.HasPrefix(m[1], "data:") && !strings.HasPrefix(m[1], "#") {
			t.Errorf("href %q leaves the page", m[1])
		}
	}
	if !strings.Contains(page, `content="default-src 'none'`) {
		t.Errorf("Content-Security-Policy missing")
	}
}

func TestHTMLSectionsOmitted(t *testing.T) {
	ids := regexp.MustCompile(`<section id="([a-z]+)"`)
	sections := func(p *Page) string {
		var got []string
		for _, m := range ids.FindAllStringSubmatch(render(t, p), -1) {
			got = append(got, m[1])
		}
		return strings.Join(got, " ")
	}
	full := samplePage()
	for _, tc := range []struct {
		name string
		page *Page
		want string
	}{
		{"empty", &Page{}, ""},
		{"full", full, "summary timeline groups journal conflicts skipped server state next"},
		{"scan only", &Page{Scan: full.Scan}, "summary timeline groups conflicts skipped"},
		{"clean scan", &Page{Scan: &Scan{Messages: 10}}, "summary"},
		{"server only", &Page{Server: full.Server}, "summary server"},
		{"state only", &Page{State: full.State}, "state"},
		{"actions without scan", &Page{Actions: full.Actions[:2]}, "summary actions"},
		{"next steps", &Page{NextSteps: []string{"x"}}, "next"},
	} {
		if got := sections(tc.page); got != tc.want {
			t.Errorf("%s: sections %q, want %q", tc.name, got, tc.want)
		}
	}
	// An action for a copy in no group is still shown.
	p := samplePage()
	p.Actions = append(p.Actions, Action{Ref: Ref{Path: "/elsewhere", Index: 4}, Action: "quarantine"})
	if got := sections(p); !strings.Contains(got, "actions") || !strings.Contains(render(t, p), "/elsewhere#4") {
		t.Errorf("unmatched action not shown: sections %q", got)
	}
}

func TestHTMLCapped(t *testing.T) {
	const n = 200_000
	s := &Scan{Messages: 2 * n, Duplicates: n}
	var actions []Action
	srv := &ServerSection{Host: "h", QuitCommitted: true}
	s.Groups = make([]Group, 0, n+1)
	srv.Messages = make([]ServerRow, 0, n)
	for i := range n {
		id := strconv.Itoa(i)
		keep, extra := Ref{Path: "/m/cur/" + id + ".a:2,S"}, Ref{Path: "/m/cur/" + id + ".b:2,S"}
		s.Groups = append(s.Groups, Group{
			MessageID: "m" + id + "@example.org",
			Keep:      keep,
			Copies:    []Ref{keep, extra},
			Arrivals:  []int64{at(0, 0, 0) + int64(i), at(1, 0, 0) + int64(i)},
		})
		actions = append(actions, Action{Ref: extra, Action: "quarantine", To: "/q/" + id})
		srv.Messages = append(srv.Messages, ServerRow{UIDL: "u" + id, Size: 100, Verdict: "saved"})
	}
	// A group with many copies lists only a few of them.
	big := Group{MessageID: "big@x", Keep: Ref{Path: "/k"}, Copies: []Ref{{Path: "/k"}}}
	for i := range 50 {
		big.Copies = append(big.Copies, Ref{Path: fmt.Sprintf("/big/%d", i)})
	}
	s.Groups = append([]Group{big}, s.Groups...)
	srv.Messages[n-1].Verdict = "missing" // sorted to the top, so still shown
	page := render(t, &Page{Scan: s, Actions: actions, Server: srv})
	if len(page) > 1<<20 {
		t.Errorf("page is %d bytes for %d groups, want under 1 MiB", len(page), n)
	}
	for _, want := range []string{
		"and 199,501 more duplicate messages",
		"and 199,500 more server messages",
		"and 45 more</li>",
		fmt.Sprintf("u%d", n-1),
		"200,000 quarantined",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, `id="actions"`) {
		t.Errorf("actions of groups beyond the cap listed as unmatched")
	}
	groups := page[strings.Index(page, `id="groups"`):strings.Index(page, `id="server"`)]
	if rows := strings.Count(groups, "<tr>") - 1; rows != MaxRows {
		t.Errorf("%d group rows, want %d", rows, MaxRows)
	}
	// The timeline still counts every copy.
	for _, want := range []string{"400,000 copies charted, 200,000 of them re-downloads", "51 copies have no known arrival time"} {
		if !strings.Contains(page, want) {
			t.Errorf("timeline facts lack %q", want)
		}
	}
}

func TestNiceScale(t *testing.T) {
	for i, tc := range []struct{ peak, step, top int }{
		{0, 1, 1}, {1, 1, 1}, {5, 1, 5}, {6, 2, 6}, {7, 2, 8}, {11, 5, 15}, {26, 10, 30}, {51, 20, 60}, {412, 100, 500}, {99_999, 20_000, 100_000},
	} {
		step, top := niceScale(tc.peak)
		if step != tc.step || top != tc.top {
			t.Errorf("niceScale(%d) #%d = %d, %d, want %d, %d", tc.peak, i, step, top, tc.step, tc.top)
		}
	}
}

func TestNum(t *testing.T) {
	for i, tc := range []struct {
		n    int
		want string
	}{{0, "0"}, {999, "999"}, {1000, "1,000"}, {200000, "200,000"}, {1234567, "1,234,567"}, {-1234, "-1,234"}} {
		if got := num(tc.n); got != tc.want {
			t.Errorf("num(%d) #%d = %q, want %q", tc.n, i, got, tc.want)
		}
	}
}

func TestHTMLGolden(t *testing.T) {
	got := render(t, samplePage())
	path := filepath.Join("testdata", "report.golden.html")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./report -run Golden -update to create it)", err)
	}
	if got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := range max(len(gl), len(wl)) {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("page differs from %s at line %d:\n got %q\nwant %q\n(run with -update if the change is intended)", path, i+1, g, w)
			}
		}
	}
}

// A failing writer's error is returned.
func TestHTMLWriteError(t *testing.T) {
	if err := WriteHTML(failWriter{}, samplePage()); err == nil {
		t.Errorf("WriteHTML to a failing writer returned nil")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, io.ErrShortWrite }

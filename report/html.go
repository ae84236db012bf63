package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Page is everything the HTML report shows. Every section but the title
// is optional: a nil or empty section is left out of the page.
type Page struct {
	Title     string
	Generated time.Time // also chooses the time zone of the timeline
	Scan      *Scan
	Actions   []Action // what dedupe did (or plans to do) with each copy
	Journal   string   // the dedupe journal, for undo
	Server    *ServerSection
	State     *StateSection
	NextSteps []string
}

// Action is what dedupe did with one stored copy: Action is "quarantine",
// "delete" or "keep" (other words are shown as given); To is where a
// quarantined copy went.
type Action struct {
	Ref    Ref    `json:"ref"`
	Action string `json:"action"`
	To     string `json:"to,omitempty"`
}

// ServerSection is one reconcile session with the POP3 server.
type ServerSection struct {
	Host     string
	User     string
	Messages []ServerRow
	Logins   int // successful logins during the run
	Commands int // POP3 commands sent
	// QuitCommitted reports that QUIT was sent and acknowledged, so the
	// server applied the session's DELE commands (RFC 1939, UPDATE state).
	QuitCommitted bool
	Note          string
}

// ServerRow is one message on the server. Verdict is "saved", "missing",
// "conflict", "fetched" or "deleted"; Local names the verified local copy.
type ServerRow struct {
	UIDL      string
	Size      int64
	MessageID string
	Verdict   string
	Local     string
}

// StateSection is the change to the POP3 client's UIDL state file.
type StateSection struct {
	Target               string
	Added, Removed, Kept int
	Written              bool // false on a dry run
}

// MaxRows caps every table of the HTML page; the rest is counted in an
// "and N more" line, so a report on 200,000 messages stays small.
const MaxRows = 500

// maxCopiesPerRow caps the extra copies listed in one group row.
const maxCopiesPerRow = 5

// Timeline colours; the browser test looks for colorExtra in the
// screenshot, so it must stay distinctive on the page.
const (
	colorFirst = "#9fb3c8"
	colorExtra = "#e8590c"
)

//go:embed template/page.html.tmpl
var pageTemplate string

var pageTmpl = template.Must(template.New("page").Funcs(template.FuncMap{
	"num":        num,
	"plural":     plural,
	"bytes":      Bytes,
	"colorFirst": func() string { return colorFirst },
	"colorExtra": func() string { return colorExtra },
	"f1":         func(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) },
}).Parse(pageTemplate))

// WriteHTML writes p as one self-contained HTML page: inline CSS and SVG,
// no scripts, and a Content-Security-Policy that forbids every fetch.
// All text from stores and servers is escaped by html/template.
func WriteHTML(w io.Writer, p *Page) error {
	return pageTmpl.Execute(w, buildView(p))
}

// view is the page with every number computed; the template only lays
// it out.
type view struct {
	Title        string
	Generated    string
	Summary      []stat
	Timeline     *timeline
	Groups       *table[groupRow]
	Conflicts    *table[conflictRow]
	Skipped      *table[Skipped]
	OtherActions *table[actionRow]
	Journal      string
	Server       *serverView
	State        *StateSection
	NextSteps    []string
	ColorFirst   string
	ColorExtra   string
}

type stat struct {
	Label, Value, Note string
	Tone               string // "", "good", "warn", "bad"
}

type table[T any] struct {
	Rows  []T
	Total int
	More  int
}

func capped[T any](rows []T) *table[T] {
	if len(rows) == 0 {
		return nil
	}
	t := &table[T]{Total: len(rows), Rows: rows}
	if len(rows) > MaxRows {
		t.Rows, t.More = rows[:MaxRows], len(rows)-MaxRows
	}
	return t
}

type groupRow struct {
	MessageID string
	NoID      bool
	Keep      string
	KeepTime  string
	Copies    int
	Extras    []actionRow
	MoreExtra int
	Action    string // summary, e.g. "2 quarantined"
	Tone      string
}

type actionRow struct {
	Ref    string
	Action string // past tense for the known verbs
	Tone   string
	To     string
}

type conflictRow struct {
	MessageID string
	Copies    []string
	More      int
}

type serverView struct {
	Host, User    string
	Logins        int
	Commands      int
	QuitCommitted bool
	Deleted       int // rows with verdict "deleted"
	Note          string
	Verdicts      []stat
	Rows          *table[serverRowView]
	Held          int
	HeldBytes     int64
}

type serverRowView struct {
	N         int
	UIDL      string
	Size      int64
	MessageID string
	Verdict   string
	Tone      string
	Local     string
}

func buildView(p *Page) *view {
	v := &view{
		Title:      p.Title,
		Journal:    p.Journal,
		State:      p.State,
		NextSteps:  p.NextSteps,
		ColorFirst: colorFirst,
		ColorExtra: colorExtra,
	}
	if v.Title == "" {
		v.Title = "popdedupe report"
	}
	loc := time.UTC
	if !p.Generated.IsZero() {
		loc = p.Generated.Location()
		v.Generated = p.Generated.Format("2 Jan 2006 15:04 MST")
	}
	acts := make(map[Ref]Action, len(p.Actions))
	for _, a := range p.Actions {
		acts[a.Ref] = a
	}
	used := make(map[Ref]bool, len(p.Actions))
	if s := p.Scan; s != nil {
		v.Summary = scanSummary(s, p.Actions)
		v.Timeline = buildTimeline(s.Groups, loc)
		var rows []groupRow
		for i := range s.Groups {
			if len(rows) == MaxRows {
				break
			}
			rows = append(rows, buildGroupRow(&s.Groups[i], acts, used, loc))
		}
		if len(rows) > 0 {
			v.Groups = &table[groupRow]{Rows: rows, Total: len(s.Groups), More: len(s.Groups) - len(rows)}
		}
		// Actions beyond the shown rows still count as matched.
		for _, g := range s.Groups[len(rows):] {
			for _, r := range g.Copies {
				if _, ok := acts[r]; ok {
					used[r] = true
				}
			}
		}
		var crs []conflictRow
		for _, c := range s.Conflicts {
			cr := conflictRow{MessageID: c.MessageID}
			for _, r := range c.Copies {
				if len(cr.Copies) == maxCopiesPerRow {
					cr.More++
					continue
				}
				cr.Copies = append(cr.Copies, r.String())
			}
			crs = append(crs, cr)
		}
		v.Conflicts = capped(crs)
		v.Skipped = capped(s.Skipped)
	} else if len(p.Actions) > 0 {
		v.Summary = append(v.Summary, actionStats(p.Actions)...)
	}
	var other []actionRow
	for _, a := range p.Actions {
		if !used[a.Ref] {
			other = append(other, actionView(a))
		}
	}
	v.OtherActions = capped(other)
	if p.Server != nil {
		v.Server = buildServer(p.Server)
		v.Summary = append(v.Summary, stat{
			Label: "Still on the server",
			Value: num(v.Server.Held),
			Note:  Bytes(v.Server.HeldBytes),
		})
	}
	return v
}

func scanSummary(s *Scan, actions []Action) []stat {
	st := []stat{
		{Label: "Messages scanned", Value: num(s.Messages), Note: Bytes(s.Bytes) + " in " + plural(len(s.Stores), "store")},
		{Label: "Extra copies", Value: num(s.Duplicates), Note: "of " + plural(len(s.Groups), "message"), Tone: toneIf(s.Duplicates > 0, "warn")},
		{Label: "Reclaimable", Value: Bytes(s.ExtraBytes), Note: "taken by the extra copies"},
		{Label: "Conflicts", Value: num(len(s.Conflicts)), Note: "same Message-ID, different bodies: one copy of each version kept", Tone: toneIf(len(s.Conflicts) > 0, "bad")},
		{Label: "Skipped", Value: num(len(s.Skipped)), Note: "could not be read; left alone", Tone: toneIf(len(s.Skipped) > 0, "bad")},
	}
	return append(st, actionStats(actions)...)
}

func actionStats(actions []Action) []stat {
	if len(actions) == 0 {
		return nil
	}
	n := map[string]int{}
	for _, a := range actions {
		n[a.Action]++
	}
	var parts []string
	for _, k := range sortedKeys(n) {
		parts = append(parts, fmt.Sprintf("%s %s", num(n[k]), pastTense(k)))
	}
	removed := n["quarantine"] + n["delete"]
	return []stat{{Label: "Copies removed", Value: num(removed), Note: strings.Join(parts, ", "), Tone: toneIf(removed > 0, "good")}}
}

func buildGroupRow(g *Group, acts map[Ref]Action, used map[Ref]bool, loc *time.Location) groupRow {
	r := groupRow{MessageID: g.MessageID, Keep: g.Keep.String(), Copies: len(g.Copies)}
	if r.MessageID == "" {
		r.NoID, r.MessageID = true, "body "+g.BodyHash
	}
	n := map[string]int{}
	for i, c := range g.Copies {
		a, ok := acts[c]
		if ok {
			used[c] = true
		}
		if c == g.Keep {
			if i < len(g.Arrivals) && g.Arrivals[i] > 0 {
				r.KeepTime = time.Unix(g.Arrivals[i], 0).In(loc).Format("2 Jan 2006 15:04")
			}
			continue
		}
		if ok {
			n[a.Action]++
		}
		if len(r.Extras) == maxCopiesPerRow {
			r.MoreExtra++
			continue
		}
		ar := actionRow{Ref: c.String()}
		if ok {
			ar = actionView(a)
		}
		r.Extras = append(r.Extras, ar)
	}
	var parts []string
	for _, k := range sortedKeys(n) {
		parts = append(parts, fmt.Sprintf("%d %s", n[k], pastTense(k)))
	}
	r.Action = strings.Join(parts, ", ")
	if r.Action == "" {
		r.Action = "none yet"
	} else {
		// One tone for the row: the least reassuring of its verbs.
		r.Tone = "good"
		for k := range n {
			if t := verbTone(k); t != "good" && r.Tone != "warn" {
				r.Tone = t
			}
		}
	}
	return r
}

func actionView(a Action) actionRow {
	return actionRow{Ref: a.Ref.String(), Action: pastTense(a.Action), Tone: verbTone(a.Action), To: a.To}
}

func pastTense(verb string) string {
	switch verb {
	case "quarantine":
		return "quarantined"
	case "delete":
		return "deleted"
	case "keep":
		return "kept"
	}
	return verb
}

func verbTone(verb string) string {
	switch verb {
	case "quarantine", "delete":
		return "good"
	case "keep":
		return ""
	}
	return "warn"
}

// verdictOrder puts the rows that need the owner's attention first.
var verdictOrder = map[string]int{"conflict": 0, "missing": 1, "fetched": 2, "saved": 3, "deleted": 4}

func verdictTone(v string) string {
	switch v {
	case "conflict", "missing":
		return "bad"
	case "saved", "fetched", "deleted":
		return "good"
	}
	return "warn"
}

func buildServer(s *ServerSection) *serverView {
	v := &serverView{Host: s.Host, User: s.User, Logins: s.Logins, Commands: s.Commands, QuitCommitted: s.QuitCommitted, Note: s.Note}
	rows := make([]serverRowView, len(s.Messages))
	n := map[string]int{}
	for i, m := range s.Messages {
		rows[i] = serverRowView{N: i + 1, UIDL: m.UIDL, Size: m.Size, MessageID: m.MessageID, Verdict: m.Verdict, Tone: verdictTone(m.Verdict), Local: m.Local}
		n[m.Verdict]++
		if m.Verdict == "deleted" {
			v.Deleted++
		}
		// Without a committed QUIT the server rolled every DELE back.
		if m.Verdict != "deleted" || !s.QuitCommitted {
			v.Held++
			v.HeldBytes += m.Size
		}
	}
	rank := func(v string) int {
		if r, ok := verdictOrder[v]; ok {
			return r
		}
		return -1 // unknown verdicts first: they need a look too
	}
	sort.SliceStable(rows, func(i, j int) bool { return rank(rows[i].Verdict) < rank(rows[j].Verdict) })
	keys := sortedKeys(n)
	sort.SliceStable(keys, func(i, j int) bool { return rank(keys[i]) < rank(keys[j]) })
	for _, k := range keys {
		v.Verdicts = append(v.Verdicts, stat{Label: k, Value: num(n[k]), Tone: verdictTone(k)})
	}
	v.Rows = capped(rows)
	return v
}

// The timeline: copies of duplicated messages counted by arrival time.
// In each group the earliest arrival is the first download and every
// later copy a re-download, whichever copy the keep rule chose.

const (
	svgW, svgH                   = 1100, 300
	padL, padR, padT, padB       = 56, 16, 20, 58
	plotW, plotH                 = svgW - padL - padR, svgH - padT - padB
	hourSpanMax                  = 3 * 24 * time.Hour
	daySpanMax                   = 400 * 24 * time.Hour
	unitHour, unitDay, unitMonth = "hour", "day", "month"
)

type timeline struct {
	Main *chart // every charted copy
	// Zoom is the re-download window alone, in a finer unit, when the
	// main chart's unit is too coarse to show the burst.
	Zoom      *chart
	Zone      string
	Unknown   int // copies with no arrival time, not drawn
	Total     int // copies drawn
	Extra     int // re-downloads drawn
	Peak      string
	ExtraSpan string
}

// chart is one SVG bar chart, one bar per non-empty bucket, stacked:
// first copies at the bottom, re-downloads on top.
type chart struct {
	Unit     string // "hour", "day" or "month"
	From, To string
	Bars     []bar
	YTicks   []tick
	XLabels  []xlabel
	// geometry, for the template
	W, H, PadL, PadT, PlotW, PlotH, Base, YMid float64
}

type bar struct {
	Label          string // bucket, for the tooltip
	Key            string // bucket start, machine-readable
	First, Extra   int
	X, W           float64
	YFirst, HFirst float64
	YExtra, HExtra float64
}

type tick struct {
	Y     float64
	Label string
}

type xlabel struct {
	X            float64
	Line1, Line2 string
}

type arrival struct {
	t     int64
	extra bool
}

func buildTimeline(groups []Group, loc *time.Location) *timeline {
	var arr []arrival
	unknown := 0
	for _, g := range groups {
		n := min(len(g.Arrivals), len(g.Copies))
		unknown += len(g.Copies) - n
		first := -1
		for i := range n {
			if g.Arrivals[i] <= 0 {
				continue
			}
			if first < 0 || g.Arrivals[i] < g.Arrivals[first] {
				first = i
			}
		}
		for i := range n {
			if g.Arrivals[i] <= 0 {
				unknown++
				continue
			}
			arr = append(arr, arrival{g.Arrivals[i], i != first})
		}
	}
	if len(arr) == 0 {
		if unknown > 0 {
			return &timeline{Unknown: unknown}
		}
		return nil
	}
	tl := &timeline{Unknown: unknown, Total: len(arr), Main: drawChart(arr, loc)}
	tl.Zone = time.Unix(arr[0].t, 0).In(loc).Format("MST")
	hourly := map[int64]int{} // re-downloads per clock hour, for the peak
	var exLo, exHi int64
	for _, a := range arr {
		if !a.extra {
			continue
		}
		tl.Extra++
		hourly[bucketStart(time.Unix(a.t, 0).In(loc), unitHour).Unix()]++
		if exLo == 0 || a.t < exLo {
			exLo = a.t
		}
		exHi = max(exHi, a.t)
	}
	if tl.Extra == 0 {
		return tl
	}
	tl.ExtraSpan = time.Unix(exLo, 0).In(loc).Format("2 Jan 2006 15:04") + " – " + time.Unix(exHi, 0).In(loc).Format("2 Jan 2006 15:04")
	ph := exLo
	for h, c := range hourly {
		if c > hourly[ph] || c == hourly[ph] && h < ph {
			ph = h
		}
	}
	t := time.Unix(ph, 0).In(loc)
	tl.Peak = fmt.Sprintf("%s re-downloads between %s and %s on %s", num(hourly[ph]), t.Format("15:04"), t.Add(time.Hour).Format("15:04"), t.Format("2 Jan 2006"))
	if zoomUnit := unitFor(time.Duration(exHi-exLo) * time.Second); zoomUnit != tl.Main.Unit {
		var win []arrival
		for _, a := range arr {
			if a.t >= exLo && a.t <= exHi {
				win = append(win, a)
			}
		}
		tl.Zoom = drawChart(win, loc)
	}
	return tl
}

func unitFor(span time.Duration) string {
	switch {
	case span <= hourSpanMax:
		return unitHour
	case span <= daySpanMax:
		return unitDay
	}
	return unitMonth
}

// drawChart lays out arr (not empty) as a bar chart in the unit its span
// calls for.
func drawChart(arr []arrival, loc *time.Location) *chart {
	lo, hi := arr[0].t, arr[0].t
	for _, a := range arr {
		lo, hi = min(lo, a.t), max(hi, a.t)
	}
	start, end := time.Unix(lo, 0).In(loc), time.Unix(hi, 0).In(loc)
	c := &chart{Unit: unitFor(end.Sub(start)),
		From: start.Format("2 Jan 2006 15:04"), To: end.Format("2 Jan 2006 15:04"),
		W: svgW, H: svgH, PadL: padL, PadT: padT, PlotW: plotW, PlotH: plotH, Base: padT + plotH, YMid: padT + plotH/2}
	first := bucketStart(start, c.Unit)
	nb := bucketIndex(first, end, c.Unit) + 1
	firsts, extras := make([]int, nb), make([]int, nb)
	for _, a := range arr {
		i := bucketIndex(first, time.Unix(a.t, 0).In(loc), c.Unit)
		if a.extra {
			extras[i]++
		} else {
			firsts[i]++
		}
	}
	peak := 0
	for i := range nb {
		peak = max(peak, firsts[i]+extras[i])
	}
	step, top := niceScale(peak)
	scale := plotH / float64(top)
	for v := 0; v <= top; v += step {
		c.YTicks = append(c.YTicks, tick{Y: c.Base - float64(v)*scale, Label: num(v)})
	}
	bw := float64(plotW) / float64(nb)
	gap := math.Min(bw*0.2, 6)
	if bw < 3 {
		gap = 0
	}
	for i := range nb {
		if firsts[i]+extras[i] == 0 {
			continue
		}
		t := bucketAt(first, i, c.Unit)
		b := bar{Label: bucketLabel(t, c.Unit), Key: t.Format("2006-01-02T15:04"), First: firsts[i], Extra: extras[i],
			X: padL + float64(i)*bw + gap/2, W: bw - gap}
		b.HFirst = float64(b.First) * scale
		b.YFirst = c.Base - b.HFirst
		b.HExtra = float64(b.Extra) * scale
		b.YExtra = b.YFirst - b.HExtra
		c.Bars = append(c.Bars, b)
	}
	every := labelEvery(nb, c.Unit)
	prev := ""
	for i := range nb {
		t := bucketAt(first, i, c.Unit)
		var idx int
		switch c.Unit {
		case unitHour:
			idx = t.Hour()
		case unitDay:
			idx = i
		default:
			idx = int(t.Month()) - 1 + 12*t.Year()
		}
		if idx%every != 0 {
			continue
		}
		l := xlabel{X: padL + (float64(i)+0.5)*bw}
		var ctx string
		switch c.Unit {
		case unitHour:
			l.Line1, ctx = t.Format("15:04"), t.Format("2 Jan")
		case unitDay:
			l.Line1, ctx = t.Format("2 Jan"), t.Format("2006")
		default:
			l.Line1, ctx = t.Format("Jan"), t.Format("2006")
		}
		if ctx != prev {
			l.Line2, prev = ctx, ctx
		}
		c.XLabels = append(c.XLabels, l)
	}
	return c
}

func bucketStart(t time.Time, unit string) time.Time {
	switch unit {
	case unitHour:
		return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), 0, 0, 0, t.Location())
	case unitDay:
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location())
	}
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, t.Location())
}

func bucketAt(first time.Time, i int, unit string) time.Time {
	switch unit {
	case unitHour:
		return bucketStart(first.Add(time.Duration(i)*time.Hour), unit)
	case unitDay:
		return first.AddDate(0, 0, i)
	}
	return first.AddDate(0, i, 0)
}

func bucketIndex(first, t time.Time, unit string) int {
	switch unit {
	case unitHour:
		return int(bucketStart(t, unit).Sub(first) / time.Hour)
	case unitDay:
		// Calendar days, so a 23- or 25-hour day is still one bucket.
		a := time.Date(first.Year(), first.Month(), first.Day(), 0, 0, 0, 0, time.UTC)
		b := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
		return int(b.Sub(a) / (24 * time.Hour))
	}
	return (t.Year()-first.Year())*12 + int(t.Month()) - int(first.Month())
}

func bucketLabel(t time.Time, unit string) string {
	switch unit {
	case unitHour:
		return t.Format("2 Jan 2006 15:04") + "–" + t.Add(time.Hour).Format("15:04")
	case unitDay:
		return t.Format("Mon 2 Jan 2006")
	}
	return t.Format("January 2006")
}

// labelEvery picks how many buckets lie between x-axis labels, aligned
// to the clock (every 6 hours, every 7 days, every quarter...).
func labelEvery(n int, unit string) int {
	ladder := map[string][]int{
		unitHour:  {1, 2, 3, 6, 12, 24},
		unitDay:   {1, 2, 7, 14, 28, 56},
		unitMonth: {1, 2, 3, 6, 12, 24, 60, 120},
	}[unit]
	for _, e := range ladder {
		if n/e <= 12 {
			return e
		}
	}
	return ladder[len(ladder)-1]
}

// niceScale returns a tick step of 1, 2 or 5 times a power of ten and
// the axis top, a multiple of step at or above peak, with at most five
// steps.
func niceScale(peak int) (step, top int) {
	if peak < 1 {
		peak = 1
	}
	for p := 1; ; p *= 10 {
		for _, m := range []int{1, 2, 5} {
			step = m * p
			if (peak+step-1)/step <= 5 {
				return step, (peak + step - 1) / step * step
			}
		}
	}
}

func num(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return num(n) + " " + word + "s"
}

func toneIf(cond bool, tone string) string {
	if cond {
		return tone
	}
	return ""
}

func sortedKeys(m map[string]int) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

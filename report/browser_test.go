package report

// These tests open the HTML report in a real headless Chromium: the page
// must load without a single console message (script errors and
// Content-Security-Policy violations both land there), fetch nothing but
// itself, and show the incident timeline in a screenshot.
//
// They need Debian's chromium package (or the browser named by
// POPDEDUPE_CHROMIUM) and fail without it, unless POPDEDUPE_SKIP_BROWSER=1.

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// chromium returns the browser's path, or fails the test with the hint
// to install it.
func chromium(t *testing.T) string {
	t.Helper()
	if os.Getenv("POPDEDUPE_SKIP_BROWSER") == "1" {
		t.Skip("POPDEDUPE_SKIP_BROWSER=1")
	}
	names := []string{"/usr/bin/chromium", "chromium", "chromium-browser"}
	if p := os.Getenv("POPDEDUPE_CHROMIUM"); p != "" {
		names = []string{p}
	}
	for _, name := range names {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatalf("chromium not found: install it with `apt-get install -y chromium` (or set POPDEDUPE_SKIP_BROWSER=1 to skip the browser tests)")
	return ""
}

// runChromium runs one headless Chromium on url with a fresh profile and
// returns its stdout and stderr (with console messages logged there).
func runChromium(t *testing.T, url string, extra ...string) (stdout, stderr []byte) {
	t.Helper()
	bin := chromium(t)
	args := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-default-apps", "--disable-extensions", "--mute-audio",
		"--user-data-dir=" + t.TempDir(),
		"--enable-logging=stderr", "--v=0",
	}
	args = append(append(args, extra...), url)
	// Only a guard against a hung browser, not a timed assertion.
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	// /usr/bin/chromium is a shell wrapper: kill the whole process group
	// this test started, not just the wrapper.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\nstderr:\n%s", strings.Join(extra, " "), err, tail(errb.String(), 40))
	}
	return out.Bytes(), errb.Bytes()
}

// consoleRE matches Chromium's log line for a console message, in the
// current form "INFO:CONSOLE:12]" and the older "INFO:CONSOLE(12)]".
var consoleRE = regexp.MustCompile(`:CONSOLE[(:]\d*[)\]]`)

func consoleLines(stderr []byte) []string {
	var lines []string
	for _, l := range strings.Split(string(stderr), "\n") {
		if consoleRE.MatchString(l) {
			lines = append(lines, l)
		}
	}
	return lines
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// server serves pages on 127.0.0.1 and records every request.
type server struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string
}

func serve(t *testing.T, pages map[string][]byte) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.seen = append(s.seen, r.URL.Path)
		s.mu.Unlock()
		body, ok := pages[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.seen...)
}

// The console check must be able to fail: a page with a script error and
// a fetch the report's Content-Security-Policy forbids is caught.
func TestBrowserConsoleCheckCatchesErrors(t *testing.T) {
	bad := []byte(`<!DOCTYPE html><html><head><meta charset="utf-8">` +
		`<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; img-src data:">` +
		`</head><body><p>control</p><img src="/fetch-me.png"><script>notDefined();</script></body></html>`)
	srv := serve(t, map[string][]byte{"/bad.html": bad})
	dom, stderr := runChromium(t, srv.URL+"/bad.html", "--dump-dom")
	if !bytes.Contains(dom, []byte("<p>control</p>")) {
		t.Fatalf("control page did not load; dom:\n%s", dom)
	}
	got := strings.Join(consoleLines(stderr), "\n")
	for _, want := range []string{"notDefined", "Content Security Policy"} {
		if !strings.Contains(got, want) {
			t.Errorf("console lines do not report %q; the console check is blind.\nconsole lines:\n%s\nstderr tail:\n%s", want, got, tail(string(stderr), 30))
		}
	}
}

func TestBrowserReport(t *testing.T) {
	p := samplePage()
	page := []byte(render(t, p))
	srv := serve(t, map[string][]byte{"/report.html": page})
	url := srv.URL + "/report.html"

	// (a) The page loads, logs nothing to the console and fetches
	// nothing but itself.
	dom, stderr := runChromium(t, url, "--dump-dom")
	if lines := consoleLines(stderr); len(lines) > 0 {
		t.Errorf("console messages while loading the report:\n%s", strings.Join(lines, "\n"))
	}
	for _, want := range []string{`id="summary"`, `id="timeline"`, `id="groups"`, `id="server"`, `id="state"`, `id="next"`, `class="chart"`} {
		if !bytes.Contains(dom, []byte(want)) {
			t.Errorf("rendered DOM lacks %s", want)
		}
	}
	if n := bytes.Count(dom, []byte(`<g class="bar"`)); n != 5 {
		t.Errorf("rendered DOM has %d timeline bars, want 5", n)
	}
	if got := srv.requests(); len(got) != 1 || got[0] != "/report.html" {
		t.Errorf("requests while loading the report: %q, want only /report.html", got)
	}

	// (b) The screenshot shows the timeline.
	shot := filepath.Join(t.TempDir(), "report.png")
	_, stderr = runChromium(t, url, "--screenshot="+shot, "--window-size=1200,1600",
		"--hide-scrollbars", "--force-device-scale-factor=1")
	if lines := consoleLines(stderr); len(lines) > 0 {
		t.Errorf("console messages while taking the screenshot:\n%s", strings.Join(lines, "\n"))
	}
	data, err := os.ReadFile(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v\nstderr:\n%s", err, tail(string(stderr), 30))
	}
	if err := os.WriteFile("/tmp/popdedupe-report.png", data, 0o644); err != nil {
		t.Logf("copy of the screenshot not written: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 1200 || b.Dy() != 1600 {
		t.Fatalf("screenshot is %v, want 1200x1600", b.Size())
	}

	extra := barsOfColor(img, hexColor(t, colorExtra))
	first := barsOfColor(img, hexColor(t, colorFirst))
	t.Logf("re-download bars %v; first-copy bars %v", extra, first)
	// samplePage: first copies 2, 2, 2 on 1 March; re-downloads 6 then 2
	// on 2 March.
	if len(extra) != 2 || len(first) != 3 {
		t.Fatalf("found %d re-download and %d first-copy bars in the screenshot, want 2 and 3", len(extra), len(first))
	}
	pixels := 0
	for _, b := range append(append([]pixBar{}, extra...), first...) {
		// Below the summary box, within the upper part of the page and
		// inside the content column.
		if b.top < 300 || b.bottom > 1100 || b.x0 < 30 || b.x1 > 1170 {
			t.Errorf("bar %v outside the timeline's region", b)
		}
		if b.bottom != extra[0].bottom {
			t.Errorf("bar %v does not stand on the axis (bottom %d)", b, extra[0].bottom)
		}
		pixels += b.pixels
	}
	if pixels < 5000 {
		t.Errorf("only %d bar pixels; the timeline is barely visible", pixels)
	}
	if r := float64(extra[0].height()) / float64(extra[1].height()); r < 2.8 || r > 3.2 {
		t.Errorf("re-download bars %d and %d px high: ratio %.2f, want 3 (6 copies vs 2)", extra[0].height(), extra[1].height(), r)
	}
	if r := float64(extra[1].height()) / float64(first[0].height()); r < 0.95 || r > 1.05 {
		t.Errorf("bars of 2 copies are %d and %d px high", extra[1].height(), first[0].height())
	}
	if first[2].x1 >= extra[0].x0 {
		t.Errorf("re-downloads (2 March) drawn left of first copies (1 March)")
	}
}

// pixBar is a solid vertical bar of one colour found in a screenshot.
type pixBar struct {
	x0, x1      int // columns, inclusive
	top, bottom int // rows, inclusive
	pixels      int
}

func (b pixBar) height() int { return b.bottom - b.top + 1 }

func (b pixBar) String() string {
	return fmt.Sprintf("x %d-%d y %d-%d", b.x0, b.x1, b.top, b.bottom)
}

// barsOfColor finds the bars of colour c: runs of adjacent columns whose
// longest vertical run of c is at least minRun pixels. The legend's
// 12-pixel swatches are too short to count.
func barsOfColor(img image.Image, c color.RGBA) []pixBar {
	const minRun = 20
	// One conversion, then plain byte reads: img.At per pixel is slow
	// under the race detector.
	rgba, ok := img.(*image.RGBA)
	if !ok {
		rgba = image.NewRGBA(img.Bounds())
		draw.Draw(rgba, rgba.Rect, img, img.Bounds().Min, draw.Src)
	}
	nearByte := func(a, b uint8) bool { return int(a)-int(b) <= 6 && int(b)-int(a) <= 6 }
	near := func(x, y int) bool {
		p := rgba.Pix[rgba.PixOffset(x, y):]
		return nearByte(p[0], c.R) && nearByte(p[1], c.G) && nearByte(p[2], c.B)
	}
	bounds := img.Bounds()
	var bars []pixBar
	var cur *pixBar
	for x := bounds.Min.X; x < bounds.Max.X; x++ {
		best, bestTop, run := 0, 0, 0
		for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
			if near(x, y) {
				run++
				if run > best {
					best, bestTop = run, y-run+1
				}
			} else {
				run = 0
			}
		}
		if best < minRun {
			cur = nil
			continue
		}
		if cur == nil {
			bars = append(bars, pixBar{x0: x, top: bestTop, bottom: bestTop + best - 1})
			cur = &bars[len(bars)-1]
		}
		cur.x1 = x
		cur.top = min(cur.top, bestTop)
		cur.bottom = max(cur.bottom, bestTop+best-1)
		cur.pixels += best
	}
	return bars
}

func hexColor(t *testing.T, s string) color.RGBA {
	t.Helper()
	v, err := strconv.ParseUint(strings.TrimPrefix(s, "#"), 16, 32)
	if err != nil || len(s) != 7 {
		t.Fatalf("bad colour %q", s)
	}
	return color.RGBA{uint8(v >> 16), uint8(v >> 8), uint8(v), 0xff}
}

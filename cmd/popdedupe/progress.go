package main

import (
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progressMode is the --progress flag: auto, always or never.
type progressMode string

func (p *progressMode) String() string { return string(*p) }

func (p *progressMode) Set(s string) error {
	switch s {
	case "auto", "always", "never":
		*p = progressMode(s)
		return nil
	}
	return fmt.Errorf("must be auto, always or never, not %q", s)
}

// progress counts messages and bytes with atomics (the scan calls it
// from many workers) and redraws a bar on stderr a few times a second.
type progress struct {
	msgs, bytes atomic.Int64
	bar         *progressbar.ProgressBar
	start       time.Time
	done        chan struct{}
	stopped     chan struct{}
}

func (p *progress) Add(messages int, bytes int64) {
	p.msgs.Add(int64(messages))
	p.bytes.Add(bytes)
}

// newProgress returns a progress bar on w, or nil when it must stay
// silent: mode never, or mode auto and w is not a terminal, or JSON or
// quiet output was asked for.
func newProgress(mode progressMode, w io.Writer, quiet bool) *progress {
	if mode == "never" || (quiet && mode != "always") {
		return nil
	}
	if mode != "always" {
		f, ok := w.(*os.File)
		if !ok || !term.IsTerminal(int(f.Fd())) {
			return nil
		}
	}
	p := &progress{
		bar: progressbar.NewOptions64(-1,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription("scanning"),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("msg"),
			progressbar.OptionSpinnerType(14),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		),
		start:   time.Now(),
		done:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	go p.loop()
	return p
}

func (p *progress) loop() {
	defer close(p.stopped)
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.done:
			return
		case <-t.C:
			p.draw()
		}
	}
}

func (p *progress) draw() {
	secs := time.Since(p.start).Seconds()
	mb := float64(p.bytes.Load()) / 1e6
	p.bar.Describe(fmt.Sprintf("scanning %.0f MB, %.0f MB/s", mb, mb/max(secs, 0.001)))
	p.bar.Set64(p.msgs.Load())
}

// Stop draws the last state and clears the bar. Safe on a nil progress.
func (p *progress) Stop() {
	if p == nil {
		return
	}
	close(p.done)
	<-p.stopped
	p.draw()
	p.bar.Finish()
}

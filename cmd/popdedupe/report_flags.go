package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/popdedupe/popdedupe/report"
)

// reportFlag is --report FILE.html, shared by every command that can
// write the HTML page.
type reportFlag struct{ path string }

func (r *reportFlag) register(fs *flag.FlagSet) {
	fs.StringVar(&r.path, "report", "", "also write a self-contained HTML report (no network fetches) to `FILE.html`")
}

// write renders p into the --report file, if one was asked for: a
// temporary file beside it, fsync'd and renamed into place, so a reader
// never sees half a page. A path that exists and is not a regular file
// (/dev/stdout, a pipe) is written to as it is, never replaced. It returns
// the path written ("" when none).
func (r *reportFlag) write(p *report.Page) (string, error) {
	if r.path == "" {
		return "", nil
	}
	return writeReport(r.path, p)
}

func writeReport(path string, p *report.Page) (string, error) {
	if p.Generated.IsZero() {
		p.Generated = time.Now()
	}
	var buf bytes.Buffer
	if err := report.WriteHTML(&buf, p); err != nil {
		return "", fmt.Errorf("--report: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("--report: %w", err)
	}
	if fi, err := os.Stat(abs); err == nil && !fi.Mode().IsRegular() {
		if fi.IsDir() {
			return "", fmt.Errorf("--report %s: is a directory", path)
		}
		f, err := os.OpenFile(abs, os.O_WRONLY, 0)
		if err != nil {
			return "", fmt.Errorf("--report: %w", err)
		}
		_, err = f.Write(buf.Bytes())
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return "", fmt.Errorf("--report: %w", err)
		}
		return abs, nil
	}
	f, err := os.CreateTemp(filepath.Dir(abs), "."+filepath.Base(abs)+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("--report: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(buf.Bytes())
	if err == nil {
		err = f.Chmod(0o600) // it names the owner's mail: they decide whom to show it
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, abs)
	}
	if err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("--report: %w", err)
	}
	return abs, nil
}

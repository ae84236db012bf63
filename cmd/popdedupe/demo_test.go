package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/popdedupe/popdedupe/scan"
)

// TestDemoAsREADME runs the README's first command exactly as written,
// from the repository root: go run ./cmd/popdedupe demo. It must succeed
// without network, server or flags, show the whole job, and clean up.
func TestDemoAsREADME(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the README's demo command needs the go command on PATH: %v", err)
	}
	// The go command keeps its caches under HOME: name them, so that the
	// demo can run with an empty HOME (it must write nothing there).
	caches, err := exec.Command(goBin, "env", "GOCACHE", "GOMODCACHE", "GOPATH").Output()
	if err != nil {
		t.Fatal(err)
	}
	c := strings.Split(strings.TrimSpace(string(caches)), "\n")
	if len(c) != 3 {
		t.Fatalf("go env: %q", caches)
	}
	tmp, home := t.TempDir(), t.TempDir()
	cmd := exec.Command(goBin, "run", "./cmd/popdedupe", "demo")
	cmd.Dir = filepath.Join("..", "..")
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp, "GOTMPDIR="+t.TempDir(), "HOME="+home, "XDG_STATE_HOME=",
		"GOCACHE="+c[0], "GOMODCACHE="+c[1], "GOPATH="+c[2], "XDG_CONFIG_HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	t.Logf("go run ./cmd/popdedupe demo:\n%s", out)
	if err != nil {
		t.Fatalf("go run ./cmd/popdedupe demo: %v", err)
	}
	for _, want := range []string{
		"popdedupe demo: a POP3 duplicate-download incident in " + tmp,
		"LOGIN-DELAY 300 s",
		"$ popdedupe repair --server 127.0.0.1:",
		"Found ", "extra copies of ",
		"Local:   moved ",
		"Server:  alice@127.0.0.1:", "1 login: 400 messages", "QUIT committed",
		"The server still holds 0 messages",
		"State:   fetchmail:",
		"Report:  " + tmp,
		"Next steps:",
		"A second login right after the repair: refused", "[LOGIN-DELAY]",
		"Removed " + tmp,
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	for _, dir := range []string{tmp, home} {
		if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) > 0 {
			t.Errorf("demo left %v behind", left)
		}
	}
}

// TestDemoJSON: demo --json --keep in process: the repair's JSON with the
// demo part; every deleted server message had a local copy still on disk;
// no duplicates are left; the HTML report is kept.
func TestDemoJSON(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	code, out, _ := cli(t, "demo", "--json", "--keep", "--messages", "120")
	var j struct {
		repairJSON
		Demo demoInfo `json:"demo"`
	}
	if err := json.Unmarshal([]byte(out), &j); err != nil {
		t.Fatalf("exit %d, JSON: %v\n%s", code, err, out)
	}
	d := j.Demo
	if code != exitOK || j.Command != "demo" || !j.Applied || j.Removed == 0 || j.Server == nil || !d.SecondLoginRefused || d.Logins != 1 ||
		d.ServerMessages != 120 || d.ServerLeft != 0 || j.Server.Deleted != 120 || j.Server.Fetched == 0 || j.Server.Fetched != j.Server.Missing {
		t.Fatalf("exit %d, %+v, server %+v, demo %+v", code, j.repairJSON, j.Server, d)
	}
	if !strings.HasPrefix(d.Dir, tmp) || len(d.Stores) != 2 || !strings.HasSuffix(d.Stores[1], ".mbox") {
		t.Errorf("demo dir %s, stores %v", d.Dir, d.Stores)
	}
	if deletedHadEvidence(t, j.repairJSON) != 120 {
		t.Errorf("not every server message was deleted")
	}
	if b, err := os.ReadFile(j.Report); err != nil || !strings.Contains(string(b), "<svg") {
		t.Errorf("report %s: %v", j.Report, err)
	}
	// Only conflicts (same Message-ID, different bodies) may still have
	// several copies.
	res, err := scan.Scan(context.Background(), d.Stores, scan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	groups, _, err := res.Duplicates(context.Background(), scan.KeepOldest)
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) != 0 {
		t.Errorf("%d duplicate groups left after the demo", len(groups))
	}
	// Running it again in the same process works too (a fresh directory
	// and server each time); without --keep nothing stays.
	code, out, _ = cli(t, "demo", "--messages", "30")
	if code != exitOK || !regexp.MustCompile(`Removed \S+popdedupe-demo-`).MatchString(out) {
		t.Errorf("second demo: exit %d\n%s", code, out)
	}
	left, _ := filepath.Glob(filepath.Join(tmp, "popdedupe-demo-*"))
	if len(left) != 1 || left[0] != d.Dir {
		t.Errorf("demo directories left: %v, want only the kept %s", left, d.Dir)
	}
}

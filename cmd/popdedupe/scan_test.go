package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/popdedupe/popdedupe/report"
)

func scanFixture(t *testing.T) string {
	t.Helper()
	md := filepath.Join(t.TempDir(), "Maildir")
	for _, s := range []string{"cur", "new", "tmp"} {
		os.MkdirAll(filepath.Join(md, s), 0o700)
	}
	msg := "From: a@x\nSubject: s\nMessage-ID: <m@x>\n\nbody\n"
	os.WriteFile(filepath.Join(md, "cur", "1700000001.A:2,S"), []byte(msg), 0o600)
	os.WriteFile(filepath.Join(md, "new", "1700000002.B"), []byte("Status: RO\n"+msg), 0o600)
	os.WriteFile(filepath.Join(md, "cur", "1700000003.C:2,"), []byte("no header\n"), 0o600)
	return md
}

// The progress bar goes to stderr only when asked (or on a terminal),
// never with auto on a pipe, and stdout stays the report alone.
func TestScanProgress(t *testing.T) {
	md := scanFixture(t)
	code, out, errs := runCLI(t, "scan", md)
	if code != exitWork || errs != "" || !strings.Contains(out, "Found 1 extra copies of 1 messages") {
		t.Fatalf("auto on a pipe: exit %d, stderr %q, stdout %q", code, errs, out)
	}
	code, out2, errs := runCLI(t, "scan", "--progress=always", md)
	if code != exitWork || !strings.Contains(errs, "scanning") || out2 != out {
		t.Fatalf("always: exit %d, stderr %q, stdout changed: %v", code, errs, out2 != out)
	}
	if _, _, errs := runCLI(t, "scan", "--progress=never", md); errs != "" {
		t.Fatalf("never: stderr %q", errs)
	}
	if code, _, _ := runCLI(t, "scan", "--progress=sometimes", md); code != exitUsage {
		t.Fatalf("bad --progress: exit %d, want %d", code, exitUsage)
	}
}

// scan --json prints one object in the documented contract, and the exit
// code tells a script there is work to do.
func TestScanJSONContract(t *testing.T) {
	md := scanFixture(t)
	code, out, _ := runCLI(t, "scan", "--json", md)
	if code != exitWork {
		t.Fatalf("exit %d, want %d", code, exitWork)
	}
	var got struct {
		Version  int    `json:"version"`
		Command  string `json:"command"`
		Messages int    `json:"messages"`
		Skipped  []struct {
			Path   string `json:"path"`
			Index  *int   `json:"index"`
			Reason string `json:"reason"`
		} `json:"skipped"`
		Groups []struct {
			MessageID string       `json:"message_id"`
			BodyHash  string       `json:"body_hash"`
			Keep      report.Ref   `json:"keep"`
			Copies    []report.Ref `json:"copies"`
		} `json:"groups"`
		Conflicts []any `json:"conflicts"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if got.Version != report.Version || got.Command != "scan" || got.Messages != 3 || got.Conflicts == nil {
		t.Fatalf("header: %+v", got)
	}
	if len(got.Skipped) != 1 || got.Skipped[0].Index == nil || !strings.Contains(got.Skipped[0].Reason, "not a header field") {
		t.Fatalf("skipped: %+v", got.Skipped)
	}
	if len(got.Groups) != 1 || got.Groups[0].MessageID != "m@x" || len(got.Groups[0].BodyHash) != 16 || len(got.Groups[0].Copies) != 2 ||
		got.Groups[0].Keep != got.Groups[0].Copies[0] || !strings.HasSuffix(got.Groups[0].Keep.Path, "1700000001.A:2,S") {
		t.Fatalf("groups: %+v", got.Groups)
	}
	// Without duplicates and with a skipped message: exit 4.
	os.Remove(filepath.Join(md, "new", "1700000002.B"))
	if code, _, _ := runCLI(t, "scan", "--json", md); code != exitSkipped {
		t.Fatalf("exit %d with only a skipped message, want %d", code, exitSkipped)
	}
	os.Remove(filepath.Join(md, "cur", "1700000003.C:2,"))
	if code, _, _ := runCLI(t, "scan", md); code != exitOK {
		t.Fatalf("exit %d with nothing to do, want %d", code, exitOK)
	}
	if code, out, _ := runCLI(t, "scan", "--json", filepath.Join(md, "missing")); code != exitFailed || !strings.Contains(out, `"error"`) {
		t.Fatalf("missing store: exit %d, stdout %q", code, out)
	}
}

// Lists in the JSON contract are [] when empty, never null: scripts index
// into them.
func TestDedupeJSONEmptyLists(t *testing.T) {
	md := scanFixture(t)
	os.Remove(filepath.Join(md, "cur", "1700000003.C:2,"))
	t.Setenv("XDG_STATE_HOME", t.TempDir())
	code, out, _ := runCLI(t, "dedupe", "--json", md)
	if code != exitWork {
		t.Fatalf("exit %d", code)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"notes", "skipped", "conflicts", "mbox_rewritten", "actions", "groups"} {
		if _, ok := got[k].([]any); !ok {
			t.Errorf("%q is %v, want a JSON array", k, got[k])
		}
	}
}

// Every command has --help with an example, exit 0; --version works.
func TestEveryCommandHasHelp(t *testing.T) {
	if len(commands) < 7 {
		t.Fatalf("only %d commands registered", len(commands))
	}
	for name := range commands {
		code, out, errs := runCLI(t, name, "--help")
		if code != exitOK || !strings.Contains(out+errs, "Example:") {
			t.Errorf("%s --help: exit %d, no example:\n%s%s", name, code, out, errs)
		}
	}
	if code, out, _ := runCLI(t, "--version"); code != exitOK || !strings.HasPrefix(out, "popdedupe ") {
		t.Errorf("--version: exit %d %q", code, out)
	}
}

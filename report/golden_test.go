package report

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sampleRepair is a small applied repair: 3 messages on the server, two of
// them with extra local copies (one a 3-copy group spread over a Maildir
// and an mbox), one missing locally and fetched, everything deleted in
// one committed session, a fetchmail state rewritten.
func sampleRepair() *Repair {
	md, mb := "/home/ann/Maildir/cur/", "/home/ann/mail/inbox.mbox"
	s := &Scan{
		Version: Version, Command: "repair", Stores: []string{"/home/ann/Maildir", mb},
		Messages: 6, Bytes: 61_440, Duplicates: 3, ExtraBytes: 30_720,
		Skipped: []Skipped{}, Conflicts: []Conflict{},
		Groups: []Group{
			{MessageID: "a1@example.org", BodyHash: "00000000000000a1", Keep: Ref{Path: md + "1709280000.M1P1.host:2,S"},
				Copies:     []Ref{{Path: md + "1709280000.M1P1.host:2,S"}, {Path: md + "1709373600.M2P1.host:2,"}, {Path: mb, Index: 2}},
				ExtraBytes: 20_480, Arrivals: []int64{1709280000, 1709373600, 1709377200}},
			{MessageID: "a2@example.org", BodyHash: "00000000000000a2", Keep: Ref{Path: mb, Index: 1},
				Copies:     []Ref{{Path: mb, Index: 1}, {Path: md + "1709373660.M3P1.host:2,"}},
				ExtraBytes: 10_240, Arrivals: []int64{1709283600, 1709373660}},
		},
	}
	q := "/home/ann/.local/state/popdedupe/quarantine/20240302T100000Z-abcdef"
	j := "/home/ann/.local/state/popdedupe/journal-20240302T100000Z-abcdef.jsonl"
	d := &Dedupe{
		Scan: s, Applied: true, Quarantine: q, Removed: 3, RemovedB: 30_720, Flagged: 1, Mboxes: []string{mb},
		Actions: []Action{
			{Ref: Ref{Path: md + "1709280000.M1P1.host:2,S"}, Action: "keep"},
			{Ref: Ref{Path: md + "1709373600.M2P1.host:2,"}, Action: "quarantine", To: q + "/cur/x1"},
			{Ref: Ref{Path: mb, Index: 2}, Action: "quarantine", To: q + "/cur/x2"},
			{Ref: Ref{Path: mb, Index: 1}, Action: "keep"},
			{Ref: Ref{Path: md + "1709373660.M3P1.host:2,"}, Action: "quarantine", To: q + "/cur/x3"},
		},
		Journal: j, Undo: "popdedupe undo " + j, Notes: []string{},
	}
	next := time.Date(2024, 3, 2, 10, 5, 0, 0, time.UTC)
	r := &Repair{
		Dedupe: d,
		Server: &RepairServer{Server: "pop.example.org:995", User: "ann", Logins: 1, QuitCommitted: true,
			Messages: 3, Bytes: 30_000, Saved: 2, Missing: 1, Fetched: 1, Deleted: 3, ToFetch: 1, ToDelete: 3,
			DeleteSaved: true, FetchTo: "/home/ann/Maildir/.Recovered", Held: 0, HeldBytes: 0, NextLogin: &next},
		State:     &RepairState{Target: "fetchmail:/home/ann/.fetchids", Added: 3, Kept: 0, Written: true, Backup: "/home/ann/.fetchids.popdedupe-bak"},
		Reconcile: map[string]any{"complete": true, "apply": true},
		Report:    "/home/ann/report.html",
	}
	r.NextSteps = RepairNextSteps(r)
	return r
}

// sampleDryRun is the same incident before --apply, without a fetch
// target and without --delete-saved.
func sampleDryRun() *Repair {
	r := sampleRepair()
	d := *r.Dedupe
	d.Applied, d.Journal, d.Undo, d.Mboxes = false, "", "", []string{"/home/ann/mail/inbox.mbox"}
	r.Dedupe = &d
	next := time.Date(2024, 3, 2, 9, 55, 0, 0, time.UTC)
	r.Server = &RepairServer{Server: "pop.example.org:995", User: "ann", Logins: 1, QuitCommitted: true,
		Messages: 3, Bytes: 30_000, Saved: 2, Missing: 1, Held: 3, HeldBytes: 30_000, NextLogin: &next}
	r.State = &RepairState{Target: "fetchmail:/home/ann/.fetchids", Added: 2, Refetch: 1}
	r.Report = ""
	r.ExitCode = 3
	r.NextSteps = RepairNextSteps(r)
	return r
}

// sampleFailed is an applied run whose session was cut before QUIT: the
// local part is done, nothing was deleted, the state was not written.
func sampleFailed() *Repair {
	r := sampleRepair()
	r.Server = &RepairServer{Server: "pop.example.org:995", User: "ann", Logins: 1,
		Messages: 3, Bytes: 30_000, Saved: 2, Missing: 1, Fetched: 1, ToFetch: 1, ToDelete: 3, DeleteSaved: true,
		FetchTo: "/home/ann/Maildir/.Recovered", Held: 3, HeldBytes: 30_000, Error: "pop3: connection reset by peer"}
	r.State = &RepairState{Target: "fetchmail:/home/ann/.fetchids", Added: 3, Error: "reconcile: state file not written: the session ended first"}
	r.Error = "reconcile: session ended before QUIT; the server rolled back every DELE of this session"
	r.ExitCode = 1
	r.NextSteps = RepairNextSteps(r)
	return r
}

// sampleLoginFailed is an applied run whose login was refused: the local
// part is done, the server untouched.
func sampleLoginFailed() *Repair {
	r := sampleRepair()
	r.Server = &RepairServer{Server: "pop.example.org:995", User: "ann", DeleteSaved: true,
		Error: "pop3: AUTH PLAIN ****: -ERR [AUTH] Authentication failed."}
	r.State = nil
	r.Reconcile = nil
	r.Report = ""
	r.Error = r.Server.Error
	r.ExitCode = 1
	r.NextSteps = RepairNextSteps(r)
	return r
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./report -run Golden -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run with -update if the change is intended):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestRepairGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    *Repair
	}{{"repair-applied", sampleRepair()}, {"repair-dry-run", sampleDryRun()}, {"repair-failed", sampleFailed()}, {"repair-login-failed", sampleLoginFailed()}} {
		t.Run(tc.name, func(t *testing.T) {
			var text, js bytes.Buffer
			tc.r.WriteText(&text, false)
			if err := WriteJSON(&js, tc.r); err != nil {
				t.Fatal(err)
			}
			golden(t, tc.name+".golden.txt", text.Bytes())
			golden(t, tc.name+".golden.json", js.Bytes())
		})
	}
}

// The JSON field names are the contract: the repair object is the scan
// object plus the dedupe fields plus its own, all at the top level.
func TestRepairJSONContract(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, sampleRepair()); err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{
		"version", "command", "stores", "messages", "bytes", "duplicates", "extra_bytes", "skipped", "groups", "conflicts", // scan
		"applied", "delete", "quarantine", "removed", "removed_bytes", "flagged", "mbox_rewritten", "actions", "journal", "undo", "notes", // dedupe
		"server", "state", "reconcile", "report", "next_steps", "exit_code", // repair
	} {
		if _, ok := m[k]; !ok {
			t.Errorf("field %q missing from the repair JSON", k)
		}
	}
	if string(m["version"]) != "1" {
		t.Errorf("version = %s, want 1", m["version"])
	}
	var sv map[string]json.RawMessage
	if err := json.Unmarshal(m["server"], &sv); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"server", "user", "logins", "quit_committed", "messages", "bytes", "saved", "missing", "conflicts",
		"unknown", "fetched", "deleted", "to_fetch", "to_delete", "delete_saved", "held", "held_bytes", "next_login"} {
		if _, ok := sv[k]; !ok {
			t.Errorf("field server.%q missing", k)
		}
	}
}

// Next steps follow the facts: each case names what the owner must do.
func TestRepairNextSteps(t *testing.T) {
	has := func(steps []string, sub string) bool {
		for _, s := range steps {
			if strings.Contains(s, sub) {
				return true
			}
		}
		return false
	}
	for i, tc := range []struct {
		r        *Repair
		want     []string
		dontWant []string
	}{
		{sampleRepair(), []string{"delete the quarantine", "new mail only", "LOGIN-DELAY"}, []string{"--apply", "--fetch-missing", "--delete-saved"}},
		{sampleDryRun(), []string{"--apply", "--fetch-missing", "--delete-saved", "run with --apply after that"}, []string{"quarantine", "start the mail client"}},
		{sampleFailed(), []string{"stopped on an error", "Nothing was deleted on the server", "was not rebuilt"}, []string{"new mail only"}},
	} {
		for _, w := range tc.want {
			if !has(tc.r.NextSteps, w) {
				t.Errorf("case %d: no next step says %q: %q", i, w, tc.r.NextSteps)
			}
		}
		for _, w := range tc.dontWant {
			if has(tc.r.NextSteps, w) {
				t.Errorf("case %d: a next step says %q: %q", i, w, tc.r.NextSteps)
			}
		}
	}
	if got := RepairNextSteps(&Repair{Dedupe: &Dedupe{Scan: &Scan{}, Applied: true}}); len(got) != 1 || got[0] != "Nothing more to do." {
		t.Errorf("nothing to do: %q", got)
	}
}

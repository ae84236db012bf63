package journal

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestCreateAndRead(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	j, err := Create(state, "r1")
	if err != nil {
		t.Fatal(err)
	}
	e, err := j.Begin(Entry{Op: "x.move", From: "a", To: "b"}, map[string]int{"n": 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Finish(e, nil); err != nil {
		t.Fatal(err)
	}
	e2, _ := j.Begin(Entry{Op: "x.move", From: "c"}, nil)
	if err := j.Finish(e2, errors.New("boom")); err == nil || err.Error() != "boom" {
		t.Errorf("Finish returned %v, want the step's error", err)
	}
	j.Close()
	if _, err := Create(state, "r1"); err == nil {
		t.Errorf("Create over an existing journal succeeded")
	}
	for p, want := range map[string]os.FileMode{state: 0o700, j.Path(): 0o600} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v (%v)", p, fi.Mode().Perm(), want, err)
		}
	}
	entries, err := Read(j.Path())
	if err != nil {
		t.Fatal(err)
	}
	steps := Steps(entries)
	if len(entries) != 4 || len(steps) != 2 || !steps[0].Done || steps[1].Failed != "boom" || steps[0].From != "a" {
		t.Fatalf("entries %d, steps %+v", len(entries), steps)
	}
	var d map[string]int
	if err := steps[0].Decode(&d); err != nil || d["n"] != 1 {
		t.Errorf("Decode: %v %v", d, err)
	}
}

func TestReadTorn(t *testing.T) {
	for i, tc := range []struct {
		text    string
		entries int
		bad     bool
	}{
		{`{"seq":1,"op":"a","state":"begin"}` + "\n", 1, false},
		{`{"seq":1,"op":"a","state":"begin"}` + "\n" + `{"seq":1,"op":"a","sta`, 1, false}, // torn by a crash
		{`{"seq":1,"op":"a","state":"begin"}` + "\n" + `{"seq":1,"op":` + "\n" + `{"seq":2,"op":"a","state":"begin"}` + "\n", 0, true},
		{`{"hello":1}` + "\n", 0, true},
		{"", 0, false},
	} {
		p := filepath.Join(t.TempDir(), "j")
		os.WriteFile(p, []byte(tc.text), 0o600)
		e, err := Read(p)
		if (err != nil) != tc.bad || len(e) != tc.entries {
			t.Errorf("#%d: %d entries, err %v; want %d, bad=%v", i, len(e), err, tc.entries, tc.bad)
		}
	}
	// Appending after a torn line starts a new line.
	p := filepath.Join(t.TempDir(), "j")
	os.WriteFile(p, []byte(`{"seq":1,"op":"a","state":"begin"}`+"\n"+`{"seq":1,"op":"a","sta`), 0o600)
	j, err := OpenAppend(p)
	if err != nil {
		t.Fatal(err)
	}
	j.Mark(Entry{Seq: 1, Op: "a"}, Undone)
	j.Close()
	e, err := Read(p)
	if err != nil || len(e) != 2 || e[1].State != Undone {
		t.Errorf("after append to a torn journal: %+v, %v", e, err)
	}
}

func TestUndo(t *testing.T) {
	p := filepath.Join(t.TempDir(), "j")
	j, err := Create(filepath.Dir(p), "u")
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range []string{"ns.a", "ns.b", "other.c", "ns.a"} {
		e, _ := j.Begin(Entry{Op: op}, nil)
		if op != "ns.a" || e.Seq == 1 {
			j.Finish(e, nil) // step 4 is begun and never finished: a crash
		}
	}
	j.Close()
	var calls []int
	failC := true
	h := Handlers{
		"ns": func(_ context.Context, s Step) (string, error) { calls = append(calls, s.Seq); return "", nil },
		"other.c": func(_ context.Context, s Step) (string, error) {
			calls = append(calls, s.Seq)
			if failC {
				return "", errors.New("cannot")
			}
			return "note", nil
		},
	}
	res, err := Undo(context.Background(), j.Path(), h)
	if !errors.Is(err, ErrIncomplete) || res.Undone != 3 || len(res.Errors) != 1 {
		t.Fatalf("first undo: %v %+v", err, res)
	}
	if !reflect.DeepEqual(calls, []int{4, 3, 2, 1}) {
		t.Errorf("handler order %v, want backwards 4 3 2 1", calls)
	}
	calls, failC = nil, false
	res, err = Undo(context.Background(), j.Path(), h)
	if err != nil || res.Undone != 1 || res.Already != 3 || !reflect.DeepEqual(calls, []int{3}) || len(res.Notes) != 1 {
		t.Errorf("second undo: %v %+v calls %v", err, res, calls)
	}
	calls = nil
	res, _ = Undo(context.Background(), j.Path(), Handlers{})
	if res.Undone != 0 || res.Already != 4 || len(calls) != 0 {
		t.Errorf("third undo: %+v", res)
	}
}

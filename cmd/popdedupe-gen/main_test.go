package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/popdedupe/popdedupe/internal/corpusgen"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	args := []string{"-seed", "5", "-messages", "120", "-dup-share", "0.6", "-quoting", "mboxo",
		"-maildir", filepath.Join(dir, "Maildir"), "-mbox", filepath.Join(dir, "inbox"),
		"-truth", filepath.Join(dir, "truth.json"), "-server", filepath.Join(dir, "srv")}
	if err := run(args, &out, &errb); err != nil {
		t.Fatalf("run: %v\n%s", err, errb.String())
	}
	b, err := os.ReadFile(filepath.Join(dir, "truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tf truthFile
	if err := json.Unmarshal(b, &tf); err != nil {
		t.Fatal(err)
	}
	if tf.Maildir == nil || tf.Mbox == nil || tf.MaildirPP != nil {
		t.Fatalf("truth file has maildir %v, mbox %v, maildirpp %v", tf.Maildir != nil, tf.Mbox != nil, tf.MaildirPP != nil)
	}
	if tf.Mbox.Options.Quoting != corpusgen.MboxO || tf.Maildir.Messages != 120 || tf.Maildir.Options.Seed != 5 {
		t.Errorf("flags not applied: %+v", tf.Mbox.Options)
	}
	if tf.Maildir.Duplicates == 0 || tf.Maildir.Duplicates != tf.Mbox.Duplicates {
		t.Errorf("duplicates: maildir %d, mbox %d", tf.Maildir.Duplicates, tf.Mbox.Duplicates)
	}
	files := 0
	filepath.WalkDir(filepath.Join(dir, "Maildir"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files++
		}
		return err
	})
	if files != tf.Maildir.Copies {
		t.Errorf("%d files written, truth says %d", files, tf.Maildir.Copies)
	}
	for _, want := range []string{"maildir", "mbox", "120 messages", "truth", "server"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
}

func TestRunUsage(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-messages", "10"},
		{"-messages", "0", "-mbox", filepath.Join(t.TempDir(), "x")},
		{"-quoting", "mboxcl", "-mbox", "x"},
		{"-mbox", "x", "extra"},
	} {
		err := run(args, new(bytes.Buffer), new(bytes.Buffer))
		if _, ok := err.(usageError); !ok {
			t.Errorf("run(%q) = %v, want a usage error", args, err)
		}
	}
}

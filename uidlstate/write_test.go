package uidlstate

import (
	"bufio"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func readString(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// leftovers lists files in dir other than the expected ones.
func leftovers(t *testing.T, dir string, expected ...string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var extra []string
outer:
	for _, e := range ents {
		for _, x := range expected {
			if e.Name() == x {
				continue outer
			}
		}
		extra = append(extra, e.Name())
	}
	return extra
}

func TestWriteFileNewAndReplace(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, ".fetchids")
	tg := Target{Format: Fetchmail, Path: path}
	if err := WriteFile(tg, []byte("u@h a\n")); err != nil {
		t.Fatal(err)
	}
	if got := readString(t, path); got != "u@h a\n" {
		t.Errorf("content %q", got)
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	if x := leftovers(t, dir, ".fetchids"); len(x) != 0 {
		t.Errorf("unexpected files after first write: %v", x)
	}

	os.Chmod(path, 0o644)
	if err := WriteFile(tg, []byte("u@h b\n")); err != nil {
		t.Fatal(err)
	}
	if got := readString(t, path); got != "u@h b\n" {
		t.Errorf("content %q", got)
	}
	if got := readString(t, path+BackupSuffix); got != "u@h a\n" {
		t.Errorf("backup %q, want the previous content", got)
	}
	st, _ = os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode after replace %v, want 0600", st.Mode().Perm())
	}
	// A third write keeps the second version as the backup.
	if err := WriteFile(tg, []byte("u@h c\n")); err != nil {
		t.Fatal(err)
	}
	if got := readString(t, path+BackupSuffix); got != "u@h b\n" {
		t.Errorf("backup %q, want the previous content", got)
	}
	if x := leftovers(t, dir, ".fetchids", ".fetchids"+BackupSuffix); len(x) != 0 {
		t.Errorf("unexpected files: %v", x)
	}
}

func TestWriteFileReadOnly(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "uidls")
	os.WriteFile(path, []byte("old\n"), 0o444)
	err := WriteFile(Target{Format: Mpop, Path: path}, []byte("new\n"))
	if !errors.Is(err, ErrReadOnly) {
		t.Fatalf("WriteFile on a 0444 file = %v, want ErrReadOnly", err)
	}
	var we *WriteError
	if !errors.As(err, &we) || we.Path != path || !strings.Contains(err.Error(), "unchanged") {
		t.Errorf("error %v does not name the path or say nothing changed", err)
	}
	if got := readString(t, path); got != "old\n" {
		t.Errorf("read-only file overwritten: %q", got)
	}
	if x := leftovers(t, dir, "uidls"); len(x) != 0 {
		t.Errorf("files left: %v", x)
	}
}

func TestWriteFileRefusesOddTargets(t *testing.T) {
	dir := t.TempDir()
	if err := WriteFile(Target{Format: Mpop, Path: dir}, []byte("x")); err == nil {
		t.Error("wrote over a directory")
	}
	if err := WriteFile(Target{Format: Mpop, Path: filepath.Join(dir, "missing", "f")}, []byte("x")); err == nil {
		t.Error("wrote into a missing directory")
	}
	if err := WriteFile(Target{Format: Mpop}, []byte("x")); err == nil {
		t.Error("wrote to an empty path")
	}
}

func TestWriteFileFollowsSymlink(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real")
	link := filepath.Join(dir, "link")
	os.WriteFile(real, []byte("old\n"), 0o600)
	if err := os.Symlink("real", link); err != nil {
		t.Skip("symlinks not supported:", err)
	}
	if err := WriteFile(Target{Format: Fetchmail, Path: link}, []byte("new\n")); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the symlink was replaced: %v %v", fi, err)
	}
	if got := readString(t, real); got != "new\n" {
		t.Errorf("link target %q", got)
	}
	if got := readString(t, real+BackupSuffix); got != "old\n" {
		t.Errorf("backup %q", got)
	}
}

func TestWriteFileFailureLeavesTarget(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "popstate.dat")
	os.WriteFile(path, []byte("old"), 0o600)
	testHookBeforeRename = func() error { return errors.New("simulated crash") }
	defer func() { testHookBeforeRename = nil }()
	err := WriteFile(Target{Format: Thunderbird, Path: path}, []byte("new"))
	if err == nil || !strings.Contains(err.Error(), "simulated crash") {
		t.Fatalf("WriteFile = %v, want the simulated failure", err)
	}
	if got := readString(t, path); got != "old" {
		t.Errorf("target changed: %q", got)
	}
	if x := leftovers(t, dir, "popstate.dat", "popstate.dat"+BackupSuffix); len(x) != 0 {
		t.Errorf("temporary files left behind: %v", x)
	}
}

func TestWriteFileKeepsOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a file another owner")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "oldmail-h-110-u")
	os.WriteFile(path, []byte("a\x001\n"), 0o600)
	if err := os.Chown(path, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(Target{Format: Getmail, Path: path}, []byte("b\x002\n")); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(path)
	sys := st.Sys().(*syscall.Stat_t)
	if sys.Uid != 65534 || sys.Gid != 65534 {
		t.Errorf("owner %d:%d, want 65534:65534 (the client runs as the file's owner)", sys.Uid, sys.Gid)
	}
}

// TestWriteFileLocked: a file locked by a running client (mpop holds an
// fcntl write lock on its uidls file) is not replaced.
func TestWriteFileLocked(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "uidls")
	os.WriteFile(path, []byte("old\n"), 0o600)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperHoldLock$")
	cmd.Env = append(os.Environ(), "UIDLSTATE_HOLD_LOCK="+path)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); cmd.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("helper: %q %v", line, err)
	}
	err = WriteFile(Target{Format: Mpop, Path: path}, []byte("new\n"))
	if !errors.Is(err, ErrLocked) {
		t.Errorf("WriteFile on a locked file = %v, want ErrLocked", err)
	}
	if got := readString(t, path); got != "old\n" {
		t.Errorf("locked file overwritten: %q", got)
	}
}

// TestHelperHoldLock is not a test: TestWriteFileLocked runs it in a child
// process to hold an fcntl lock until its stdin closes.
func TestHelperHoldLock(t *testing.T) {
	path := os.Getenv("UIDLSTATE_HOLD_LOCK")
	if path == "" {
		t.Skip("helper process for TestWriteFileLocked")
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: io.SeekStart}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &lk); err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("locked\n")
	io.Copy(io.Discard, os.Stdin)
	f.Close()
	os.Exit(0)
}

func TestParseTarget(t *testing.T) {
	home, err := os.UserHomeDir()
	if err != nil {
		t.Skip("no home directory")
	}
	tests := []struct {
		in      string
		want    Target
		wantErr bool
	}{
		{"fetchmail:~/.fetchids", Target{Fetchmail, filepath.Join(home, ".fetchids")}, false},
		{"MPOP:/var/x:y", Target{Mpop, "/var/x:y"}, false},
		{"thunderbird:rel/popstate.dat", Target{Thunderbird, "rel/popstate.dat"}, false},
		{"getmail:~", Target{Getmail, home}, false},
		{"json:/tmp/s.json", Target{JSON, "/tmp/s.json"}, false},
		{"outlook:/x", Target{}, true},
		{"fetchmail:", Target{}, true},
		{"/home/x/.fetchids", Target{}, true},
		{"claws:~no-such-user-hopefully/x", Target{}, true},
	}
	for i, tt := range tests {
		got, err := ParseTarget(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("#%d ParseTarget(%q) = %v, %v; want %v (error %v)", i, tt.in, got, err, tt.want, tt.wantErr)
		}
	}
	var f Format
	if err := f.Set("Claws"); err != nil || f != Claws {
		t.Errorf("Format.Set = %v, %v", f, err)
	}
	if err := f.Set("pine"); !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("Format.Set(pine) = %v", err)
	}
}

func TestFileNamesAndDefaults(t *testing.T) {
	a := Account{Host: "pop.example.com", User: `dom\al/ice:x`}
	if got, want := GetmailFileName(a), "oldmail-pop.example.com-110-dom-al-ice-x"; got != want {
		t.Errorf("GetmailFileName = %q, want %q", got, want)
	}
	a.Port = 995
	if got, want := GetmailFileName(Account{Host: "h", Port: 995, User: "u;<>|v"}), "oldmail-h-995-u-v"; got != want {
		t.Errorf("GetmailFileName = %q, want %q", got, want)
	}
	if got, want := ClawsFileName(Account{Host: "h", User: "a/b*c\\d e"}), "h-a_b_c_d e"; got != want {
		t.Errorf("ClawsFileName = %q, want %q", got, want)
	}
	for _, tt := range []struct {
		f    Format
		want string
	}{
		{Fetchmail, "/home/u/.fetchids"},
		{Getmail, "/home/u/.getmail/oldmail-h-110-u"},
		{Mpop, "/home/u/.mpop_uidls/u_at_h"},
		{Claws, "/home/u/.claws-mail/uidl/h-u"},
	} {
		got, err := DefaultPath(tt.f, Account{Host: "h", User: "u"}, "/home/u")
		if err != nil || got != tt.want {
			t.Errorf("DefaultPath(%s) = %q, %v; want %q", tt.f, got, err, tt.want)
		}
	}
	if _, err := DefaultPath(Thunderbird, Account{}, "/home/u"); err == nil {
		t.Error("DefaultPath(thunderbird) has no error")
	}
}

func TestDetect(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		content string
		want    Format
	}{
		{".fetchids", "", Fetchmail},
		{"ids", "u@h a\n", Fetchmail},
		{"oldmail-h-110-u", "", Getmail},
		{"state", "a\x00123\n", Getmail},
		{"uidls", "# This file was generated by mpop version 1.4.18.\n 1 h u\na\n", Mpop},
		{"popstate.dat", "", Thunderbird},
		{"x", "# POP3 State File\r\n\r\n*h u\r\nk a 1", Thunderbird},
		{"y", "a\t1\t0\n", Claws},
		{"s.json", `{"popdedupe_uidl_state":1,"accounts":[]}`, JSON},
		// A misleading name: the content decides.
		{".fetchids", " 1 h u\na\n", Mpop},
	}
	for i, tt := range tests {
		sub := filepath.Join(dir, string(rune('a'+i)))
		os.Mkdir(sub, 0o700)
		p := filepath.Join(sub, tt.name)
		os.WriteFile(p, []byte(tt.content), 0o600)
		got, err := Detect(p)
		if err != nil || got != tt.want {
			t.Errorf("#%d Detect(%s, %q) = %v, %v; want %v", i, tt.name, tt.content, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "\x89PNG\r\n\x1a\n\x00\x00", "hello world\n", "{not json"} {
		if f, err := DetectBytes("", []byte(bad)); !errors.Is(err, ErrUnknownFormat) {
			t.Errorf("DetectBytes(%q) = %v, %v; want ErrUnknownFormat", bad, f, err)
		}
	}
	if _, err := Detect(filepath.Join(dir, "missing")); err == nil {
		t.Error("Detect of a missing file has no error")
	}
}

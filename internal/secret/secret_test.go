package secret

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func noEnv(string) (string, bool) { return "", false }

func env(v string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		if k == EnvVar {
			return v, true
		}
		return "", false
	}
}

// notTTY is a Terminal that is never a terminal (an invalid descriptor).
type notTTY struct{}

func (notTTY) Fd() uintptr { return ^uintptr(0) }

func write(t *testing.T, dir, name, data string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPasswordSources(t *testing.T) {
	dir := t.TempDir()
	pwFile := write(t, dir, "pw", "s3cret file\r\nsecond line ignored\n", 0o600)
	netrc := write(t, dir, "netrc", "machine other.example login alice password wrong\n"+
		"machine pop.example.net login bob password bobs\n"+
		"machine POP.example.net login alice password \"from netrc\"\n"+
		"default login alice password fallback\n", 0o600)
	tests := []struct {
		name    string
		o       Options
		want    string
		src     Source
		wantErr error
	}{
		{"file wins", Options{File: pwFile, Getenv: env("envpw"), Netrc: netrc}, "s3cret file", FromFile, nil},
		{"env next", Options{Getenv: env("envpw"), Netrc: netrc, Machine: "pop.example.net", Login: "alice"}, "envpw", FromEnv, nil},
		{"empty env ignored", Options{Getenv: env(""), Netrc: netrc, Machine: "pop.example.net", Login: "alice"}, "from netrc", FromNetrc, nil},
		{"netrc machine+login", Options{Getenv: noEnv, Netrc: netrc, Machine: "pop.example.net", Login: "bob"}, "bobs", FromNetrc, nil},
		{"netrc default", Options{Getenv: noEnv, Netrc: netrc, Machine: "x.example", Login: "alice"}, "fallback", FromNetrc, nil},
		{"netrc no match, no tty", Options{Getenv: noEnv, Netrc: netrc, Machine: "x.example", Login: "carol", In: notTTY{}}, "", "", ErrNotFound},
		{"netrc missing", Options{Getenv: noEnv, Netrc: filepath.Join(dir, "none"), In: notTTY{}}, "", "", ErrNotFound},
		{"no prompt", Options{Getenv: noEnv, Netrc: "-", NoPrompt: true}, "", "", ErrNotFound},
		{"env with LF", Options{Getenv: env("a\nQUIT")}, "", "", ErrBadValue},
	}
	for i, tt := range tests {
		got, src, err := Password(tt.o)
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("#%d %s: err = %v, want %v", i, tt.name, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want || src != tt.src {
			t.Errorf("#%d %s: got %q from %q, %v; want %q from %q", i, tt.name, got, src, err, tt.want, tt.src)
		}
	}
}

func TestInsecureFiles(t *testing.T) {
	dir := t.TempDir()
	for _, mode := range []os.FileMode{0o640, 0o604, 0o660, 0o644, 0o700 | 0o020} {
		p := write(t, dir, "pw", "topsecret\n", mode)
		_, _, err := Password(Options{File: p})
		if !errors.Is(err, ErrInsecure) {
			t.Errorf("mode %04o: err = %v, want ErrInsecure", mode, err)
		}
		if err != nil && strings.Contains(err.Error(), "topsecret") {
			t.Errorf("mode %04o: error leaks the password: %v", mode, err)
		}
	}
	p := write(t, dir, "pw", "topsecret\n", 0o400)
	if got, _, err := Password(Options{File: p}); err != nil || got != "topsecret" {
		t.Errorf("mode 0400: %q, %v", got, err)
	}
	// A netrc readable by others is refused only when it is used.
	n := write(t, dir, "netrc", "machine h login u password topsecret\n", 0o644)
	if _, _, err := Password(Options{Getenv: noEnv, Netrc: n, Machine: "h", Login: "u"}); !errors.Is(err, ErrInsecure) {
		t.Errorf("world-readable netrc: err = %v, want ErrInsecure", err)
	}
	if _, _, err := Password(Options{Getenv: noEnv, Netrc: n, Machine: "other", Login: "u", In: notTTY{}}); !errors.Is(err, ErrNotFound) {
		t.Errorf("unused world-readable netrc: err = %v, want ErrNotFound", err)
	}
}

func TestPasswordFileErrors(t *testing.T) {
	dir := t.TempDir()
	for i, data := range []string{"", "\n", "\r\n", "a\x00b\n"} {
		p := write(t, dir, "pw", data, 0o600)
		_, _, err := Password(Options{File: p})
		if !errors.Is(err, ErrBadValue) {
			t.Errorf("#%d %q: err = %v, want ErrBadValue", i, data, err)
		}
	}
	if _, _, err := Password(Options{File: filepath.Join(dir, "missing")}); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v", err)
	}
	if _, _, err := Password(Options{File: dir}); err == nil {
		t.Errorf("directory as password file: no error")
	}
}

func TestCheckUser(t *testing.T) {
	for i, tt := range []struct {
		name string
		ok   bool
	}{{"alice", true}, {"alice@example.org", true}, {"", false}, {"alice\r\nDELE 1", false}, {"a\nb", false}, {"a\x00", false}} {
		err := CheckUser(tt.name)
		if (err == nil) != tt.ok {
			t.Errorf("CheckUser(%q) #%d = %v, want ok=%v", tt.name, i, err, tt.ok)
		}
	}
}

func TestParseNetrc(t *testing.T) {
	data := `# comment
machine a.example
  login al
  password "p w\"x"
macdef init
cd /pub
bin

machine b.example login bo password pb account acct
default login any password pd
`
	got := ParseNetrc([]byte(data))
	want := []NetrcEntry{{"a.example", "al", `p w"x`}, {"b.example", "bo", "pb"}, {"", "any", "pd"}}
	if len(got) != len(want) {
		t.Fatalf("ParseNetrc = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("entry %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	for i, tt := range []struct {
		machine, login, want string
		ok                   bool
	}{
		{"a.example", "al", `p w"x`, true},
		{"A.EXAMPLE", "al", `p w"x`, true},
		{"a.example", "other", "", false}, // default needs login any
		{"c.example", "any", "pd", true},
		{"b.example", "bo", "pb", true},
	} {
		pw, ok := Lookup(got, tt.machine, tt.login)
		if pw != tt.want || ok != tt.ok {
			t.Errorf("#%d Lookup(%q, %q) = %q, %v; want %q, %v", i, tt.machine, tt.login, pw, ok, tt.want, tt.ok)
		}
	}
}

package reliability

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/popdedupe/popdedupe/dedupe/dedupetest"
	"github.com/popdedupe/popdedupe/fingerprint"
	"github.com/popdedupe/popdedupe/pop3/pop3test"
)

// The bad-input catalogue (issue #9, "Hostile input"). Each case builds a
// store or a server, runs one command line of the real binary and checks:
// the exit code is one of the allowed ones and there is no panic; the
// output names the cause; and the invariant of its kind holds: a store
// case keeps every message (stores + quarantine hold every original
// content, each file the case marks is byte for byte where it was); a
// server case deletes only messages with a verified local copy.

// cat is one catalogue case's world.
type cat struct {
	*world
	md   string   // the Maildir most cases use
	keep []string // files that must stay where they are, unchanged
	kept map[string][]byte
	// Server cases: one of these.
	fake *pop3test.Server
	raw  *rawServer
	// serverStart is the identities on the server at the start.
	serverStart map[fingerprint.Key]bool
	extraArgs   []string
	nobody      bool
}

type catCase struct {
	name  string
	build func(t *testing.T, c *cat)
	// args is the command line; nil means dedupe --apply --json on the
	// stores (or, for server cases, reconcile --apply --delete-saved).
	args  func(c *cat) []string
	codes []int
	// say: each must appear in stdout or stderr (case-insensitive).
	say []string
	// check is an extra assertion.
	check func(t *testing.T, c *cat, r result)
	// server: a server case (reconcile; the server invariant).
	server bool
	// knownIssue names an open issue of RELIABILITY.md this case shows:
	// its invariant failures are logged, not failed, unless
	// POPDEDUPE_KNOWN_ISSUES=1.
	knownIssue string
}

// msg is a small message with a Message-ID.
func msg(id, body string) string {
	return dedupetest.Msg(id, "catalogue "+id, body)
}

// put writes files relative to the case's home/mail and marks them kept.
func (c *cat) put(t *testing.T, files map[string]string, keep ...string) {
	t.Helper()
	dedupetest.Write(t, c.dir, files)
	for _, k := range keep {
		c.keep = append(c.keep, filepath.Join(c.dir, k))
	}
}

// maildir makes the case's Maildir with one duplicate pair (so that
// dedupe has work to do) and adds it to the stores.
func (c *cat) maildir(t *testing.T) {
	t.Helper()
	c.md = filepath.Join(c.dir, "Maildir")
	dedupetest.Write(t, c.dir, map[string]string{
		"Maildir/cur/1000000001.P1.host:2,S": msg("pair@cat.test", "the pair\n"),
		"Maildir/cur/1000000002.P2.host:2,S": msg("pair@cat.test", "the pair\n"),
		"Maildir/cur/1000000003.P3.host:2,S": msg("alone@cat.test", "alone\n"),
	})
	for _, d := range []string{"new", "tmp"} {
		os.MkdirAll(filepath.Join(c.md, d), 0o700)
	}
	c.stores = append(c.stores, c.md)
}

// mbox writes an mbox file and adds it to the stores.
func (c *cat) mbox(t *testing.T, name, content string, keep bool) string {
	t.Helper()
	p := filepath.Join(c.dir, name)
	os.MkdirAll(c.dir, 0o755)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	c.stores = append(c.stores, p)
	if keep {
		c.keep = append(c.keep, p)
	}
	return p
}

func from(i int) string {
	return fmt.Sprintf("From sender@example.org Mon Mar 10 09:%02d:00 2025\n", i%60)
}

// serverLocal saves local copies of server messages 0 and 2 and returns
// the server messages 0..3 the cases put on their servers.
func (c *cat) serverLocal(t *testing.T) [][]byte {
	t.Helper()
	c.md = filepath.Join(c.dir, "Maildir")
	var msgs [][]byte
	for i := 0; i < 4; i++ {
		msgs = append(msgs, mailMsg(i))
	}
	saveLocal(t, c.md, msgs[0], 0)
	saveLocal(t, c.md, msgs[2], 2)
	c.stores = []string{c.md}
	return msgs
}

func (c *cat) fakeServer(t *testing.T, cfg pop3test.Config, extra ...[]byte) {
	t.Helper()
	c.fake = pop3test.NewServer(t, cfg)
	c.fake.AddUser(srvUser, password)
	for i, m := range append(c.serverLocal(t), extra...) {
		c.fake.AddMessage(srvUser, fmt.Sprintf("uid-%d", i), m)
	}
}

func (c *cat) rawServer(t *testing.T) *rawServer {
	t.Helper()
	c.raw = newRawServer(t)
	for i, m := range c.serverLocal(t) {
		c.raw.add(fmt.Sprintf("uid-%d", i), m)
	}
	return c.raw
}

func (c *cat) serverAddr() string {
	if c.fake != nil {
		return c.fake.Addr()
	}
	return c.raw.addr()
}

func (c *cat) serverBodies() [][]byte {
	var out [][]byte
	if c.fake != nil {
		for _, m := range c.fake.Messages(srvUser) {
			out = append(out, m.Body)
		}
		return out
	}
	for _, m := range c.raw.left() {
		out = append(out, m.body)
	}
	return out
}

func (c *cat) reconcileArgs(extra ...string) []string {
	a := []string{"reconcile", "--server", c.serverAddr(), "--user", srvUser, "--tls", "none", "--progress", "never",
		"--timeout", "2s", "--apply", "--delete-saved", "--json"}
	a = append(a, c.extraArgs...)
	return append(append(a, extra...), c.stores...)
}

// lines builds a string of n lines made by f.
func lines(n int, f func(i int) string) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteString(f(i))
	}
	return b.String()
}

func catalogue() []catCase {
	apply := []int{0, 4}
	return []catCase{
		// --- Messages ---
		{name: "header line without a colon", codes: apply, say: []string{"not a header field"},
			build: func(t *testing.T, c *cat) {
				c.maildir(t)
				c.put(t, map[string]string{"Maildir/cur/1000000010.B.host:2,": "From: a@b\nthis is not a header\nSubject: x\n\nbody\n"}, "Maildir/cur/1000000010.B.host:2,")
			}},
		{name: "header block over 1 MB", codes: apply, say: []string{"header block longer than"},
			build: func(t *testing.T, c *cat) {
				c.maildir(t)
				big := "Message-ID: <big@cat.test>\n" + lines(12000, func(i int) string { return fmt.Sprintf("X-Filler-%d: %s\n", i, strings.Repeat("x", 90)) }) + "\nbody\n"
				c.put(t, map[string]string{"Maildir/cur/1000000010.B1.host:2,": big, "Maildir/cur/1000000011.B2.host:2,": big}, "Maildir/cur/1000000010.B1.host:2,", "Maildir/cur/1000000011.B2.host:2,")
			}},
		{name: "no header/body separator", codes: apply, say: []string{"no header/body separator"},
			build: func(t *testing.T, c *cat) {
				c.maildir(t)
				c.put(t, map[string]string{"Maildir/cur/1000000010.B.host:2,": "Subject: x\nMessage-ID: <sep@cat.test>\nbody text right after the header\n"}, "Maildir/cur/1000000010.B.host:2,")
			}},
		{name: "message that ends inside its header", codes: apply, say: []string{"ends inside the header"},
			build: func(t *testing.T, c *cat) {
				c.maildir(t)
				c.put(t, map[string]string{"Maildir/cur/1000000010.B.host:2,": "Subject: x\nMessage-ID: <cut@cat.test>\nX-Cut-Mid-Fi"}, "Maildir/cur/1000000010.B.host:2,")
			}},
		{name: "header starting with a continuation line", codes: apply, say: []string{"continuation line"},
			build: func(t *testing.T, c *cat) {
				c.maildir(t)
				c.put(t, map[string]string{"Maildir/cur/1000000010.B.host:2,": " folded: x\nSubject: y\n\nbody\n"}, "Maildir/cur/1000000010.B.host:2,")
			}},
		{name: "NUL byte in the header", codes: apply, say: []string{"NUL byte"},
			build: func(t *testing.T, c *cat) {
				c.maildir(t)
				m := msg("nul@cat.test", "body\n")
				c.put(t, map[string]string{"Maildir/cur/1000000010.B1.host:2,": "X-Bad: a\x00b\n" + m, "Maildir/cur/1000000011.B2.host:2,": "X-Bad: a\x00b\n" + m}, "Maildir/cur/1000000010.B1.host:2,", "Maildir/cur/1000000011.B2.host:2,")
			}},
		{name: "NUL byte in the body", codes: apply, say: []string{"NUL byte"},
			build: func(t *testing.T, c *cat) {
				c.maildir(t)
				c.put(t, map[string]string{"Maildir/cur/1000000010.B.host:2,": msg("nulbody@cat.test", "binary \x00 body\n")}, "Maildir/cur/1000000010.B.host:2,")
			}},
		{name: "8-bit bytes in headers and body", codes: apply,
			build: func(t *testing.T, c *cat) {
				c.maildir(t)
				m := "From: J\xf6rg <j@cat.test>\nSubject: Gr\xfc\xdfe \xff\xfe\nMessage-ID: <8bit@cat.test>\n\nK\xe4se \x80\x81\n"
				c.put(t, map[string]string{"Maildir/cur/1000000010.B1.host:2,": m, "Maildir/cur/1000000011.B2.host:2,": m})
			},
			check: func(t *testing.T, c *cat, r result) {
				if n := messageIDs(t, c.md)["8bit@cat.test"]; n != 1 {
					t.Errorf("8-bit duplicate pair: %d copies left, want 1", n)
				}
			}},
		{name: "invalid encodings (broken RFC 2047, base64, UTF-8)", codes: apply,
			build: func(t *testing.T, c *cat) {
				c.maildir(t)
				m := "Subject: =?utf-8?B?!!!not-base64?= =?bogus?Q?x?=\nMessage-ID: <enc\xc3\x28@cat.test>\nContent-Transfer-Encoding: base64\nContent-Type: text/plain; charset=\"no-such-charset\n\n%%%% not base64 %%%%\n"
				c.put(t, map[string]string{"Maildir/cur/1000000010.B1.host:2,": m, "Maildir/cur/1000000011.B2.host:2,": m})
			},
			check: func(t *testing.T, c *cat, r result) {
				if n := messageIDs(t, c.md)["enc\xc3\x28@cat.test"]; n != 1 {
					t.Errorf("badly encoded duplicate pair: %d copies left, want 1", n)
				}
			}},
		{name: "empty file", codes: apply, say: []string{"empty message"},
			build: func(t *testing.T, c *cat) {
				c.maildir(t)
				c.put(t, map[string]string{"Maildir/cur/1000000010.B.host:2,": ""}, "Maildir/cur/1000000010.B.host:2,")
			}},
		{name: "binary garbage file", codes: apply, say: []string{"malformed message"},
			build: func(t *testing.T, c *cat) {
				c.maildir(t)
				var b []byte
				for i := 0; i < 5000; i++ {
					b = append(b, byte(i*7919%251+1))
				}
				c.put(t, map[string]string{"Maildir/cur/1000000010.B.host:2,": string(b)}, "Maildir/cur/1000000010.B.host:2,")
			}},
		{name: "bare CR line ends", codes: apply, say: []string{"malformed message"},
			build: func(t *testing.T, c *cat) {
				c.maildir(t)
				c.put(t, map[string]string{"Maildir/cur/1000000010.B.host:2,": "Subject: mac\rMessage-ID: <cr@cat.test>\r\rbody\r"}, "Maildir/cur/1000000010.B.host:2,")
			}},
		{name: "header only, no body", codes: apply,
			build: func(t *testing.T, c *cat) {
				c.maildir(t)
				m := "Subject: nothing more\nMessage-ID: <hdr@cat.test>\n\n"
				c.put(t, map[string]string{"Maildir/cur/1000000010.B1.host:2,": m, "Maildir/cur/1000000011.B2.host:2,": m})
			}},
		// The plan in CI (a dry run: 9,998 quarantine copies, each
		// fsync'd, take 15 s on 2 cores); applied with POPDEDUPE_SOAK=1.
		{name: "10,000 messages with one Message-ID (two bodies)", codes: []int{0, 3, 4},
			build: func(t *testing.T, c *cat) {
				var b strings.Builder
				for i := 0; i < 10000; i++ {
					b.WriteString(from(i) + msg("same@cat.test", fmt.Sprintf("version %d\n", i%2)) + "\n")
				}
				c.mbox(t, "same-id.mbox", b.String(), false)
			},
			args: func(c *cat) []string {
				if soak() {
					return c.dedupeArgs("--apply", "--json")
				}
				return c.dedupeArgs("--json")
			},
			check: func(t *testing.T, c *cat, r result) {
				if !soak() {
					if r.code != 3 || !strings.Contains(r.stdout, `"removed": 9998`) {
						t.Errorf("the plan does not remove 9,998 of 10,000 copies (exit %d)", r.code)
					}
					return
				}
				keys, _ := keyCounts(t, c.stores...)
				if len(keys) != 2 {
					t.Errorf("%d distinct messages left, want the 2 versions", len(keys))
				}
				for k, n := range keys {
					if n != 1 {
						t.Errorf("version %x: %d copies left", k.BodyHash, n)
					}
				}
			}},
		{name: "Message-ID of 100 KB", codes: apply,
			build: func(t *testing.T, c *cat) {
				c.maildir(t)
				m := "Subject: long id\nMessage-ID: <" + strings.Repeat("i", 100<<10) + "@cat.test>\n\nbody\n"
				c.put(t, map[string]string{"Maildir/cur/1000000010.B1.host:2,": m, "Maildir/cur/1000000011.B2.host:2,": m})
			},
			check: func(t *testing.T, c *cat, r result) {
				if keys, _ := keyCounts(t, c.md); len(keys) != 3 {
					t.Errorf("%d distinct messages left, want 3", len(keys))
				}
			}},
		{name: "same Message-ID, different bodies (conflict)", codes: apply, say: []string{"conflict"},
			build: func(t *testing.T, c *cat) {
				c.maildir(t)
				c.put(t, map[string]string{"Maildir/cur/1000000010.B1.host:2,": msg("conf@cat.test", "one\n"), "Maildir/cur/1000000011.B2.host:2,": msg("conf@cat.test", "two\n")},
					"Maildir/cur/1000000010.B1.host:2,", "Maildir/cur/1000000011.B2.host:2,")
			}},
		// --- mbox ---
		{name: "mbox with CRLF line ends", codes: apply,
			build: func(t *testing.T, c *cat) {
				m := strings.ReplaceAll(from(1)+msg("crlf@cat.test", "body\n")+"\n", "\n", "\r\n")
				c.mbox(t, "crlf.mbox", m+m+strings.ReplaceAll(from(2)+msg("other@cat.test", "x\n")+"\n", "\n", "\r\n"), false)
			},
			check: func(t *testing.T, c *cat, r result) {
				if ids := messageIDs(t, c.stores...); ids["crlf@cat.test"] != 1 || ids["other@cat.test"] != 1 {
					t.Errorf("after dedupe: %v", ids)
				}
			}},
		{name: "mboxo/mboxrd ambiguity", codes: apply,
			build: func(t *testing.T, c *cat) {
				body := "para\n\n>From quoted once\n>>From quoted twice\nFrom not after a blank line 10:00\n\nFrom the start of a line, no time\n"
				c.mbox(t, "quoting.mbox", from(1)+msg("q@cat.test", body)+"\n"+from(2)+msg("q@cat.test", body)+"\n"+from(3)+msg("r@cat.test", "r\n")+"\n", false)
			},
			check: func(t *testing.T, c *cat, r result) {
				ids := messageIDs(t, c.stores...)
				if ids["q@cat.test"] != 1 || ids["r@cat.test"] != 1 || len(ids) != 2 {
					t.Errorf("the quoted From lines were split or merged: %v", ids)
				}
			}},
		{name: "mbox without a final newline", codes: apply, say: []string{"no final newline"},
			build: func(t *testing.T, c *cat) {
				c.mbox(t, "nonl.mbox", from(1)+msg("a@cat.test", "x\n")+"\n"+from(2)+msg("a@cat.test", "x\n")+"\n"+from(3)+msg("b@cat.test", "no newline at the end"), true)
			}},
		{name: "mbox truncated mid-message", codes: apply, say: []string{"ends inside the header"},
			build: func(t *testing.T, c *cat) {
				c.mbox(t, "cut.mbox", from(1)+msg("a@cat.test", "x\n")+"\n"+from(2)+msg("a@cat.test", "x\n")+"\n"+from(3)+"Subject: cut\nMessage-I", true)
			}},
		// Refused whole: a store is an mbox only if it starts with an
		// envelope line with a time (README, "kinds are detected from
		// content").
		{name: "mbox From_ line without a date", codes: []int{1}, say: []string{"not an mbox"},
			build: func(t *testing.T, c *cat) {
				c.mbox(t, "nodate.mbox", "From someone\n"+msg("nd@cat.test", "x\n")+"\n"+from(2)+msg("nd@cat.test", "x\n")+"\n", false)
			}},
		{name: "mbox with an empty message", codes: apply,
			build: func(t *testing.T, c *cat) {
				c.mbox(t, "emptymsg.mbox", from(1)+"\n"+from(2)+msg("e@cat.test", "x\n")+"\n"+from(3)+msg("e@cat.test", "x\n")+"\n", true)
			}},
		{name: "file that is not an mbox", codes: []int{1, 4}, say: []string{"not an mbox"},
			build: func(t *testing.T, c *cat) {
				c.mbox(t, "photo.jpg", "\xff\xd8\xff\xe0\x00\x10JFIF\x00", true)
			}},
		// --- Maildir layout ---
		{name: "files in tmp/ (deliveries in progress)", codes: apply,
			build: func(t *testing.T, c *cat) {
				c.maildir(t)
				c.put(t, map[string]string{"Maildir/tmp/1000000009.T.host": msg("pair@cat.test", "the pair\n")}, "Maildir/tmp/1000000009.T.host")
			}},
		{name: "dotfiles in cur/ and new/", codes: apply,
			build: func(t *testing.T, c *cat) {
				c.maildir(t)
				c.put(t, map[string]string{"Maildir/cur/.hidden:2,S": msg("pair@cat.test", "the pair\n"), "Maildir/new/.DS_Store": "junk"}, "Maildir/cur/.hidden:2,S", "Maildir/new/.DS_Store")
			}},
		{name: "subdirectories in cur/", codes: apply,
			build: func(t *testing.T, c *cat) {
				c.maildir(t)
				c.put(t, map[string]string{"Maildir/cur/sub/1000000009.S.host:2,S": msg("pair@cat.test", "the pair\n")}, "Maildir/cur/sub/1000000009.S.host:2,S")
			}},
		{name: "symlink to a message outside the store", codes: apply, say: []string{"symbolic link"},
			build: func(t *testing.T, c *cat) {
				c.maildir(t)
				c.put(t, map[string]string{"outside/1000000009.O.host:2,S": msg("pair@cat.test", "the pair\n")}, "outside/1000000009.O.host:2,S")
				link := filepath.Join(c.md, "cur", "1000000000.L.host:2,S")
				if err := os.Symlink(filepath.Join(c.dir, "outside", "1000000009.O.host:2,S"), link); err != nil {
					t.Fatal(err)
				}
				c.keep = append(c.keep, link)
			},
			check: func(t *testing.T, c *cat, r result) {
				if fi, err := os.Lstat(filepath.Join(c.md, "cur", "1000000000.L.host:2,S")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
					t.Errorf("the symlink was touched: %v", err)
				}
			}},
		{name: "symlinked Maildir++ folder pointing outside", codes: apply,
			build: func(t *testing.T, c *cat) {
				c.maildir(t)
				c.put(t, map[string]string{"elsewhere/cur/1000000009.E.host:2,S": msg("pair@cat.test", "the pair\n"), "elsewhere/new/.keep": ""}, "elsewhere/cur/1000000009.E.host:2,S")
				os.MkdirAll(filepath.Join(c.dir, "elsewhere", "tmp"), 0o700)
				if err := os.Symlink(filepath.Join(c.dir, "elsewhere"), filepath.Join(c.md, ".Linked")); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "store argument that is a symlink", codes: apply,
			build: func(t *testing.T, c *cat) {
				c.maildir(t)
				link := filepath.Join(c.dir, "MaildirLink")
				if err := os.Symlink(c.md, link); err != nil {
					t.Fatal(err)
				}
				c.stores = []string{link}
				c.keep = append(c.keep, link)
			},
			check: func(t *testing.T, c *cat, r result) {
				if fi, err := os.Lstat(filepath.Join(c.dir, "MaildirLink")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
					t.Errorf("the store symlink was replaced: %v", err)
				}
				if r.code == 1 && !strings.Contains(strings.ToLower(r.stderr), "symbolic link") {
					t.Errorf("refused without saying it is a symbolic link:\n%s", r)
				}
			}},
		{name: "FIFO in cur/ (never opened for reading)", codes: apply, say: []string{"not a regular file"},
			build: func(t *testing.T, c *cat) {
				c.maildir(t)
				if err := syscall.Mkfifo(filepath.Join(c.md, "cur", "1000000009.F.host:2,S"), 0o600); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "unreadable message file", codes: apply, say: []string{"permission denied"},
			build: func(t *testing.T, c *cat) {
				c.maildir(t)
				c.put(t, map[string]string{"Maildir/cur/1000000009.U.host:2,S": msg("pair@cat.test", "the pair\n")}, "Maildir/cur/1000000009.U.host:2,S")
				p := filepath.Join(c.md, "cur", "1000000009.U.host:2,S")
				if os.Geteuid() == 0 {
					c.nobody = true
					os.Lchown(p, 0, 0)
				}
				os.Chmod(p, 0o000)
			}},
		{name: "file names with odd characters", codes: apply,
			build: func(t *testing.T, c *cat) {
				c.maildir(t)
				odd := map[string]string{
					"Maildir/cur/1000000020.sp ace.host:2,S":           msg("odd@cat.test", "odd\n"),
					"Maildir/cur/1000000021.new\nline.host:2,S":        msg("odd@cat.test", "odd\n"),
					"Maildir/cur/1000000022.\xff\xfe.host:2,S":         msg("odd@cat.test", "odd\n"),
					"Maildir/cur/-1000000023.dash.host:2,S":            msg("odd@cat.test", "odd\n"),
					"Maildir/cur/1000000024.\"quote'\\back.host:2,S":   msg("odd@cat.test", "odd\n"),
					"Maildir/cur/" + strings.Repeat("L", 240) + ":2,S": msg("odd@cat.test", "odd\n"),
				}
				c.put(t, odd)
			},
			check: func(t *testing.T, c *cat, r result) {
				if n := messageIDs(t, c.md)["odd@cat.test"]; n != 1 {
					t.Errorf("%d copies of the oddly named message left, want 1", n)
				}
			}},
		{name: "file name without the :2, info in cur/", codes: apply,
			build: func(t *testing.T, c *cat) {
				c.maildir(t)
				c.put(t, map[string]string{"Maildir/cur/1000000009.noinfo.host": msg("pair@cat.test", "the pair\n")})
			}},
		{name: "directory tree 150 levels deep", codes: []int{0, 1, 3, 4},
			build: func(t *testing.T, c *cat) {
				c.maildir(t)
				deep := c.md
				for i := 0; i < 150; i++ {
					deep = filepath.Join(deep, ".d")
				}
				os.MkdirAll(deep, 0o700)
				c.stores = []string{c.dir}
			}},
		{name: "the same store given twice", codes: apply,
			build: func(t *testing.T, c *cat) {
				c.maildir(t)
				c.stores = append(c.stores, c.md)
				c.keep = append(c.keep, filepath.Join(c.md, "cur", "1000000003.P3.host:2,S"))
			},
			check: func(t *testing.T, c *cat, r result) {
				if ids := messageIDs(t, c.md); ids["pair@cat.test"] != 1 || ids["alone@cat.test"] != 1 {
					t.Errorf("a store given twice: %v left; each message must stay once", ids)
				}
			}},
		{name: "a folder given again inside its Maildir++ root", codes: apply,
			build: func(t *testing.T, c *cat) {
				c.maildir(t)
				c.put(t, map[string]string{"Maildir/.Sub/cur/1000000030.S.host:2,S": msg("sub@cat.test", "only here\n")}, "Maildir/.Sub/cur/1000000030.S.host:2,S")
				os.MkdirAll(filepath.Join(c.md, ".Sub", "new"), 0o700)
				os.MkdirAll(filepath.Join(c.md, ".Sub", "tmp"), 0o700)
				c.stores = append(c.stores, filepath.Join(c.md, ".Sub"))
			}},
		{name: "store that does not exist", codes: []int{1, 2}, say: []string{"no such file"},
			build: func(t *testing.T, c *cat) {
				c.maildir(t)
				c.stores = append(c.stores, filepath.Join(c.dir, "nowhere"))
			}},
		{name: "device file as a store", codes: []int{1}, say: []string{"not a maildir, an mbox file or a directory"},
			build: func(t *testing.T, c *cat) {
				c.maildir(t)
				c.stores = append(c.stores, "/dev/zero")
			}},
		// --- State and journals ---
		{name: "--state-dir is a file", codes: []int{1, 2}, say: []string{"not a directory"},
			build: func(t *testing.T, c *cat) {
				c.maildir(t)
				os.MkdirAll(filepath.Dir(c.e.state), 0o700)
				os.WriteFile(c.e.state, []byte("x"), 0o600)
			}},
		{name: "undo of a corrupt journal", codes: []int{1}, say: []string{"journal"},
			build: func(t *testing.T, c *cat) {
				c.maildir(t)
				os.MkdirAll(c.e.state, 0o700)
				os.WriteFile(filepath.Join(c.e.state, "journal-bad.jsonl"), []byte("{\"seq\":1,\"op\":\"maildir.quarantine\",\"state\":\"begin\"}\nnot json at all\n{\"seq\":1}\n"), 0o600)
			},
			args: func(c *cat) []string { return []string{"undo", filepath.Join(c.e.state, "journal-bad.jsonl")} }},
		{name: "state show of a garbage file", codes: []int{1, 2},
			build: func(t *testing.T, c *cat) {
				c.maildir(t)
				os.WriteFile(filepath.Join(c.dir, "fetchids"), []byte("\x00\x01\x02 garbage\n\xff"), 0o600)
			},
			args: func(c *cat) []string { return []string{"state", "show", filepath.Join(c.dir, "fetchids")} }},

		// --- Servers ---
		{name: "server reply line over 512 octets", codes: []int{0, 1}, server: true,
			build: func(t *testing.T, c *cat) {
				s := c.rawServer(t)
				s.Greeting = "+OK " + strings.Repeat("long greeting ", 45)
				s.reply("NOOP", "+OK "+strings.Repeat("n", 600)+"\r\n")
			}},
		{name: "server reply line of 100,000 octets", codes: []int{1}, say: []string{"line"}, server: true,
			build: func(t *testing.T, c *cat) { c.fakeServer(t, pop3test.Config{LongLineAt: 4}) }},
		{name: "UIDL listed twice", codes: []int{0, 1}, say: []string{"twice"}, server: true,
			build: func(t *testing.T, c *cat) {
				c.fakeServer(t, pop3test.Config{})
				c.fake.AddMessage(srvUser, "uid-0", mailMsg(9))
			}},
		{name: "UIDL with illegal characters", codes: []int{1}, say: []string{"bad unique-id listing"}, server: true,
			build: func(t *testing.T, c *cat) {
				s := c.rawServer(t)
				s.UIDLLines = []string{"1 uid-0", "2 bad\x01uid", "3 uid-2", "4 " + strings.Repeat("u", 80)}
			},
			check: func(t *testing.T, c *cat, r result) {
				for i, m := range c.raw.msgs {
					gone := true
					for _, l := range c.raw.left() {
						if bytes.Equal(l.body, m.body) {
							gone = false
						}
					}
					if gone && i != 0 && i != 2 {
						t.Errorf("message %d deleted by an illegal UIDL", i)
					}
				}
			}},
		{name: "UIDL listing never terminated", codes: []int{1}, server: true,
			build: func(t *testing.T, c *cat) {
				s := c.rawServer(t)
				s.reply("UIDL", "+OK\r\n1 uid-0\r\n2 uid-1\r\n")
				c.extraArgs = []string{"--timeout", "1s"}
			}},
		{name: "UIDL of a message number that does not exist", codes: []int{0, 1}, say: []string{"listed by UIDL but not by LIST"}, server: true,
			build: func(t *testing.T, c *cat) {
				s := c.rawServer(t)
				s.UIDLLines = []string{"1 uid-0", "2 uid-1", "3 uid-2", "4 uid-3", "99 uid-ghost"}
			}},
		{name: "server lies about sizes", codes: []int{0, 1, 4}, say: []string{"LIST said"}, server: true,
			build: func(t *testing.T, c *cat) { c.fakeServer(t, pop3test.Config{ListSizeLie: 5000}) }},
		{name: "non-numeric sizes in LIST", codes: []int{1}, say: []string{"bad scan listing"}, server: true,
			build: func(t *testing.T, c *cat) {
				s := c.rawServer(t)
				s.ListLines = []string{"1 -5", "2 abc", "3 12", "4 99999999999999999999999"}
			}},
		// The retrieved size is not LIST's: not evidence (found as K3).
		{name: "RETR answers with another message", codes: []int{0, 1, 4}, say: []string{"LIST said"}, server: true,
			build: func(t *testing.T, c *cat) {
				s := c.rawServer(t)
				other := wire(mailMsg(2))
				s.reply("RETR", fmt.Sprintf("+OK %d octets\r\n", len(other))+string(other)+".\r\n")
			},
			check: func(t *testing.T, c *cat, r result) {
				if len(c.raw.left()) < 2 {
					t.Errorf("a server answering every RETR with message 2 got %d messages deleted", 4-len(c.raw.left()))
				}
			}},
		{name: "server never answers", codes: []int{1}, say: []string{"timeout"}, server: true,
			build: func(t *testing.T, c *cat) {
				c.fakeServer(t, pop3test.Config{StallAt: 4})
				c.extraArgs = []string{"--timeout", "1s"}
			}},
		{name: "server answers after the deadline", codes: []int{1}, say: []string{"timeout"}, server: true,
			build: func(t *testing.T, c *cat) {
				c.fakeServer(t, pop3test.Config{ReplyDelay: 1200 * time.Millisecond})
				c.extraArgs = []string{"--timeout", "800ms"}
			}},
		{name: "garbage reply", codes: []int{1}, say: []string{"protocol"}, server: true,
			build: func(t *testing.T, c *cat) { c.fakeServer(t, pop3test.Config{GarbageAt: 5}) }},
		{name: "-ERR greeting", codes: []int{1}, say: []string{"go away"}, server: true,
			build: func(t *testing.T, c *cat) { c.rawServer(t).Greeting = "-ERR go away" }},
		{name: "connection closed after the greeting", codes: []int{1}, server: true,
			build: func(t *testing.T, c *cat) { c.rawServer(t).CloseAfterGreeting = true }},
		{name: "wrong password", codes: []int{1}, say: []string{"auth"}, server: true,
			build: func(t *testing.T, c *cat) {
				c.fakeServer(t, pop3test.Config{})
				c.fake.AddUser(srvUser, "another password")
			}},
		{name: "mailbox in use", codes: []int{1}, say: []string{"in-use"}, server: true,
			build: func(t *testing.T, c *cat) { c.fakeServer(t, pop3test.Config{InUse: true}) }},
		{name: "server without UIDL", codes: []int{1}, say: []string{"uidl"}, server: true,
			build: func(t *testing.T, c *cat) { c.fakeServer(t, pop3test.Config{NoUIDL: true}) }},
		{name: "-ERR to DELE", codes: []int{0, 1}, say: []string{"DELE refused"}, server: true,
			build: func(t *testing.T, c *cat) { c.fakeServer(t, pop3test.Config{DeleErr: []int{1}}) }},
		{name: "-ERR to QUIT", codes: []int{1}, say: []string{"QUIT"}, server: true,
			build: func(t *testing.T, c *cat) { c.fakeServer(t, pop3test.Config{QuitErr: true}) }},
		{name: "-ERR to RETR", codes: []int{0, 1}, server: true,
			build: func(t *testing.T, c *cat) { c.rawServer(t).reply("RETR", "-ERR message vanished\r\n") }},
		{name: "STARTTLS asked for, not offered", codes: []int{1}, say: []string{"tls"}, server: true,
			build: func(t *testing.T, c *cat) {
				c.fakeServer(t, pop3test.Config{})
				c.extraArgs = []string{"--tls", "starttls"}
			}},
	}
}

func TestCatalogue(t *testing.T) {
	cases := catalogue()
	if len(cases) < 40 {
		t.Fatalf("the catalogue has %d cases; issue #9 asks for at least 40", len(cases))
	}
	t.Logf("%d cases", len(cases))
	names := map[string]bool{}
	for _, tc := range cases {
		if names[tc.name] {
			t.Fatalf("two cases named %q", tc.name)
		}
		names[tc.name] = true
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			c := &cat{world: &world{e: e, dir: filepath.Join(e.home, "mail")}, kept: map[string][]byte{}}
			os.MkdirAll(c.dir, 0o755)
			tc.build(t, c)
			for _, k := range c.keep {
				if b, err := os.ReadFile(k); err == nil {
					c.kept[k] = b
				} else if fi, lerr := os.Lstat(k); lerr == nil && fi.Mode()&os.ModeSymlink != 0 {
					c.kept[k] = nil
				} else if !os.IsPermission(err) {
					t.Fatalf("kept file %s: %v", k, err)
				}
			}
			server := tc.server
			if !server {
				c.snap = dedupetest.Snapshot(t, existing(c.stores)...)
				c.contents = dedupetest.Contents(t, existing(c.stores)...)
			}
			if server {
				c.serverStart = map[fingerprint.Key]bool{}
				for _, b := range c.serverBodies() {
					c.serverStart[keyOf(t, b)] = true
				}
			}
			var args []string
			switch {
			case tc.args != nil:
				args = tc.args(c)
			case server:
				args = c.reconcileArgs()
			default:
				args = c.dedupeArgs("--apply", "--json")
			}
			var r result
			if c.nobody {
				r = c.e.runAsNobody(t, args...)
			} else {
				r = c.e.run(t, nil, args...)
			}
			t.Logf("exit %d\n%s\n%s", r.code, clip(r.stderr, 2000), clip(r.stdout, 3000))
			wantCode(t, r, tc.codes...)
			out := strings.ToLower(r.stdout + r.stderr)
			for _, s := range tc.say {
				if !strings.Contains(out, strings.ToLower(s)) {
					t.Errorf("the output does not name the cause %q:\n%s", s, clip(r.String(), 4000))
				}
			}
			for k, b := range c.kept {
				if b == nil {
					continue
				}
				if now, err := os.ReadFile(k); err != nil && !os.IsPermission(err) || err == nil && !bytes.Equal(now, b) {
					t.Errorf("%s was removed or changed (%v)", k, err)
				}
			}
			if server {
				if tc.knownIssue != "" && !knownIssues() {
					c.checkServerLog(t, tc.knownIssue)
				} else {
					c.checkServer(t)
				}
			} else if len(c.contents) > 0 {
				roots := append(existing(c.stores), c.quarantines()...)
				if n := dedupetest.Missing(c.contents, dedupetest.Contents(t, roots...)); n > 0 {
					t.Errorf("%d message contents of the start are in no store and no quarantine", n)
				}
			}
			if tc.check != nil {
				tc.check(t, c, r)
			}
		})
	}
}

// checkServer: every message gone from the server has a verified copy in
// the local stores.
func (c *cat) checkServer(t *testing.T) {
	t.Helper()
	left := map[fingerprint.Key]bool{}
	for _, b := range c.serverBodies() {
		left[keyOf(t, b)] = true
	}
	local, _ := keyCounts(t, c.stores...)
	for k := range c.serverStart {
		if !left[k] && local[k] == 0 {
			t.Errorf("%q was deleted from the server without a local copy", k.MessageID)
		}
	}
}

// checkServerLog logs what checkServer would fail on, for a known issue.
func (c *cat) checkServerLog(t *testing.T, issue string) {
	left := map[fingerprint.Key]bool{}
	for _, b := range c.serverBodies() {
		left[keyOf(t, b)] = true
	}
	local, _ := keyCounts(t, c.stores...)
	for k := range c.serverStart {
		if !left[k] && local[k] == 0 {
			t.Logf("KNOWN ISSUE %s: %q was deleted from the server without a local copy", issue, k.MessageID)
		}
	}
}

// existing keeps the paths that exist (as something other than a
// symlink to outside the test) and are not devices.
func existing(paths []string) []string {
	var out []string
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil && (fi.IsDir() || fi.Mode().IsRegular()) && !strings.HasPrefix(p, "/dev/") {
			out = append(out, p)
		}
	}
	return out
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

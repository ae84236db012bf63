package pop3

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"

	"github.com/popdedupe/popdedupe/internal/dovecottest"
)

// Tests against a real Dovecot. They fail when Dovecot is missing (with the
// apt-get command), unless POPDEDUPE_SKIP_DOVECOT=1.

func startDovecot(t *testing.T, cfg dovecottest.Config) *dovecottest.Server {
	t.Helper()
	if cfg.Users == nil {
		cfg.Users = []dovecottest.User{{Name: "alice", Pass: testPass}, {Name: "bob", Pass: "bob-pass"}}
	}
	return dovecottest.Start(t, cfg)
}

func deliver(t *testing.T, d *dovecottest.Server, user string, msgs ...string) {
	t.Helper()
	for _, m := range msgs {
		if _, err := d.Deliver(user, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
}

// dovecotClient connects in one of the three ways and logs in.
func dovecotClient(t *testing.T, d *dovecottest.Server, mode string, trace io.Writer) *Client {
	t.Helper()
	ctx := testCtx(t)
	o := &Options{RootCAs: d.CACertPool(), Trace: trace}
	var c *Client
	var err error
	switch mode {
	case "plain":
		o.AllowPlaintextAuth = true
		c, err = Dial(ctx, d.Addr, o)
	case "stls":
		c, err = Dial(ctx, d.Addr, o)
		if err == nil {
			err = c.StartTLS(ctx, nil)
		}
	case "tls":
		c, err = DialTLS(ctx, d.TLSAddr, o)
	}
	if err != nil {
		t.Fatalf("%s: connect: %v", mode, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestDovecotConnectModes(t *testing.T) {
	t.Parallel()
	d := startDovecot(t, dovecottest.Config{})
	deliver(t, d, "alice", "Subject: a\n\none\n", "Subject: b\n\ntwo\n")
	for _, mode := range []string{"plain", "stls", "tls"} {
		t.Run(mode, func(t *testing.T) {
			ctx := testCtx(t)
			c := dovecotClient(t, d, mode, nil)
			if c.IsTLS() != (mode != "plain") {
				t.Errorf("IsTLS = %v", c.IsTLS())
			}
			capa, err := c.Capa(ctx)
			if err != nil {
				t.Fatal(err)
			}
			// Dovecot 2.3 (checked): these before login; STLS only on the
			// plain connection.
			for _, want := range []string{"TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE", "USER", "SASL"} {
				if !capa.Has(want) {
					t.Errorf("CAPA lacks %s: %q", want, capa.Lines)
				}
			}
			if capa.STLS != (mode == "plain") {
				t.Errorf("STLS advertised = %v on %s", capa.STLS, mode)
			}
			if !capa.HasSASL("PLAIN") || !capa.Pipelining || !capa.UIDL || !capa.TOP {
				t.Errorf("parsed capabilities %+v", capa)
			}
			if err := c.Login(ctx, "alice", testPass, AuthAuto); err != nil {
				t.Fatal(err)
			}
			if n, _, err := c.Stat(ctx); err != nil || n != 2 {
				t.Errorf("Stat = %d, %v; want 2", n, err)
			}
			if capa, err := c.Capa(ctx); err != nil || capa.USER || capa.STLS {
				t.Errorf("CAPA after login = %q, %v; Dovecot drops USER and STLS", capa.Lines, err)
			}
			if err := c.Quit(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
	t.Run("plaintext refused", func(t *testing.T) {
		c, err := Dial(testCtx(t), d.Addr, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Login(testCtx(t), "alice", testPass, AuthAuto); !errors.Is(err, ErrPlaintextRefused) {
			t.Errorf("Login on plain TCP = %v, want ErrPlaintextRefused", err)
		}
	})
	t.Run("certificate not trusted", func(t *testing.T) {
		if c, err := DialTLS(testCtx(t), d.TLSAddr, nil); err == nil {
			c.Close()
			t.Error("DialTLS accepted Dovecot's self-signed certificate without the CA")
		}
	})
}

// cramMD5 is a CRAM-MD5 SASL client (RFC 2195), to exercise the challenge
// loop of Auth.
type cramMD5 struct{ user, pass string }

func (c *cramMD5) Start() (string, []byte, error) { return "CRAM-MD5", nil, nil }
func (c *cramMD5) Next(chal []byte) ([]byte, error) {
	m := hmac.New(md5.New, []byte(c.pass))
	m.Write(chal)
	return []byte(c.user + " " + hex.EncodeToString(m.Sum(nil))), nil
}

func TestDovecotAuthMethods(t *testing.T) {
	t.Parallel()
	d := startDovecot(t, dovecottest.Config{})
	deliver(t, d, "alice", "Subject: a\n\none\n")
	logins := []struct {
		name  string
		login func(context.Context, *Client, string) error
	}{
		{"auto", func(ctx context.Context, c *Client, p string) error { return c.Login(ctx, "alice", p, AuthAuto) }},
		{"user", func(ctx context.Context, c *Client, p string) error { return c.Login(ctx, "alice", p, AuthUserPass) }},
		{"apop", func(ctx context.Context, c *Client, p string) error { return c.Login(ctx, "alice", p, AuthAPOP) }},
		{"plain", func(ctx context.Context, c *Client, p string) error { return c.Login(ctx, "alice", p, AuthPlain) }},
		{"sasl login", func(ctx context.Context, c *Client, p string) error {
			return c.Auth(ctx, sasl.NewLoginClient("alice", p))
		}},
		{"cram-md5", func(ctx context.Context, c *Client, p string) error {
			return c.Auth(ctx, &cramMD5{"alice", p})
		}},
	}
	for _, l := range logins {
		t.Run(l.name, func(t *testing.T) {
			ctx := testCtx(t)
			var trace bytes.Buffer
			c := dovecotClient(t, d, "stls", &trace)
			if l.name == "sasl login" || l.name == "cram-md5" {
				capa, err := c.Capa(ctx)
				if err != nil || !capa.HasSASL(strings.ToUpper(strings.TrimPrefix(l.name, "sasl "))) {
					t.Fatalf("Dovecot does not offer %s: %v %v", l.name, capa, err)
				}
			}
			err := l.login(ctx, c, "wrong-password")
			if !errors.Is(err, ErrAuth) {
				t.Fatalf("wrong password: %v, want [AUTH]", err)
			}
			if err := l.login(ctx, c, testPass); err != nil {
				t.Fatalf("login: %v\n%s", err, trace.String())
			}
			if n, _, err := c.Stat(ctx); err != nil || n != 1 {
				t.Errorf("Stat = %d, %v", n, err)
			}
			if strings.Contains(trace.String(), testPass) {
				t.Errorf("trace contains the password:\n%s", trace.String())
			}
			if err := c.Quit(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// corpusDir finds shared/corpus/real beside the repository (or
// $POPDEDUPE_CORPUS), or skips.
func corpusDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("POPDEDUPE_CORPUS"); d != "" {
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			c := filepath.Join(dir, "..", "shared", "corpus", "real")
			if _, err := os.Stat(c); err == nil {
				return c
			}
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	t.Skip("real-mail corpus not found: expected ../shared/corpus/real beside the repository, or set POPDEDUPE_CORPUS")
	return ""
}

// corpusSample returns single-message files of the corpus: every file of
// the small sets, every 25th of the linux-mips Maildir; mbox files are
// left out.
func corpusSample(t testing.TB) []string {
	root := corpusDir(t)
	var files []string
	nth := 0
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if e.IsDir() {
			if rel == "enron-mbox" || strings.HasSuffix(rel, "mbox") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(p, ".mbox") || strings.HasSuffix(p, ".md") || strings.Contains(rel, "mbox") {
			return nil
		}
		if strings.HasPrefix(rel, "linux-mips-maildir") {
			if nth++; nth%25 != 0 {
				return nil
			}
		}
		files = append(files, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 100 {
		t.Fatalf("only %d corpus files found under %s", len(files), root)
	}
	return files
}

// retrForm is what Retr yields for a stored message: line ends as LF (a
// CRLF pair or a lone LF both end a line) and a final line end added when
// the file lacks one. Dot-stuffing is undone by the client, so dots are as
// stored.
func retrForm(b []byte) []byte {
	out := bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	return out
}

// crlfSize is the size of b with every bare LF counted as CRLF.
func crlfSize(b []byte) int64 {
	n := int64(len(b))
	for i, c := range b {
		if c == '\n' && (i == 0 || b[i-1] != '\r') {
			n++
		}
	}
	return n
}

// topForm is TOP n 0: the header and the blank line after it.
func topForm(b []byte) []byte {
	r := retrForm(b)
	if i := bytes.Index(r, []byte("\n\n")); i >= 0 {
		return r[:i+2]
	}
	return r
}

func TestDovecotCorpusRetrTopUIDL(t *testing.T) {
	t.Parallel()
	files := corpusSample(t)
	d := startDovecot(t, dovecottest.Config{UIDLFormat: "%f"})
	want := make([][]byte, len(files))
	names := map[string]string{} // Maildir file name -> corpus path
	for i, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = b
		name, err := d.Deliver("alice", b)
		if err != nil {
			t.Fatal(err)
		}
		names[name] = f
	}
	ctx := testCtx(t)
	c := dovecotClient(t, d, "tls", nil)
	if err := c.Login(ctx, "alice", testPass, AuthAuto); err != nil {
		t.Fatal(err)
	}
	uidl, err := c.UIDL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(uidl) != len(files) {
		t.Fatalf("UIDL lists %d messages, delivered %d", len(uidl), len(files))
	}
	// With pop3_uidl_format = %f the unique-id is the Maildir file name,
	// which maps each message number back to its corpus file.
	byNum := make([]int, len(uidl)+1)
	index := map[string]int{}
	for i, f := range files {
		index[f] = i
	}
	nums := make([]int, len(uidl))
	for i, e := range uidl {
		f, ok := names[e.UID]
		if !ok {
			t.Fatalf("UIDL %q is not a delivered file name", e.UID)
		}
		byNum[e.Num] = index[f]
		nums[i] = e.Num
	}
	list, err := c.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	err = c.RetrEach(ctx, nums, func(n int, r io.Reader) error {
		b, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		got++
		i := byNum[n]
		if w := retrForm(want[i]); !bytes.Equal(b, w) {
			t.Errorf("RETR %d (%s): %d bytes differ from the file's %d (first difference at %d)",
				n, files[i], len(b), len(w), firstDiff(b, w))
		}
		// LIST counts each line end of the stored file as CRLF
		// (POP3-NOTES, checked), without the final CRLF that RETR adds
		// to a file lacking one.
		if size := crlfSize(want[i]); list[n-1].Size != size {
			t.Errorf("LIST %d = %d octets, want %d (%s)", n, list[n-1].Size, size, files[i])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got != len(files) {
		t.Errorf("RetrEach delivered %d of %d messages", got, len(files))
	}
	err = c.TopEach(ctx, nums, 0, func(n int, r io.Reader) error {
		b, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		i := byNum[n]
		if w := topForm(want[i]); !bytes.Equal(b, w) {
			t.Errorf("TOP %d 0 (%s): got %d bytes, want %d (first difference at %d)", n, files[i], len(b), len(w), firstDiff(b, w))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// A pipelined DELE of everything, undone by RSET.
	errs, err := c.DeleEach(ctx, nums)
	if err != nil {
		t.Fatalf("DeleEach: %v", err)
	}
	if n, _, err := c.Stat(ctx); err != nil || n != 0 || len(errs) != len(nums) {
		t.Fatalf("Stat after DELE of all = %d, %v", n, err)
	}
	if err := c.Rset(ctx); err != nil {
		t.Fatal(err)
	}
	if cmds, _ := c.Stats(); cmds < 3*len(files) {
		t.Errorf("only %d commands sent", cmds)
	}
	if err := c.Quit(ctx); err != nil {
		t.Fatal(err)
	}
	c = dovecotClient(t, d, "plain", nil)
	if err := c.Login(ctx, "alice", testPass, AuthUserPass); err != nil {
		t.Fatal(err)
	}
	if n, _, err := c.Stat(ctx); err != nil || n != len(files) {
		t.Errorf("after RSET and QUIT: %d messages, %v; want %d", n, err, len(files))
	}
}

func firstDiff(a, b []byte) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func TestDovecotDeleCommittedOnlyByQuit(t *testing.T) {
	t.Parallel()
	d := startDovecot(t, dovecottest.Config{})
	deliver(t, d, "alice", "Subject: 1\n\none\n", "Subject: 2\n\ntwo\n", "Subject: 3\n\nthree\n")
	uids := func() []string {
		t.Helper()
		c := dovecotClient(t, d, "tls", nil)
		ctx := testCtx(t)
		if err := c.Login(ctx, "alice", testPass, AuthAuto); err != nil {
			t.Fatal(err)
		}
		list, err := c.UIDL(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Quit(ctx); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range list {
			out = append(out, e.UID)
		}
		return out
	}
	before := uids()
	if len(before) != 3 {
		t.Fatalf("UIDL before: %v", before)
	}

	// DELE, then drop the connection without QUIT: nothing is removed.
	ctx := testCtx(t)
	c := dovecotClient(t, d, "tls", nil)
	if err := c.Login(ctx, "alice", testPass, AuthAuto); err != nil {
		t.Fatal(err)
	}
	if errs, err := c.DeleEach(ctx, []int{1, 2}); err != nil {
		t.Fatalf("DeleEach: %v %v", errs, err)
	}
	if n, _, err := c.Stat(ctx); err != nil || n != 1 {
		t.Fatalf("Stat after DELE = %d, %v; want 1 in this session", n, err)
	}
	c.Close()
	if after := uids(); !slices.Equal(after, before) {
		t.Fatalf("after DELE without QUIT: %v, want %v", after, before)
	}

	// A botched session (cancelled context mid-session) never sends QUIT.
	c = dovecotClient(t, d, "tls", nil)
	if err := c.Login(ctx, "alice", testPass, AuthAuto); err != nil {
		t.Fatal(err)
	}
	if err := c.Dele(ctx, 3); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	c.botch("test", context.Canceled)
	if err := c.Quit(cctx); !errors.Is(err, ErrBotched) {
		t.Fatalf("Quit on a botched session = %v", err)
	}
	if after := uids(); !slices.Equal(after, before) {
		t.Fatalf("after a botched session: %v, want %v", after, before)
	}

	// DELE and QUIT: committed.
	c = dovecotClient(t, d, "tls", nil)
	if err := c.Login(ctx, "alice", testPass, AuthAuto); err != nil {
		t.Fatal(err)
	}
	if err := c.Dele(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if err := c.Quit(ctx); err != nil {
		t.Fatal(err)
	}
	if after := uids(); !slices.Equal(after, []string{before[0], before[2]}) {
		t.Fatalf("after DELE 2 and QUIT: %v, want %v", after, []string{before[0], before[2]})
	}
}

func TestDovecotLockSessionInUse(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: Dovecot waits about 11 s before answering [IN-USE]")
	}
	t.Parallel()
	d := startDovecot(t, dovecottest.Config{LockSession: true})
	deliver(t, d, "alice", "Subject: 1\n\none\n")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	first := dovecotClient(t, d, "tls", nil)
	if err := first.Login(ctx, "alice", testPass, AuthAuto); err != nil {
		t.Fatal(err)
	}
	second := dovecotClient(t, d, "tls", nil)
	err := second.Login(ctx, "alice", testPass, AuthAuto)
	var re *ResponseError
	if !errors.Is(err, ErrInUse) || !errors.As(err, &re) || !re.Temporary() {
		t.Fatalf("second session's login = %v, want -ERR [IN-USE]", err)
	}
	if err := first.Quit(ctx); err != nil {
		t.Fatal(err)
	}
	third := dovecotClient(t, d, "tls", nil)
	if err := third.Login(ctx, "alice", testPass, AuthAuto); err != nil {
		t.Fatalf("login after the lock was released: %v", err)
	}
}

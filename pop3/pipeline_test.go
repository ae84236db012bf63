package pop3

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/popdedupe/popdedupe/pop3/pop3test"
)

// smallBufListener gives every accepted connection a tiny receive buffer.
type smallBufListener struct{ net.Listener }

func (l smallBufListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetReadBuffer(2048)
		tc.SetWriteBuffer(2048)
	}
	return c, err
}

// A pipeline far larger than the TCP buffers of both ends neither
// deadlocks nor loses a reply: the commands are written while the replies
// are read. (A client that writes its whole window before reading blocks
// here: the server stops reading commands while its replies wait.)
func TestPipelineLargerThanBuffers(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := pop3test.NewServer(t, pop3test.Config{Listener: smallBufListener{ln}})
	srv.AddUser("alice", testPass)
	const n = 3000
	body := strings.Repeat("a line of a message that is repeated\n", 20)
	for i := 1; i <= n; i++ {
		srv.AddMessage("alice", fmt.Sprintf("u%d", i), []byte(fmt.Sprintf("Subject: %d\n\n%s", i, body)))
	}
	conn, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	conn.(*net.TCPConn).SetReadBuffer(2048)
	conn.(*net.TCPConn).SetWriteBuffer(2048)
	c := New(conn, &Options{AllowPlaintextAuth: true, PipelineWindow: n, CommandTimeout: 5 * time.Second})
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Login(ctx, "alice", testPass, AuthUserPass); err != nil {
		t.Fatal(err)
	}
	nums := make([]int, n)
	for i := range nums {
		nums[i] = i + 1
	}
	next := 1
	err = c.RetrEach(ctx, nums, func(num int, r io.Reader) error {
		b, err := io.ReadAll(r)
		if want := fmt.Sprintf("Subject: %d\n\n%s", next, body); num != next || string(b) != want {
			return fmt.Errorf("message %d: got number %d, %d bytes", next, num, len(b))
		}
		next++
		return err
	})
	if err != nil || next != n+1 {
		t.Fatalf("RetrEach: %v after %d messages", err, next-1)
	}
	errs, err := c.DeleEach(ctx, nums)
	if err != nil || len(errs) != n {
		t.Fatalf("DeleEach: %v", err)
	}
	if err := c.Quit(ctx); err != nil {
		t.Fatal(err)
	}
	if left := srv.Messages("alice"); len(left) != 0 {
		t.Errorf("%d messages left", len(left))
	}
}

// A writer that fails (the server hangs up mid-pipeline) botches the
// session; the reader does not wait for replies that never come.
func TestPipelineServerHangsUp(t *testing.T) {
	srv := newFake(t, pop3test.Config{DropAfter: 8})
	var trace bytes.Buffer
	c := loginFake(t, srv, &Options{Trace: &trace, PipelineWindow: 100})
	nums := make([]int, 50)
	for i := range nums {
		nums[i] = 1 + i%3
	}
	_, err := c.DeleEach(testCtx(t), nums)
	if err == nil || c.Botched() == nil {
		t.Fatalf("DeleEach = %v, botched %v; want a botched session", err, c.Botched())
	}
	if err := c.Quit(testCtx(t)); err == nil {
		t.Fatal("Quit after a botched pipeline succeeded")
	}
	if srv.Stats().Commits != 0 {
		t.Error("the server committed")
	}
}

package pop3

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/popdedupe/popdedupe/pop3/pop3test"
)

// benchMessage is a plausible message of about size bytes: 76-column
// lines, some starting with a dot.
func benchMessage(i, size int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "Message-ID: <%d@bench>\nSubject: bench %d\n\n", i, i)
	line := strings.Repeat("abcdefghij", 7) + "12345\n"
	for n := 0; b.Len() < size; n++ {
		if n%50 == 0 {
			b.WriteString(".")
		}
		b.WriteString(line)
	}
	return []byte(b.String())
}

func benchRetrEach(b *testing.B, cfg pop3test.Config, msgs, size int) {
	srv := pop3test.NewServer(b, cfg)
	srv.AddUser("alice", testPass)
	total := 0
	for i := 0; i < msgs; i++ {
		m := benchMessage(i, size)
		total += len(m)
		srv.AddMessage("alice", fmt.Sprintf("u%d", i), m)
	}
	ctx := context.Background()
	c, err := Dial(ctx, srv.Addr(), &Options{AllowPlaintextAuth: true})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(ctx, "alice", testPass, AuthUserPass); err != nil {
		b.Fatal(err)
	}
	nums := make([]int, msgs)
	for i := range nums {
		nums[i] = i + 1
	}
	fn := func(n int, r io.Reader) error {
		_, err := io.Copy(io.Discard, r)
		return err
	}
	if err := c.RetrEach(ctx, nums, fn); err != nil { // warm up, caches CAPA
		b.Fatal(err)
	}
	b.SetBytes(int64(total))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := c.RetrEach(ctx, nums, fn); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*msgs), "µs/msg")
}

// BenchmarkRetrEach measures RETR throughput against the fake server, with
// and without PIPELINING, with no latency and with 2 ms per reply (the
// fake server delays each reply like a link with that latency, so a
// lock-step client pays it once per message and a pipelined one once per
// window).
func BenchmarkRetrEach(b *testing.B) {
	for _, delay := range []time.Duration{0, 2 * time.Millisecond} {
		for _, pipe := range []bool{true, false} {
			for _, size := range []int{2 << 10, 20 << 10} {
				name := fmt.Sprintf("delay=%v/pipelining=%v/size=%dK", delay, pipe, size>>10)
				b.Run(name, func(b *testing.B) {
					benchRetrEach(b, pop3test.Config{ReplyDelay: delay, NoPipelining: !pipe}, 100, size)
				})
			}
		}
	}
}

// BenchmarkRetrLarge streams one 10 MB message.
func BenchmarkRetrLarge(b *testing.B) {
	benchRetrEach(b, pop3test.Config{}, 1, 10<<20)
}

package reconcile

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/popdedupe/popdedupe/pop3/pop3test"
	"github.com/popdedupe/popdedupe/scan"
)

// benchMail is message i of the latency benchmark: most are small (2 KiB),
// every fifth is 24 KiB (read with TOP first when it cannot match).
func benchMail(i int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: s%d@example.org\nTo: alice@example.net\nSubject: bench %d\nDate: Mon, 3 Mar 2025 10:00:00 +0000\nMessage-ID: <bench%d@example.org>\n\n", i, i, i)
	lines := 28
	if i%5 == 0 {
		lines = 340
	}
	for l := 0; l < lines; l++ {
		fmt.Fprintf(&b, "%04d line of the benchmark message %06d with some filler text to be 72 wide\n", l, i)
	}
	return b.Bytes()
}

// benchSetup prepares n server messages, the even ones saved locally.
type benchSetup struct {
	msgs  [][]byte
	dir   string
	bytes int64
}

func newBenchSetup(b *testing.B, n int) *benchSetup {
	bs := &benchSetup{dir: maildir(b, filepath.Join(b.TempDir(), "Maildir"))}
	for i := 0; i < n; i++ {
		m := benchMail(i)
		bs.msgs = append(bs.msgs, m)
		bs.bytes += int64(len(m))
		if i%2 == 0 {
			put(b, bs.dir, m, 0, "")
		}
	}
	return bs
}

// once runs one reconcile --delete-saved --apply against a fresh server
// with the given one-way reply delay, and returns its duration.
func (bs *benchSetup) once(b *testing.B, delay time.Duration) (time.Duration, *Result) {
	b.StopTimer()
	srv := pop3test.NewServer(nil, pop3test.Config{ReplyDelay: delay})
	defer srv.Close()
	srv.AddUser(testUser, testPass)
	for i, m := range bs.msgs {
		srv.AddMessage(testUser, uid(i), m)
	}
	res, err := scan.Scan(context.Background(), []string{bs.dir}, scan.Options{})
	if err != nil {
		b.Fatal(err)
	}
	o := Options{Server: srv.Addr(), User: testUser, Password: testPass, TLS: TLSNone, DeleteSaved: true, Apply: true, CommandTimeout: time.Minute}
	b.StartTimer()
	start := time.Now()
	out, err := Run(context.Background(), res, o)
	d := time.Since(start)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if out.Counts.Deleted != (len(bs.msgs)+1)/2 || !out.Session.QuitCommitted {
		b.Fatalf("counts %+v", out.Counts)
	}
	b.StartTimer()
	return d, out
}

// BenchmarkReconcileLatency reconciles 5,000 messages (half saved locally,
// deleted) against a fake server whose replies are delayed, like a link
// with that round-trip time. With pipelining, the time must grow with the
// bytes and a bounded number of round trips, not with the message count:
// extra-rtts/op is (time at 50 ms - time at 0 ms) / 50 ms, the number of
// round trips the latency added (goal: at most about 20; 5,000 round trips
// would be 250 s).
func BenchmarkReconcileLatency(b *testing.B) {
	const n = 5000
	bs := newBenchSetup(b, n)
	b.Run("rtt=0", func(b *testing.B) {
		b.SetBytes(bs.bytes)
		for i := 0; i < b.N; i++ {
			bs.once(b, 0)
		}
	})
	b.Run("rtt=50ms", func(b *testing.B) {
		const rtt = 50 * time.Millisecond
		// The no-latency baseline, outside the timer: best of three.
		base := time.Duration(1<<63 - 1)
		for i := 0; i < 3; i++ {
			d, _ := bs.once(b, 0)
			base = min(base, d)
		}
		b.ResetTimer()
		b.SetBytes(bs.bytes)
		var total time.Duration
		var out *Result
		for i := 0; i < b.N; i++ {
			var d time.Duration
			d, out = bs.once(b, rtt)
			total += d
		}
		avg := total / time.Duration(b.N)
		b.ReportMetric(float64(avg-base)/float64(rtt), "extra-rtts/op")
		b.ReportMetric(float64(avg)/float64(base), "x-vs-rtt0")
		b.ReportMetric(float64(out.Session.Commands), "commands/op")
		b.ReportMetric(float64(base)/1e6, "rtt0-ms")
	})
}

// BenchmarkIdentify measures phase 1 alone on a dry run without latency:
// TOP, RETR and hashing of 2,000 messages.
func BenchmarkIdentify(b *testing.B) {
	bs := newBenchSetup(b, 2000)
	srv := pop3test.NewServer(nil, pop3test.Config{})
	defer srv.Close()
	srv.AddUser(testUser, testPass)
	for i, m := range bs.msgs {
		srv.AddMessage(testUser, uid(i), m)
	}
	res, err := scan.Scan(context.Background(), []string{bs.dir}, scan.Options{HashAll: true})
	if err != nil {
		b.Fatal(err)
	}
	o := Options{Server: srv.Addr(), User: testUser, Password: testPass, TLS: TLSNone, DeleteSaved: true}
	b.SetBytes(bs.bytes)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Run(context.Background(), res, o); err != nil {
			b.Fatal(err)
		}
	}
}

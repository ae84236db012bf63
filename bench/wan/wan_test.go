// Package wan benchmarks reconcile over an emulated wide-area link (package
// internal/netem): real TCP on both ends, a finite rate and a round-trip
// time, so that "time proportional to bytes, plus a few round trips" can be
// measured as a user on a real line would see it.
package wan

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/popdedupe/popdedupe/internal/corpusgen"
	"github.com/popdedupe/popdedupe/internal/netem"
	"github.com/popdedupe/popdedupe/pop3/pop3test"
	"github.com/popdedupe/popdedupe/reconcile"
	"github.com/popdedupe/popdedupe/scan"
)

func TestMain(m *testing.M) { os.Exit(netem.Main(m)) }

const (
	wanMessages = 5000
	wanRate     = 100_000_000           // bits per second, each way
	wanDelay    = 25 * time.Millisecond // each way: 50 ms round trip
	// wanQueue is the link's buffer: one bandwidth-delay product of the
	// 50 ms line, the usual rule for a router.
	wanQueue = wanRate / 8 * 2 * int(wanDelay) / int(time.Second)
)

type wanSetup struct {
	link  *netem.Link
	msgs  []corpusgen.ServerMessage
	dir   string
	saved int
}

// once runs reconcile --delete-saved --apply against a fresh server over
// the link with the given one-way delay (on the benchmark's clock if
// timed); it returns the session's duration
// and the bytes the link carried to the client.
func (ws *wanSetup) once(b *testing.B, delay time.Duration, timed bool) (time.Duration, int64, *reconcile.Result) {
	b.StopTimer()
	ws.link.SetDelay(delay)
	ln, err := ws.link.Listen()
	if err != nil {
		b.Fatal(err)
	}
	srv := pop3test.NewServer(nil, pop3test.Config{Listener: ln})
	defer srv.Close()
	srv.AddUser("bench", "benchpass")
	for _, m := range ws.msgs {
		srv.AddMessage("bench", m.UID, m.Body)
	}
	res, err := scan.Scan(context.Background(), []string{ws.dir}, scan.Options{})
	if err != nil {
		b.Fatal(err)
	}
	o := reconcile.Options{Server: srv.Addr(), User: "bench", Password: "benchpass", TLS: reconcile.TLSNone,
		AllowPlaintext: true, DeleteSaved: true, Apply: true, CommandTimeout: time.Minute}
	_, down0 := ws.link.Stats()
	if timed {
		b.StartTimer()
	}
	start := time.Now()
	out, err := reconcile.Run(context.Background(), res, o)
	d := time.Since(start)
	b.StopTimer()
	_, down1 := ws.link.Stats()
	if err != nil {
		b.Fatal(err)
	}
	if !out.Session.QuitCommitted || out.Counts.Deleted == 0 || out.Counts.Deleted > ws.saved {
		b.Fatalf("deleted %d of %d saved, quit committed %v", out.Counts.Deleted, ws.saved, out.Session.QuitCommitted)
	}
	return d, down1.Bytes - down0.Bytes, out
}

// BenchmarkReconcileWAN reconciles 5,000 messages of realistic sizes
// (corpusgen's defaults: 2 KiB to 200 KiB, mean 20 KiB; half of them saved
// locally, deleted) over a 100 Mbit/s link, interleaving runs with no
// delay and with 25 ms each way (50 ms round trip). ns/op is the time at
// 50 ms. Metrics: transfer-s is the bytes the link carried to the client
// at the no-delay run divided by the rate (the time the bytes alone need);
// x-vs-rtt0 is time at 50 ms / time without delay (goal: at most 1.2);
// extra-rtts is the difference in round trips; x-vs-goal1 is the time at
// 50 ms / (transfer-s + 20 round trips) (goal: at most 1.5). Medians over
// b.N pairs of runs; use -benchtime 3x or more.
func BenchmarkReconcileWAN(b *testing.B) {
	link, err := netem.New(netem.Config{Rate: wanRate, Queue: wanQueue})
	if err != nil {
		b.Skipf("no emulated link: %v", err)
	}
	defer link.Close()
	opts := corpusgen.DefaultOptions(8, wanMessages)
	opts.UnsavedShare = 0.5
	ws := &wanSetup{link: link, dir: filepath.Join(b.TempDir(), "Maildir")}
	if _, err := corpusgen.WriteMaildir(ws.dir, opts); err != nil {
		b.Fatal(err)
	}
	msgs, err := corpusgen.ServerMessages(opts)
	if err != nil {
		b.Fatal(err)
	}
	var total int64
	for _, m := range msgs {
		total += int64(len(m.Body))
		if m.Saved {
			ws.saved++
		}
	}
	ws.msgs = msgs
	var t0s, t50s, xs, transfers []float64
	var deleted int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d0, bytes0, out0 := ws.once(b, 0, false)
		d50, _, out50 := ws.once(b, wanDelay, true)
		if out0.Counts.Deleted != out50.Counts.Deleted {
			b.Fatalf("deleted %d without delay, %d with", out0.Counts.Deleted, out50.Counts.Deleted)
		}
		deleted = out50.Counts.Deleted
		t0s = append(t0s, d0.Seconds())
		t50s = append(t50s, d50.Seconds())
		xs = append(xs, d50.Seconds()/d0.Seconds())
		transfers = append(transfers, float64(bytes0)*8/wanRate)
	}
	b.StopTimer()
	rtt := 2 * wanDelay.Seconds()
	t0, t50, tr := median(t0s), median(t50s), median(transfers)
	b.ReportMetric(t0, "rtt0-s")
	b.ReportMetric(tr, "transfer-s")
	b.ReportMetric(median(xs), "x-vs-rtt0")
	b.ReportMetric((t50-t0)/rtt, "extra-rtts")
	b.ReportMetric(t50/(tr+20*rtt), "x-vs-goal1")
	b.ReportMetric(float64(total)/1e6, "server-MB")
	b.ReportMetric(float64(deleted), "deleted")
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/popdedupe/popdedupe/pop3/pop3test"
	"github.com/popdedupe/popdedupe/reconcile"
	"github.com/popdedupe/popdedupe/scan"
)

// BenchmarkReconcileMem runs the job of BenchmarkReconcileScale (scan of
// the even half, then reconcile --delete-saved --apply) in this process,
// so that its heap can be seen: live-B/msg is the largest live heap seen
// during reconcile.Run (sampled after every GC) less the live heap before
// it (the fake server's messages and the scan result), per server message;
// kept-B/msg is what the Result holds afterwards. RECONCILE_MEM_N sets the
// message count (default 50,000); RECONCILE_MEM_PROFILE names a file for
// the heap profile taken at the largest live heap; RECONCILE_MEM_BIG=1
// makes every message larger than reconcile's small size, so that each is
// first read with TOP n 0.
func BenchmarkReconcileMem(b *testing.B) {
	n := 50000
	if s := os.Getenv("RECONCILE_MEM_N"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil {
			b.Fatal(err)
		}
		n = v
	}
	profPath := os.Getenv("RECONCILE_MEM_PROFILE")
	root := b.TempDir()
	md := emptyMaildir(b, root)
	msgs := make([][]byte, n)
	for i := range msgs {
		msgs[i] = memMail(i)
		if i%2 == 0 {
			name := fmt.Sprintf("%d.M%dP1.bench,S=%d:2,S", 1741000000+i, i, len(msgs[i]))
			if err := os.WriteFile(filepath.Join(md, "cur", name), msgs[i], 0o600); err != nil {
				b.Fatal(err)
			}
		}
	}
	if profPath != "" {
		runtime.MemProfileRate = 4096
	}
	b.ResetTimer()
	var peak, kept int64
	var wall time.Duration
	for it := 0; it < b.N; it++ {
		b.StopTimer()
		srv := startMemServer(b, n)
		ctx := context.Background()
		res, err := scan.Scan(ctx, []string{md}, scan.Options{Workers: runtime.GOMAXPROCS(0) * 4})
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := res.Duplicates(ctx, scan.KeepOldest); err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		base := liveHeap()
		s := startSampler(profPath)
		o := reconcile.Options{Server: srv.addr, User: "scale", Password: "scale-pw", TLS: reconcile.TLSNone,
			DeleteSaved: true, Apply: true, CommandTimeout: time.Minute}
		b.StartTimer()
		start := time.Now()
		out, err := reconcile.Run(ctx, res, o)
		wall += time.Since(start)
		b.StopTimer()
		top := s.stop()
		if err != nil {
			b.Fatal(err)
		}
		if out.Counts.Deleted != n/2 {
			b.Fatalf("counts %+v", out.Counts)
		}
		runtime.GC()
		kept = max(kept, liveHeap()-base)
		peak = max(peak, top-base)
		runtime.KeepAlive(out)
		runtime.KeepAlive(res)
		if left := srv.close(b); left != n/2 {
			b.Fatalf("%d messages left on the server, want %d", left, n/2)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(wall.Microseconds())/float64(b.N)/float64(n), "us/msg")
	b.ReportMetric(float64(peak)/float64(n), "live-B/msg")
	b.ReportMetric(float64(kept)/float64(n), "kept-B/msg")
}

// memServer is the fake server of BenchmarkReconcileMem in a process of
// its own (this test binary again, running TestReconcileMemServer), so
// that its messages are not in the measured heap.
type memServer struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
	addr  string
}

func startMemServer(b *testing.B, n int) *memServer {
	cmd := exec.Command(os.Args[0], "-test.run", "^TestReconcileMemServer$", "-test.count", "1")
	cmd.Env = append(os.Environ(), "RECONCILE_MEM_SERVE="+strconv.Itoa(n))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	s := &memServer{cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout)}
	s.addr = s.field(b, "ADDR ")
	return s
}

func (s *memServer) field(b *testing.B, prefix string) string {
	for {
		line, err := s.out.ReadString('\n')
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), prefix); ok {
			return v
		}
		if err != nil {
			b.Fatalf("fake server: no %q line: %v", prefix, err)
		}
	}
}

// close stops the server and returns how many messages it still holds.
func (s *memServer) close(b *testing.B) int {
	s.stdin.Close()
	left, err := strconv.Atoi(s.field(b, "LEFT "))
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, s.out)
	if err := s.cmd.Wait(); err != nil {
		b.Fatal(err)
	}
	return left
}

// TestReconcileMemServer is the fake server process of
// BenchmarkReconcileMem; without RECONCILE_MEM_SERVE it does nothing.
func TestReconcileMemServer(t *testing.T) {
	v := os.Getenv("RECONCILE_MEM_SERVE")
	if v == "" {
		t.Skip("the fake server process of BenchmarkReconcileMem")
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatal(err)
	}
	srv := pop3test.NewServer(nil, pop3test.Config{})
	defer srv.Close()
	srv.AddUser("scale", "scale-pw")
	for i := 0; i < n; i++ {
		srv.AddMessage("scale", fmt.Sprintf("U%07d", i), memMail(i))
	}
	fmt.Printf("ADDR %s\n", srv.Addr())
	io.Copy(io.Discard, os.Stdin)
	fmt.Printf("LEFT %d\n", len(srv.Messages("scale")))
}

// memMail is scaleMail, with RECONCILE_MEM_BIG=1 made over 4 KiB.
func memMail(i int) []byte {
	m := scaleMail(i)
	if os.Getenv("RECONCILE_MEM_BIG") == "1" {
		m = append(m, bytes.Repeat([]byte("more filler text, so that the message is larger than 4 KiB....\n"), 40)...)
	}
	return m
}

func liveHeap() int64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64())
}

// sampler watches the live heap (as of the last GC) and keeps the heap
// profile taken at its largest.
type sampler struct {
	done chan struct{}
	wg   sync.WaitGroup
	max  int64
}

func startSampler(profPath string) *sampler {
	s := &sampler{done: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-s.done:
				return
			case <-t.C:
			}
			if v := liveHeap(); v > s.max {
				s.max = v
				if profPath != "" {
					f, err := os.Create(profPath)
					if err == nil {
						pprof.Lookup("heap").WriteTo(f, 0)
						f.Close()
					}
				}
			}
		}
	}()
	return s
}

func (s *sampler) stop() int64 {
	close(s.done)
	s.wg.Wait()
	if v := liveHeap(); v > s.max {
		s.max = v
	}
	return s.max
}

package scan

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/popdedupe/popdedupe/internal/corpusgen"
)

// benchMessages is the size of the benchmark incident: 50,000 distinct
// messages by default (POPDEDUPE_BENCH_MESSAGES overrides it).
func benchMessages() int {
	if n, err := strconv.Atoi(os.Getenv("POPDEDUPE_BENCH_MESSAGES")); err == nil && n > 0 {
		return n
	}
	return 50000
}

var benchOnce sync.Map

// benchCorpus generates the incident once per machine, outside the repo
// (POPDEDUPE_BENCH_DIR or the temp dir), and reuses it across runs.
func benchCorpus(b *testing.B, layout string) string {
	n := benchMessages()
	dir := os.Getenv("POPDEDUPE_BENCH_DIR")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "popdedupe-bench")
	}
	path := filepath.Join(dir, fmt.Sprintf("%s-%d", layout, n))
	v, _ := benchOnce.LoadOrStore(path, new(sync.Once))
	v.(*sync.Once).Do(func() {
		if _, err := os.Stat(path + ".done"); err == nil {
			return
		}
		os.RemoveAll(path)
		os.MkdirAll(dir, 0o700)
		opts := corpusgen.DefaultOptions(1, n)
		var err error
		if layout == "mbox" {
			_, err = corpusgen.WriteMbox(path, opts)
		} else {
			_, err = corpusgen.WriteMaildir(path, opts)
		}
		if err != nil {
			b.Fatal(err)
		}
		os.WriteFile(path+".done", nil, 0o600)
	})
	return path
}

// peakRSS reads the process's peak resident set (VmHWM) in bytes.
func peakRSS() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			f := strings.Fields(l)
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// cpuTime is the process's user plus system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchScan(b *testing.B, layout string, hashAll bool) {
	path := benchCorpus(b, layout)
	cpu0 := cpuTime()
	b.ResetTimer()
	var msgs int
	var bytes int64
	var heap uint64
	for i := 0; i < b.N; i++ {
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		res, err := Scan(context.Background(), []string{path}, Options{HashAll: hashAll})
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := res.Duplicates(context.Background(), KeepOldest); err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		heap = after.HeapAlloc - min(before.HeapAlloc, after.HeapAlloc)
		msgs, bytes = len(res.Messages), res.Bytes
		runtime.KeepAlive(res)
	}
	secs := b.Elapsed().Seconds() / float64(b.N)
	// CPU seconds (user + system) per scan: steadier than wall time on a
	// shared machine, and what a 2-core box divides by two at best.
	b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
	b.ReportMetric(float64(msgs)/secs, "msgs/s")
	b.ReportMetric(float64(bytes)/secs/1e6, "MB/s")
	b.ReportMetric(float64(heap)/float64(max(msgs, 1)), "heapB/msg")
	b.ReportMetric(float64(peakRSS())/1e6, "peakRSS-MB")
}

func BenchmarkScanMaildir(b *testing.B)        { benchScan(b, "maildir", false) }
func BenchmarkScanMaildirHashAll(b *testing.B) { benchScan(b, "maildir", true) }
func BenchmarkScanMbox(b *testing.B)           { benchScan(b, "mbox", false) }

// BenchmarkDuplicates times the grouping after a scan (the serial tail of
// `popdedupe scan`): the incident Maildir scanned once, bodies all hashed,
// then grouped by each rule.
func BenchmarkDuplicates(b *testing.B) {
	res, err := Scan(context.Background(), []string{benchCorpus(b, "maildir")}, Options{HashAll: true})
	if err != nil {
		b.Fatal(err)
	}
	for _, rule := range []KeepRule{KeepOldest, KeepFirst} {
		b.Run(string(rule), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := res.Duplicates(context.Background(), rule); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(res.Messages)), "ns/msg")
		})
	}
}

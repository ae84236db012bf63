// Package bench holds the whole-program benchmarks that compare popdedupe
// with the tools a user would otherwise run, on the same data in the same
// run. bench/run drives them together with the scan comparison.
package bench

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/popdedupe/popdedupe/internal/corpusgen"
	"github.com/popdedupe/popdedupe/internal/dovecottest"
)

// fetchMessages is the server's size for BenchmarkFetchMissingVsMpop:
// 20,000 small messages (about 80 MB) as in the reference figures;
// POPDEDUPE_BENCH_FETCH overrides it.
func fetchMessages() int {
	if n, err := strconv.Atoi(os.Getenv("POPDEDUPE_BENCH_FETCH")); err == nil && n > 0 {
		return n
	}
	return 20000
}

func buildPopdedupe(b *testing.B) string {
	bin := filepath.Join(b.TempDir(), "popdedupe")
	out, err := exec.Command("go", "build", "-o", bin, "../cmd/popdedupe").CombinedOutput()
	if err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// BenchmarkFetchMissingVsMpop downloads every message of a real Dovecot
// mailbox, leaving it on the server, once with popdedupe reconcile
// --fetch-missing into an empty Maildir and once with mpop (keep on,
// delivery to a Maildir), interleaved b.N times, and reports both medians
// and their ratio. The goal is popdedupe/mpop <= 0.5. POPDEDUPE_BENCH_WRAP
// is a command line put in front of popdedupe's, for profiling:
// "perf record -g -o /tmp/perf.data --" or "strace -c -f -o /tmp/strace".
// The Maildirs are on a filesystem of their own (benchFS).
func BenchmarkFetchMissingVsMpop(b *testing.B) {
	mpop, err := exec.LookPath("mpop")
	if err != nil {
		b.Fatalf("mpop not found: apt-get install -y mpop (%v)", err)
	}
	bin := buildPopdedupe(b)
	d := dovecottest.Start(b, dovecottest.Config{Users: []dovecottest.User{{Name: "bench", Pass: "benchpass"}}})
	opts := corpusgen.DefaultOptions(1, fetchMessages())
	opts.MinSize, opts.MaxSize, opts.MeanSize = 1<<10, 16<<10, 4<<10
	g, err := corpusgen.New(opts)
	if err != nil {
		b.Fatal(err)
	}
	var total int64
	for m := range g.ServerMessages() {
		if _, err := d.Deliver("bench", m.Body); err != nil {
			b.Fatal(err)
		}
		total += int64(len(m.Body))
	}
	host, port, _ := splitHostPort(d.Addr)
	var ours, theirs []float64
	b.ResetTimer()
	root := benchFS(b)
	for i := 0; i < b.N; i++ {
		dir, err := os.MkdirTemp(root, "run")
		if err != nil {
			b.Fatal(err)
		}
		// popdedupe: one session, fetch everything missing, delete nothing.
		target := filepath.Join(dir, "Fetched")
		for _, s := range []string{"cur", "new", "tmp"} {
			os.MkdirAll(filepath.Join(target, s), 0o700)
		}
		args := append(strings.Fields(os.Getenv("POPDEDUPE_BENCH_WRAP")), bin)
		cmd := exec.Command(args[0], append(args[1:], "reconcile", "--server", d.Addr, "--user", "bench", "--tls", "none",
			"--fetch-missing", target, "--apply", "--quiet", "--progress=never", target)...)
		cmd.Env = append(os.Environ(), "POPDEDUPE_PASSWORD=benchpass", "XDG_STATE_HOME="+filepath.Join(dir, "state"))
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("popdedupe: %v\n%s", err, out)
		}
		ours = append(ours, time.Since(start).Seconds())
		if n := countFiles(b, target); n != opts.Messages {
			b.Fatalf("popdedupe fetched %d messages, want %d", n, opts.Messages)
		}
		// mpop: keep on, a fresh UIDL file, so it downloads everything.
		md := filepath.Join(dir, "mpop")
		for _, s := range []string{"cur", "new", "tmp"} {
			os.MkdirAll(filepath.Join(md, s), 0o700)
		}
		rc := fmt.Sprintf("defaults\naccount b\nhost %s\nport %s\nuser bench\npassword benchpass\nauth user\ntls off\nkeep on\ndelivery maildir %s\nuidls_file %s\n",
			host, port, md, filepath.Join(dir, "uidls"))
		os.WriteFile(filepath.Join(dir, "mpoprc"), []byte(rc), 0o600)
		start = time.Now()
		if out, err := exec.Command(mpop, "-C", filepath.Join(dir, "mpoprc"), "-q", "b").CombinedOutput(); err != nil {
			b.Fatalf("mpop: %v\n%s", err, out)
		}
		theirs = append(theirs, time.Since(start).Seconds())
		if n := countFiles(b, md); n != opts.Messages {
			b.Fatalf("mpop fetched %d messages, want %d", n, opts.Messages)
		}
	}
	b.StopTimer()
	b.ReportMetric(median(ours), "popdedupe-s")
	b.ReportMetric(median(theirs), "mpop-s")
	b.ReportMetric(median(ours)/median(theirs), "ratio")
	b.ReportMetric(float64(total)/1e6, "MB")
}

// benchFS returns the directory the Maildirs of BenchmarkFetchMissingVsMpop
// go to: a fresh ext4 filesystem (mkfs.ext4's defaults, journal included)
// on a loop device, mounted for this benchmark alone. Creating a file on
// an ext4 without a journal (this CI VM's root) costs a scan past every
// inode deleted in the last one to five minutes (the kernel's
// recently_deleted), so on a filesystem where another benchmark has just
// removed its corpus the times depended on which block group each tool's
// files landed in: 2x to 3x apart from run to run. POPDEDUPE_BENCH_FS=tmp
// uses the test's temporary directory instead; so does a machine without
// root, mkfs.ext4 or loop devices (logged).
func benchFS(b *testing.B) string {
	tmp := b.TempDir()
	if os.Getenv("POPDEDUPE_BENCH_FS") == "tmp" {
		return tmp
	}
	img, mnt := filepath.Join(tmp, "fs.img"), filepath.Join(tmp, "mnt")
	steps := [][]string{
		{"truncate", "-s", "8G", img},
		// Inode tables and the journal written now, not by a kernel
		// thread while the tools run.
		{"mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0", img},
		{"mkdir", mnt},
		{"mount", "-o", "loop", img, mnt},
	}
	for _, st := range steps {
		if out, err := exec.Command(st[0], st[1:]...).CombinedOutput(); err != nil {
			b.Logf("no fresh filesystem (%s: %v: %s); using %s", st[0], err, out, tmp)
			return tmp
		}
	}
	b.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			b.Errorf("umount %s: %v: %s", mnt, err, out)
		}
	})
	return mnt
}

func splitHostPort(addr string) (string, string, error) {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			return addr[:i], addr[i+1:], nil
		}
	}
	return addr, "", fmt.Errorf("no port in %q", addr)
}

func countFiles(b *testing.B, md string) int {
	n := 0
	for _, s := range []string{"cur", "new"} {
		ents, err := os.ReadDir(filepath.Join(md, s))
		if err != nil {
			b.Fatal(err)
		}
		n += len(ents)
	}
	return n
}

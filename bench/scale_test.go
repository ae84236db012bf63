package bench

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/popdedupe/popdedupe/pop3/pop3test"
)

// emptyMaildir makes root/Maildir with its cur/, new/ and tmp/.
func emptyMaildir(b *testing.B, root string) string {
	md := filepath.Join(root, "Maildir")
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(md, sub), 0o700); err != nil {
			b.Fatal(err)
		}
	}
	return md
}

// scaleMail is message i of the reconcile scaling benchmark: 2-4 KiB of
// headers and text with its own Message-ID.
func scaleMail(i int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: s%d@example.org\nTo: alice@example.net\nSubject: scale %d\nDate: Mon, 3 Mar 2025 10:00:00 +0000\nMessage-ID: <scale%d@example.org>\n\n", i, i, i)
	for l := 0; l < 24+i%24; l++ {
		fmt.Fprintf(&b, "%04d line of the scaling message %07d, filler text to be 72 wide....\n", l, i)
	}
	return b.Bytes()
}

// BenchmarkReconcileScale runs the whole job, `popdedupe reconcile
// --delete-saved --apply` as a separate process, against an in-process
// fake server of 10k, 50k and 200k messages, the even ones saved in a
// local Maildir: one session that identifies every message (UIDL, LIST,
// TOP, RETR where a local copy could match) and deletes the saved half.
// It reports time and the process's peak RSS per server message: both
// must stay flat as the mailbox grows (issue #8, "the cost grows
// linearly"). The fake server's own memory is not in the figure.
func BenchmarkReconcileScale(b *testing.B) {
	bin := buildPopdedupe(b)
	timeBin, err := exec.LookPath("/usr/bin/time")
	if err != nil {
		b.Fatalf("GNU time not found: apt-get install -y time (%v)", err)
	}
	for _, n := range []int{10000, 50000, 200000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			root := b.TempDir()
			md := emptyMaildir(b, root)
			msgs := make([][]byte, n)
			var total int64
			for i := range msgs {
				msgs[i] = scaleMail(i)
				total += int64(len(msgs[i]))
				if i%2 == 0 {
					name := fmt.Sprintf("%d.M%dP1.bench,S=%d:2,S", 1741000000+i, i, len(msgs[i]))
					if err := os.WriteFile(filepath.Join(md, "cur", name), msgs[i], 0o600); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.SetBytes(total)
			b.ResetTimer()
			var wall time.Duration
			var rss int64
			for it := 0; it < b.N; it++ {
				b.StopTimer()
				srv := pop3test.NewServer(nil, pop3test.Config{})
				srv.AddUser("scale", "scale-pw")
				for i, m := range msgs {
					srv.AddMessage("scale", fmt.Sprintf("U%07d", i), m)
				}
				// Through GNU time: a child's own peak RSS would count this
				// big process's, which it is forked from (the kernel keeps
				// the larger of the two across exec).
				rssFile := filepath.Join(root, "rss")
				cmd := exec.Command(timeBin, "-f", "%M", "-o", rssFile, bin, "reconcile", "--server", srv.Addr(), "--user", "scale", "--tls", "none",
					"--delete-saved", "--apply", "--json", "--progress", "never", md)
				cmd.Env = append(os.Environ(), "POPDEDUPE_PASSWORD=scale-pw", "XDG_STATE_HOME="+filepath.Join(root, "state"))
				var out, errOut bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &errOut
				b.StartTimer()
				start := time.Now()
				err := cmd.Run()
				wall += time.Since(start)
				b.StopTimer()
				if err != nil {
					b.Fatalf("reconcile: %v\n%s", err, errOut.String())
				}
				if left := len(srv.Messages("scale")); left != n/2 {
					b.Fatalf("%d messages left on the server, want %d", left, n/2)
				}
				if kb, err := os.ReadFile(rssFile); err == nil {
					if v, err := strconv.ParseInt(strings.TrimSpace(string(kb)), 10, 64); err == nil {
						rss = max(rss, v*1024)
					}
				}
				srv.Close()
				// The saved half was deleted on this server only: the
				// local store is unchanged for the next iteration.
				b.StartTimer()
			}
			b.ReportMetric(float64(wall.Microseconds())/float64(b.N)/float64(n), "us/msg")
			b.ReportMetric(float64(rss)/float64(n), "RSS-B/msg")
			b.ReportMetric(float64(rss)/1e6, "peakRSS-MB")
		})
	}
}

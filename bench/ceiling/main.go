// Command ceiling is the benchmark's speed ceiling: it reads every regular
// file under its arguments and xxhashes the bytes, with no parsing at all,
// using N goroutines that each reuse one buffer. A file of 64 MiB or more
// (an mbox) is read as N ranges at once, as popdedupe splits it. popdedupe
// scan cannot be faster than this on the same data.
package main

import (
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/cespare/xxhash/v2"
)

// job is a file, or a range of one (n > 0).
type job struct {
	path   string
	off, n int64
}

const splitAt = 64 << 20

func main() {
	workers := flag.Int("j", 8, "parallel readers")
	flag.Parse()
	jobs := make(chan job, 1024)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		files int
		bytes int64
		sum   uint64
	)
	for i := 0; i < *workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 256<<10)
			d := xxhash.New()
			var n, b int64
			var s uint64
			for j := range jobs {
				f, err := os.Open(j.path)
				if err != nil {
					continue
				}
				var r io.Reader = f
				if j.n > 0 {
					r = io.NewSectionReader(f, j.off, j.n)
				}
				d.Reset()
				c, _ := io.CopyBuffer(d, struct{ io.Reader }{r}, buf)
				f.Close()
				if j.off == 0 {
					n++
				}
				b += c
				s ^= d.Sum64()
			}
			mu.Lock()
			files += int(n)
			bytes += b
			sum ^= s
			mu.Unlock()
		}()
	}
	for _, root := range flag.Args() {
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return nil
			}
			fi, err := d.Info()
			if err != nil || fi.Size() < splitAt || *workers < 2 {
				jobs <- job{path: p}
				return nil
			}
			size, k := fi.Size(), int64(*workers)
			for i := int64(0); i < k; i++ {
				jobs <- job{p, size * i / k, size*(i+1)/k - size*i/k}
			}
			return nil
		})
	}
	close(jobs)
	wg.Wait()
	fmt.Printf("%d files, %d bytes, xor %016x\n", files, bytes, sum)
}

// Command ceiling is the benchmark's speed ceiling: it reads every regular
// file under its arguments (or one file sequentially) and xxhashes the
// bytes, with no parsing at all, using N goroutines that each reuse one
// buffer. popdedupe scan cannot be faster than this on the same data.
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

func main() {
	workers := flag.Int("j", 8, "parallel readers")
	flag.Parse()
	paths := make(chan string, 1024)
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
			for p := range paths {
				f, err := os.Open(p)
				if err != nil {
					continue
				}
				d.Reset()
				c, _ := io.CopyBuffer(d, struct{ io.Reader }{f}, buf)
				f.Close()
				n++
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
			if err == nil && d.Type().IsRegular() {
				paths <- p
			}
			return nil
		})
	}
	close(paths)
	wg.Wait()
	fmt.Printf("%d files, %d bytes, xor %016x\n", files, bytes, sum)
}

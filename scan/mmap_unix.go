//go:build unix

package scan

import (
	"os"

	"golang.org/x/sys/unix"
)

// mapFile maps size bytes of f for reading, or returns nil when it cannot
// (then the file is read with read(2)).
func mapFile(f *os.File, size int64) []byte {
	if !mapMboxes || size <= 0 || size != int64(int(size)) {
		return nil
	}
	b, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil
	}
	return b
}

func unmapFile(b []byte) { unix.Munmap(b) }

// giveBack drops the pages of data[from:to] that lie wholly inside it from
// the process (they stay in the page cache; a shared read-only mapping
// loses nothing) and returns where the dropped range ends.
func giveBack(data []byte, from, to int64) int64 {
	page := int64(os.Getpagesize())
	start, end := (from+page-1)/page*page, to/page*page
	if end <= start {
		return from
	}
	unix.Madvise(data[start:end], unix.MADV_DONTNEED)
	return end
}

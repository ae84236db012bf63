package scan

import (
	"sync"
	"sync/atomic"
	"unsafe"
)

// arena stores the short strings of message records (Maildir file names,
// Message-IDs, X-UIDL values) back to back in fixed chunks, so that a
// record costs a 6-byte reference instead of a string header plus a
// rounded-up allocation, and records hold no pointer for the garbage
// collector to follow. Chunks are never moved or overwritten once
// written, so the strings handed out stay valid; reading needs no lock
// (the list of chunks is replaced, never changed in place).
type arena struct {
	mu     sync.Mutex
	chunks atomic.Pointer[[]*[arenaChunk]byte]
	used   int  // bytes used in the last chunk, under mu
	full   bool // the arena ran out of references (see add), under mu
}

const (
	arenaChunk = 1 << 20
	// maxChunks keeps every offset within a uint32: 4 GiB of names and
	// Message-IDs, some 35 million messages in one scan.
	maxChunks = 1 << 12
)

// strRef names a string in the arena: a global offset and a length.
type strRef struct {
	off uint32
	n   uint16
}

// add copies s into the arena. Strings longer than 65535 bytes are cut
// (Maildir names are at most 255 bytes; X-UIDL at most 70 by RFC 1939;
// longer Message-IDs are refused before they get here). When the arena
// is full it returns the empty reference and remembers it (Full).
func (a *arena) add(s string) strRef {
	if len(s) == 0 {
		return strRef{}
	}
	if len(s) > 0xffff {
		s = s[:0xffff]
	}
	off, end := a.reserve(len(s))
	if off == end {
		return strRef{}
	}
	c := a.list()[off/arenaChunk]
	copy(c[off%arenaChunk:], s)
	return strRef{off: uint32(off), n: uint16(len(s))}
}

func (a *arena) list() []*[arenaChunk]byte {
	if p := a.chunks.Load(); p != nil {
		return *p
	}
	return nil
}

// Full reports whether a string could not be stored.
func (a *arena) Full() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.full
}

// intern copies b into the arena and returns it as an arena string (the
// fingerprint.Parser's Intern hook: no allocation per message).
func (a *arena) intern(b []byte) string {
	if len(b) > 0xffff {
		return string(b) // refused later (see setPrint), never stored
	}
	return a.get(a.add(unsafe.String(unsafe.SliceData(b), len(b))))
}

// arenaBlock is one parser's share of an arena: a run of bytes reserved
// under the arena's lock and then filled without it. Every core's parser
// interns the Message-ID and X-UIDL of every message; one lock for each
// of those strings was a tenth of the header's cost in an mbox scan.
type arenaBlock struct {
	a        *arena
	off, end uint64 // the free part of the block (global offsets)
}

// arenaBlockSize is how much a block reserves at a time; a block's
// unused end is left when a string does not fit (strings are short).
const arenaBlockSize = 4 << 10

// intern is arena.intern in the parser's block.
func (k *arenaBlock) intern(b []byte) string {
	if len(b) == 0 || len(b) > 0xffff {
		return k.a.intern(b)
	}
	if int(k.end-k.off) < len(b) {
		k.off, k.end = k.a.reserve(max(len(b), arenaBlockSize))
		if k.off == k.end {
			return k.a.intern(b) // the arena is full: add says so
		}
	}
	r := strRef{off: uint32(k.off), n: uint16(len(b))}
	c := k.a.list()[r.off/arenaChunk]
	copy(c[r.off%arenaChunk:], b)
	k.off += uint64(len(b))
	return k.a.get(r)
}

// reserve takes up to n bytes (n <= arenaChunk) at the end of the last
// chunk, or all of n in a new one, and returns their global offsets; an
// empty range when the arena is full.
func (a *arena) reserve(n int) (off, end uint64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	cs := a.list()
	if len(cs) == 0 || a.used+n > arenaChunk {
		if len(cs) == maxChunks {
			a.full = true
			return 0, 0
		}
		grown := make([]*[arenaChunk]byte, len(cs)+1)
		copy(grown, cs)
		grown[len(cs)] = new([arenaChunk]byte)
		a.chunks.Store(&grown)
		cs, a.used = grown, 0
	}
	off = uint64(len(cs)-1)*arenaChunk + uint64(a.used)
	a.used += n
	return off, off + uint64(n)
}

// refOf returns the reference of a string that intern returned, found
// among the newest chunks (where a string just made lies).
func (a *arena) refOf(s string) (strRef, bool) {
	if len(s) == 0 || len(s) > 0xffff {
		return strRef{}, false
	}
	p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
	cs := a.list()
	for i := len(cs) - 1; i >= 0 && i >= len(cs)-4; i-- {
		base := uintptr(unsafe.Pointer(cs[i]))
		if p >= base && p+uintptr(len(s)) <= base+arenaChunk {
			return strRef{off: uint32(i)*arenaChunk + uint32(p-base), n: uint16(len(s))}, true
		}
	}
	return strRef{}, false
}

// ref returns the reference of s, stored anew unless intern made it.
func (a *arena) ref(s string) strRef {
	if r, ok := a.refOf(s); ok {
		return r
	}
	return a.add(s)
}

// get returns the string r names.
func (a *arena) get(r strRef) string {
	if r.n == 0 {
		return ""
	}
	c := a.list()[r.off/arenaChunk]
	return unsafe.String(&c[r.off%arenaChunk], int(r.n))
}

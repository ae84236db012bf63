package scan

import (
	"strings"
	"sync"
	"unsafe"
)

// arena stores the short strings of message records (Maildir file names,
// X-UIDL values) back to back in fixed chunks, so that a record costs a
// 6-byte reference instead of a string header plus a rounded-up
// allocation. Chunks are never moved or overwritten once written, so the
// strings handed out stay valid.
type arena struct {
	mu     sync.Mutex
	chunks [][]byte
}

const arenaChunk = 1 << 20

// strRef names a string in the arena: a global offset and a length.
type strRef struct {
	off uint32
	n   uint16
}

// add copies s into the arena. Strings longer than 65535 bytes are cut
// (Maildir names are at most 255 bytes; X-UIDL at most 70 by RFC 1939).
func (a *arena) add(s string) strRef {
	if len(s) == 0 {
		return strRef{}
	}
	if len(s) > 0xffff {
		s = s[:0xffff]
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	last := len(a.chunks) - 1
	if last < 0 || len(a.chunks[last])+len(s) > cap(a.chunks[last]) {
		a.chunks = append(a.chunks, make([]byte, 0, max(arenaChunk, len(s))))
		last++
	}
	c := a.chunks[last]
	off := uint32(last)*arenaChunk + uint32(len(c))
	a.chunks[last] = append(c, s...)
	return strRef{off: off, n: uint16(len(s))}
}

// str copies s into the arena and returns it as a string that shares the
// arena's memory: the record keeps only a string header. A string too long
// for a reference is copied whole instead: it is an identity (a Message-ID
// of 100 KB), and a cut one would differ from the message's own.
func (a *arena) str(s string) string {
	if len(s) > 0xffff {
		return strings.Clone(s)
	}
	return a.get(a.add(s))
}

// intern copies b into the arena and returns it as an arena string (the
// fingerprint.Parser's Intern hook: no allocation per message).
func (a *arena) intern(b []byte) string {
	return a.str(unsafe.String(unsafe.SliceData(b), len(b)))
}

// refOf returns the reference of a string that str or intern returned,
// found among the newest chunks (where a string just made lies).
func (a *arena) refOf(s string) (strRef, bool) {
	if len(s) == 0 || len(s) > 0xffff {
		return strRef{}, false
	}
	p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := len(a.chunks) - 1; i >= 0 && i >= len(a.chunks)-4; i-- {
		c := a.chunks[i]
		base := uintptr(unsafe.Pointer(unsafe.SliceData(c)))
		if p >= base && p+uintptr(len(s)) <= base+uintptr(len(c)) {
			return strRef{off: uint32(i)*arenaChunk + uint32(p-base), n: uint16(len(s))}, true
		}
	}
	return strRef{}, false
}

// get returns the string r names.
func (a *arena) get(r strRef) string {
	if r.n == 0 {
		return ""
	}
	a.mu.Lock()
	c := a.chunks[r.off/arenaChunk]
	a.mu.Unlock()
	b := c[r.off%arenaChunk : r.off%arenaChunk+uint32(r.n)]
	return unsafe.String(&b[0], len(b))
}

package uidlstate

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

// BenchmarkRebuild20k measures a whole rebuild of a 20,000-message account
// (the size of the incidents in POP3-NOTES.md): read the old state (10,000
// entries), Rebuild against the server listing, Replace, and encode.
func BenchmarkRebuild20k(b *testing.B) {
	const n = 20000
	now := time.Unix(1_750_000_000, 0)
	acct := Account{Host: "pop.example.com", Port: 110, User: "alice"}
	server := make([]string, n)
	saved := make(map[string]time.Time, n)
	for i := range server {
		server[i] = fmt.Sprintf("%08x6b082e9d", i+1)
		saved[server[i]] = now.Add(-time.Duration(i) * time.Second)
	}
	for _, format := range Formats() {
		f, _ := New(format)
		half, _, err := Rebuild(nil, server[:n/2], saved, now, format)
		if err != nil {
			b.Fatal(err)
		}
		if err := f.Replace(acct, half); err != nil {
			b.Fatal(err)
		}
		data := f.Bytes()
		b.Run(string(format), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				g, err := Read(format, bytes.NewReader(data), "")
				if err != nil {
					b.Fatal(err)
				}
				entries, _, err := Rebuild(g.Entries(acct), server, saved, now, format)
				if err != nil {
					b.Fatal(err)
				}
				if err := g.Replace(acct, entries); err != nil {
					b.Fatal(err)
				}
				if len(g.Bytes()) <= len(data) {
					b.Fatal("rebuilt state is not larger")
				}
			}
		})
	}
}

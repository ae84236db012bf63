package fingerprint

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/cespare/xxhash/v2"
)

// benchMessage is a realistic message of about size bytes: a header block
// of ordinary length and a body of 72-character lines with some blank
// lines and some "From " lines.
func benchMessage(size int) []byte {
	var b bytes.Buffer
	b.WriteString(strings.Repeat("Received: from relay.example.org (relay.example.org [192.0.2.1]) by mx.example.net with ESMTPS id 4Xk2; Mon, 2 Jan 2006 15:04:05 +0000\n", 4))
	b.WriteString(base[strings.Index(base, "From:") : strings.Index(base, "\n\n")+2])
	for i := 0; b.Len() < size; i++ {
		switch i % 17 {
		case 0:
			b.WriteString("\n")
		case 5:
			b.WriteString("From the last report, the totals were revised upwards by some percent.\n")
		default:
			fmt.Fprintf(&b, "line %6d of the body text, long enough to look like real prose here...\n", i)
		}
	}
	return b.Bytes()
}

func BenchmarkSum(b *testing.B) {
	for _, size := range []int{2 << 10, 20 << 10, 200 << 10} {
		msg := benchMessage(size)
		crlf := bytes.ReplaceAll(msg, []byte("\n"), []byte("\r\n"))
		for _, v := range []struct {
			name string
			data []byte
			full bool
		}{{"lf", msg, true}, {"crlf", crlf, true}, {"header", msg, false}} {
			b.Run(fmt.Sprintf("%s/%dKB", v.name, size>>10), func(b *testing.B) {
				p := NewParser()
				r := bytes.NewReader(v.data)
				b.SetBytes(int64(len(v.data)))
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					r.Reset(v.data)
					if _, err := p.Sum(r, -1, v.full); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkRawHash is the ceiling: xxhash of the bytes with no parsing.
func BenchmarkRawHash(b *testing.B) {
	msg := benchMessage(20 << 10)
	b.SetBytes(int64(len(msg)))
	for i := 0; i < b.N; i++ {
		xxhash.Sum64(msg)
	}
}

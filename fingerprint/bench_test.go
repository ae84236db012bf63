package fingerprint

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/popdedupe/popdedupe/internal/corpusgen"
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

// bodyKinds are message bodies of the kinds a mail store holds, for
// SumBytes (the scanner's entry point for mbox slices and whole files).
func bodyKinds() []struct {
	name string
	msg  []byte
} {
	const size = 20 << 10
	lf := benchMessage(size)
	head := lf[:bytes.Index(lf, []byte("\n\n"))+2]
	var b64, quoted, html bytes.Buffer
	b64.Write(head)
	for i := 0; b64.Len() < size; i++ {
		// base64 lines: 76 characters of an attachment.
		for j := range 76 {
			b64.WriteByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[(i*31+j*7)%64])
		}
		b64.WriteByte('\n')
	}
	quoted.Write(head)
	quoted.WriteString("On Mon, 2 Jan 2006, Alice wrote:\n")
	for i := 0; quoted.Len() < size; i++ {
		switch i % 9 {
		case 0:
			quoted.WriteString(">\n")
		case 4:
			quoted.WriteString(">> an older reply, quoted twice, with its own words in it\n")
		default:
			fmt.Fprintf(&quoted, "> line %d of the quoted message, as a mail client writes it back\n", i)
		}
	}
	html.Write(head)
	for i := 0; html.Len() < size; i++ {
		fmt.Fprintf(&html, "<tr><td class=3D\"c%d\">cell</td><td>&gt; %d</td></tr>\n", i%7, i)
	}
	toCRLF := func(b []byte) []byte { return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n")) }
	// A list message as a large provider delivers it: most of it header.
	var hdr bytes.Buffer
	for i := range 6 {
		fmt.Fprintf(&hdr, "Received: from mail-sor-f%d.example.com (mail-sor-f%d.example.com. [209.85.220.%d])\n"+
			"        by mx.example.net with SMTPS id a%d-20020a05;\n        Mon, 2 Jan 2006 15:04:0%d -0800 (PST)\n", i, i, i, i, i)
	}
	hdr.WriteString("ARC-Seal: i=1; a=rsa-sha256; t=1136243045; cv=none; d=example.com; s=arc-20160816;\n")
	for range 6 {
		hdr.WriteString("        b=Qm9keSBvZiB0aGUgc2lnbmF0dXJlIGluIGJhc2U2NCwgZm9sZGVkIGFjcm9zcyBtYW55IGxpbmVz\n")
	}
	hdr.WriteString("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.org; s=20230601;\n" +
		"        h=to:subject:message-id:date:from:mime-version:from:to:cc:subject\n         :date:message-id:reply-to;\n")
	for range 5 {
		hdr.WriteString("        b=c2lnbmF0dXJlIGJ5dGVzIGluIGJhc2U2NCwgZm9sZGVkIGFjcm9zcyBtYW55IGxpbmVzLCBhZ2Fpbg==\n")
	}
	hdr.WriteString("X-Google-Smtp-Source: AGHT+IFfakeSourceValueThatIsLongEnoughToLookReal==\n" +
		"X-Received: by 2002:a05:6402:1234:b0:55f:1234 with SMTP id x4-20020a05; Mon, 02 Jan 2006 15:04:05 -0800 (PST)\n" +
		"Return-Path: <list-bounces+bob=example.net@lists.example.org>\n" +
		"MIME-Version: 1.0\n" +
		"From: \"Alice Example\" <alice@example.org>\n" +
		"Date: Mon, 2 Jan 2006 15:04:05 -0800\n" +
		"Message-ID: <CAFake+1234567890abcdefABCDEF=xyz@mail.example.org>\n" +
		"Subject: Re: [list] Quarterly figures, and the\n\t revised totals for the last report\n" +
		"To: list@lists.example.org\n" +
		"Cc: Bob <bob@example.net>, Carol <carol@example.com>, Dave <dave@example.com>\n" +
		"Content-Type: text/plain; charset=\"UTF-8\"\n" +
		"List-Id: <list.lists.example.org>\n" +
		"List-Unsubscribe: <mailto:list-leave@lists.example.org>, <https://lists.example.org/leave>\n" +
		"List-Archive: <https://lists.example.org/archive>\n" +
		"Precedence: list\n" +
		"X-Spam-Status: No, score=-2.1 required=5.0 tests=BAYES_00,DKIM_SIGNED,DKIM_VALID\n\tautolearn=ham version=3.4.6\n" +
		"\nThanks, that settles it.\n\n-- \nAlice\n")
	return []struct {
		name string
		msg  []byte
	}{
		{"lf", lf}, {"crlf", toCRLF(lf)},
		{"base64", b64.Bytes()}, {"base64-crlf", toCRLF(b64.Bytes())},
		{"quoted", quoted.Bytes()}, {"quoted-crlf", toCRLF(quoted.Bytes())},
		{"html", html.Bytes()},
		{"header", hdr.Bytes()}, {"header-crlf", toCRLF(hdr.Bytes())},
	}
}

// benchIntern stands for the scanner's string arena, so that the
// benchmarks count the parser's own allocations only.
func benchIntern([]byte) string { return "interned" }

func BenchmarkSumBytes(b *testing.B) {
	for _, k := range bodyKinds() {
		b.Run(k.name, func(b *testing.B) {
			p := NewParser()
			p.Intern = benchIntern
			b.SetBytes(int64(len(k.msg)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.SumBytes(k.msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSumBytesCorpus fingerprints every real message of the shared
// corpus, as stored: the mix of header and body shapes the scanner meets.
func BenchmarkSumBytesCorpus(b *testing.B) {
	var msgs [][]byte
	var total int64
	for _, f := range singleMessageFiles(b) {
		raw, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		msgs = append(msgs, raw)
		total += int64(len(raw))
	}
	p := NewParser()
	p.Intern = benchIntern
	b.SetBytes(total)
	b.ReportAllocs()
	for b.Loop() {
		for _, m := range msgs {
			p.SumBytes(m)
		}
	}
}

// BenchmarkSumRead is the Maildir scan's header-first pass on a file read
// whole into the parser's buffer (the body is hashed as it is there).
func BenchmarkSumRead(b *testing.B) {
	for _, k := range bodyKinds() {
		b.Run(k.name, func(b *testing.B) {
			p := NewParser()
			p.Intern = benchIntern
			rest := bytes.NewReader(nil) // nothing left to read
			b.SetBytes(int64(len(k.msg)))
			b.ReportAllocs()
			for b.Loop() {
				n := copy(p.Buffer(), k.msg)
				if _, err := p.SumRead(n, rest, int64(len(k.msg)), func(string, uint64) bool { return false }); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// headerBenchMessages are the messages BenchmarkHeader parses: every real
// corpus message, and realistic generated ones (Received chains, folded
// DKIM signatures, client fields; some with an mbox envelope line).
func headerBenchMessages(b *testing.B) (real, gen [][]byte) {
	for _, f := range singleMessageFiles(b) {
		raw, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		real = append(real, raw)
	}
	g, err := corpusgen.New(corpusgen.DefaultOptions(1, 2000))
	if err != nil {
		b.Fatal(err)
	}
	for i := range g.Len() {
		gen = append(gen, g.Message(i))
	}
	return real, gen
}

// BenchmarkHeader times header() alone on messages in place (as SumBytes
// reads them), in ns per message. "ab" times header and headerRef (the
// code before the faster header loop) in turns within each iteration,
// so that a noisy machine slows both alike: new-ns/msg against
// ref-ns/msg.
func BenchmarkHeader(b *testing.B) {
	real, gen := headerBenchMessages(b)
	for _, set := range []struct {
		name string
		msgs [][]byte
	}{{"real", real}, {"gen", gen}, {"gen-hot", gen[:32]}} {
		b.Run(set.name+"/ab", func(b *testing.B) {
			p := NewParser()
			p.Intern = benchIntern
			var pr Print
			var took [2]time.Duration
			n := 0
			for b.Loop() {
				for impl := range 2 {
					start := time.Now()
					for _, m := range set.msgs {
						p.reset(emptyReader{}, int64(len(m)))
						p.buf, p.end, p.eof, p.inPlace = m, len(m), true, true
						if impl == 0 {
							p.header(&pr)
						} else {
							p.headerRef(&pr)
						}
					}
					took[impl] += time.Since(start)
				}
				n += len(set.msgs)
			}
			b.ReportMetric(float64(took[0].Nanoseconds())/float64(n), "new-ns/msg")
			b.ReportMetric(float64(took[1].Nanoseconds())/float64(n), "ref-ns/msg")
			b.ReportMetric(float64(took[0])/float64(took[1]), "new/ref")
		})
	}
}

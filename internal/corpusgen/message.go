package corpusgen

import (
	"mime"
	"strconv"
	"strings"
	"time"
)

// worker holds the buffers and random streams for generating messages one
// after another without allocating. A worker is used by one goroutine.
type worker struct {
	g       *Generator
	r       rng // content stream of the message being written
	tr      rng // trace stream
	raw     []byte
	scratch []byte
	body    []byte
}

// traceEstimate is the usual length of the trace headers; a message's
// content is sized to its target minus this, so the content does not depend
// on the trace and a conflicting re-delivery can repeat it exactly.
const traceEstimate = 330

// message appends the server copy of the message planned in p.
func (w *worker) message(dst []byte, p *plan) []byte {
	rp := p
	if p.root != p.i {
		root := w.g.plan(p.root)
		rp = &root
	}
	dst = w.appendTrace(dst, p, rp)
	dst = w.appendContent(dst, rp, rp.size-traceEstimate)
	if rp != p {
		dst = w.appendFooter(dst, p)
	}
	return dst
}

// appendTrace appends the lines the receiving server added for message p:
// Return-Path, Delivered-To and the last Received hop.
func (w *worker) appendTrace(dst []byte, p, rp *plan) []byte {
	g := w.g
	r := &w.tr
	r.seed(g.opts.Seed, p.i, streamTrace)
	sender := g.people[rp.sender]
	dst = append(dst, "Return-Path: <"...)
	if rp.list >= 0 {
		dst = append(dst, lists[rp.list]...)
		dst = append(dst, "-bounces+"...)
		dst = append(dst, strings.Replace(g.owner.addr, "@", "=", 1)...)
		dst = append(dst, "@lists.example.org"...)
	} else {
		dst = append(dst, sender.addr...)
	}
	dst = append(dst, ">\nDelivered-To: "...)
	dst = append(dst, g.owner.addr...)
	mx := r.between(1, 3)
	dst = append(dst, "\nReceived: from mx"...)
	dst = strconv.AppendInt(dst, int64(mx), 10)
	dst = append(dst, ".example.net (mx"...)
	dst = strconv.AppendInt(dst, int64(mx), 10)
	dst = append(dst, ".example.net [192.0.2."...)
	dst = strconv.AppendInt(dst, int64(10+mx), 10)
	dst = append(dst, "])\n\tby pop.example.net with LMTP\n\tid "...)
	// Unique per message: splitmix64 is a bijection.
	dst = appendHex(dst, splitmix64(uint64(p.i)^uint64(g.opts.Seed)*0x2545f4914f6cdd1d), 8)
	dst = append(dst, "\n\t(envelope-from <"...)
	dst = append(dst, sender.addr...)
	dst = append(dst, ">)\n\tfor <"...)
	dst = append(dst, g.owner.addr...)
	dst = append(dst, ">; "...)
	dst = p.recv.UTC().AppendFormat(dst, "Mon, 2 Jan 2006 15:04:05 -0700 (MST)")
	return append(dst, '\n')
}

// appendFooter appends what a mailing list added when it delivered the
// message again: same Message-ID, different body.
func (w *worker) appendFooter(dst []byte, p *plan) []byte {
	l := lists[p.i%len(lists)]
	dst = append(dst, "\n_______________________________________________\n"...)
	dst = append(dst, l...)
	dst = append(dst, " mailing list -- "...)
	dst = append(dst, l...)
	dst = append(dst, "@lists.example.org\nTo unsubscribe send an email to "...)
	dst = append(dst, l...)
	dst = append(dst, "-leave@lists.example.org\nArchived at https://lists.example.org/archives/"...)
	dst = append(dst, l...)
	dst = append(dst, '/')
	dst = appendHex(dst, splitmix64(uint64(p.i)^uint64(w.g.opts.Seed)), 6)
	return append(dst, "/\n"...)
}

func domainOf(addr string) string { return addr[strings.IndexByte(addr, '@')+1:] }

// appendAddress appends "Name <addr>" with the name quoted or RFC 2047
// encoded as mail programs do.
func appendAddress(dst []byte, r *rng, p person) []byte {
	switch {
	case !isASCII(p.name):
		if r.chance(0.5) {
			dst = append(dst, mime.QEncoding.Encode("utf-8", p.name)...)
		} else {
			dst = append(dst, mime.BEncoding.Encode("UTF-8", p.name)...)
		}
	case r.chance(0.3):
		dst = append(dst, '"')
		dst = append(dst, p.name...)
		dst = append(dst, '"')
	default:
		dst = append(dst, p.name...)
	}
	dst = append(dst, " <"...)
	dst = append(dst, p.addr...)
	return append(dst, '>')
}

// baseSubject returns the subject line message j starts a thread with.
func (g *Generator) baseSubject(j int, utf bool) string {
	var r rng
	r.seed(g.opts.Seed, j, streamGlobal+1+uint64(j)%7)
	n := r.between(2, 6)
	var b []byte
	for k := range n {
		if k > 0 {
			b = append(b, ' ')
		}
		wd := pick(&r, subjectWords)
		if utf && r.chance(0.3) {
			wd = pick(&r, utf8Words)
		}
		if k == 0 && wd[0] >= 'a' && wd[0] <= 'z' {
			b = append(b, wd[0]-'a'+'A')
			wd = wd[1:]
		}
		b = append(b, wd...)
	}
	if r.chance(0.2) {
		b = append(b, " ("...)
		b = strconv.AppendInt(b, int64(r.between(1, 12)), 10)
		b = append(b, '/')
		b = strconv.AppendInt(b, int64(r.between(1, 28)), 10)
		b = append(b, ')')
	}
	return string(b)
}

// appendMsgID appends the Message-ID of root message rp (a plan with
// root == i), angle brackets included. The 64-bit core is a bijection of
// the index, so distinct roots never share an ID.
func (g *Generator) appendMsgID(dst []byte, rp *plan) []byte {
	id := splitmix64(uint64(rp.i) ^ uint64(g.opts.Seed)*0x9e3779b97f4a7c15)
	extra := splitmix64(id)
	sender := g.people[rp.sender]
	dom := domainOf(sender.addr)
	dst = append(dst, '<')
	switch extra % 5 {
	case 0: // webmail style
		dst = append(dst, "CA"...)
		const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+-"
		for v, k := id, 0; k < 11; k++ {
			dst = append(dst, b64[v&63])
			v >>= 6
		}
		for v, k := extra, 0; k < 30; k++ {
			if k > 0 && k%10 == 0 {
				v = splitmix64(extra + uint64(k))
			}
			dst = append(dst, b64[v&63])
			v >>= 6
		}
		dst = append(dst, "@mail.example.com"...)
	case 1:
		dst = appendHex(dst, id, 8)
		dst = append(dst, '.')
		dst = appendHex(dst, extra, 4)
		dst = append(dst, '@')
		dst = append(dst, dom...)
	case 2: // UUID
		dst = appendHex(dst, id>>32, 4)
		dst = append(dst, '-')
		dst = appendHex(dst, id>>16, 2)
		dst = append(dst, '-')
		dst = appendHex(dst, id, 2)
		dst = append(dst, '-')
		dst = appendHex(dst, extra>>48, 2)
		dst = append(dst, '-')
		dst = appendHex(dst, extra, 6)
		dst = append(dst, '@')
		dst = append(dst, dom...)
	case 3: // git-send-email
		dst = rp.date.UTC().AppendFormat(dst, "20060102150405")
		dst = append(dst, '.')
		dst = strconv.AppendUint(dst, id, 10)
		dst = append(dst, "-1-"...)
		dst = append(dst, sender.addr...)
	default: // JavaMail
		dst = strconv.AppendUint(dst, id, 10)
		dst = append(dst, '.')
		dst = strconv.AppendUint(dst, extra%1000000, 10)
		dst = append(dst, ".JavaMail.app@"...)
		dst = append(dst, dom...)
	}
	return append(dst, '>')
}

// msgIDOf returns message j's Message-ID, or nil when it has none.
func (g *Generator) msgIDOf(j int) []byte {
	p := g.plan(j)
	if !p.hasMsgID {
		return nil
	}
	if p.root != j {
		p = g.plan(p.root)
	}
	return g.appendMsgID(nil, &p)
}

func appendReceived(dst []byte, r *rng, from, by, with, owner string, t time.Time) []byte {
	dst = append(dst, "Received: from "...)
	dst = append(dst, from...)
	dst = append(dst, " ("...)
	dst = append(dst, from...)
	dst = append(dst, " ["...)
	dst = append(dst, pick(r, []string{"198.51.100.", "203.0.113.", "192.0.2."})...)
	dst = strconv.AppendInt(dst, int64(r.between(2, 254)), 10)
	dst = append(dst, "])\n\tby "...)
	dst = append(dst, by...)
	dst = append(dst, " ("...)
	dst = append(dst, with...)
	dst = append(dst, ") with ESMTPS id "...)
	dst = appendUpperHex(dst, r.u64(), 5)
	dst = append(dst, "\n\tfor <"...)
	dst = append(dst, owner...)
	dst = append(dst, ">; "...)
	dst = t.UTC().AppendFormat(dst, "Mon, 2 Jan 2006 15:04:05 -0700 (MST)")
	return append(dst, '\n')
}

func appendFolded64(dst []byte, r *rng, n int) []byte {
	const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	var v uint64
	for k := range n {
		if k%10 == 0 {
			v = r.u64()
		}
		if k > 0 && k%70 == 0 {
			dst = append(dst, "\n\t "...)
		}
		dst = append(dst, b64[v&63])
		v >>= 6
	}
	return dst
}

// appendContent appends everything of root message rp after the trace: the
// rest of the header, the blank line and the body, about budget bytes.
func (w *worker) appendContent(dst []byte, rp *plan, budget int) []byte {
	g := w.g
	r := &w.r
	r.seed(g.opts.Seed, rp.i, streamContent)
	start := len(dst)
	limit := start + budget
	sender := g.people[rp.sender]
	dom := domainOf(sender.addr)
	owner := g.owner.addr
	big := budget > 6000

	// Older Received hops, newest first.
	outHost := pick(r, []string{"mail", "smtp", "mx-out", "mail-out"}) + strconv.Itoa(r.between(1, 40)) + "." + dom
	dst = appendReceived(dst, r, outHost, "mx1.example.net", "Postfix", owner, rp.date.Add(time.Duration(r.between(1, 20))*time.Second))
	if budget > 2500 && r.chance(0.7) {
		dst = appendReceived(dst, r, "client-"+strconv.Itoa(r.between(10, 250))+".home."+dom, outHost, "Exim 4.98", owner, rp.date.Add(time.Second))
	}
	if budget > 2500 && r.chance(0.5) {
		dst = append(dst, "Authentication-Results: mx1.example.net;\n\tdkim=pass header.d="...)
		dst = append(dst, dom...)
		dst = append(dst, ";\n\tspf=pass smtp.mailfrom="...)
		dst = append(dst, dom...)
		dst = append(dst, '\n')
	}
	if big && r.chance(0.5) {
		dst = append(dst, "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d="...)
		dst = append(dst, dom...)
		dst = append(dst, ";\n\ts=selector"...)
		dst = strconv.AppendInt(dst, int64(r.between(1, 2)), 10)
		dst = append(dst, "; t="...)
		dst = strconv.AppendInt(dst, rp.date.Unix(), 10)
		dst = append(dst, ";\n\th=from:to:subject:date:message-id:mime-version:content-type;\n\tbh="...)
		dst = appendFolded64(dst, r, 43)
		dst = append(dst, "=;\n\tb="...)
		dst = appendFolded64(dst, r, 342)
		dst = append(dst, "==\n"...)
	}
	if r.chance(0.25) {
		dst = append(dst, "X-Spam-Status: No, score=-"...)
		dst = strconv.AppendInt(dst, int64(r.between(0, 4)), 10)
		dst = append(dst, '.')
		dst = strconv.AppendInt(dst, int64(r.between(0, 9)), 10)
		dst = append(dst, " required=5.0 tests=DKIM_SIGNED,DKIM_VALID,\n\tSPF_PASS autolearn=ham version=4.0.1\n"...)
	}

	dst = append(dst, "From: "...)
	dst = appendAddress(dst, r, sender)
	dst = append(dst, "\nTo: "...)
	if rp.list >= 0 {
		dst = append(dst, lists[rp.list]...)
		dst = append(dst, "@lists.example.org"...)
	} else {
		dst = appendAddress(dst, r, g.owner)
	}
	if r.chance(0.2) {
		dst = append(dst, "\nCc: "...)
		for k := range r.between(1, 3) {
			if k > 0 {
				dst = append(dst, ",\n\t"...)
			}
			dst = appendAddress(dst, r, pick(r, g.people))
		}
	}
	utf := rp.kind == kindQP || rp.kind == kind8bit
	var subject string
	var replyTo plan
	if rp.replyTo >= 0 {
		replyTo = g.plan(rp.replyTo)
		subject = "Re: " + g.baseSubject(rp.replyTo, false)
	} else {
		subject = g.baseSubject(rp.i, utf)
	}
	if rp.list >= 0 {
		subject = "[" + lists[rp.list] + "] " + subject
	}
	if rp.kind == kindPatch {
		subject = "[PATCH " + strconv.Itoa(r.between(1, 3)) + "/3] " + subject
	}
	dst = append(dst, "\nSubject: "...)
	if isASCII(subject) {
		dst = append(dst, subject...)
	} else {
		dst = append(dst, mime.QEncoding.Encode("UTF-8", subject)...)
	}
	z := r.intn(len(zones))
	dst = append(dst, "\nDate: "...)
	dst = appendDate(dst, rp.date, z)
	if r.chance(0.15) {
		dst = append(dst, " ("...)
		dst = append(dst, rp.date.In(zoneLocs[z]).Format("MST")...)
		dst = append(dst, ')')
	}
	dst = append(dst, '\n')
	if rp.hasMsgID {
		if rp.kind == kindPatch || r.chance(0.2) {
			dst = append(dst, "Message-Id: "...)
		} else {
			dst = append(dst, "Message-ID: "...)
		}
		dst = g.appendMsgID(dst, rp)
		dst = append(dst, '\n')
	}
	if rp.replyTo >= 0 {
		if id := g.msgIDOf(rp.replyTo); id != nil {
			dst = append(dst, "In-Reply-To: "...)
			dst = append(dst, id...)
			dst = append(dst, "\nReferences: "...)
			dst = append(dst, id...)
			dst = append(dst, '\n')
		}
	}
	if rp.kind == kindPatch {
		dst = append(dst, "X-Mailer: git-send-email 2.47.2\n"...)
	} else {
		dst = append(dst, pick(r, mailers)...)
		dst = append(dst, '\n')
	}
	dst = append(dst, "MIME-Version: 1.0\n"...)

	var boundary string
	switch rp.kind {
	case kindPlain:
		if r.chance(0.3) {
			dst = append(dst, "Content-Type: text/plain; charset=\"us-ascii\"; format=flowed\n"...)
		} else {
			dst = append(dst, "Content-Type: text/plain; charset=us-ascii\n"...)
		}
		dst = append(dst, "Content-Transfer-Encoding: 7bit\n"...)
	case kindQP:
		dst = append(dst, "Content-Type: text/plain; charset=\"UTF-8\"\nContent-Transfer-Encoding: quoted-printable\n"...)
	case kind8bit, kindPatch:
		dst = append(dst, "Content-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\n"...)
	case kindAlt, kindMixed:
		boundary = newBoundary(r)
		if rp.kind == kindAlt {
			dst = append(dst, "Content-Type: multipart/alternative;\n\tboundary=\""...)
		} else {
			dst = append(dst, "Content-Type: multipart/mixed; boundary=\""...)
		}
		dst = append(dst, boundary...)
		dst = append(dst, "\"\n"...)
	}
	if rp.list >= 0 {
		l := lists[rp.list]
		dst = append(dst, "List-Id: "...)
		dst = append(dst, l...)
		dst = append(dst, " <"...)
		dst = append(dst, l...)
		dst = append(dst, ".lists.example.org>\nList-Post: <mailto:"...)
		dst = append(dst, l...)
		dst = append(dst, "@lists.example.org>\nPrecedence: list\n"...)
	}
	dst = append(dst, '\n')

	// Body lines that matter for mbox quoting and POP3 dot-stuffing.
	sp := specials{
		from:   r.chance(0.12),
		gtFrom: r.chance(0.04),
		dot:    r.chance(0.10),
	}
	if rp.replyTo >= 0 {
		sp.quote = g.people[replyTo.sender]
		sp.quoteDate = replyTo.date
		sp.reply = true
	}
	sp.name = sender.name
	switch rp.kind {
	case kindPlain:
		dst = w.appendLetter(dst, limit, false, 0, &sp)
	case kindQP:
		dst = w.appendLetter(dst, limit, true, 0.08, &sp)
	case kind8bit:
		dst = w.appendLetter(dst, limit, false, 0.08, &sp)
	case kindPatch:
		dst = w.appendPatch(dst, limit, &sp, sender)
	case kindAlt:
		dst = w.appendAlternative(dst, limit, boundary, &sp)
	case kindMixed:
		dst = w.appendMixed(dst, limit, boundary, &sp)
	}
	return dst
}

func newBoundary(r *rng) string {
	var b []byte
	switch r.intn(4) {
	case 0:
		b = appendHex(append(b, "000000000000"...), r.u64(), 6)
	case 1:
		b = append(b, "----=_Part_"...)
		b = strconv.AppendInt(b, int64(r.between(1000, 999999)), 10)
		b = append(b, '_')
		b = strconv.AppendInt(b, int64(r.between(100000000, 999999999)), 10)
		b = append(b, '.')
		b = strconv.AppendInt(b, int64(r.between(1700000000, 1750000000)), 10)
		b = append(b, "000"...)
	case 2:
		b = append(b, "Apple-Mail=_"...)
		b = appendUpperHex(b, r.u64(), 4)
		b = append(b, '-')
		b = appendUpperHex(b, r.u64(), 8)
	default:
		b = append(b, "===============0"...)
		b = strconv.AppendUint(b, r.u64()%10000000000000000000, 10)
		b = append(b, "=="...)
	}
	return string(b)
}

// specials are the tricky lines one message carries.
type specials struct {
	from, gtFrom, dot bool
	reply             bool
	quote             person
	quoteDate         time.Time
	name              string
}

func firstName(name string) string {
	if k := strings.IndexByte(name, ' '); k > 0 {
		return name[:k]
	}
	return name
}

// emit appends raw text to dst, quoted-printable encoded when qp is set.
func emit(dst, raw []byte, qp bool) []byte {
	if qp {
		return appendQP(dst, raw)
	}
	return append(dst, raw...)
}

// appendLetter appends a text body of about limit-len(dst) bytes: greeting,
// paragraphs, the message's special lines, a quoted reply, a signature.
func (w *worker) appendLetter(dst []byte, limit int, qp bool, utf8Rate float64, sp *specials) []byte {
	r := &w.r
	const closing = 90
	expand := 1.0
	if qp {
		expand = 1.0 + 3*utf8Rate + 0.03
	}
	s := w.scratch[:0]
	s = append(s, pick(r, []string{"Hi ", "Hello ", "Dear ", "Hey ", ""})...)
	s = append(s, firstName(pick(r, w.g.people).name)...)
	s = append(s, ",\n\n"...)
	dst = emit(dst, s, qp)
	para := 0
	quoted := false
	for {
		room := int(float64(limit-len(dst)-closing) / expand)
		if room < 60 {
			break
		}
		s = s[:0]
		if para == 1 {
			if sp.from {
				s = append(s, pick(r, fromLines)...)
				s = append(s, "\n\n"...)
			}
			if sp.dot {
				s = append(s, pick(r, dotLines)...)
				s = append(s, '\n')
				s = append(s, pick(r, dotLines)...)
				s = append(s, "\n\n"...)
			}
		}
		if sp.reply && !quoted && (para == 2 || room < 400) {
			quoted = true
			s = append(s, "On "...)
			s = sp.quoteDate.AppendFormat(s, "Mon, 2 Jan 2006 at 15:04")
			s = append(s, ", "...)
			s = append(s, sp.quote.name...)
			s = append(s, " <"...)
			s = append(s, sp.quote.addr...)
			s = append(s, "> wrote:\n"...)
			if sp.gtFrom {
				s = append(s, pick(r, gtFromLines)...)
				s = append(s, '\n')
			}
			s = appendParagraph(s, r, min(room/2, r.between(100, 500)), "> ", 72, utf8Rate)
			s = append(s, "\n"...)
		} else if sp.gtFrom && !sp.reply && para == 2 {
			s = append(s, pick(r, gtFromLines)...)
			s = append(s, '\n')
		}
		n := min(r.between(150, 700), room-len(s))
		if n >= 30 {
			s = appendParagraph(s, r, n, "", 72, utf8Rate)
			s = append(s, '\n')
		}
		dst = emit(dst, s, qp)
		para++
		if n < 30 {
			break
		}
	}
	s = s[:0]
	s = append(s, pick(r, []string{"Thanks,", "Best,", "Cheers,", "Regards,", "--"})...)
	s = append(s, '\n')
	s = append(s, firstName(sp.name)...)
	s = append(s, '\n')
	if limit-len(dst) > 60 {
		s = append(s, "\n-- \n"...)
		s = append(s, sp.name...)
		s = append(s, '\n')
	}
	dst = emit(dst, s, qp)
	w.scratch = s
	return dst
}

// appendPatch appends a git format-patch body of about limit-len(dst)
// bytes.
func (w *worker) appendPatch(dst []byte, limit int, sp *specials, sender person) []byte {
	r := &w.r
	if sp.from && r.chance(0.5) {
		// A forwarded patch: its own mbox From_ line opens the body.
		dst = append(dst, "From "...)
		dst = appendHex(dst, r.u64(), 8)
		dst = appendHex(dst, r.u64(), 8)
		dst = appendHex(dst, r.u64(), 4)
		dst = append(dst, " Mon Sep 17 00:00:00 2001\nFrom: "...)
		dst = append(dst, sender.name...)
		dst = append(dst, " <"...)
		dst = append(dst, sender.addr...)
		dst = append(dst, ">\n\n"...)
		sp.from = false
	}
	dst = appendParagraph(dst, r, min(r.between(120, 600), max(limit-len(dst)-400, 40)), "", 72, 0)
	if sp.from {
		dst = append(dst, '\n')
		dst = append(dst, pick(r, fromLines)...)
		dst = append(dst, '\n')
	}
	if sp.dot {
		dst = append(dst, '\n')
		dst = append(dst, pick(r, dotLines)...)
		dst = append(dst, '\n')
	}
	dst = append(dst, "\nSigned-off-by: "...)
	dst = append(dst, sender.name...)
	dst = append(dst, " <"...)
	dst = append(dst, sender.addr...)
	dst = append(dst, ">\n---\n"...)
	file := pick(r, []string{"drivers/net/", "fs/ext4/", "internal/scan/", "lib/", "arch/mips/kernel/"}) +
		words[r.intn(len(words))] + pick(r, []string{".c", ".h", ".go"})
	dst = append(dst, ' ')
	dst = append(dst, file...)
	dst = append(dst, " | "...)
	dst = strconv.AppendInt(dst, int64(r.between(4, 90)), 10)
	dst = append(dst, " ++++++------\n 1 file changed\n\ndiff --git a/"...)
	dst = append(dst, file...)
	dst = append(dst, " b/"...)
	dst = append(dst, file...)
	dst = append(dst, "\nindex "...)
	dst = appendHex(dst, r.u64(), 4)
	dst = append(dst, ".."...)
	dst = appendHex(dst, r.u64(), 4)
	dst = append(dst, " 100644\n--- a/"...)
	dst = append(dst, file...)
	dst = append(dst, "\n+++ b/"...)
	dst = append(dst, file...)
	dst = append(dst, '\n')
	line := r.between(10, 400)
	const tail = 40
	for limit-len(dst) > 200+tail {
		dst = append(dst, "@@ -"...)
		dst = strconv.AppendInt(dst, int64(line), 10)
		dst = append(dst, ",7 +"...)
		dst = strconv.AppendInt(dst, int64(line), 10)
		dst = append(dst, ",7 @@ static int "...)
		dst = append(dst, words[r.intn(len(words))]...)
		dst = append(dst, "_init(void)\n"...)
		for k := 0; k < 7 && limit-len(dst) > tail+80; k++ {
			switch {
			case k == 3:
				dst = appendCode(append(dst, '-'), r)
				dst = appendCode(append(dst, '+'), r)
			default:
				dst = appendCode(append(dst, ' '), r)
			}
		}
		line += r.between(20, 200)
	}
	return append(dst, "-- \n2.47.2\n\n"...)
}

// appendCode appends one line of C-like code.
func appendCode(dst []byte, r *rng) []byte {
	dst = append(dst, "\t\t\t"[:r.between(1, 3)]...)
	w1, w2, w3 := words[r.intn(len(words))], words[r.intn(len(words))], words[r.intn(len(words))]
	switch r.intn(5) {
	case 0:
		dst = append(dst, "if ("...)
		dst = append(dst, w1...)
		dst = append(dst, "->"...)
		dst = append(dst, w2...)
		dst = append(dst, " > MAX_"...)
		dst = append(dst, strings.ToUpper(w3)...)
		dst = append(dst, ") {"...)
	case 1:
		dst = append(dst, w1...)
		dst = append(dst, '_')
		dst = append(dst, w2...)
		dst = append(dst, " = "...)
		dst = append(dst, w3...)
		dst = append(dst, "(ctx, "...)
		dst = strconv.AppendInt(dst, int64(r.intn(64)), 10)
		dst = append(dst, ");"...)
	case 2:
		dst = append(dst, "return -E"...)
		dst = append(dst, strings.ToUpper(w1)...)
		dst = append(dst, ';')
	case 3:
		dst = append(dst, "/* "...)
		dst = append(dst, w1...)
		dst = append(dst, ' ')
		dst = append(dst, w2...)
		dst = append(dst, ' ')
		dst = append(dst, w3...)
		dst = append(dst, " */"...)
	default:
		dst = append(dst, '}')
	}
	return append(dst, '\n')
}

// appendAlternative appends a multipart/alternative body: plain text, then
// the same kind of text as HTML, both about limit-len(dst) bytes together.
func (w *worker) appendAlternative(dst []byte, limit int, boundary string, sp *specials) []byte {
	r := &w.r
	closing := len(boundary) + 6
	qp := r.chance(0.5)
	dst = append(dst, "--"...)
	dst = append(dst, boundary...)
	if qp {
		dst = append(dst, "\nContent-Type: text/plain; charset=\"UTF-8\"\nContent-Transfer-Encoding: quoted-printable\n\n"...)
	} else {
		dst = append(dst, "\nContent-Type: text/plain; charset=\"us-ascii\"\nContent-Transfer-Encoding: 7bit\n\n"...)
	}
	rate := 0.0
	if qp {
		rate = 0.05
	}
	dst = w.appendLetter(dst, len(dst)+max((limit-len(dst))*2/5, 200), qp, rate, sp)
	dst = append(dst, "\n--"...)
	dst = append(dst, boundary...)
	dst = append(dst, "\nContent-Type: text/html; charset=\"UTF-8\"\nContent-Transfer-Encoding: quoted-printable\n\n"...)
	s := append(w.scratch[:0], "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=utf-8\"></head>\n<body>\n"...)
	dst = appendQP(dst, s)
	for {
		room := int(float64(limit-len(dst)-closing-40) / 1.12)
		if room < 60 {
			break
		}
		s = append(s[:0], "<p>"...)
		s = appendParagraph(s, r, min(r.between(150, 900), room-8), "", 1<<30, rate)
		s = append(s[:len(s)-1], "</p>\n"...)
		dst = appendQP(dst, s)
	}
	dst = appendQP(dst, append(s[:0], "</body></html>\n"...))
	w.scratch = s
	dst = append(dst, "\n--"...)
	dst = append(dst, boundary...)
	return append(dst, "--\n"...)
}

// appendMixed appends a multipart/mixed body: a short text and one or two
// base64 attachments filling the rest of about limit-len(dst) bytes.
func (w *worker) appendMixed(dst []byte, limit int, boundary string, sp *specials) []byte {
	r := &w.r
	if r.chance(0.4) {
		dst = append(dst, "This is a multi-part message in MIME format.\n"...)
	}
	dst = append(dst, "--"...)
	dst = append(dst, boundary...)
	qp := r.chance(0.4)
	if qp {
		dst = append(dst, "\nContent-Type: text/plain; charset=\"UTF-8\"\nContent-Transfer-Encoding: quoted-printable\n\n"...)
	} else {
		dst = append(dst, "\nContent-Type: text/plain; charset=us-ascii\n\n"...)
	}
	rate := 0.0
	if qp {
		rate = 0.05
	}
	room := limit - len(dst)
	text := min(room*3/10, r.between(300, 3000))
	dst = w.appendLetter(dst, len(dst)+max(text, 150), qp, rate, sp)
	n := 1
	if r.chance(0.2) {
		n = 2
	}
	for k := range n {
		a := pick(r, attachments)
		stem := pick(r, attachmentStems)
		dst = append(dst, "\n--"...)
		dst = append(dst, boundary...)
		dst = append(dst, "\nContent-Type: "...)
		dst = append(dst, a.ctype...)
		dst = append(dst, "; name=\""...)
		dst = append(dst, stem...)
		dst = append(dst, '.')
		dst = append(dst, a.ext...)
		dst = append(dst, "\"\nContent-Disposition: attachment; filename=\""...)
		dst = append(dst, stem...)
		dst = append(dst, '.')
		dst = append(dst, a.ext...)
		dst = append(dst, "\"\nContent-Transfer-Encoding: base64\n\n"...)
		rest := limit - len(dst) - len(boundary) - 8
		if k == 0 && n == 2 {
			rest = rest/2 - 100
		}
		dst = w.appendBase64(dst, r, a.magic, base64Raw(rest))
	}
	dst = append(dst, "\n--"...)
	dst = append(dst, boundary...)
	return append(dst, "--\n"...)
}

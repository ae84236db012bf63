package corpusgen

import (
	"iter"
	"math"
	"strconv"
	"strings"
	"time"
)

// Generator produces the messages and copies of one incident. Its methods
// are safe for concurrent use; each call regenerates what it needs from the
// seed.
type Generator struct {
	opts Options

	mu, sigma float64 // log-normal size parameters, calibrated to MeanSize
	sizeLo    int     // size target bounds (see sizeReserveLow/High)
	sizeHi    int
	conflictW float64 // chance that a message wants to reuse a Message-ID

	owner       person
	people      []person
	uidValidity uint32
	host        string // host part of Maildir file names

	histStart time.Time
	spacing   int64 // microseconds between consecutive messages' arrival
	bursts    []Burst
	burstPID  []int
}

type person struct {
	name, addr string
}

// Burst is one re-download run during the incident: every copy after a
// message's first was delivered in one of them, in server order.
type Burst struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// New checks opts, fills defaults and prepares a generator.
func New(opts Options) (*Generator, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	g := &Generator{opts: o}
	g.sizeLo = o.MinSize + sizeReserveLow
	g.sizeHi = o.MaxSize - sizeReserveHigh
	g.sigma = 1.1
	g.mu = calibrateMu(g.sigma, float64(g.sizeLo), float64(g.sizeHi), float64(o.MeanSize))
	// A message becomes a conflict when it wants one and the candidate it
	// picked is neither a conflict itself nor without Message-ID:
	// share = w(1-w)(1-n). Solve for w.
	if o.ConflictShare > 0 {
		c := o.ConflictShare / (1 - o.NoMessageIDShare)
		g.conflictW = (1 - math.Sqrt(1-4*c)) / 2
	}

	var r rng
	r.seed(o.Seed, 0, streamGlobal)
	for range 300 {
		g.people = append(g.people, newPerson(&r))
	}
	g.owner = newPerson(&r)
	g.owner.addr = g.owner.addr[:strings.IndexByte(g.owner.addr, '@')] + "@example.net"
	g.uidValidity = uint32(o.Start.Unix()) - uint32(r.between(86400, 86400*900))
	g.host = pick(&r, []string{"laptop", "mail", "ws042", "nas", "desktop"}) + "." + pick(&r, []string{"home.arpa", "example.net", "lan"})

	days := min(max(o.Messages/150, 14), 3650)
	g.histStart = o.Start.Add(-time.Duration(days) * 24 * time.Hour)
	histEnd := o.Start.Add(-time.Hour)
	g.spacing = histEnd.Sub(g.histStart).Microseconds() / int64(o.Messages)

	nb := max(3, o.MaxCopies-1) + r.intn(3)
	const window = 4 * time.Hour
	slot := window / time.Duration(nb)
	for b := range nb {
		start := o.Start.Add(time.Duration(b)*slot + time.Duration(r.float()*0.25*float64(slot))).Truncate(time.Second)
		dur := time.Duration((0.3 + 0.3*r.float()) * float64(slot))
		g.bursts = append(g.bursts, Burst{Start: start, End: start.Add(dur)})
		g.burstPID = append(g.burstPID, r.between(1200, 65000))
	}
	return g, nil
}

func newPerson(r *rng) person {
	first, last := pick(r, firstNames), pick(r, lastNames)
	local := asciiLower(first)
	switch r.intn(4) {
	case 0:
		local += "." + asciiLower(last)
	case 1:
		local = local[:1] + asciiLower(last)
	case 2:
		local += strconv.Itoa(r.between(1, 99))
	}
	return person{name: first + " " + last, addr: local + "@" + pick(r, domains)}
}

// asciiLower lower-cases s and drops non-ASCII letters, for address parts.
func asciiLower(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z':
			b = append(b, c+'a'-'A')
		case c < 0x80:
			b = append(b, c)
		}
	}
	return string(b)
}

// calibrateMu finds mu so that a log-normal(mu, sigma) size, with values
// below lo moved into [lo, 1.5 lo) and values above hi set to hi, has the
// given mean.
func calibrateMu(sigma, lo, hi, mean float64) float64 {
	expect := func(mu float64) float64 {
		const steps = 4000
		sum, wsum := 0.0, 0.0
		for k := range steps {
			z := -8 + 16*(float64(k)+0.5)/steps
			w := math.Exp(-z * z / 2)
			x := math.Exp(mu + sigma*z)
			switch {
			case x < lo:
				x = min(1.25*lo, hi)
			case x > hi:
				x = hi
			}
			sum += w * x
			wsum += w
		}
		return sum / wsum
	}
	a, b := math.Log(lo)-6, math.Log(hi)+6
	for range 100 {
		m := (a + b) / 2
		if expect(m) < mean {
			a = m
		} else {
			b = m
		}
	}
	return (a + b) / 2
}

// Options returns the options with defaults filled in.
func (g *Generator) Options() Options { return g.opts }

// Len returns the number of distinct messages on the server.
func (g *Generator) Len() int { return g.opts.Messages }

// Bursts returns the re-download runs of the incident, in time order.
func (g *Generator) Bursts() []Burst { return append([]Burst(nil), g.bursts...) }

// Owner returns the mailbox owner's address (the POP3 account's mailbox).
func (g *Generator) Owner() string { return g.owner.addr }

// UID returns the server's UIDL for message i, Dovecot's default
// %08Xu%08Xv: the IMAP UID and the UIDVALIDITY in 8 hex digits each. UIDs
// rise with i and have gaps, as after earlier expunges.
func (g *Generator) UID(i int) string {
	u := g.imapUID(i)
	var b [16]byte
	const hex = "0123456789abcdef"
	for k := 7; k >= 0; k-- {
		b[k] = hex[u&15]
		b[8+k] = hex[(g.uidValidity>>(4*(7-k)))&15]
		u >>= 4
	}
	return string(b[:])
}

// imapUID is message i's IMAP UID: rising, with gaps.
func (g *Generator) imapUID(i int) uint32 {
	return uint32(1 + 3*i + int(splitmix64(uint64(i)^uint64(g.opts.Seed))%3))
}

// kind is the MIME shape of a message.
type kind uint8

const (
	kindPlain kind = iota // text/plain us-ascii, 7bit
	kindQP                // text/plain utf-8, quoted-printable
	kind8bit              // text/plain utf-8, 8bit
	kindAlt               // multipart/alternative: text and HTML
	kindMixed             // multipart/mixed: text and base64 attachments
	kindPatch             // git-send-email style patch
)

// plan is everything decided about message i before its bytes exist.
type plan struct {
	i        int
	root     int // content root: i, or the earlier message whose Message-ID i reuses
	saved    bool
	copies   int // local copies, 0 when not saved
	hasMsgID bool
	kind     kind
	size     int // size target of the server copy
	sender   int
	list     int // mailing list index, -1 for direct mail
	replyTo  int // earlier message this one answers, -1 for none
	date     time.Time
	recv     time.Time // arrival at the POP3 server
	fetched  time.Time // first download (copy 0)
}

// head returns the first two draws of message i's plan stream: whether it
// wants to reuse a Message-ID and whether it lacks one.
func (g *Generator) head(r *rng, i int) (wants, noID bool) {
	r.seed(g.opts.Seed, i, streamPlan)
	wants = r.float() < g.conflictW
	noID = r.float() < g.opts.NoMessageIDShare
	return wants, noID
}

func (g *Generator) plan(i int) plan {
	var r rng
	o := &g.opts
	p := plan{i: i, root: i, list: -1, replyTo: -1}
	wants, noID := g.head(&r, i)
	cand := -1
	if i > 0 {
		cand = i - 1 - r.intn(min(i, 50))
	}
	p.hasMsgID = !noID
	p.saved = !r.chance(o.UnsavedShare)
	if p.saved {
		p.copies = 1
		if r.chance(o.DupShare) {
			p.copies = 2
			for p.copies < o.MaxCopies && r.chance(0.45) {
				p.copies++
			}
		}
	}
	x := math.Exp(g.mu + g.sigma*r.norm())
	switch {
	case x < float64(g.sizeLo):
		x = float64(g.sizeLo) * (1 + 0.5*r.float())
	case x > float64(g.sizeHi):
		x = float64(g.sizeHi)
	}
	p.size = min(int(x), g.sizeHi)
	k := r.intn(100)
	if p.size > 24<<10 {
		switch {
		case k < 75:
			p.kind = kindMixed
		case k < 85:
			p.kind = kindPatch
		case k < 95:
			p.kind = kindPlain
		default:
			p.kind = kindAlt
		}
	} else {
		switch {
		case k < 33:
			p.kind = kindPlain
		case k < 48:
			p.kind = kindQP
		case k < 58:
			p.kind = kind8bit
		case k < 78:
			p.kind = kindAlt
		case k < 90:
			p.kind = kindMixed
		default:
			p.kind = kindPatch
		}
	}
	p.sender = r.intn(len(g.people))
	if p.kind == kindPatch || r.chance(0.25) {
		p.list = r.intn(len(lists))
	}
	if i > 0 && r.chance(0.35) {
		p.replyTo = i - 1 - r.intn(min(i, 200))
	}
	sp := float64(g.spacing)
	base := g.histStart.Add(time.Duration(int64(i)*g.spacing) * time.Microsecond)
	p.date = base.Add(time.Duration(r.float()*0.3*sp) * time.Microsecond).Truncate(time.Second)
	lag := min(time.Duration(r.between(1, 90))*time.Second, time.Duration(0.1*sp)*time.Microsecond)
	p.recv = p.date.Add(lag)
	p.fetched = p.recv.Add(time.Duration(r.float()*0.5*sp) * time.Microsecond)

	if wants && cand >= 0 {
		if cw, cn := g.head(&r, cand); !cw && !cn {
			p.root = cand
			p.hasMsgID = true
		}
	}
	return p
}

// copyPlan is everything decided about one local copy.
type copyPlan struct {
	burst    int // -1: the original download
	time     time.Time
	client   client
	crlf     bool
	trailing bool // one extra blank line at the end
	newDir   bool // Maildir: in new/ (unseen), else cur/
	flags    string
	folder   int // Maildir++: -1 INBOX, else index into Options.Folders
	pid      int
	// client header details
	status   string // "RO" or "O"
	xstatus  string // "", "A" or "F"
	kwPad    bool   // X-Keywords padded with spaces, as Dovecot leaves room
	mozFirst bool   // Thunderbird: X-UIDL before or after X-Mozilla-Status
}

// client is the program that stored a local copy, which decides the header
// lines it added.
type client uint8

const (
	clientRaw         client = iota // stored as fetched
	clientMutt                      // Status, X-Status, Content-Length, Lines at the end
	clientThunderbird               // X-UIDL, X-Mozilla-Status, X-Mozilla-Status2 at the top
	clientDovecot                   // Status, X-Status, X-Keywords, X-UIDL at the end
	clientXUIDL                     // only X-UIDL, at the end (Outlook Express, Eudora)
)

var clientNames = [...]string{"raw", "mutt", "thunderbird", "dovecot", "x-uidl"}

func (c client) String() string { return clientNames[c] }

// ClientHeaders are the header fields local copies may carry that the
// server's copy lacks; a copy differs from the server's only by these, its
// line ends, mbox quoting and trailing blank lines.
var ClientHeaders = []string{
	"Status", "X-Status", "X-UIDL", "X-Mozilla-Status", "X-Mozilla-Status2",
	"X-Keywords", "Content-Length", "Lines",
}

// copyPlans appends the plans of message i's local copies to dst.
func (g *Generator) copyPlans(dst []copyPlan, p *plan) []copyPlan {
	var r rng
	r.seed(g.opts.Seed, p.i, streamCopies)
	nb := len(g.bursts)
	var order [16]int
	for k := range nb {
		order[k] = k
	}
	// Pick copies-1 distinct bursts (partial Fisher-Yates), then sort them.
	extra := p.copies - 1
	for k := 0; k < extra; k++ {
		j := k + r.intn(nb-k)
		order[k], order[j] = order[j], order[k]
	}
	chosen := order[:max(extra, 0)]
	for a := 1; a < len(chosen); a++ {
		for b := a; b > 0 && chosen[b] < chosen[b-1]; b-- {
			chosen[b], chosen[b-1] = chosen[b-1], chosen[b]
		}
	}
	for c := range p.copies {
		cp := copyPlan{burst: -1, folder: -1}
		if c == 0 {
			cp.time = p.fetched
			cp.pid = 1000 + int(splitmix64(uint64(p.fetched.Unix()/300)^uint64(g.opts.Seed))%60000)
		} else {
			b := chosen[c-1]
			cp.burst = b
			bs := g.bursts[b]
			off := int64(p.i) * bs.End.Sub(bs.Start).Microseconds() / int64(g.opts.Messages)
			cp.time = bs.Start.Add(time.Duration(off) * time.Microsecond)
			cp.pid = g.burstPID[b]
		}
		if r.chance(g.opts.ClientHeaderShare) {
			cp.client = client(1 + r.intn(4))
		}
		cp.crlf = r.chance(g.opts.CRLFShare)
		cp.trailing = r.chance(g.opts.TrailingBlankShare)
		cp.status = "RO"
		if r.chance(0.2) {
			cp.status = "O"
		}
		cp.xstatus = pick(&r, []string{"", "", "", "A", "F"})
		cp.kwPad = r.chance(0.5)
		cp.mozFirst = r.chance(0.3)
		f := r.float()
		if c == 0 {
			switch {
			case f < 0.60:
				cp.flags = "S"
			case f < 0.72:
				cp.flags = "RS"
			case f < 0.80:
				cp.flags = "FS"
			case f < 0.92:
				cp.flags = ""
			case f < 0.95:
				cp.flags = "FRS"
			default:
				cp.flags = "F"
			}
			if r.chance(0.45) {
				cp.folder = r.intn(len(g.opts.Folders))
			}
		} else {
			switch {
			case f < 0.5:
				cp.flags = ""
			case f < 0.9:
				cp.flags = "S"
			case f < 0.95:
				cp.flags = "RS"
			default:
				cp.flags = "FS"
			}
			cp.newDir = cp.burst >= nb-2 && r.chance(0.5)
			if r.chance(0.25) {
				cp.folder = r.intn(len(g.opts.Folders))
			}
		}
		dst = append(dst, cp)
	}
	return dst
}

// Saved reports whether local stores hold copies of message i.
func (g *Generator) Saved(i int) bool { return g.plan(i).saved }

// Copies returns how many local copies message i has (0 when not saved).
func (g *Generator) Copies(i int) int { return g.plan(i).copies }

// ServerMessage is the server's copy of one distinct message.
type ServerMessage struct {
	Index int    // position in server order, from 0
	UID   string // UIDL
	Body  []byte // raw message, LF line ends, no dot-stuffing
	// Saved reports whether local stores hold copies of this message
	// (Copies of them); a reconcile may delete only saved messages.
	Saved  bool
	Copies int
}

// ServerMessage returns the server's copy of message i.
func (g *Generator) ServerMessage(i int) ServerMessage {
	p := g.plan(i)
	var w worker
	w.g = g
	return ServerMessage{Index: i, UID: g.UID(i), Body: w.message(nil, &p), Saved: p.saved, Copies: p.copies}
}

// Message returns the server's copy of message i (LF line ends).
func (g *Generator) Message(i int) []byte { return g.ServerMessage(i).Body }

// ServerMessages yields every server message in order. Each Body is a
// fresh slice the caller may keep.
func (g *Generator) ServerMessages() iter.Seq[ServerMessage] {
	return func(yield func(ServerMessage) bool) {
		w := worker{g: g}
		for i := range g.opts.Messages {
			p := g.plan(i)
			m := ServerMessage{Index: i, UID: g.UID(i), Saved: p.saved, Copies: p.copies}
			m.Body = w.message(nil, &p)
			if !yield(m) {
				return
			}
		}
	}
}

// ServerMessages returns the server's view of the incident described by
// opts: one copy of each distinct message, in server order. Use
// Generator.ServerMessages to stream a large corpus.
func ServerMessages(opts Options) ([]ServerMessage, error) {
	g, err := New(opts)
	if err != nil {
		return nil, err
	}
	out := make([]ServerMessage, 0, g.opts.Messages)
	for m := range g.ServerMessages() {
		out = append(out, m)
	}
	return out, nil
}

package reconcile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/popdedupe/popdedupe/fingerprint"
	"github.com/popdedupe/popdedupe/pop3"
	"github.com/popdedupe/popdedupe/report"
	"github.com/popdedupe/popdedupe/scan"
	"github.com/popdedupe/popdedupe/store"
)

const (
	// topAll is the line count of "TOP n ALL", fetchmail's choice for
	// reading whole messages without marking them retrieved (EXPIRE 0).
	topAll = 99999999
	// smallSize: messages up to this size are retrieved whole at once; a
	// TOP n 0 first would save almost nothing and cost a command.
	smallSize = 4 << 10
)

// matchWeak is the evidence of MatchMessageID.
const matchWeak = "message-id+headers+size"

// srvMsg is the working record of one server message.
type srvMsg struct {
	Message
	hdr      fingerprint.Print // from TOP n 0 (HasBody ignored)
	full     fingerprint.Print // from RETR / TOP n ALL
	haveHdr  bool
	haveFull bool
	needFull bool
	ev       *Evidence // how the full copy compares (also kept for missing ones)
	failed   string    // why it could not be inspected
	tmp      string    // temporary file holding the retrieved message (fetch)
	wantTmp  bool      // keep the retrieved bytes for a possible fetch
	// wire is the retrieved message's size as LIST counts it (octets
	// with CRLF line ends); a copy that is not the size LIST gave is not
	// evidence for deleting (the server sent something else).
	wire int64
}

func (m *srvMsg) print() (fingerprint.Print, bool) {
	if m.haveFull {
		return m.full, true
	}
	if m.haveHdr {
		return m.hdr, true
	}
	return fingerprint.Print{}, false
}

func candidateOf(p fingerprint.Print) fingerprint.Key { return p.Candidate() }

// plan is phase 1's outcome.
type plan struct {
	msgs   []*srvMsg
	byNum  map[int]*srvMsg
	uidls  []string // the server's listing, in message-number order
	dupUID map[string]bool
}

// list builds the message table from the UIDL and LIST listings read
// with the login (connect).
func (r *runner) list(ctx context.Context) error {
	l := r.s.listing
	uids, err := l.UIDs, l.UIDErr
	var dup *pop3.DuplicateUIDLError
	switch {
	case errors.Is(err, pop3.ErrNoUIDL):
		return fmt.Errorf("%w (%v)", ErrNoUIDL, err)
	case errors.As(err, &dup):
		// The listing is complete; such UIDLs are never acted on.
	case err != nil:
		return fmt.Errorf("reconcile: UIDL: %w", err)
	}
	sizes, err := l.Sizes, l.ListErr
	if err != nil {
		return fmt.Errorf("reconcile: LIST: %w", err)
	}
	size := make(map[int]int64, len(sizes))
	for _, s := range sizes {
		size[s.Num] = s.Size
	}
	p := &plan{byNum: map[int]*srvMsg{}, dupUID: map[string]bool{}}
	seen := map[string]int{}
	for _, u := range uids {
		seen[u.UID]++
		p.uidls = append(p.uidls, u.UID)
	}
	for _, u := range uids {
		if _, dup := p.byNum[u.Num]; dup {
			return fmt.Errorf("reconcile: UIDL lists message %d twice: %w", u.Num, pop3.ErrProtocol)
		}
		m := &srvMsg{Message: Message{Num: u.Num, UIDL: u.UID, Verdict: Unknown, Action: Keep}}
		if seen[u.UID] > 1 {
			m.DuplicateUIDL = true
			p.dupUID[u.UID] = true
		}
		if sz, ok := size[u.Num]; ok {
			m.Size = sz
		} else {
			m.failed = "listed by UIDL but not by LIST"
		}
		p.msgs = append(p.msgs, m)
		p.byNum[u.Num] = m
	}
	if len(sizes) != len(uids) {
		for _, s := range sizes {
			if p.byNum[s.Num] == nil {
				return fmt.Errorf("reconcile: message %d is listed by LIST but not by UIDL: %w", s.Num, pop3.ErrProtocol)
			}
		}
	}
	sort.Slice(p.msgs, func(i, j int) bool { return p.msgs[i].Num < p.msgs[j].Num })
	r.p = p
	return nil
}

// localIndex maps header identities and X-UIDLs to local messages.
type localIndex struct {
	cand  map[fingerprint.Key][]int
	xuidl map[string][]int
	byKey map[fingerprint.Key][]int // full keys of hashed messages
	ids   map[string]bool           // Message-IDs present locally
}

func buildIndex(res *scan.Result) *localIndex {
	li := &localIndex{
		cand:  map[fingerprint.Key][]int{},
		xuidl: map[string][]int{},
		byKey: map[fingerprint.Key][]int{},
		ids:   map[string]bool{},
	}
	if res == nil {
		return li
	}
	for i := range res.Messages {
		m := &res.Messages[i]
		id := res.MessageID(m)
		k := fingerprint.Key{MessageID: id}
		if id == "" {
			k = fingerprint.Key{KeyHash: m.KeyHash}
		} else {
			li.ids[id] = true
		}
		li.cand[k] = append(li.cand[k], i)
		if x := res.XUIDL(m); x != "" {
			li.xuidl[x] = append(li.xuidl[x], i)
		}
		if m.HasBody {
			key := res.Key(m)
			li.byKey[key] = append(li.byKey[key], i)
		}
	}
	return li
}

// surelyLocal reports whether a server message with this print can never
// be fetched: a local copy has its Message-ID, so it is saved or a conflict.
func (li *localIndex) surelyLocal(p fingerprint.Print) bool {
	return p.MessageID != "" && li.ids[p.MessageID]
}

// identify is phase 1: it gives every server message a verdict, reading
// only what it must. It changes nothing on the server or on disk, except
// for temporary files in the fetch target.
func (r *runner) identify(ctx context.Context) error {
	p := r.p
	li := buildIndex(r.res)
	r.li = li
	s := r.s
	fetching := r.o.Apply && r.fetch != nil
	useTop := s.hasTop()
	if s.expire0() && !useTop {
		return ErrUnsafeExpire
	}

	// Header pass: TOP n 0 for the larger messages, unless every message
	// is going to be read whole anyway (fetching reads the missing ones).
	var topNums []int
	for _, m := range p.msgs {
		switch {
		case m.failed != "":
		case useTop && !fetching && m.Size > smallSize:
			topNums = append(topNums, m.Num)
		case useTop && r.o.Match == MatchMessageID && !fetching:
			topNums = append(topNums, m.Num)
		default:
			m.needFull = true
		}
	}
	if len(topNums) > 0 {
		if err := r.headers(ctx, topNums); err != nil {
			return err
		}
	}
	// Which headers can match something: a local copy, a local X-UIDL,
	// or another server message.
	srvCand := map[fingerprint.Key]int{}
	for _, m := range p.msgs {
		if m.haveHdr {
			srvCand[candidateOf(m.hdr)]++
		}
	}
	var need []int // local messages whose bodies must be hashed
	for _, m := range p.msgs {
		if !m.haveHdr {
			continue
		}
		k := candidateOf(m.hdr)
		local := li.cand[k]
		if r.o.Match == MatchMessageID && m.hdr.MessageID != "" && len(local) > 0 {
			continue // decided on the header alone
		}
		if len(local) > 0 || len(li.xuidl[m.UIDL]) > 0 || srvCand[k] > 1 {
			m.needFull = true
			need = append(need, local...)
			need = append(need, li.xuidl[m.UIDL]...)
		}
	}
	// Hash local candidates while the server sends the full copies.
	hashed := make(chan error, 1)
	go func() { hashed <- r.hashLocal(ctx, need) }()
	var fullNums []int
	for _, m := range p.msgs {
		if m.needFull && m.failed == "" {
			fullNums = append(fullNums, m.Num)
			// Keep the bytes of anything that may turn out missing.
			m.wantTmp = fetching
		}
	}
	ferr := r.bodies(ctx, fullNums)
	herr := <-hashed
	if ferr != nil {
		return ferr
	}
	if herr != nil {
		return herr
	}
	// Hashing may have dropped unreadable local messages: index again.
	li = buildIndex(r.res)
	r.li = li
	// Messages read whole without a header pass: their local candidates
	// are known only now.
	need = need[:0]
	for _, m := range p.msgs {
		if m.haveFull && !m.haveHdr {
			need = append(need, li.cand[candidateOf(m.full)]...)
			need = append(need, li.xuidl[m.UIDL]...)
		}
	}
	if err := r.hashLocal(ctx, need); err != nil {
		return err
	}
	r.classify(buildIndex(r.res))
	return nil
}

// hashLocal hashes the bodies of the local messages idx (duplicates
// allowed). Messages that became unreadable move to res.Skipped.
func (r *runner) hashLocal(ctx context.Context, idx []int) error {
	if len(idx) == 0 || r.res == nil {
		return nil
	}
	sort.Ints(idx)
	idx = compactInts(idx)
	if err := r.res.HashBodies(ctx, idx, r.o.Workers); err != nil {
		return fmt.Errorf("reconcile: hashing local copies: %w", err)
	}
	return nil
}

func compactInts(s []int) []int {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// headers runs TOP n 0, pipelined.
func (r *runner) headers(ctx context.Context, nums []int) error {
	s := r.s
	parser := fingerprint.NewParser()
	cr := &countReader{}
	err := s.c.TopEach(ctx, nums, 0, func(n int, rd io.Reader) error {
		m := r.p.byNum[n]
		cr.r = rd
		pr, err := parser.Sum(cr, -1, false)
		if err != nil {
			m.failed = "header: " + err.Error()
			return nil
		}
		m.hdr, m.haveHdr = pr, true
		m.MessageID = pr.MessageID
		return nil
	})
	r.out.Session.Top += len(nums)
	r.out.Session.Bytes += cr.n
	var re *pop3.ResponseError
	if errors.As(err, &re) && s.c.Botched() == nil {
		// TOP refused for some messages: read those whole instead.
		for _, n := range nums {
			if m := r.p.byNum[n]; !m.haveHdr && m.failed == "" {
				m.needFull = true
			}
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("reconcile: TOP: %w", err)
	}
	return nil
}

// bodies reads the messages nums whole (RETR, or TOP n ALL on an EXPIRE 0
// server) and fingerprints them, streaming; with a fetch target the bytes
// of possibly missing messages also go to a temporary file there.
func (r *runner) bodies(ctx context.Context, nums []int) error {
	if len(nums) == 0 {
		return nil
	}
	s := r.s
	parser := fingerprint.NewParser()
	cr := &countReader{}
	fn := func(n int, rd io.Reader) error {
		m := r.p.byNum[n]
		cr.r = rd
		lc := &lineCounter{r: cr}
		var src io.Reader = lc
		var tmp *tempFile
		var tw *stickyWriter
		if m.wantTmp {
			f, err := r.fetch.tempFile()
			if err != nil {
				return err // botches the session: no QUIT, nothing deleted
			}
			tmp = f
			tw = &stickyWriter{w: store.FaultWriter(f)}
			src = io.TeeReader(lc, tw)
		}
		pr, perr := parser.Sum(src, -1, true)
		if tmp != nil {
			// Whatever the parser left (nothing, unless it failed).
			_, err := io.Copy(io.Discard, src)
			if err != nil {
				tmp.Close()
				os.Remove(tmp.Name())
				return fmt.Errorf("reading %s: %w", m.UIDL, err)
			}
			if cerr := tmp.Close(); tw.err == nil {
				tw.err = cerr
			}
			if tw.err != nil {
				// A full disk: this message is not fetched (so not
				// deleted); the session and the other messages go on.
				os.Remove(tmp.Name())
				m.Note = joinNote("not fetched: writing the temporary copy: "+tw.err.Error(), m.Note)
			} else if perr != nil || r.li.surelyLocal(pr) {
				// Unusable, or saved/conflict whatever the body: never fetched.
				os.Remove(tmp.Name())
			} else {
				m.tmp = tmp.Name()
				r.fetch.keep(m.tmp)
			}
		}
		if perr != nil {
			m.failed = perr.Error()
			return nil
		}
		if _, err := io.Copy(io.Discard, src); err != nil {
			return fmt.Errorf("reading %s: %w", m.UIDL, err)
		}
		m.wire = lc.n + lc.lf
		m.full, m.haveFull = pr, true
		m.MessageID = pr.MessageID
		return nil
	}
	var err error
	if s.expire0() {
		err = s.c.TopEach(ctx, nums, topAll, fn)
		r.out.Session.Top += len(nums)
	} else {
		err = s.c.RetrEach(ctx, nums, fn)
		r.out.Session.Retr += len(nums)
	}
	r.out.Session.Bytes += cr.n
	var re *pop3.ResponseError
	if errors.As(err, &re) && s.c.Botched() == nil {
		for _, n := range nums {
			if m := r.p.byNum[n]; !m.haveFull && m.failed == "" {
				m.failed = "the server refused to send it"
			}
		}
		// Keep the first refusal's words for one of them.
		return nil
	}
	if err != nil {
		return fmt.Errorf("reconcile: retrieving messages: %w", err)
	}
	return nil
}

// countReader counts bytes read.
type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// lineCounter counts the bytes and line feeds of one retrieved message
// (the dot-reader gives LF line ends; on the wire and in LIST each is
// CRLF).
type lineCounter struct {
	r     io.Reader
	n, lf int64
}

func (c *lineCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	c.lf += int64(bytes.Count(p[:n], []byte{'\n'}))
	return n, err
}

// classify gives each message its verdict from the evidence.
func (r *runner) classify(li *localIndex) {
	res := r.res
	firstByKey := map[fingerprint.Key]*srvMsg{}
	for _, m := range r.p.msgs {
		if m.failed != "" {
			m.Verdict, m.Note = Unknown, "not inspected: "+m.failed
			continue
		}
		pr, ok := m.print()
		if !ok {
			m.Verdict, m.Note = Unknown, "not inspected"
			continue
		}
		m.MessageID = pr.MessageID
		cand := li.cand[candidateOf(pr)]
		if !m.haveFull {
			switch {
			case r.o.Match == MatchMessageID && pr.MessageID != "" && len(cand) > 0:
				r.weakMatch(m, cand)
			default:
				// Nothing local could match its header.
				m.Verdict = Missing
			}
			continue
		}
		key := pr.Key()
		m.ev = &Evidence{Match: "message-id+body", BodyHash: fmt.Sprintf("%016x", pr.BodyHash)}
		if pr.MessageID == "" {
			m.ev.Match = "headers+body"
		}
		m.Evidence = m.ev
		if first, ok := firstByKey[key]; ok {
			m.ServerDuplicateOf = first.UIDL
		} else {
			firstByKey[key] = m
		}
		if local := li.byKey[key]; len(local) > 0 {
			m.Verdict = Saved
			m.LocalCopies = len(local)
			ref := report.RefOf(res, local[0])
			m.Local = &ref
			m.Arrival = res.Messages[local[0]].Arrival
			for _, i := range li.xuidl[m.UIDL] {
				if res.Messages[i].HasBody && res.Key(&res.Messages[i]) == key {
					m.Evidence.XUIDL = true
				}
			}
			continue
		}
		if xs := li.xuidl[m.UIDL]; len(xs) > 0 {
			m.Note = "a local copy carries X-UIDL " + m.UIDL + " but its content differs"
		}
		if pr.MessageID != "" && li.ids[pr.MessageID] {
			m.Verdict = Conflict
			m.Note = joinNote("a local copy has this Message-ID with a different body", m.Note)
			continue
		}
		m.Verdict = Missing
		m.Evidence = nil
	}
	// Server copies of a missing message share its fate: only the first
	// is fetched; the others are then saved by that copy.
	for _, m := range r.p.msgs {
		if m.ServerDuplicateOf != "" && m.Verdict == Missing {
			m.Note = joinNote("same message as "+m.ServerDuplicateOf+" on the server", m.Note)
		}
	}
}

// weakMatch decides MatchMessageID: same Message-ID, same key headers,
// and a size within a factor of two (client-added headers and line ends
// change it a little, a different message a lot).
func (r *runner) weakMatch(m *srvMsg, cand []int) {
	res := r.res
	for _, i := range cand {
		l := &res.Messages[i]
		if l.KeyHash != m.hdr.KeyHash {
			continue
		}
		if l.Size*2 < m.Size || m.Size*2 < l.Size {
			continue
		}
		if m.Local == nil {
			ref := report.RefOf(res, i)
			m.Local = &ref
			m.Arrival = l.Arrival
		}
		m.LocalCopies++
	}
	if m.Local != nil {
		m.Verdict = Saved
		m.Evidence = &Evidence{Match: matchWeak}
		m.Note = "weaker evidence: body not compared (--match message-id)"
		return
	}
	m.Verdict = Conflict
	m.Note = "a local copy has this Message-ID but other key headers or size"
}

func joinNote(a, b string) string {
	if b == "" {
		return a
	}
	return a + "; " + b
}

// stickyWriter passes writes to w until one fails, then swallows the rest
// and keeps the error: the message stream goes on being read (the session
// stays in step) while the copy on disk is given up.
type stickyWriter struct {
	w   io.Writer
	err error
}

func (s *stickyWriter) Write(p []byte) (int, error) {
	if s.err == nil {
		if _, err := s.w.Write(p); err != nil {
			s.err = err
		}
	}
	return len(p), nil
}

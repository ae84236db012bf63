package reconcile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
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

// srvMsg is the working record of one server message. Of its prints it
// keeps what the verdicts need: the Message-ID (in Message), the key-header
// hash and, once read whole, the body hash. A mailbox can hold hundreds of
// thousands of messages, so the record is small: its Message lives in the
// plan's result slice, and what only some messages need is in rare.
type srvMsg struct {
	*Message // &plan.out[i]
	keyHash  uint64
	bodyHash uint64 // of the full copy: valid when haveFull
	rare     *srvRare
	haveHdr  bool // the header was read with TOP n 0
	haveFull bool // the whole message was read and fingerprinted
	needFull bool
	wantTmp  bool // keep the retrieved bytes for a possible fetch
}

// srvRare holds what few server messages have.
type srvRare struct {
	failed string // why it could not be inspected
	tmp    string // temporary file holding the retrieved message (fetch)
	// wire is the retrieved message's size as LIST counts it (octets with
	// CRLF line ends) when it is not the size LIST gave (otherWire): such
	// a copy is no evidence for deleting (the server sent something else).
	wire      int64
	otherWire bool
}

// wire returns the retrieved message's size as LIST counts it.
func (m *srvMsg) wire() int64 {
	if m.rare != nil && m.rare.otherWire {
		return m.rare.wire
	}
	return m.Size
}

func (m *srvMsg) setWire(n int64) {
	if n == m.Size && (m.rare == nil || !m.rare.otherWire) {
		return
	}
	if m.rare == nil {
		m.rare = &srvRare{}
	}
	m.rare.wire, m.rare.otherWire = n, n != m.Size
}

func (m *srvMsg) failure() string {
	if m.rare == nil {
		return ""
	}
	return m.rare.failed
}

func (m *srvMsg) setFailure(why string) {
	if m.rare == nil {
		m.rare = &srvRare{}
	}
	m.rare.failed = why
}

func (m *srvMsg) tmpName() string {
	if m.rare == nil {
		return ""
	}
	return m.rare.tmp
}

func (m *srvMsg) setTmp(name string) {
	if m.rare == nil {
		if name == "" {
			return
		}
		m.rare = &srvRare{}
	}
	m.rare.tmp = name
}

// setPrint records a print of the message: the header's from TOP n 0
// (full false, its HasBody ignored), or the whole message's.
func (m *srvMsg) setPrint(pr fingerprint.Print, full bool) {
	m.MessageID, m.keyHash = pr.MessageID, pr.KeyHash
	if full {
		m.bodyHash, m.haveFull = pr.BodyHash, true
	} else {
		m.haveHdr = true
	}
}

// print returns the best print known: the full copy's, else the header's.
func (m *srvMsg) print() (fingerprint.Print, bool) {
	if !m.haveFull && !m.haveHdr {
		return fingerprint.Print{}, false
	}
	return fingerprint.Print{MessageID: m.MessageID, KeyHash: m.keyHash, BodyHash: m.bodyHash, HasBody: m.haveFull}, true
}

// fullEvidence is the evidence of the full copy's identity.
func (m *srvMsg) fullEvidence() *Evidence {
	ev := &Evidence{Match: "message-id+body", BodyHash: fmt.Sprintf("%016x", m.bodyHash)}
	if m.MessageID == "" {
		ev.Match = "headers+body"
	}
	return ev
}

func candidateOf(p fingerprint.Print) fingerprint.Key { return p.Candidate() }

// candidate is the header identity of the best print known.
func (m *srvMsg) candidate() fingerprint.Key {
	pr, _ := m.print()
	return pr.Candidate()
}

// plan is phase 1's outcome.
type plan struct {
	msgs   []srvMsg  // in message-number order
	out    []Message // the result's messages: msgs[i].Message is &out[i]
	uidls  []string  // the server's listing, in its order (with a state file)
	dupUID map[string]bool
}

// byNum returns the message numbered n, or nil.
func (p *plan) byNum(n int) *srvMsg {
	i := sort.Search(len(p.msgs), func(i int) bool { return p.msgs[i].Num >= n })
	if i < len(p.msgs) && p.msgs[i].Num == n {
		return &p.msgs[i]
	}
	return nil
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
	// The listing's order by message number (usually its own order).
	order := make([]int, len(uids))
	for i := range order {
		order[i] = i
	}
	if !sort.SliceIsSorted(order, func(i, j int) bool { return uids[i].Num < uids[j].Num }) {
		sort.SliceStable(order, func(i, j int) bool { return uids[order[i]].Num < uids[order[j]].Num })
	}
	for i := 1; i < len(order); i++ {
		if uids[order[i]].Num == uids[order[i-1]].Num {
			return fmt.Errorf("reconcile: UIDL lists message %d twice: %w", firstRepeated(uids), pop3.ErrProtocol)
		}
	}
	size := make(map[int]int64, len(sizes))
	for _, s := range sizes {
		size[s.Num] = s.Size
	}
	p := &plan{dupUID: map[string]bool{}}
	seen := make(map[string]int, len(uids))
	for _, u := range uids {
		seen[u.UID]++
	}
	if r.state != nil {
		for _, u := range uids {
			p.uidls = append(p.uidls, u.UID)
		}
	}
	p.msgs = make([]srvMsg, len(uids))
	p.out = make([]Message, len(uids))
	for j, i := range order {
		u := uids[i]
		p.out[j] = Message{Num: u.Num, UIDL: u.UID, Verdict: Unknown, Action: Keep}
		m := &p.msgs[j]
		m.Message = &p.out[j]
		if seen[u.UID] > 1 {
			m.DuplicateUIDL = true
			p.dupUID[u.UID] = true
		}
		if sz, ok := size[u.Num]; ok {
			m.Size = sz
		} else {
			m.setFailure("listed by UIDL but not by LIST")
		}
	}
	if len(sizes) != len(uids) {
		for _, s := range sizes {
			if p.byNum(s.Num) == nil {
				return fmt.Errorf("reconcile: message %d is listed by LIST but not by UIDL: %w", s.Num, pop3.ErrProtocol)
			}
		}
	}
	r.p = p
	r.s.listing = nil // all of it is in the plan now
	return nil
}

// firstRepeated returns the first message number of the listing that an
// earlier entry already had.
func firstRepeated(uids []pop3.UIDEntry) int {
	seen := map[int]bool{}
	for _, u := range uids {
		if seen[u.Num] {
			return u.Num
		}
		seen[u.Num] = true
	}
	return 0
}

// localIndex finds local messages by header identity (the Print's
// Candidate) and by X-UIDL. Each is a hash chain: head maps a hash to the
// first local message with it, next leads on to the following one (-1
// ends), in index order. A lookup compares the real keys, so hashes that
// collide cost a comparison, never a wrong answer. The messages with a
// full key (body hashed) are found along the chain of its candidate, which
// all of them share. The index holds about 30 bytes a local message (maps
// of keys to slices held some 450).
//
// Lookups read res: they must not run while res.HashBodies changes it,
// except surelyLocal, which reads only ids.
type localIndex struct {
	res   *scan.Result
	seed  maphash.Seed
	cand  chains
	xuidl chains
	ids   map[string]struct{} // Message-IDs present locally (withIDs only)
}

// chains is a hash chain over the local messages.
type chains struct {
	head map[uint64]int32
	next []int32
}

// add puts local message i in front of h's chain: adding in descending
// order leaves each chain in ascending order.
func (c *chains) add(h uint64, i int) {
	if c.next == nil {
		c.head = map[uint64]int32{}
		c.next = make([]int32, i+1)
	}
	c.next[i] = -1
	if j, ok := c.head[h]; ok {
		c.next[i] = j
	}
	c.head[h] = int32(i)
}

// first returns the first local message of h's chain, or -1.
func (c *chains) first(h uint64) int {
	if j, ok := c.head[h]; ok {
		return int(j)
	}
	return -1
}

// buildIndex indexes res; withIDs also gathers the set of Message-IDs,
// for surelyLocal while res is being hashed.
func buildIndex(res *scan.Result, withIDs bool) *localIndex {
	li := &localIndex{res: res, seed: maphash.MakeSeed()}
	if res == nil {
		return li
	}
	if withIDs {
		li.ids = map[string]struct{}{}
	}
	for i := len(res.Messages) - 1; i >= 0; i-- {
		m := &res.Messages[i]
		k := li.candOf(i)
		if k.MessageID != "" && li.ids != nil {
			li.ids[k.MessageID] = struct{}{}
		}
		li.cand.add(li.candHash(k), i)
		if x := res.XUIDL(m); x != "" {
			li.xuidl.add(maphash.String(li.seed, x), i)
		}
	}
	return li
}

// candOf returns the header identity of local message i.
func (li *localIndex) candOf(i int) fingerprint.Key {
	m := &li.res.Messages[i]
	if id := li.res.MessageID(m); id != "" {
		return fingerprint.Key{MessageID: id}
	}
	return fingerprint.Key{KeyHash: m.KeyHash}
}

func (li *localIndex) candHash(k fingerprint.Key) uint64 {
	if k.MessageID != "" {
		return maphash.String(li.seed, k.MessageID)
	}
	return k.KeyHash
}

// appendCand appends the local messages whose header identity is k, in
// index order.
func (li *localIndex) appendCand(dst []int, k fingerprint.Key) []int {
	for i := li.cand.first(li.candHash(k)); i >= 0; i = int(li.cand.next[i]) {
		if li.candOf(i) == k {
			dst = append(dst, i)
		}
	}
	return dst
}

// hasCand reports whether a local message has the header identity k.
func (li *localIndex) hasCand(k fingerprint.Key) bool {
	for i := li.cand.first(li.candHash(k)); i >= 0; i = int(li.cand.next[i]) {
		if li.candOf(i) == k {
			return true
		}
	}
	return false
}

// appendByKey appends the hashed local messages whose full key is key, in
// index order.
func (li *localIndex) appendByKey(dst []int, key fingerprint.Key) []int {
	cand := fingerprint.Key{MessageID: key.MessageID}
	if key.MessageID == "" {
		cand = fingerprint.Key{KeyHash: key.KeyHash}
	}
	for i := li.cand.first(li.candHash(cand)); i >= 0; i = int(li.cand.next[i]) {
		if m := &li.res.Messages[i]; m.HasBody && li.res.Key(m) == key {
			dst = append(dst, i)
		}
	}
	return dst
}

// appendXUIDL appends the local messages whose X-UIDL is uidl, in index
// order.
func (li *localIndex) appendXUIDL(dst []int, uidl string) []int {
	if uidl == "" {
		return dst
	}
	for i := li.xuidl.first(maphash.String(li.seed, uidl)); i >= 0; i = int(li.xuidl.next[i]) {
		if li.res.XUIDL(&li.res.Messages[i]) == uidl {
			dst = append(dst, i)
		}
	}
	return dst
}

// hasXUIDL reports whether a local message carries X-UIDL uidl.
func (li *localIndex) hasXUIDL(uidl string) bool {
	if uidl == "" {
		return false
	}
	for i := li.xuidl.first(maphash.String(li.seed, uidl)); i >= 0; i = int(li.xuidl.next[i]) {
		if li.res.XUIDL(&li.res.Messages[i]) == uidl {
			return true
		}
	}
	return false
}

// surelyLocal reports whether a server message with this print can never
// be fetched: a local copy has its Message-ID, so it is saved or a
// conflict. It needs an index built withIDs, and reads nothing else.
func (li *localIndex) surelyLocal(p fingerprint.Print) bool {
	if p.MessageID == "" {
		return false
	}
	_, ok := li.ids[p.MessageID]
	return ok
}

// firstKeys finds the first of the server messages with each key, as a
// hash chain like localIndex's: head maps a hash to the first message (its
// index in plan.msgs) with a key of that hash, next leads on to the first
// messages of other keys with the same hash. A map of keys to messages
// held some 75 bytes a message, this about 25.
type firstKeys struct {
	seed  maphash.Seed
	head  map[uint64]int32
	next  []int32
	keyOf func(i int) fingerprint.Key
}

func newFirstKeys(n int, keyOf func(i int) fingerprint.Key) *firstKeys {
	return &firstKeys{seed: maphash.MakeSeed(), head: map[uint64]int32{}, next: make([]int32, n), keyOf: keyOf}
}

// first returns the first message added with key k (k is message i's
// key); when there was none, i is added and returned.
func (t *firstKeys) first(k fingerprint.Key, i int) int {
	h := maphash.String(t.seed, k.MessageID) ^ k.BodyHash ^ k.KeyHash*0x9e3779b97f4a7c15
	j, ok := t.head[h]
	if !ok {
		t.head[h], t.next[i] = int32(i), -1
		return i
	}
	for c := j; c >= 0; c = t.next[c] {
		if t.keyOf(int(c)) == k {
			return int(c)
		}
	}
	t.next[i], t.next[j] = t.next[j], int32(i)
	return i
}

// identify is phase 1: it gives every server message a verdict, reading
// only what it must. It changes nothing on the server or on disk, except
// for temporary files in the fetch target.
func (r *runner) identify(ctx context.Context) error {
	p := r.p
	s := r.s
	fetching := r.o.Apply && r.fetch != nil
	// With a fetch target, bodies asks surelyLocal while res is hashed.
	li := buildIndex(r.res, fetching)
	r.li = li
	useTop := s.hasTop()
	if s.expire0() && !useTop {
		return ErrUnsafeExpire
	}

	// Header pass: TOP n 0 for the larger messages, unless every message
	// is going to be read whole anyway (fetching reads the missing ones).
	var topNums []int
	for i := range p.msgs {
		m := &p.msgs[i]
		switch {
		case m.failure() != "":
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
	var srvCand *firstKeys
	var nCand []int32 // by the first message of each candidate: how many have it
	if len(topNums) > 0 {
		srvCand = newFirstKeys(len(p.msgs), func(i int) fingerprint.Key { return p.msgs[i].candidate() })
		nCand = make([]int32, len(p.msgs))
		for i := range p.msgs {
			if m := &p.msgs[i]; m.haveHdr {
				nCand[srvCand.first(m.candidate(), i)]++
			}
		}
	}
	var need []int // local messages whose bodies must be hashed
	for i := range p.msgs {
		m := &p.msgs[i]
		if !m.haveHdr {
			continue
		}
		k := m.candidate()
		n := len(need)
		need = li.appendCand(need, k)
		local := len(need) > n
		if r.o.Match == MatchMessageID && m.MessageID != "" && local {
			need = need[:n]
			continue // decided on the header alone
		}
		if local || li.hasXUIDL(m.UIDL) || nCand[srvCand.first(k, i)] > 1 {
			m.needFull = true
			need = li.appendXUIDL(need, m.UIDL)
		} else {
			need = need[:n]
		}
	}
	// Hash local candidates while the server sends the full copies.
	hashed := make(chan error, 1)
	go func() { hashed <- r.hashLocal(ctx, need) }()
	var fullNums []int
	for i := range p.msgs {
		m := &p.msgs[i]
		if m.needFull && m.failure() == "" {
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
	r.li, li = nil, nil
	li = buildIndex(r.res, false)
	// Messages read whole without a header pass: their local candidates
	// are known only now.
	need = need[:0]
	for i := range p.msgs {
		m := &p.msgs[i]
		if m.haveFull && !m.haveHdr {
			need = li.appendCand(need, m.candidate())
			need = li.appendXUIDL(need, m.UIDL)
		}
	}
	if err := r.hashLocal(ctx, need); err != nil {
		return err
	}
	li = nil
	r.classify(buildIndex(r.res, false))
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
		m := r.p.byNum(n)
		cr.r = rd
		pr, err := parser.Sum(cr, -1, false)
		if err != nil {
			m.setFailure("header: " + err.Error())
			return nil
		}
		m.setPrint(pr, false)
		return nil
	})
	r.out.Session.Top += len(nums)
	r.out.Session.Bytes += cr.n
	var re *pop3.ResponseError
	if errors.As(err, &re) && s.c.Botched() == nil {
		// TOP refused for some messages: read those whole instead.
		for _, n := range nums {
			if m := r.p.byNum(n); !m.haveHdr && m.failure() == "" {
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
		m := r.p.byNum(n)
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
				m.setTmp(tmp.Name())
				r.fetch.keep(tmp.Name())
			}
		}
		if perr != nil {
			m.setFailure(perr.Error())
			return nil
		}
		if _, err := io.Copy(io.Discard, src); err != nil {
			return fmt.Errorf("reading %s: %w", m.UIDL, err)
		}
		m.setWire(lc.n + lc.lf)
		m.setPrint(pr, true)
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
			if m := r.p.byNum(n); !m.haveFull && m.failure() == "" {
				m.setFailure("the server refused to send it")
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
	firstByKey := newFirstKeys(len(r.p.msgs), func(i int) fingerprint.Key {
		pr, _ := r.p.msgs[i].print()
		return pr.Key()
	})
	var buf, xbuf []int // lookups' results, reused
	for i := range r.p.msgs {
		m := &r.p.msgs[i]
		if m.failure() != "" {
			m.Verdict, m.Note = Unknown, "not inspected: "+m.failure()
			continue
		}
		pr, ok := m.print()
		if !ok {
			m.Verdict, m.Note = Unknown, "not inspected"
			continue
		}
		m.MessageID = pr.MessageID
		if !m.haveFull {
			var cand []int
			if r.o.Match == MatchMessageID && pr.MessageID != "" {
				cand = li.appendCand(buf[:0], candidateOf(pr))
				buf = cand[:0]
			}
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
		if j := firstByKey.first(key, i); j != i {
			m.ServerDuplicateOf = r.p.msgs[j].UIDL
		}
		local := li.appendByKey(buf[:0], key)
		buf = local[:0]
		if len(local) > 0 {
			m.Verdict = Saved
			if pr.MessageID != "" {
				// The same Message-ID: the scan's copy of it is kept anyway.
				m.MessageID = res.MessageID(&res.Messages[local[0]])
			}
			m.Evidence = m.fullEvidence()
			m.LocalCopies = len(local)
			ref := report.RefOf(res, local[0])
			m.Local = &ref
			m.Arrival = res.Messages[local[0]].Arrival
			xs := li.appendXUIDL(xbuf[:0], m.UIDL)
			xbuf = xs[:0]
			for _, i := range xs {
				if res.Messages[i].HasBody && res.Key(&res.Messages[i]) == key {
					m.Evidence.XUIDL = true
				}
			}
			continue
		}
		if li.hasXUIDL(m.UIDL) {
			m.Note = "a local copy carries X-UIDL " + m.UIDL + " but its content differs"
		}
		if pr.MessageID != "" && li.hasCand(fingerprint.Key{MessageID: pr.MessageID}) {
			m.Verdict = Conflict
			m.Evidence = m.fullEvidence()
			m.Note = joinNote("a local copy has this Message-ID with a different body", m.Note)
			continue
		}
		m.Verdict = Missing
	}
	// Server copies of a missing message share its fate: only the first
	// is fetched; the others are then saved by that copy.
	for i := range r.p.msgs {
		m := &r.p.msgs[i]
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
		if l.KeyHash != m.keyHash {
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

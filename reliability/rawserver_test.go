package reliability

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// rawServer is a POP3 server for replies pop3test does not make: it serves
// one mailbox in RFC 1939 (USER/PASS, CAPA, STAT, LIST, UIDL, TOP, RETR,
// DELE, RSET, NOOP, QUIT with the UPDATE state), and lets a test replace
// the greeting, the UIDL and LIST listings, or the whole reply to any
// command, with bytes of its own: over-long lines, illegal UIDLs, lies,
// unterminated listings.
type rawServer struct {
	ln   net.Listener
	user string
	pass string
	msgs []rawMsg

	// Greeting replaces "+OK raw server ready" (without CRLF).
	Greeting string
	// UIDLLines and ListLines replace the lines of the multi-line UIDL and
	// LIST replies (without the final "."), when not nil.
	UIDLLines, ListLines []string
	// Replies replaces the whole reply to a command verb ("RETR", "STAT",
	// ...): written verbatim, CRLFs included. "" closes the connection.
	Replies map[string]*string
	// CloseAfterGreeting drops every connection after the greeting.
	CloseAfterGreeting bool

	t        *testing.T
	start    sync.Once
	mu       sync.Mutex
	deleted  map[int]bool // committed by QUIT, by message index
	commands []string
}

type rawMsg struct {
	uid  string
	body []byte // LF or CRLF
}

func newRawServer(t *testing.T) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawServer{ln: ln, t: t, user: srvUser, pass: password, deleted: map[int]bool{}, Replies: map[string]*string{}}
	t.Cleanup(func() { ln.Close() })
	return s
}

// addr starts serving (once) and returns the address. Serving starts
// here, not in newRawServer, so that a test's changes to the exported
// fields happen before any connection is served (the race detector sees
// that ordering through the goroutine start).
func (s *rawServer) addr() string {
	s.start.Do(func() { serveConns(s.t, s.ln, s.serve) })
	return s.ln.Addr().String()
}

func (s *rawServer) add(uid string, body []byte) { s.msgs = append(s.msgs, rawMsg{uid, body}) }

// reply sets the whole reply to verb.
func (s *rawServer) reply(verb, raw string) { s.Replies[verb] = &raw }

// left returns the messages not deleted by a committed QUIT.
func (s *rawServer) left() []rawMsg {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []rawMsg
	for i, m := range s.msgs {
		if !s.deleted[i] {
			out = append(out, m)
		}
	}
	return out
}

func wire(body []byte) []byte {
	b := bytes.ReplaceAll(body, []byte("\r\n"), []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\n"))
	var out bytes.Buffer
	for _, l := range bytes.Split(b, []byte("\n")) {
		if bytes.HasPrefix(l, []byte(".")) {
			out.WriteByte('.')
		}
		out.Write(l)
		out.WriteString("\r\n")
	}
	return out.Bytes()
}

func (s *rawServer) serve(c net.Conn) {
	defer c.Close()
	w := bufio.NewWriter(c)
	g := "+OK raw server ready"
	if s.Greeting != "" {
		g = s.Greeting
	}
	w.WriteString(g + "\r\n")
	w.Flush()
	if s.CloseAfterGreeting {
		return
	}
	br := bufio.NewReader(c)
	authed := false
	marks := map[int]bool{}
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		f := strings.Fields(line)
		if len(f) == 0 {
			w.WriteString("-ERR empty command\r\n")
			w.Flush()
			continue
		}
		verb := strings.ToUpper(f[0])
		s.mu.Lock()
		if verb == "PASS" {
			s.commands = append(s.commands, "PASS ***")
		} else {
			s.commands = append(s.commands, line)
		}
		s.mu.Unlock()
		if r, ok := s.Replies[verb]; ok {
			if *r == "" {
				return
			}
			w.WriteString(*r)
			w.Flush()
			continue
		}
		arg := func() (int, bool) {
			if len(f) < 2 {
				return 0, false
			}
			n, err := strconv.Atoi(f[1])
			if err != nil || n < 1 || n > len(s.msgs) || marks[n-1] {
				return 0, false
			}
			return n - 1, true
		}
		switch {
		case verb == "CAPA":
			w.WriteString("+OK\r\nUSER\r\nUIDL\r\nTOP\r\n.\r\n")
		case verb == "USER":
			w.WriteString("+OK\r\n")
		case verb == "PASS":
			if len(f) > 1 && strings.TrimPrefix(line, f[0]+" ") == s.pass {
				authed = true
				w.WriteString("+OK logged in\r\n")
			} else {
				w.WriteString("-ERR [AUTH] invalid login\r\n")
			}
		case verb == "QUIT":
			if authed {
				s.mu.Lock()
				for i := range marks {
					s.deleted[i] = true
				}
				s.mu.Unlock()
			}
			w.WriteString("+OK bye\r\n")
			w.Flush()
			return
		case !authed:
			w.WriteString("-ERR log in first\r\n")
		case verb == "NOOP":
			w.WriteString("+OK\r\n")
		case verb == "RSET":
			marks = map[int]bool{}
			w.WriteString("+OK\r\n")
		case verb == "STAT":
			n, size := 0, 0
			for i, m := range s.msgs {
				if !marks[i] {
					n++
					size += len(wire(m.body))
				}
			}
			fmt.Fprintf(w, "+OK %d %d\r\n", n, size)
		case (verb == "LIST" || verb == "UIDL") && len(f) > 1:
			i, ok := arg()
			if !ok {
				w.WriteString("-ERR no such message\r\n")
			} else if verb == "LIST" {
				fmt.Fprintf(w, "+OK %d %d\r\n", i+1, len(wire(s.msgs[i].body)))
			} else {
				fmt.Fprintf(w, "+OK %d %s\r\n", i+1, s.msgs[i].uid)
			}
		case verb == "LIST" || verb == "UIDL":
			w.WriteString("+OK\r\n")
			lines := s.ListLines
			if verb == "UIDL" {
				lines = s.UIDLLines
			}
			if lines == nil {
				for i, m := range s.msgs {
					if marks[i] {
						continue
					}
					if verb == "LIST" {
						lines = append(lines, fmt.Sprintf("%d %d", i+1, len(wire(m.body))))
					} else {
						lines = append(lines, fmt.Sprintf("%d %s", i+1, m.uid))
					}
				}
			}
			for _, l := range lines {
				w.WriteString(l + "\r\n")
			}
			w.WriteString(".\r\n")
		case verb == "RETR" || verb == "TOP":
			i, ok := arg()
			if !ok {
				w.WriteString("-ERR no such message\r\n")
				break
			}
			body := wire(s.msgs[i].body)
			if verb == "TOP" {
				n := 0
				if len(f) > 2 {
					n, _ = strconv.Atoi(f[2])
				}
				if k := bytes.Index(body, []byte("\r\n\r\n")); k >= 0 {
					rest := body[k+4:]
					cut := 0
					for j := 0; j < n && cut < len(rest); j++ {
						e := bytes.Index(rest[cut:], []byte("\r\n"))
						if e < 0 {
							cut = len(rest)
							break
						}
						cut += e + 2
					}
					body = body[:k+4+cut]
				}
			}
			fmt.Fprintf(w, "+OK %d octets\r\n", len(body))
			w.Write(body)
			w.WriteString(".\r\n")
		case verb == "DELE":
			i, ok := arg()
			if !ok {
				w.WriteString("-ERR no such message\r\n")
				break
			}
			marks[i] = true
			w.WriteString("+OK marked\r\n")
		default:
			w.WriteString("-ERR unknown command\r\n")
		}
		w.Flush()
	}
}

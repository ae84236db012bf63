package netem

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// link starts a link or skips where the machine cannot make one.
func link(t testing.TB, cfg Config) *Link {
	l, err := New(cfg)
	if err != nil {
		t.Skipf("no emulated link here: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// echoServer answers every line with the same line, and on "bulk N\n"
// sends N bytes.
func echoServer(t testing.TB, l *Link) string {
	ln, err := l.Listen()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					var n int
					if _, err := fmtSscan(line, &n); err == nil {
						c.Write(make([]byte, n))
						continue
					}
					c.Write([]byte(line))
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// The link adds its delay to every round trip and cannot carry more than
// its rate. Only lower bounds are tested: a busy machine may be slower.
func TestDelayAndRate(t *testing.T) {
	const delay = 20 * time.Millisecond
	const rate = 20_000_000
	l := link(t, Config{Delay: delay, Rate: rate})
	addr := echoServer(t, l)
	c, err := net.Dial("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if h, _, _ := net.SplitHostPort(addr); h != ServerIP {
		t.Fatalf("listening on %s, want %s", addr, ServerIP)
	}
	br := bufio.NewReader(c)
	for i := 0; i < 5; i++ {
		start := time.Now()
		c.Write([]byte("ping\n"))
		if _, err := br.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
		rtt := time.Since(start)
		t.Logf("round trip %d: %v", i, rtt)
		if rtt < 2*delay {
			t.Errorf("round trip %d took %v, want at least %v", i, rtt, 2*delay)
		}
	}
	const n = 2_500_000 // 1 s at 20 Mbit/s, plus headers
	start := time.Now()
	c.Write([]byte("2500000\n"))
	if _, err := io.CopyN(io.Discard, br, n); err != nil {
		t.Fatal(err)
	}
	want := time.Duration(n * 8 * int64(time.Second) / rate)
	d := time.Since(start)
	t.Logf("%d bytes in %v (%v at the rate)", n, d, want)
	if d < want {
		t.Errorf("%d bytes took %v, want at least %v at %d bit/s", n, d, want, rate)
	}
	up, down := l.Stats()
	if down.Bytes < n || up.Packets == 0 {
		t.Errorf("stats up %+v down %+v", up, down)
	}
	// A changed delay applies to the next packets.
	l.SetDelay(0)
	start = time.Now()
	c.Write([]byte("ping\n"))
	br.ReadString('\n')
	if rtt := time.Since(start); rtt >= 2*delay {
		t.Logf("round trip without delay took %v (a busy machine?)", rtt)
	}
}

// Nothing listens on the host's side: the server address exists only in
// the namespaces.
func TestServerIPOnlyInside(t *testing.T) {
	l := link(t, Config{})
	_ = l
	if _, err := net.Listen("tcp4", ServerIP+":0"); err == nil {
		t.Errorf("ServerIP is an address of the client namespace")
	}
}

func fmtSscan(s string, n *int) (int, error) { return fmt.Sscan(s, n) }

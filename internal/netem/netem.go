// Package netem emulates a network link with a one-way delay and a
// bandwidth limit, for benchmarks that must see real TCP (slow start,
// windows, ACK clocking, losses at a full queue) and not a delayed socket.
//
// A Link joins two network namespaces with a TUN device in each and moves
// the IP packets between them in user space: every packet waits for the
// wire (Rate, with a drop-tail queue of Queue bytes) and then travels Delay,
// like a packet on a real link; both directions are shaped alike. The
// kernel's TCP runs unchanged on both ends. This does what
// "tc qdisc add dev lo root netem delay D rate R" does, for kernels built
// without sch_netem (CONFIG_NET_SCH_NETEM), which are common in CI VMs.
//
// Nothing here touches the host's network: Main runs the test binary again
// inside a new network namespace (the client side), and New makes a second
// one (the server side) on a locked OS thread. The addresses (ClientIP,
// ServerIP) exist only inside them; both namespaces vanish with the
// process. It needs root (CLONE_NEWNET), /dev/net/tun and ip(8); when any
// is missing New says why, and benchmarks skip.
package netem

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The link's addresses, private to the two namespaces.
const (
	ClientIP = "10.99.0.1"
	ServerIP = "10.99.0.2"
	prefix   = "/24"
)

// envChild carries the parent's network namespace to the child Main starts.
const envChild = "POPDEDUPE_NETEM_PARENT_NETNS"

// errUnavailable is why New cannot work in this process (set by Main).
var errUnavailable = errors.New("netem: call netem.Main from TestMain")

// Main runs the package's tests inside a private network namespace; call it
// from TestMain: os.Exit(netem.Main(m)). The test binary runs again with
// the same arguments in a new network namespace, output passed through,
// and its exit code is returned. Where that is impossible (not root) the
// tests run here and New returns the reason.
func Main(m *testing.M) int {
	if parent := os.Getenv(envChild); parent != "" {
		errUnavailable = childSetup(parent)
		return m.Run()
	}
	ino, err := netnsInode("/proc/self/ns/net")
	if err != nil {
		errUnavailable = fmt.Errorf("netem: %w", err)
		return m.Run()
	}
	cmd := exec.Command(os.Args[0], os.Args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), envChild+"="+strconv.FormatUint(ino, 10))
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET, Pdeathsig: syscall.SIGKILL}
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	errUnavailable = fmt.Errorf("netem: cannot make a private network namespace (root needed): %w", err)
	return m.Run()
}

// childSetup checks that this process is in a network namespace of its
// own, not the parent's, and brings its loopback up.
func childSetup(parent string) error {
	ino, err := netnsInode("/proc/self/ns/net")
	if err != nil {
		return fmt.Errorf("netem: %w", err)
	}
	if strconv.FormatUint(ino, 10) == parent {
		return errors.New("netem: the child runs in its parent's network namespace")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return fmt.Errorf("netem: ip(8) from iproute2 is needed: %w", err)
	}
	if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		return fmt.Errorf("netem: ip link set lo up: %v: %s", err, out)
	}
	return nil
}

func netnsInode(path string) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, err
	}
	return st.Ino, nil
}

// Config describes the link; both directions are the same.
type Config struct {
	Delay time.Duration // one way; the round trip is twice this
	Rate  int64         // bits per second; 0 means unlimited
	// Queue is how many bytes may wait for the wire in each direction
	// before packets are dropped (a router's buffer); 0 means 1,000
	// packets of MTU bytes (netem's default limit).
	Queue int
	MTU   int // 0 means 1500
}

// Stats count one direction's packets and bytes (IP headers included).
type Stats struct {
	Packets, Bytes, Dropped int64
}

// Link is an emulated link between this process's network namespace
// (ClientIP) and a server namespace (ServerIP).
type Link struct {
	cfg   Config
	delay atomic.Int64
	rate  atomic.Int64
	tunC  *os.File
	tunS  *os.File
	srv   chan func() // runs on the thread in the server namespace
	done  chan struct{}
	wg    sync.WaitGroup
	up    dir // client to server
	down  dir // server to client
	close sync.Once
}

// New sets the link up; Close tears it down.
func New(cfg Config) (*Link, error) {
	if errUnavailable != nil {
		return nil, errUnavailable
	}
	if cfg.MTU == 0 {
		cfg.MTU = 1500
	}
	if cfg.Queue == 0 {
		cfg.Queue = 1000 * cfg.MTU
	}
	l := &Link{cfg: cfg, srv: make(chan func()), done: make(chan struct{})}
	l.delay.Store(int64(cfg.Delay))
	l.rate.Store(cfg.Rate)
	var err error
	if l.tunC, err = openTun("pdnetem0"); err != nil {
		return nil, err
	}
	if err := ipSetup(nil, "pdnetem0", ClientIP, cfg.MTU); err != nil {
		l.tunC.Close()
		return nil, err
	}
	// The server namespace lives on one locked thread, never unlocked:
	// the thread (and with it the namespace, once its sockets are closed)
	// goes away when the goroutine returns.
	ready := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			ready <- fmt.Errorf("netem: unshare: %w", err)
			return
		}
		ns := []string{"nsenter", "--net=/proc/" + strconv.Itoa(os.Getpid()) + "/task/" + strconv.Itoa(unix.Gettid()) + "/ns/net"}
		tun, err := openTun("pdnetem1")
		if err == nil {
			err = ipSetup(ns, "lo", "", 0)
		}
		if err == nil {
			err = ipSetup(ns, "pdnetem1", ServerIP, cfg.MTU)
		}
		l.tunS = tun
		ready <- err
		if err != nil {
			if tun != nil {
				tun.Close()
			}
			return
		}
		for {
			select {
			case f := <-l.srv:
				f()
			case <-l.done:
				return
			}
		}
	}()
	if err := <-ready; err != nil {
		l.tunC.Close()
		return nil, err
	}
	l.up.q = make(chan packet, 1<<16)
	l.down.q = make(chan packet, 1<<16)
	l.wg.Add(4)
	go l.up.read(l, l.tunC)
	go l.up.write(l, l.tunS)
	go l.down.read(l, l.tunS)
	go l.down.write(l, l.tunC)
	return l, nil
}

// openTun creates a TUN device in the calling thread's network namespace.
func openTun(name string) (*os.File, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("netem: /dev/net/tun: %w", err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netem: TUNSETIFF %s: %w", name, err)
	}
	return os.NewFile(uintptr(fd), name), nil
}

// ipSetup gives dev its address and MTU and brings it up, in the namespace
// that prefix (an nsenter command line, or nil for this one) names.
func ipSetup(pre []string, dev, addr string, mtu int) error {
	var cmds [][]string
	if addr != "" {
		cmds = append(cmds, []string{"ip", "addr", "add", addr + prefix, "dev", dev})
	}
	if mtu > 0 {
		cmds = append(cmds, []string{"ip", "link", "set", dev, "mtu", strconv.Itoa(mtu)})
	}
	cmds = append(cmds, []string{"ip", "link", "set", dev, "up"})
	for _, c := range cmds {
		c = append(append([]string(nil), pre...), c...)
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			return fmt.Errorf("netem: %v: %v: %s", c, err, out)
		}
	}
	return nil
}

// Listen opens a TCP listener on ServerIP in the server namespace.
func (l *Link) Listen() (net.Listener, error) {
	type res struct {
		ln  net.Listener
		err error
	}
	ch := make(chan res, 1)
	select {
	case l.srv <- func() {
		ln, err := net.Listen("tcp4", ServerIP+":0")
		ch <- res{ln, err}
	}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	r := <-ch
	return r.ln, r.err
}

// SetDelay changes the one-way delay for packets from now on.
func (l *Link) SetDelay(d time.Duration) { l.delay.Store(int64(d)) }

// SetRate changes the rate (bits per second, 0 unlimited).
func (l *Link) SetRate(bps int64) { l.rate.Store(bps) }

// Delay returns the one-way delay.
func (l *Link) Delay() time.Duration { return time.Duration(l.delay.Load()) }

// Rate returns the rate in bits per second.
func (l *Link) Rate() int64 { return l.rate.Load() }

// Stats returns the counters of each direction so far.
func (l *Link) Stats() (up, down Stats) { return l.up.stats(), l.down.stats() }

// Close stops the link; connections over it stop moving.
func (l *Link) Close() error {
	l.close.Do(func() {
		close(l.done)
		l.tunC.Close()
		l.tunS.Close()
		l.wg.Wait()
	})
	return nil
}

// dir is one direction: a reader that puts each packet in the queue with
// the time it is due at the other end, and a writer that delivers it then.
type dir struct {
	q                       chan packet
	busy                    time.Time // when the wire is free again
	packets, bytes, dropped atomic.Int64
}

type packet struct {
	b   []byte
	due time.Time
}

var bufs = sync.Pool{New: func() any { b := make([]byte, 65536); return &b }}

func (d *dir) stats() Stats {
	return Stats{Packets: d.packets.Load(), Bytes: d.bytes.Load(), Dropped: d.dropped.Load()}
}

func (d *dir) read(l *Link, in *os.File) {
	defer l.wg.Done()
	defer close(d.q)
	for {
		bp := bufs.Get().(*[]byte)
		n, err := in.Read(*bp)
		if err != nil {
			return
		}
		now := time.Now()
		if d.busy.Before(now) {
			d.busy = now
		}
		rate := l.rate.Load()
		if rate > 0 {
			// Bytes still waiting for the wire, as the rate drains them.
			waiting := int64(d.busy.Sub(now)) * rate / 8 / int64(time.Second)
			if waiting+int64(n) > int64(l.cfg.Queue) {
				d.dropped.Add(1)
				bufs.Put(bp)
				continue
			}
			d.busy = d.busy.Add(time.Duration(int64(n) * 8 * int64(time.Second) / rate))
		}
		d.packets.Add(1)
		d.bytes.Add(int64(n))
		d.q <- packet{b: (*bp)[:n], due: d.busy.Add(time.Duration(l.delay.Load()))}
	}
}

func (d *dir) write(l *Link, out *os.File) {
	defer l.wg.Done()
	for p := range d.q {
		if w := time.Until(p.due); w > 0 {
			time.Sleep(w)
		}
		out.Write(p.b) // a packet the kernel refuses is a lost packet
		b := p.b[:cap(p.b)]
		bufs.Put(&b)
	}
}

package dovecottest

import (
	"bufio"
	"crypto/tls"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestStartGreetsOnBothListeners(t *testing.T) {
	s := Start(t, Config{Users: []User{{"alice", "pw-alice"}}})
	conn, err := net.DialTimeout("tcp", s.Addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "+OK") {
		t.Fatalf("plain greeting %q, %v", line, err)
	}
	tc, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", s.TLSAddr,
		&tls.Config{RootCAs: s.CACertPool(), ServerName: "localhost"})
	if err != nil {
		t.Fatalf("implicit TLS with the CA: %v", err)
	}
	defer tc.Close()
	tc.SetDeadline(time.Now().Add(5 * time.Second))
	line, err = bufio.NewReader(tc).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "+OK") {
		t.Fatalf("TLS greeting %q, %v", line, err)
	}
	name, err := s.Deliver("alice", []byte("Subject: x\n\nhello\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.Maildir("alice"), "new", name)); err != nil {
		t.Errorf("delivered file not in new/: %v", err)
	}
	if _, err := s.Deliver("nobody-here", []byte("x")); err == nil {
		t.Error("Deliver to an unknown user succeeded")
	}
}

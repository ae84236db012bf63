package pop3test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"sync"
	"time"
)

// delayConn delivers every write delay after it was made, like a link with
// that one-way latency: replies to pipelined commands overlap their delays,
// replies in lock-step pay one delay each. Writes are copied and queued;
// the queue holds 65,536 writes, so a server answering a long pipeline in
// small writes is not held back by the delay line itself (with 1,024 it
// could write only 1,024 replies per delay).
type delayConn struct {
	net.Conn
	delay time.Duration
	ch    chan delayed
	done  chan struct{}
	once  sync.Once
}

type delayed struct {
	b     []byte
	due   time.Time
	close bool
}

func newDelayConn(c net.Conn, d time.Duration) *delayConn {
	dc := &delayConn{Conn: c, delay: d, ch: make(chan delayed, 1<<16), done: make(chan struct{})}
	go dc.loop()
	return dc
}

func (d *delayConn) loop() {
	defer close(d.done)
	defer d.Conn.Close()
	for w := range d.ch {
		time.Sleep(time.Until(w.due))
		if w.close {
			return
		}
		if _, err := d.Conn.Write(w.b); err != nil {
			return
		}
	}
}

func (d *delayConn) Write(p []byte) (int, error) {
	select {
	case d.ch <- delayed{b: append([]byte(nil), p...), due: time.Now().Add(d.delay)}:
		return len(p), nil
	case <-d.done:
		return 0, net.ErrClosed
	}
}

// Close delivers what is queued, then closes.
func (d *delayConn) Close() error {
	d.once.Do(func() {
		select {
		case d.ch <- delayed{close: true, due: time.Now().Add(d.delay)}:
		case <-d.done:
		}
	})
	<-d.done
	return nil
}

// TestCert is a self-signed certificate for tests.
type TestCert struct {
	CertPEM, KeyPEM []byte
	Cert            tls.Certificate
	Pool            *x509.CertPool // trusts the certificate
}

// ServerConfig returns a TLS server configuration using the certificate.
func (tc *TestCert) ServerConfig() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{tc.Cert}, MinVersion: tls.VersionTLS12}
}

// ClientConfig returns a TLS client configuration that trusts only the
// certificate and verifies serverName.
func (tc *TestCert) ClientConfig(serverName string) *tls.Config {
	return &tls.Config{RootCAs: tc.Pool, ServerName: serverName, MinVersion: tls.VersionTLS12}
}

// NewTestCert makes a self-signed ECDSA P-256 certificate, valid for a year,
// for the given host names and IP addresses (default "localhost" and
// "127.0.0.1").
func NewTestCert(hosts ...string) (*TestCert, error) {
	if len(hosts) == 0 {
		hosts = []string{"localhost", "127.0.0.1"}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: hosts[0], Organization: []string{"popdedupe tests"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	tc := &TestCert{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
		Pool:    x509.NewCertPool(),
	}
	if tc.Cert, err = tls.X509KeyPair(tc.CertPEM, tc.KeyPEM); err != nil {
		return nil, err
	}
	tc.Pool.AppendCertsFromPEM(tc.CertPEM)
	return tc, nil
}

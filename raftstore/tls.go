package raftstore

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"sync"
	"time"
)

// MutualTLS builds the TLS configuration for Raft and forwarding traffic
// from PEM files: this node's certificate and key, and the CA that signs
// every node's certificate. Each side of a connection must present a
// certificate the CA signed; a node dials peers by the host in their Raft
// address, which the peer's certificate must name (DNS or IP SAN).
//
// The certificate and key are read again when their files change, so a
// renewed certificate (ACME clients and cert-manager renew every few
// weeks) serves from the next connection on without a restart; a node
// that kept presenting the old one would be cut off when it expired. The
// CA is read once: to move to a new CA, add it to the file and restart
// the nodes one at a time, then remove the old one the same way.
func MutualTLS(certFile, keyFile, caFile string) (*tls.Config, error) {
	pair := &keyPairFiles{certFile: certFile, keyFile: keyFile}
	if _, err := pair.load(); err != nil {
		return nil, fmt.Errorf("load raft TLS key pair: %w", err)
	}
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("read raft TLS CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("raft TLS CA %s holds no PEM certificate", caFile)
	}
	return &tls.Config{
		GetCertificate:       func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return pair.load() },
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return pair.load() },
		RootCAs:              pool,
		ClientCAs:            pool,
		ClientAuth:           tls.RequireAndVerifyClientCert,
		MinVersion:           tls.VersionTLS13,
	}, nil
}

// keyPairFiles is a certificate and key read from files, again whenever
// either file's modification time changes. Connections are pooled, so
// the two stat calls come once per new connection, not per message.
type keyPairFiles struct {
	certFile, keyFile string

	mu              sync.Mutex
	cert            *tls.Certificate
	certMod, keyMod time.Time
}

// load returns the current key pair. A pair that does not load, as while
// a renewal has written the new certificate but not yet its key, leaves
// the last good one in use and is tried again on the next connection.
func (k *keyPairFiles) load() (*tls.Certificate, error) {
	cs, certErr := os.Stat(k.certFile)
	ks, keyErr := os.Stat(k.keyFile)
	k.mu.Lock()
	defer k.mu.Unlock()
	if certErr == nil && keyErr == nil && k.cert != nil && cs.ModTime().Equal(k.certMod) && ks.ModTime().Equal(k.keyMod) {
		return k.cert, nil
	}
	c, err := tls.LoadX509KeyPair(k.certFile, k.keyFile)
	if err != nil {
		if k.cert != nil {
			return k.cert, nil
		}
		return nil, err
	}
	k.cert = &c
	if certErr == nil && keyErr == nil {
		k.certMod, k.keyMod = cs.ModTime(), ks.ModTime()
	}
	return k.cert, nil
}

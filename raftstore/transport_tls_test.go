package raftstore

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testCA is a throwaway certificate authority for mutual TLS tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func mustCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "pedigree test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// mustNodeCert writes cert.pem, key.pem and ca.pem for a node whose
// certificate names 127.0.0.1, and returns their paths.
func (ca *testCA) mustNodeCert(t *testing.T, name string) (certFile, keyFile, caFile string) {
	t.Helper()
	return ca.mustNodeCertFor(t, name, nil, []net.IP{net.ParseIP("127.0.0.1")})
}

// mustNodeCertFor is mustNodeCert for a certificate naming these hosts
// and IPs.
func (ca *testCA) mustNodeCertFor(t *testing.T, name string, hosts []string, ips []net.IP) (certFile, keyFile, caFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: hosts, IPAddresses: ips,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile, caFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), filepath.Join(dir, "ca.pem")
	for path, b := range map[string][]byte{
		certFile: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyFile:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}),
		caFile:   ca.pem,
	} {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return certFile, keyFile, caFile
}

func TestMutualTLSCluster(t *testing.T) {
	ca := mustCA(t)
	c := &testCluster{t: t}
	c.tlsFor = func(name string) *Config {
		cert, key, caf := ca.mustNodeCert(t, name)
		conf, err := MutualTLS(cert, key, caf)
		if err != nil {
			t.Fatal(err)
		}
		return &Config{TLS: conf}
	}
	c.boot(3)
	// A write through a follower crosses TLS twice (forward, replication).
	var follower *testNode
	for _, tn := range c.nodes {
		if !tn.s.IsLeader() {
			follower = tn
		}
	}
	mustPropose(t, follower.s, orgCmd(t, "tls1", "tls1"))
	mustConverge(t, c.nodes, 1)

	// A node whose certificate another CA signed cannot take part.
	other := mustCA(t)
	cert, key, caf := other.mustNodeCert(t, "intruder")
	conf, err := MutualTLS(cert, key, caf)
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	intruder, err := Open(Config{NodeID: "intruder", Dir: t.TempDir(), Listener: ln, TLS: conf, Tune: fastRaft, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer intruder.Close()
	// It even knows the cluster's id: only TLS keeps it out.
	if err := intruder.PrepareJoin(c.nodes[0].s.ClusterID()); err != nil {
		t.Fatal(err)
	}
	if _, err := intruder.mux.dialService(c.nodes[0].addr, muxRPC, time.Second); err == nil {
		// The handshake may only fail on first use with TLS 1.3.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err = intruder.fwd.call(ctx, c.nodes[0].addr, rpcRequest{Op: rpcReadIndex})
		cancel()
		if err == nil {
			t.Fatal("a node with a foreign certificate was answered")
		}
	}
	// A plain-TCP client is not answered either.
	plain := peerMux(t, c.nodes[0].s.ClusterID())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, err = (&forwarder{m: plain, idle: map[string][]*rpcConn{}}).call(ctx, c.nodes[0].addr, rpcRequest{Op: rpcReadIndex})
	if err == nil || errors.Is(err, ErrNotLeader) {
		t.Fatalf("plain TCP request got an answer: %v", err)
	}
}

// TestMutualTLSWithCertificatesNamingHostsOnly: certificates often name a
// node by DNS name alone (cert-manager, ACME). A node advertised by that
// name must be dialled by it, so the certificate checks: two nodes whose
// certificates name only "localhost" form a cluster and replicate.
func TestMutualTLSWithCertificatesNamingHostsOnly(t *testing.T) {
	ca := mustCA(t)
	open := func(id string, bootstrap bool) *Store {
		t.Helper()
		cert, key, caf := ca.mustNodeCertFor(t, id, []string{"localhost"}, nil)
		conf, err := MutualTLS(cert, key, caf)
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		s, err := Open(Config{NodeID: id, Dir: t.TempDir(), Listener: ln, AdvertiseAddr: "localhost:" + port,
			Bootstrap: bootstrap, TLS: conf, Tune: fastRaft, Logger: testLogger(t), HTTPAddr: "http://" + id + ".invalid"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if got := s.Info().RaftAddr; got != "localhost:"+port {
			t.Fatalf("%s advertises %s, not the name it was given", id, got)
		}
		return s
	}
	a := open("a", true)
	waitFor(t, 10*time.Second, "a leads", a.IsLeader)
	b := open("b", false)
	if err := b.PrepareJoin(a.ClusterID()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := a.Join(ctx, b.Info(), true); err != nil {
		t.Fatalf("join by name: %v", err)
	}
	mustPropose(t, b, orgCmd(t, "by-name", "byname"))
	mustConverge(t, []*testNode{{id: "a", s: a}, {id: "b", s: b}}, 1)
}

func TestAdvertiseAddrKeepsTheNameGiven(t *testing.T) {
	if a, err := advertiseAddr("localhost:7000", nil); err != nil || a.String() != "localhost:7000" {
		t.Fatalf("localhost:7000 gives %v, %v", a, err)
	}
	for _, bad := range []string{"localhost", ":7000", "localhost:", "no-such-host.invalid:7000"} {
		if _, err := advertiseAddr(bad, nil); !errors.Is(err, ErrInvalid) {
			t.Errorf("%q: %v, want ErrInvalid", bad, err)
		}
	}
}

func TestMutualTLSBadFiles(t *testing.T) {
	dir := t.TempDir()
	if _, err := MutualTLS(filepath.Join(dir, "no.pem"), filepath.Join(dir, "no.key"), filepath.Join(dir, "ca.pem")); err == nil {
		t.Fatal("missing files must fail")
	}
	ca := mustCA(t)
	cert, key, _ := ca.mustNodeCert(t, "n")
	bad := filepath.Join(dir, "bad-ca.pem")
	os.WriteFile(bad, []byte("not pem"), 0o600)
	if _, err := MutualTLS(cert, key, bad); err == nil {
		t.Fatal("a CA file without certificates must fail")
	}
}

// TestMutualTLSServesARenewedCertificate: a node's certificate is renewed
// in place (the files rewritten, as ACME clients and cert-manager do)
// while the node runs. Its next connection presents the new certificate
// without a restart; a renewal caught half-written (a new certificate
// with the old key) keeps the old pair in use until the key follows.
func TestMutualTLSServesARenewedCertificate(t *testing.T) {
	ca := mustCA(t)
	certFile, keyFile, caFile := ca.mustNodeCert(t, "node")
	conf, err := MutualTLS(certFile, keyFile, caFile)
	if err != nil {
		t.Fatal(err)
	}
	peerFile, peerKey, _ := ca.mustNodeCert(t, "peer")
	peer, err := MutualTLS(peerFile, peerKey, caFile)
	if err != nil {
		t.Fatal(err)
	}
	// served is the serial of the certificate the node presents to a
	// peer that dials it.
	served := func() *big.Int {
		t.Helper()
		a, b := net.Pipe()
		defer a.Close()
		defer b.Close()
		srv := tls.Server(a, conf)
		go srv.Handshake()
		cfg := peer.Clone()
		cfg.ServerName = "127.0.0.1"
		cl := tls.Client(b, cfg)
		if err := cl.Handshake(); err != nil {
			t.Fatalf("handshake: %v", err)
		}
		return cl.ConnectionState().PeerCertificates[0].SerialNumber
	}
	serialOf := func(file string) *big.Int {
		t.Helper()
		pair, err := tls.LoadX509KeyPair(file, keyFileFor(t, file))
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(pair.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		return c.SerialNumber
	}
	first := served()
	if first.Cmp(serialOf(certFile)) != 0 {
		t.Fatalf("served %v, the file holds %v", first, serialOf(certFile))
	}

	newCert, newKey, _ := ca.mustNodeCert(t, "node")
	replace := func(dst, src string) {
		t.Helper()
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		// Written beside and renamed over, as renewal tools do; a file's
		// modification time must change for the renewal to be seen.
		tmp := dst + ".new"
		if err := os.WriteFile(tmp, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(tmp, time.Now().Add(time.Second), time.Now().Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, dst); err != nil {
			t.Fatal(err)
		}
	}
	replace(certFile, newCert) // the key is still the old one
	if got := served(); got.Cmp(first) != 0 {
		t.Fatalf("half-renewed: served %v, want the old %v", got, first)
	}
	replace(keyFile, newKey)
	if got := served(); got.Cmp(first) == 0 || got.Cmp(serialOf(newCert)) != 0 {
		t.Fatalf("renewed: served %v, want the new %v", got, serialOf(newCert))
	}
}

// keyFileFor is the key.pem written beside a mustNodeCert cert.pem.
func keyFileFor(t *testing.T, certFile string) string {
	t.Helper()
	return filepath.Join(filepath.Dir(certFile), "key.pem")
}

// TestANodeWithoutTLSSaysAPeerSpeaksTLS: a node started without its
// --raft-tls-* flags, among peers with them, read their TLS handshakes
// as unknown headers ("header=22"). It now says what they are.
func TestANodeWithoutTLSSaysAPeerSpeaksTLS(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var out lockedBuffer
	m := newMux(ln, ln.Addr(), nil, nil, slog.New(slog.NewTextHandler(&out, nil)))
	go m.serve()
	t.Cleanup(func() { ln.Close() })
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte{tlsHandshakeRecord, 3, 1, 0, 0}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the node to log the TLS connection", func() bool {
		return strings.Contains(string(out.Bytes()), "runs without TLS")
	})
}

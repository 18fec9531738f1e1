package raftstore

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// The first byte a client writes on a connection to the Raft address says
// which service it wants, so Raft and the forwarding RPC share one port and
// one (optional) mutual TLS setup, as rqlite does. It also carries the
// dialler's cluster id (clusterid.go), in one of two forms:
//
//   - muxRaft or muxRPC alone: the id "" of a cluster made before cluster
//     ids. This is the header of the binaries before them, byte for byte,
//     so old and new binaries of such a cluster talk during a rolling
//     upgrade. The answer is the service's; nothing comes first.
//   - muxRaftID or muxRPCID, a length byte and the id: every other
//     cluster. The node answers one byte before the service speaks:
//     admitOK, or a refusal code, a length byte and its own id, and it
//     closes the connection. So the dialler learns why it was refused (a
//     leader asked to add a node of another cluster says so), and a
//     binary older than cluster ids, which closes the connection at an
//     unknown header, is never mistaken for a peer.
const (
	muxRaft   byte = 1
	muxRPC    byte = 2
	muxRaftID byte = 3
	muxRPCID  byte = 4
)

// DialFunc opens a TCP connection; tests swap it for a fault-injecting one.
type DialFunc func(addr string, timeout time.Duration) (net.Conn, error)

func defaultDial(addr string, timeout time.Duration) (net.Conn, error) {
	return net.DialTimeout("tcp", addr, timeout)
}

// mux accepts connections on the Raft listener and routes each by its first
// byte: Raft connections to the stream layer, RPC connections to handleRPC.
type mux struct {
	ln        net.Listener
	advertise net.Addr
	tls       *tls.Config
	dial      DialFunc
	handleRPC func(net.Conn)
	log       *slog.Logger
	// ident is the cluster this node belongs to: the id it dials with and
	// the only one it admits.
	ident *identity

	raftCh chan net.Conn
	done   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup

	mu    sync.Mutex
	conns map[net.Conn]struct{} // accepted, for Close
}

func newMux(ln net.Listener, advertise net.Addr, tlsConf *tls.Config, dial DialFunc, log *slog.Logger) *mux {
	if dial == nil {
		dial = defaultDial
	}
	return &mux{
		ln: ln, advertise: advertise, tls: tlsConf, dial: dial, log: log, ident: newIdentity(log),
		raftCh: make(chan net.Conn), done: make(chan struct{}), conns: map[net.Conn]struct{}{},
	}
}

func (m *mux) serve() {
	m.wg.Add(1)
	defer m.wg.Done()
	for {
		c, err := m.ln.Accept()
		if err != nil {
			select {
			case <-m.done:
				return
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			m.log.Warn("accept failed", "error", err)
			time.Sleep(10 * time.Millisecond) // avoid a hot loop on a persistent error
			continue
		}
		m.track(c, true)
		go m.route(c)
	}
}

func (m *mux) track(c net.Conn, add bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if add {
		m.conns[c] = struct{}{}
	} else {
		delete(m.conns, c)
	}
}

// route reads the header (after the TLS handshake, if any), admits or
// refuses the dialler's cluster, and hands the connection to its service.
func (m *mux) route(c net.Conn) {
	conn := c
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if m.tls != nil {
		tc := tls.Server(c, m.tls)
		if err := tc.Handshake(); err != nil {
			m.log.Warn("tls handshake failed", "remote", c.RemoteAddr(), "error", err)
			m.closeConn(c)
			return
		}
		conn = tc
	}
	var hdr [1]byte
	if _, err := io.ReadFull(conn, hdr[:]); err != nil {
		m.closeConn(c)
		return
	}
	service, withID := hdr[0], false
	switch hdr[0] {
	case muxRaft, muxRPC:
	case muxRaftID:
		service, withID = muxRaft, true
	case muxRPCID:
		service, withID = muxRPC, true
	case tlsHandshakeRecord:
		m.log.Warn("a peer opened a TLS connection, and this node runs without TLS: give every node the same --raft-tls-* flags", "remote", c.RemoteAddr())
		m.closeConn(c)
		return
	default:
		m.log.Warn("unknown connection header", "remote", c.RemoteAddr(), "header", hdr[0])
		m.closeConn(c)
		return
	}
	var claimed string
	if withID {
		id, err := readShortString(conn)
		if err != nil {
			m.closeConn(c)
			return
		}
		claimed = id
	}
	code, mine := m.ident.admit(claimed, c.RemoteAddr())
	if withID {
		answer := []byte{code}
		if code != admitOK {
			answer = appendShortString(answer, mine)
		}
		if _, err := conn.Write(answer); err != nil {
			m.closeConn(c)
			return
		}
	}
	if code != admitOK {
		m.closeConn(c)
		return
	}
	_ = c.SetDeadline(time.Time{})
	switch service {
	case muxRaft:
		select {
		case m.raftCh <- &trackedConn{Conn: conn, m: m, raw: c}:
		case <-m.done:
			m.closeConn(c)
		}
	case muxRPC:
		m.handleRPC(&trackedConn{Conn: conn, m: m, raw: c})
	}
}

// readShortString reads a length byte and that many bytes.
func readShortString(r io.Reader) (string, error) {
	var n [1]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return "", err
	}
	b := make([]byte, n[0])
	if _, err := io.ReadFull(r, b); err != nil {
		return "", err
	}
	return string(b), nil
}

// appendShortString appends s's length byte and s; cluster ids are 26
// bytes, so the 255 the byte allows is never reached.
func appendShortString(b []byte, s string) []byte {
	s = s[:min(len(s), 255)]
	return append(append(b, byte(len(s))), s...)
}

func (m *mux) closeConn(c net.Conn) {
	c.Close()
	m.track(c, false)
}

// trackedConn forgets itself in the mux when closed.
type trackedConn struct {
	net.Conn
	m   *mux
	raw net.Conn
}

func (t *trackedConn) Close() error {
	err := t.Conn.Close()
	t.m.track(t.raw, false)
	return err
}

// dialService connects to addr's mux and asks for a service on behalf of
// this node's cluster. A refusal wraps ErrClusterMismatch.
func (m *mux) dialService(addr string, service byte, timeout time.Duration) (net.Conn, error) {
	return m.dialServiceContext(context.Background(), addr, service, timeout)
}

// dialServiceContext is dialService that also gives up when ctx ends. The
// TLS handshake and the node's answer to the cluster header each wait for
// the peer, which a node that vanished without closing its connections
// never gives: a forwarded call whose leader changed meanwhile must not
// wait out the timeout before it asks the new one.
func (m *mux) dialServiceContext(ctx context.Context, addr string, service byte, timeout time.Duration) (net.Conn, error) {
	cluster, err := m.ident.dialID()
	if err != nil {
		return nil, err
	}
	c, err := m.dial(addr, timeout)
	if err != nil {
		return nil, err
	}
	// One deadline for the whole greeting, set before ctx can cut it
	// short, so nothing in between undoes the cut.
	_ = c.SetDeadline(time.Now().Add(timeout))
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Now()) })
	conn, err := m.greet(c, addr, service, cluster)
	if err != nil {
		c.Close()
	} else {
		_ = c.SetDeadline(time.Time{})
	}
	if !stop() { // ctx ended: its deadline may stand, and spoils the connection
		c.Close()
		return nil, fmt.Errorf("connect to %s: %w", addr, ctx.Err())
	}
	return conn, err
}

// greet makes the TLS handshake, if any, on a new connection to addr and
// sends the header for service and cluster, within the deadline set on c.
func (m *mux) greet(c net.Conn, addr string, service byte, cluster string) (net.Conn, error) {
	conn := c
	if m.tls != nil {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		cfg := m.tls.Clone()
		if cfg.ServerName == "" {
			cfg.ServerName = host
		}
		tc := tls.Client(c, cfg)
		if err := tc.Handshake(); err != nil {
			return nil, fmt.Errorf("tls handshake with %s: %w", addr, err)
		}
		conn = tc
	}
	if cluster == "" {
		// The legacy header: no id, and no answer before the service's.
		if _, err := conn.Write([]byte{service}); err != nil {
			return nil, err
		}
		return conn, nil
	}
	header := muxRaftID
	if service == muxRPC {
		header = muxRPCID
	}
	if _, err := conn.Write(appendShortString([]byte{header}, cluster)); err != nil {
		return nil, err
	}
	if err := readAdmission(conn, addr, cluster); err != nil {
		return nil, err
	}
	return conn, nil
}

// tlsHandshakeRecord is the first byte of a TLS connection (a handshake
// record), which a node without TLS reads where it expects a header.
const tlsHandshakeRecord = 0x16

// readAdmission reads a node's answer to a cluster header.
func readAdmission(r io.Reader, addr, cluster string) error {
	var code [1]byte
	if _, err := io.ReadFull(r, code[:]); err != nil {
		return fmt.Errorf("%s gave no answer to this node's cluster header (%v): it runs with TLS (--raft-tls-*) and this node without, or it is a Pedigree binary older than cluster ids, which closes the connection at it", addr, err)
	}
	if code[0] == admitOK {
		return nil
	}
	theirs, err := readShortString(r)
	if err != nil {
		return fmt.Errorf("%s refused this node's cluster and cut its answer: %v", addr, err)
	}
	switch code[0] {
	case refuseOther:
		return &clusterRefusal{fmt.Sprintf("the node at %s belongs to %s, this node to %s", addr, describeCluster(theirs), describeCluster(cluster))}
	case refuseNoMember:
		return &clusterRefusal{fmt.Sprintf("the node at %s belongs to no cluster and was not asked to join %s (start it with pedigree serve --join)", addr, describeCluster(cluster))}
	case refuseJoining:
		return &clusterRefusal{fmt.Sprintf("the node at %s is joining %s, not %s", addr, describeCluster(theirs), describeCluster(cluster))}
	}
	return fmt.Errorf("%s answered this node's cluster header with %d", addr, code[0])
}

// clusterRefusal is a node's refusal of this node's cluster. It is its
// own type so a caller can tell it apart from the network failure it is
// wrapped in (the forwarder's errForward, which callers retry).
type clusterRefusal struct{ msg string }

func (e *clusterRefusal) Error() string { return ErrClusterMismatch.Error() + ": " + e.msg }
func (e *clusterRefusal) Unwrap() error { return ErrClusterMismatch }

// close stops accepting and closes every accepted connection, abruptly: a
// closed store must stop answering at once.
func (m *mux) close() {
	m.once.Do(func() {
		close(m.done)
		m.ln.Close()
		m.mu.Lock()
		for c := range m.conns {
			c.Close()
		}
		m.mu.Unlock()
	})
	m.wg.Wait()
}

// raftLayer is the raft.StreamLayer over the mux.
type raftLayer mux

var _ raft.StreamLayer = (*raftLayer)(nil)

// Accept waits for the next Raft connection.
func (r *raftLayer) Accept() (net.Conn, error) {
	select {
	case c := <-r.raftCh:
		return c, nil
	case <-r.done:
		return nil, net.ErrClosed
	}
}

// Close is a no-op: the Store closes the mux after Raft has shut down.
func (r *raftLayer) Close() error { return nil }

// Addr is the advertised Raft address.
func (r *raftLayer) Addr() net.Addr { return r.advertise }

// Dial opens a Raft connection to a peer.
func (r *raftLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return (*mux)(r).dialService(string(addr), muxRaft, timeout)
}

// advertiseAddr is the address peers dial this node at: the configured
// one as written, or the bound one. A configured host name stays a name:
// peers check this node's TLS certificate against the host they dial, and
// a certificate may name the node only by DNS name; and a node whose IP
// changes (a rescheduled pod) is still found. It is resolved once here
// only to refuse a name that does not resolve at all.
func advertiseAddr(configured string, bound net.Addr) (net.Addr, error) {
	if configured != "" {
		host, port, err := net.SplitHostPort(configured)
		if err == nil && (host == "" || port == "") {
			err = errors.New("needs a host and a port")
		}
		if err == nil {
			_, err = net.ResolveTCPAddr("tcp", configured)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: advertise address %q: %v", ErrInvalid, configured, err)
		}
		return namedAddr(configured), nil
	}
	a, ok := bound.(*net.TCPAddr)
	if !ok {
		return bound, nil
	}
	if a.IP == nil || a.IP.IsUnspecified() {
		return nil, fmt.Errorf("%w: raft listens on %s; give an advertise address peers can dial", ErrInvalid, bound)
	}
	return a, nil
}

// namedAddr is a TCP address as configured, host name and all.
type namedAddr string

func (a namedAddr) Network() string { return "tcp" }
func (a namedAddr) String() string  { return string(a) }

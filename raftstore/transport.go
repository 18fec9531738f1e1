package raftstore

import (
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
// one (optional) mutual TLS setup, as rqlite does.
const (
	muxRaft byte = 1
	muxRPC  byte = 2
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
		ln: ln, advertise: advertise, tls: tlsConf, dial: dial, log: log,
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

// route reads the header byte (after the TLS handshake, if any) and hands
// the connection to its service.
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
	_ = c.SetDeadline(time.Time{})
	switch hdr[0] {
	case muxRaft:
		select {
		case m.raftCh <- &trackedConn{Conn: conn, m: m, raw: c}:
		case <-m.done:
			m.closeConn(c)
		}
	case muxRPC:
		m.handleRPC(&trackedConn{Conn: conn, m: m, raw: c})
	default:
		m.log.Warn("unknown connection header", "remote", c.RemoteAddr(), "header", hdr[0])
		m.closeConn(c)
	}
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

// dialService connects to addr's mux and asks for a service.
func (m *mux) dialService(addr string, service byte, timeout time.Duration) (net.Conn, error) {
	c, err := m.dial(addr, timeout)
	if err != nil {
		return nil, err
	}
	conn := c
	if m.tls != nil {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			c.Close()
			return nil, err
		}
		cfg := m.tls.Clone()
		if cfg.ServerName == "" {
			cfg.ServerName = host
		}
		tc := tls.Client(c, cfg)
		_ = c.SetDeadline(time.Now().Add(timeout))
		if err := tc.Handshake(); err != nil {
			c.Close()
			return nil, fmt.Errorf("tls handshake with %s: %w", addr, err)
		}
		_ = c.SetDeadline(time.Time{})
		conn = tc
	}
	if _, err := conn.Write([]byte{service}); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

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

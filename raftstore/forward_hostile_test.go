package raftstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// allocatedBy returns the bytes fn allocates.
func allocatedBy(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestAHostileFrameCostsNoMoreThanItsSize: what a peer sends on the
// forwarding port is read before anything checks it, so nothing it claims
// may make the node allocate more than the bytes it sent: a command count
// in the millions over a body of garbage, or a part length of 64 MiB over
// a few bytes.
func TestAHostileFrameCostsNoMoreThanItsSize(t *testing.T) {
	// A binary entry claiming as many commands as its body has bytes.
	body := []byte(binaryEntryMagic)
	body = binary.AppendUvarint(body, 4<<20)
	body = append(body, bytes.Repeat([]byte{0xff}, 4<<20)...)
	var err error
	if n := allocatedBy(func() { _, err = decodeEntryOf(body, maxBatch) }); err == nil || n > 2*uint64(len(body)) {
		t.Errorf("a %d-byte body of garbage: %v, %d bytes allocated", len(body), err, n)
	}
	if n := allocatedBy(func() { _, err = decodeEntry(body) }); err == nil || n > 2*uint64(len(body)) {
		t.Errorf("the same as a log entry: %v, %d bytes allocated", err, n)
	}

	// A forwarded request holds at most maxBatch commands.
	cmds := make([]byte, 0, 64)
	cmds = append(cmds, binaryEntryMagic...)
	cmds = binary.AppendUvarint(cmds, maxBatch+1)
	cmds = append(cmds, make([]byte, (maxBatch+1)*minCommandBytes)...)
	if _, err := decodeEntryOf(cmds, maxBatch); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Errorf("%d commands in a request: %v", maxBatch+1, err)
	}

	// A part that announces 64 MiB and then ends.
	var frame bytes.Buffer
	binary.Write(&frame, binary.BigEndian, uint32(2))
	frame.WriteString("{}")
	binary.Write(&frame, binary.BigEndian, uint32(maxFrame))
	frame.WriteString("short")
	if n := allocatedBy(func() { _, err = readRequest(bytes.NewReader(frame.Bytes())) }); err == nil || n > 1<<20 {
		t.Errorf("a body announced as %d bytes, 5 sent: %v, %d bytes allocated", maxFrame, err, n)
	}
	// A request header longer than any request's fields.
	frame.Reset()
	binary.Write(&frame, binary.BigEndian, uint32(maxRequestHeader+1))
	if _, err := readRequest(bytes.NewReader(frame.Bytes())); err == nil || !strings.Contains(err.Error(), "too large") {
		t.Errorf("a request header of %d bytes: %v", maxRequestHeader+1, err)
	}
}

// TestCallsAfterThePeerRestartsUseAFreshConnection: a node keeps idle
// connections to its peers. When a peer restarts they are all dead, and
// the first call on one must not fail (it would cost the caller a retry
// round each, up to the pool's 32): the pool is emptied and the call sent
// again at once.
func TestCallsAfterThePeerRestartsUseAFreshConnection(t *testing.T) {
	c := mustCluster(t, 1, nil)
	peer := c.nodes[0]
	f := &forwarder{m: peerMux(t, peer.s.ClusterID()), idle: map[string][]*rpcConn{}}
	defer f.close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := f.call(ctx, peer.addr, rpcRequest{Op: rpcApplied}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := len(f.idle[peer.addr]); n < 2 {
		t.Fatalf("%d idle connections after 8 concurrent calls; the test needs several", n)
	}
	c.kill(peer)
	c.restart(peer)
	// The restart may wait out the port; the calls after it get their own
	// time.
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := range 3 {
		if _, err := f.call(ctx, peer.addr, rpcRequest{Op: rpcApplied}); err != nil {
			t.Fatalf("call %d after the peer restarted: %v", i+1, err)
		}
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Fatal("out of time")
	}
}

// TestAnIdleForwardingConnectionIsClosed: a connection on the forwarding
// port that sends no request, or stops in the middle of one, is closed
// after rpcIdleTimeout.
func TestAnIdleForwardingConnectionIsClosed(t *testing.T) {
	// Restored after the cluster closes (cleanups run last first); the
	// store reads it once, as it opens.
	saved := rpcIdleTimeout
	t.Cleanup(func() { rpcIdleTimeout = saved })
	rpcIdleTimeout = 200 * time.Millisecond
	c := mustCluster(t, 1, nil)
	m := peerMux(t, c.nodes[0].s.ClusterID())
	for name, send := range map[string][]byte{
		"nothing":        nil,
		"half a request": {0, 0, 0, 2, '{'},
	} {
		conn, err := m.dialService(c.nodes[0].addr, muxRPC, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Write(send); err != nil {
			t.Fatal(err)
		}
		conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err = conn.Read(make([]byte, 1))
		var ne interface{ Timeout() bool }
		if errors.As(err, &ne) && ne.Timeout() {
			t.Errorf("%s: the connection is still open after 10 s", name)
		}
		conn.Close()
	}
}

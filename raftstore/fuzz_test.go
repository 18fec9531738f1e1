package raftstore

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/pedigree-ledger/pedigree/models"
)

// FuzzVerifyCheckpoint: any note and key text gives a checkpoint or an
// error, never a panic, and only a correctly signed note verifies.
func FuzzVerifyCheckpoint(f *testing.F) {
	s := newSigner("pedigree-ledger", "pedigree-n1", mustKey(&testing.T{}))
	note, _ := s.sign(7, bytes.Repeat([]byte{3}, 32))
	f.Add(note, s.verifierKey)
	f.Add(strings.Replace(note, "\n7\n", "\n8\n", 1), s.verifierKey)
	f.Add("origin\n1\nAAAA\n\n\u2014 x abc\n", "x+00000000+AQ==")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, note, key string) {
		cp, err := VerifyCheckpoint(note, key)
		if err == nil && key == s.verifierKey {
			// It verified with our key: it must be a note we signed.
			if want, _ := s.sign(cp.Size, cp.Root); want != note && !strings.HasPrefix(note, CheckpointBody(cp.Origin, cp.Size, cp.Root)) {
				t.Fatalf("verified a note we did not sign: %q", note)
			}
		}
	})
}

// FuzzReadFrame: the forwarding RPC framing rejects garbage without
// panicking or allocating past its limit.
func FuzzReadFrame(f *testing.F) {
	var ok bytes.Buffer
	if err := writeRequest(&ok, rpcRequest{Op: rpcPropose, Cmds: []models.Command{{ID: "a", Kind: "k", Payload: []byte(`{"a":1}`)}}}); err != nil {
		f.Fatal(err)
	}
	f.Add(ok.Bytes())
	f.Add(binary.BigEndian.AppendUint32(nil, 1<<31))
	f.Add([]byte{0, 0, 0, 2, '{', '}', 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = readRequest(bytes.NewReader(b))
	})
}

// FuzzApplyLogData: whatever bytes a log entry holds, every node applies it
// the same way (an error result or ledger entries) and never panics, so a
// bad entry cannot take down the cluster.
func FuzzApplyLogData(f *testing.F) {
	good, _ := encodeEntry(logEntry{Op: opLedger, Cmds: []models.Command{{ID: "x", Kind: models.KindRegisterOrganisation, Payload: []byte(`{"id":"a","name":"A","role":"admin"}`)}}})
	f.Add(good)
	legacy, _ := json.Marshal(logEntry{Op: opLedger, Cmds: []models.Command{{ID: "y", Kind: models.KindRegisterOrganisation, Payload: []byte(`{"id":"b","name":"B","role":"admin"}`)}}})
	f.Add(legacy)
	f.Add([]byte(`{"op":"node_put","node":{"id":""}}`))
	f.Add([]byte(`{"op":"ledger","cmds":[{"id":"","kind":"","payload":null}]}`))
	f.Add([]byte(`{"op":"nope"}`))
	f.Add([]byte(`not json`))
	dir := f.TempDir()
	l, err := openLedger(filepath.Join(dir, "ledger.db"), "fuzz", 64, 0, testLogger(&testing.T{}))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { l.close() })
	var index uint64
	f.Fuzz(func(t *testing.T, data []byte) {
		index++
		before, _, _ := l.committed()
		resp := l.applyBatch([]*raft.Log{{Index: index, Type: raft.LogCommand, Data: data}})
		after, _, applied := l.committed()
		if applied != index {
			t.Fatalf("applied index %d, want %d", applied, index)
		}
		switch r := resp[0].(type) {
		case []models.Result:
			if after-before > uint64(len(r)) {
				t.Fatalf("%d results but the tree grew by %d", len(r), after-before)
			}
		case error, nil:
			if after != before {
				t.Fatalf("a failed entry grew the tree from %d to %d", before, after)
			}
		default:
			t.Fatalf("unexpected response %T", r)
		}
	})
}

// FuzzMuxHeader: whatever a peer sends first on the cluster port, the mux
// admits it to a service only with a header naming this node's cluster,
// answers a refusal otherwise, and never panics or hangs. The node is a
// member of cluster "C1"; the legacy one-byte headers claim cluster "".
func FuzzMuxHeader(f *testing.F) {
	for _, seed := range [][]byte{
		{muxRaft}, {muxRPC}, {9},
		appendShortString([]byte{muxRaftID}, "C1"), appendShortString([]byte{muxRPCID}, "C1"),
		appendShortString([]byte{muxRPCID}, "C2"), {muxRPCID, 200, 'x'}, {},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, hdr []byte) {
		m := newMux(nil, nil, nil, nil, slog.New(slog.DiscardHandler))
		m.ident.state, m.ident.id = member, "C1"
		// Both services take the connection before route returns: the
		// RPC handler is called, and Raft's channel has room for one.
		m.raftCh = make(chan net.Conn, 1)
		rpc := false
		m.handleRPC = func(c net.Conn) { rpc = true; c.Close() }
		node, peer := net.Pipe()
		routed := make(chan struct{})
		go func() { m.route(node); close(routed) }()
		// The peer writes and reads at once, as TCP's buffers let a real
		// one, and says no more: what it sent is all there is. It hangs up
		// a while after route has taken all of it (or returned), so a
		// header cut short ends; counting from the start instead failed a
		// whole header now and then on a busy machine.
		written := make(chan struct{})
		go func() { peer.Write(hdr); close(written) }()
		go func() {
			select {
			case <-written:
			case <-routed:
			}
			peer.SetReadDeadline(time.Now().Add(time.Second))
			io.Copy(io.Discard, peer)
			peer.Close()
		}()
		select {
		case <-routed:
		case <-time.After(15 * time.Second):
			t.Fatalf("route did not return for %x", hdr)
		}
		served := rpc || len(m.raftCh) > 0
		if len(m.raftCh) > 0 {
			(<-m.raftCh).Close()
		}
		admitted := len(hdr) > 0 && (hdr[0] == muxRaftID || hdr[0] == muxRPCID) &&
			bytes.HasPrefix(hdr[1:], appendShortString(nil, "C1"))
		if served != admitted {
			t.Fatalf("header %x: served %v, of this cluster %v", hdr, served, admitted)
		}
	})
}

package raftstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/pedigree-ledger/pedigree/models"
)

// TestForwardingKeepsSentinels: an error the leader returns to a forwarded
// request is the same sentinel on the follower.
func TestForwardingKeepsSentinels(t *testing.T) {
	c := mustCluster(t, 3, nil)
	leader := mustLeader(t, c.nodes)
	follower := followers(c.nodes, leader)[0]
	if err := follower.s.Remove(testCtx(t), "ghost"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("remove of an unknown node via a follower: %v, want ErrNotFound", err)
	}
	for _, c := range []Consistency{Leader, Linearizable} {
		// A write on the leader is visible to a follower's read at once.
		id := "fresh-" + string(c)
		mustPropose(t, leader.s, orgCmd(t, id, id))
		db, err := follower.s.Read(testCtx(t), c)
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		db.Model(&models.Organisation{}).Where("id = ?", id).Count(&n)
		if n != 1 {
			t.Fatalf("%s read on a follower misses a write acknowledged before it", c)
		}
	}
	if _, err := follower.s.Read(testCtx(t), "bogus"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad consistency: %v", err)
	}
	// The follower forwards payloads as they are; the leader validates and
	// compacts them once, so a payload that is not JSON is the caller's
	// mistake (ErrInvalid), not a failure to forward.
	bad := models.Command{ID: "not-json", Kind: models.KindRegisterOrganisation, Payload: json.RawMessage(`{"id":`)}
	if _, err := follower.s.Propose(testCtx(t), bad); !errors.Is(err, ErrInvalid) {
		t.Fatalf("payload that is not JSON via a follower: %v, want ErrInvalid", err)
	}
	spaced := models.Command{ID: "spaced", Kind: models.KindRegisterOrganisation,
		Payload: json.RawMessage("{ \"id\": \"spaced\", \"name\": \"S <&>\",\n \"role\": \"admin\" }")}
	res := mustPropose(t, follower.s, spaced)
	// Whichever node leads by now, the entry is read once every node
	// holds it.
	mustConverge(t, c.nodes, res[0].Seq)
	e, err := leader.s.ledger.entryBySeq(res[0].Seq)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(e.Command.Payload), `{"id":"spaced","name":"S <&>","role":"admin"}`; got != want {
		t.Fatalf("forwarded payload committed as %s, want %s", got, want)
	}
}

// TestForwardedRequestRoundTrip: a request's commands cross the RPC as they
// were given, and a body that does not hold commands is refused.
func TestForwardedRequestRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 21, 23, 30, 0, 7, time.UTC)
	req := rpcRequest{Op: rpcPropose, TimeoutMS: 1500, Cmds: []models.Command{
		{ID: "a", Kind: models.KindCaptureEvents, Actor: "4012345000009", Time: at, Payload: json.RawMessage("{ \"events\" : [] }")},
		{ID: "b", Kind: models.KindRegisterOrganisation},
	}}
	var buf bytes.Buffer
	if err := writeRequest(&buf, req); err != nil {
		t.Fatal(err)
	}
	got, err := readRequest(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, req) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, req)
	}

	for name, body := range map[string][]byte{
		"node op":  []byte(`{"op":"node_delete","node":{"id":"x"}}`),
		"garbage":  []byte("\x00PLE\x01\x05"),
		"not json": []byte("{"),
	} {
		buf.Reset()
		if err := writeFrame(&buf, rpcRequest{Op: rpcPropose}, body); err != nil {
			t.Fatal(err)
		}
		if _, err := readRequest(&buf); err == nil {
			t.Errorf("%s: body accepted", name)
		}
	}
}

func TestClosedStoreSaysSo(t *testing.T) {
	c := mustCluster(t, 1, nil)
	s := c.nodes[0].s
	s.Close()
	if _, err := s.Propose(context.Background(), orgCmd(t, "x", "x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("propose on a closed store: %v", err)
	}
	if _, err := s.Read(context.Background(), Local); !errors.Is(err, ErrClosed) {
		t.Fatalf("read on a closed store: %v", err)
	}
	if err := s.Ready(); !errors.Is(err, ErrClosed) {
		t.Fatalf("ready on a closed store: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}

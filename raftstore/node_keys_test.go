package raftstore

import (
	"errors"
	"os"
	"testing"
	"time"
)

// verifierKey is a well-formed verifier key named name, of a new key pair.
func verifierKey(t testing.TB, name string) string {
	t.Helper()
	return newSigner("", name, mustKey(t)).verifierKey
}

// listedKey is the key s's listing holds for node id.
func listedKey(t testing.TB, s *Store, id string) string {
	t.Helper()
	infos, err := s.ledger.nodeInfos()
	if err != nil {
		t.Fatal(err)
	}
	return infos[id].PublicKey
}

// TestTheLeaderChecksTheKeyOfAForwardedJoin: a join forwarded to the
// leader over the cluster transport, as any node sends it (an older
// binary's too, which checks nothing), is refused on the leader when its
// key is not named for the joiner, and nothing is listed.
func TestTheLeaderChecksTheKeyOfAForwardedJoin(t *testing.T) {
	s := mustSingle(t)
	for _, key := range []string{s.Info().PublicKey, verifierKey(t, "intruder"), "not a key"} {
		req := rpcRequest{Op: rpcJoin, Node: &NodeInfo{ID: "other", RaftAddr: "127.0.0.1:1", PublicKey: key}}
		if _, err := s.fwd.call(testCtx(t), s.RaftAddr(), req); !errors.Is(err, ErrInvalid) {
			t.Fatalf("a forwarded join with the key %q: %v, want ErrInvalid", key, err)
		}
	}
	ns, err := s.Nodes()
	if err != nil || len(ns) != 1 {
		t.Fatalf("after the refused joins the cluster lists %+v (%v)", ns, err)
	}
	if k := listedKey(t, s, "other"); k != "" {
		t.Fatalf("the refused joiner's key %q is listed", k)
	}
}

// TestAnAnnounceListsOnlyAKeyNamedForTheNode: a node announcing itself
// through the leader lists only a verifier key named for it; no key at
// all is refused too, rather than erase the listed one. A new key named
// for the node is taken (a member whose node.key was wiped lists its new
// one so), and the node, announcing its own, puts its own back.
func TestAnAnnounceListsOnlyAKeyNamedForTheNode(t *testing.T) {
	s := mustSingle(t)
	me := s.Info()
	waitFor(t, 10*time.Second, "the node lists its key", func() bool { return listedKey(t, s, me.ID) == me.PublicKey })
	announce := func(key string) error {
		n := me
		n.PublicKey = key
		_, err := s.fwd.call(testCtx(t), s.RaftAddr(), rpcRequest{Op: rpcAnnounce, Node: &n})
		return err
	}
	for _, key := range []string{"", "not a key", verifierKey(t, "intruder"), verifierKey(t, nodeKeyName("other"))} {
		if err := announce(key); !errors.Is(err, ErrInvalid) {
			t.Fatalf("announcing the key %q: %v, want ErrInvalid", key, err)
		}
		if k := listedKey(t, s, me.ID); k != me.PublicKey {
			t.Fatalf("after announcing %q the listing holds %q", key, k)
		}
	}
	renewed := verifierKey(t, nodeKeyName(me.ID))
	if err := announce(renewed); err != nil {
		t.Fatalf("announcing a new key named for the node: %v", err)
	}
	waitFor(t, 10*time.Second, "the node lists its own key again", func() bool { return listedKey(t, s, me.ID) == me.PublicKey })
}

// TestAJoinNeverReplacesAListedKey: a join of a member that is down, at
// its address, with a key of someone else's making (well-formed, named
// for the member) or with none, leaves the member's listed key alone:
// clients go on checking its heads with its own. When the member's data
// directory is wiped, node.key with it, it rejoins and lists its new key
// itself.
func TestAJoinNeverReplacesAListedKey(t *testing.T) {
	c := mustCluster(t, 1, nil)
	leader := c.nodes[0].s
	tn := c.joinReplica("replica")
	own := tn.s.Info()
	waitFor(t, 10*time.Second, "the replica's key is listed", func() bool { return listedKey(t, leader, tn.id) == own.PublicKey })
	c.kill(tn)

	for _, key := range []string{verifierKey(t, nodeKeyName(tn.id)), ""} {
		n := own
		n.PublicKey = key
		if err := leader.Join(testCtx(t), n, false); err != nil {
			t.Fatalf("joining the member again with the key %q: %v", key, err)
		}
		if k := listedKey(t, leader, tn.id); k != own.PublicKey {
			t.Fatalf("a join with the key %q replaced the member's key: the listing holds %q", key, k)
		}
	}

	if err := os.RemoveAll(tn.dir); err != nil {
		t.Fatal(err)
	}
	c.restart(tn)
	renewed := tn.s.Info()
	if renewed.PublicKey == own.PublicKey {
		t.Fatal("the wiped node kept its key: the test proves nothing")
	}
	if err := leader.Join(testCtx(t), renewed, false); err != nil { // as serve --join does
		t.Fatalf("rejoin of the wiped node: %v", err)
	}
	waitFor(t, 10*time.Second, "the wiped node lists its new key", func() bool { return listedKey(t, leader, tn.id) == renewed.PublicKey })
}

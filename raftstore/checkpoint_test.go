package raftstore

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestCheckNodeKeyTakesOnlyTheNodesOwnKey: a node's verifier key passes
// for its id and no other; a well-formed key under another name, and
// every malformed variant (each of which VerifyCheckpoint refuses too),
// is refused.
func TestCheckNodeKeyTakesOnlyTheNodesOwnKey(t *testing.T) {
	s := mustSingle(t)
	head := s.Head()
	vk := s.Info().PublicKey
	if vk != head.Key {
		t.Fatalf("the listed key %q is not the head's %q", vk, head.Key)
	}
	if err := CheckNodeKey(s.ID(), vk); err != nil {
		t.Fatalf("the node's own key: %v", err)
	}
	if err := CheckNodeKey("other", vk); err == nil || !strings.Contains(err.Error(), `"pedigree-other"`) {
		t.Fatalf("the node's key passed for another id: %v", err)
	}
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	intruder := fmt.Sprintf("intruder+%08x+%s", keyHash("intruder", pub), base64.StdEncoding.EncodeToString(append([]byte{algEd25519}, pub...)))
	if _, _, _, err := parseVerifierKey(intruder); err != nil {
		t.Fatalf("the intruder's key is not well formed, so proves nothing: %v", err)
	}
	if err := CheckNodeKey(s.ID(), intruder); err == nil {
		t.Fatal("a key named intruder passed")
	}
	name, rest, _ := strings.Cut(vk, "+")
	hash, key, _ := strings.Cut(rest, "+")
	flipped := []byte(hash)
	flipped[0] ^= 1
	for _, bad := range []string{
		"", "not a key", name, name + "+" + hash,
		name + "+" + string(flipped) + "+" + key,
		name + "+" + hash + "+" + key[:len(key)-4],
		name + "+" + hash + "+" + base64.StdEncoding.EncodeToString(append([]byte{2}, pub...)),
		name + "x+" + hash + "+" + key,
	} {
		if err := CheckNodeKey(s.ID(), bad); err == nil {
			t.Errorf("%q passed", bad)
		}
		if _, err := VerifyCheckpoint(head.Checkpoint, bad); err == nil {
			t.Errorf("the head verifies with %q", bad)
		}
	}
	// A join, on any node, refuses such a key before it asks the leader.
	if err := s.Join(testCtx(t), NodeInfo{ID: "other", RaftAddr: "127.0.0.1:1", PublicKey: vk}, false); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a join with another node's key: %v, want ErrInvalid", err)
	}
	ns, err := s.Nodes()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range ns {
		if n.ID == "other" {
			t.Fatalf("after the refused join the cluster lists %+v", ns)
		}
	}
}

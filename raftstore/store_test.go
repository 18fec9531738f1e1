package raftstore

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/proof"

	"github.com/pedigree-ledger/pedigree/models"
)

func TestProposeAssignsSeqAndLeaves(t *testing.T) {
	s := mustSingle(t)
	res := mustPropose(t, s, orgCmd(t, "c1", "alice"), orgCmd(t, "c2", "bob"))
	if len(res) != 2 || res[0].Seq != 1 || res[1].Seq != 2 || !res[0].Accepted || !res[1].Accepted {
		t.Fatalf("results = %+v", res)
	}
	h := s.Head()
	if h.Size != 2 {
		t.Fatalf("head size = %d, want 2", h.Size)
	}
	// The stored entry's leaf bytes give the leaf hash the tree holds.
	e, err := s.Entry(2)
	if err != nil {
		t.Fatal(err)
	}
	if e.Command.ID != "c2" || e.Command.Time.IsZero() {
		t.Fatalf("entry = %+v", e)
	}
	if got := LeafHash(2, e.Command, e.Result); !bytes.Equal(got, e.LeafHash) {
		t.Fatalf("recomputed leaf %x != stored %x", got, e.LeafHash)
	}
	for _, seq := range []uint64{0, 3, math.MaxInt64, math.MaxInt64 + 1, math.MaxUint64} {
		if _, err := s.Entry(seq); !errors.Is(err, ErrNotFound) {
			t.Errorf("entry %d: %v, want ErrNotFound", seq, err)
		}
	}
	db, err := s.Read(context.Background(), Local)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	if err := db.Model(&models.Organisation{}).Count(&n).Error; err != nil || n != 2 {
		t.Fatalf("organisations = %d, %v", n, err)
	}
}

func TestDuplicateIDReturnsFirstResult(t *testing.T) {
	s := mustSingle(t)
	first := mustPropose(t, s, orgCmd(t, "same", "alice"))[0]
	// The same command again (its time differs: the leader stamps each
	// try): the first result, no new leaf.
	again := mustPropose(t, s, orgCmd(t, "same", "alice"))[0]
	if !reflect.DeepEqual(again, first) {
		t.Fatalf("repeat gave %+v, first %+v", again, first)
	}
	// The same id for another command: refused, no new leaf. It may not
	// pass for the first, which it is not.
	other := mustPropose(t, s, orgCmd(t, "same", "carol"))[0]
	if other.Accepted || other.Code != models.CodeIDReused || other.Seq != first.Seq {
		t.Fatalf("another command under a known id gave %+v", other)
	}
	byOther := orgCmd(t, "same", "alice")
	byOther.Actor = "alice"
	if r := mustPropose(t, s, byOther)[0]; r.Code != models.CodeIDReused {
		t.Fatalf("the same payload from another actor gave %+v", r)
	}
	// Inside one batch too.
	res := mustPropose(t, s, orgCmd(t, "x", "dave"), orgCmd(t, "x", "dave"), orgCmd(t, "x", "erin"))
	if res[0].Seq != 2 || !reflect.DeepEqual(res[1], res[0]) || res[2].Code != models.CodeIDReused || res[2].Seq != 2 {
		t.Fatalf("in-batch results = %+v", res)
	}
	if h := s.Head(); h.Size != 2 {
		t.Fatalf("tree size = %d, want 2", h.Size)
	}
	db, _ := s.Read(context.Background(), Local)
	var n int64
	if err := db.Model(&models.Organisation{}).Where("id IN ?", []string{"carol", "erin"}).Count(&n).Error; err != nil || n != 0 {
		t.Fatalf("%d organisations registered under reused ids (%v)", n, err)
	}
}

func TestRejectedCommandIsLeafButChangesNothing(t *testing.T) {
	s := mustSingle(t)
	mustPropose(t, s, orgCmd(t, "a", "alice"))
	res := mustPropose(t, s, orgCmd(t, "b", "alice"))[0] // already registered
	if res.Accepted || res.Code == "" || res.Seq != 2 {
		t.Fatalf("second registration = %+v, want a rejection at seq 2", res)
	}
	if s.Head().Size != 2 {
		t.Fatal("a rejected command must still be a ledger entry")
	}
	e, err := s.EntryByID("b")
	if err != nil || e.Result.Accepted || e.Result.Code != res.Code {
		t.Fatalf("stored rejection = %+v, %v", e, err)
	}
	db, _ := s.Read(context.Background(), Local)
	var org models.Organisation
	if err := db.Where("id = ?", "alice").Take(&org).Error; err != nil || org.Seq != 1 {
		t.Fatalf("alice = %+v, %v (the rejected command must not touch her)", org, err)
	}
}

func TestProposeRejectsBadInput(t *testing.T) {
	s := mustSingle(t)
	ctx := context.Background()
	for name, cmds := range map[string][]models.Command{
		"empty batch": nil,
		"no kind":     {{ID: "k"}},
		"long id":     {{ID: string(make([]byte, 600)), Kind: models.KindRegisterOrganisation}},
	} {
		if _, err := s.Propose(ctx, cmds...); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
}

func TestProofsVerify(t *testing.T) {
	s := mustSingle(t)
	var cmds []models.Command
	for i := 0; i < 37; i++ {
		cmds = append(cmds, orgCmd(t, "", "org"+string(rune('a'+i%26))+string(rune('a'+i/26))))
	}
	mustPropose(t, s, cmds[:13]...)
	mid := s.Head()
	mustPropose(t, s, cmds[13:]...)
	head := s.Head()
	if head.Size != 37 {
		t.Fatalf("size = %d", head.Size)
	}
	for _, size := range []uint64{1, 2, 13, 16, 37} {
		for seq := uint64(1); seq <= size; seq++ {
			p, err := s.InclusionProof(seq, size)
			if err != nil {
				t.Fatalf("inclusion %d/%d: %v", seq, size, err)
			}
			if err := proof.VerifyInclusion(hasher, seq-1, size, p.LeafHash, p.Hashes, p.Root); err != nil {
				t.Fatalf("inclusion %d/%d does not verify: %v", seq, size, err)
			}
		}
	}
	p, err := s.InclusionProof(5, 0)
	if err != nil || !bytes.Equal(p.Root, head.Root) {
		t.Fatalf("proof at current size: root %x want %x (%v)", p.Root, head.Root, err)
	}
	for _, pair := range [][2]uint64{{0, 37}, {1, 37}, {13, 37}, {16, 37}, {13, 16}, {37, 37}} {
		c, err := s.ConsistencyProof(pair[0], pair[1])
		if err != nil {
			t.Fatalf("consistency %v: %v", pair, err)
		}
		if pair[0] == 0 {
			continue // nothing to prove from the empty tree
		}
		if err := proof.VerifyConsistency(hasher, pair[0], pair[1], c.Hashes, c.FirstRoot, c.SecondRoot); err != nil {
			t.Fatalf("consistency %v does not verify: %v", pair, err)
		}
	}
	c, _ := s.ConsistencyProof(13, 37)
	if !bytes.Equal(c.FirstRoot, mid.Root) || !bytes.Equal(c.SecondRoot, head.Root) {
		t.Fatal("consistency roots differ from the signed heads")
	}
	for _, bad := range [][2]uint64{{0, 1}, {38, 38}, {2, 1}, {1, 99}} {
		if _, err := s.InclusionProof(bad[0], bad[1]); !errors.Is(err, ErrInvalid) {
			t.Errorf("inclusion %v: err = %v, want ErrInvalid", bad, err)
		}
	}
	if _, err := s.ConsistencyProof(5, 2); !errors.Is(err, ErrInvalid) {
		t.Errorf("consistency 5,2: err = %v", err)
	}
}

func TestHeadCheckpointVerifies(t *testing.T) {
	s := mustSingle(t)
	mustPropose(t, s, orgCmd(t, "a", "alice"))
	h := s.Head()
	cp, err := VerifyCheckpoint(h.Checkpoint, h.Key)
	if err != nil {
		t.Fatal(err)
	}
	if cp.Size != h.Size || !bytes.Equal(cp.Root, h.Root) || cp.Origin != "pedigree-ledger" {
		t.Fatalf("checkpoint = %+v, head = %+v", cp, h)
	}
	tampered := bytes.Replace([]byte(h.Checkpoint), []byte("\n1\n"), []byte("\n2\n"), 1)
	if _, err := VerifyCheckpoint(string(tampered), h.Key); err == nil {
		t.Fatal("a checkpoint with a changed size must not verify")
	}
	other := newSigner("pedigree-ledger", "pedigree-other", mustKey(t))
	if _, err := VerifyCheckpoint(h.Checkpoint, other.verifierKey); err == nil {
		t.Fatal("another node's key must not verify this checkpoint")
	}
}

// TestHeadSignsEachTreeOnce: heads of one tree share one signature, and
// a head taken after a write signs the new tree, not the cached one.
func TestHeadSignsEachTreeOnce(t *testing.T) {
	s := mustSingle(t)
	mustPropose(t, s, orgCmd(t, "a", "alice"))
	first := s.Head()
	again := s.Head()
	if again.Checkpoint != first.Checkpoint || !bytes.Equal(again.Signature, first.Signature) {
		t.Fatalf("two heads of one tree differ:\n%s\n%s", first.Checkpoint, again.Checkpoint)
	}
	again.Signature[0] ^= 1 // a caller's copy: changing it changes no later head
	if h := s.Head(); !bytes.Equal(h.Signature, first.Signature) {
		t.Fatal("a caller changing its head's signature changed the node's")
	}
	s.signer.mu.Lock()
	kept := s.signer.last.size
	s.signer.mu.Unlock()
	if kept != first.Size {
		t.Fatalf("the signer keeps the head of size %d, want %d", kept, first.Size)
	}

	mustPropose(t, s, orgCmd(t, "b", "bob"))
	next := s.Head()
	if next.Size != first.Size+1 || next.Checkpoint == first.Checkpoint {
		t.Fatalf("after a write the head is still %+v", next)
	}
	cp, err := VerifyCheckpoint(next.Checkpoint, next.Key)
	if err != nil || cp.Size != next.Size || !bytes.Equal(cp.Root, next.Root) {
		t.Fatalf("the new head's checkpoint = %+v, %v; head %+v", cp, err, next)
	}
	if !ed25519.Verify(s.key.Public().(ed25519.PublicKey), []byte(CheckpointBody("pedigree-ledger", next.Size, next.Root)), next.Signature) {
		t.Fatal("the new head's raw signature does not verify")
	}
}

// BenchmarkHead is the cost of a signed head of an unchanged tree: every
// provenance answer and dashboard page carries one.
func BenchmarkHead(b *testing.B) {
	s := mustSingle(b)
	mustPropose(b, s, orgCmd(b, "a", "alice"))
	for b.Loop() {
		s.Head()
	}
}

func TestRestartKeepsLedgerAndKey(t *testing.T) {
	c := mustCluster(t, 1, nil)
	tn := c.nodes[0]
	mustPropose(t, tn.s, orgCmd(t, "a", "alice"), orgCmd(t, "b", "bob"))
	before := tn.s.Head()
	c.kill(tn)
	c.restart(tn)
	mustLeader(t, c.nodes)
	after := tn.s.Head()
	if after.Size != before.Size || !bytes.Equal(after.Root, before.Root) || after.Key != before.Key {
		t.Fatalf("after restart head = %+v, before %+v", after, before)
	}
	res := mustPropose(t, tn.s, orgCmd(t, "a", "alice"), orgCmd(t, "c", "carol"))
	if res[0].Seq != 1 || res[1].Seq != 3 {
		t.Fatalf("after restart results = %+v", res)
	}
}

func TestReadConsistencyLevels(t *testing.T) {
	s := mustSingle(t)
	mustPropose(t, s, orgCmd(t, "a", "alice"))
	for _, c := range []Consistency{Local, Leader, Linearizable} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		db, err := s.Read(ctx, c)
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		var n int64
		db.Model(&models.Organisation{}).Count(&n)
		cancel()
		if n != 1 {
			t.Fatalf("%s read sees %d organisations", c, n)
		}
	}
	if _, err := ParseConsistency("strong"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("ParseConsistency(strong) = %v", err)
	}
}

// TestAQuietNodeDoesNotRestoreItsSnapshotAtEveryStart: a snapshot taken
// after entries the FSM never sees (a new leader's no-op, a read's
// barrier) has a Raft index above the database's applied index, though
// the database holds all it holds. Starting again must not restore it,
// which copies the whole ledger, at this start or any later one.
func TestAQuietNodeDoesNotRestoreItsSnapshotAtEveryStart(t *testing.T) {
	c := mustCluster(t, 1, nil)
	tn := c.nodes[0]
	writeN(t, tn.s, "q", 3, 1)
	// The node announces itself in the background; had it not yet, it
	// would after the restart, and that entry could land after the
	// snapshot below and spoil the premise.
	waitFor(t, 10*time.Second, "the node announced", func() bool {
		infos, err := tn.s.ledger.nodeInfos()
		return err == nil && infos[tn.id] == tn.s.Info()
	})
	c.kill(tn)
	c.restart(tn) // a new term: the leader's no-op
	mustLeader(t, c.nodes)
	if _, err := tn.s.Read(testCtx(t), Leader); err != nil { // a barrier
		t.Fatal(err)
	}
	f := tn.s.raft.Snapshot()
	if err := f.Error(); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	meta, rc, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if _, _, applied := tn.s.ledger.committed(); meta.Index <= applied {
		t.Fatalf("the premise: the snapshot's index %d is not above the applied index %d", meta.Index, applied)
	}
	head := tn.s.Head()
	for i := range 2 {
		c.kill(tn)
		c.restart(tn)
		mustLeader(t, c.nodes)
		if n := tn.s.ledger.restores.Load(); n != 0 {
			t.Fatalf("start %d restored the snapshot %d times", i+1, n)
		}
		if h := tn.s.Head(); h.Size != head.Size || !bytes.Equal(h.Root, head.Root) {
			t.Fatalf("start %d: tree %d %x, was %d %x", i+1, h.Size, h.Root, head.Size, head.Root)
		}
	}
}

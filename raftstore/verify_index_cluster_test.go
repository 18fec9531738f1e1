package raftstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/pedigree-ledger/pedigree/fixtures/demo"
	"github.com/pedigree-ledger/pedigree/models"
	"github.com/pedigree-ledger/pedigree/models/gs1"
)

// TestVerifyIndexMatchesTheProjectionOnEveryNode: packs commissioned,
// aggregated, shipped, received, dispensed and recalled through every node
// of a cluster are verified from each node's verify index exactly as from
// its SQLite projection, and still after a node restarts (the index is
// loaded from the database) and after a wiped node catches up from a
// snapshot (the index is loaded from the restored database).
func TestVerifyIndexMatchesTheProjectionOnEveryNode(t *testing.T) {
	c := mustCluster(t, 3, snapshotOften)
	dn, err := demo.New(7, 60, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	at := dn.Start
	n := 0
	propose := func(kind models.CommandKind, actor string, payload any) {
		t.Helper()
		n++
		cmd, err := models.NewCommand(fmt.Sprintf("cmd-%d", n), kind, actor, time.Time{}, payload)
		if err != nil {
			t.Fatal(err)
		}
		if res := mustPropose(t, c.nodes[n%len(c.nodes)].s, cmd); !res[0].Accepted {
			t.Fatalf("%s by %s rejected: %s", kind, actor, res[0].Message)
		}
	}
	capture := func(actor string, events ...demo.Event) {
		t.Helper()
		at = at.Add(time.Minute)
		payload, err := json.Marshal(map[string]any{"events": events})
		if err != nil {
			t.Fatal(err)
		}
		propose(models.KindCaptureEvents, actor, json.RawMessage(payload))
	}
	for _, o := range dn.Orgs() {
		propose(models.KindRegisterOrganisation, "", models.RegisterOrganisationPayload{ID: o.GLN, Name: o.Name, Role: o.Role, Prefixes: o.Prefixes})
	}
	for _, p := range dn.Products {
		propose(models.KindRegisterProduct, dn.Manufacturer.GLN, p)
	}
	m, w, ph := dn.Manufacturer.GLN, dn.Wholesaler.GLN, dn.Pharmacy1.GLN
	for _, lot := range []string{dn.LotA, dn.LotB} {
		var epcs []string
		var expiry string
		for _, p := range dn.Packs {
			if p.Lot == lot {
				epcs, expiry = append(epcs, demo.PackEPC(p.GTIN, p.Serial)), p.Expiry
			}
		}
		capture(m, demo.Commission(at, m, epcs, lot, expiry))
	}
	var cases []string
	for _, cs := range dn.Cases {
		capture(m, demo.PackInto(at, m, demo.SSCCEPC(cs.SSCC), dn.PackEPCs(cs.Packs)))
		cases = append(cases, demo.SSCCEPC(cs.SSCC))
	}
	pallet := demo.SSCCEPC(dn.Pallet)
	capture(m, demo.PackInto(at, m, pallet, cases))
	capture(m, demo.Ship(at, m, w, []string{pallet})) // every pack moves with the pallet
	capture(w, demo.Receive(at, w, []string{pallet})) // every holder changes
	capture(w, demo.Unpack(at, w, pallet, cases[:1])) // one case leaves the pallet
	capture(w, demo.Ship(at, w, ph, cases[:1]))       // to the pharmacy
	capture(ph, demo.Receive(at, ph, cases[:1]))      // received there
	capture(ph, demo.Unpack(at, ph, cases[0], dn.PackEPCs(dn.Cases[0].Packs[:2])))
	first := dn.Packs[dn.Cases[0].Packs[0]]
	propose(models.KindDecommission, ph, models.DecommissionPayload{EPCs: []string{demo.PackEPC(first.GTIN, first.Serial)}, Status: models.StatusDispensed})
	propose(models.KindRecall, m, models.RecallPayload{GTIN: dn.Products[1].GTIN, Lot: dn.LotB, Reason: "test"})
	head := mustConverge(t, c.nodes, uint64(n))

	verdicts := map[models.Verdict]bool{}
	for _, tn := range c.nodes {
		for v := range mustIndexAnswersAsProjection(t, tn, dn, ph) {
			verdicts[v] = true
		}
	}
	for _, v := range []models.Verdict{models.VerdictAuthentic, models.VerdictAlreadyDispensed, models.VerdictRecalled, models.VerdictNotInCustody} {
		if !verdicts[v] {
			t.Fatalf("no pack verified %s; verdicts %v: the scenario does not cover the index", v, verdicts)
		}
	}

	// A restarted node loads its index from its database.
	leader := mustLeader(t, c.nodes)
	other := followers(c.nodes, leader)[0]
	c.kill(other)
	c.restart(other)
	mustConverge(t, c.nodes, head.Size)
	mustIndexAnswersAsProjection(t, other, dn, ph)

	// A wiped node catches up from a snapshot and loads its index from it.
	if err := leader.s.Remove(testCtx(t), other.id); err != nil {
		t.Fatal(err)
	}
	c.kill(other)
	writeN(t, leader.s, "pad", 120, 1) // compacts the log past the packs' entries
	if err := leader.s.Snapshot(); err != nil && !errors.Is(err, raft.ErrNothingNewToSnapshot) {
		t.Fatal(err)
	}
	if err := os.RemoveAll(other.dir); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	other.addr = ln.Addr().String()
	c.start(other, ln, false)
	if err := leader.s.Join(testCtx(t), other.s.Info(), true); err != nil {
		t.Fatal(err)
	}
	mustConverge(t, c.nodes, head.Size+120)
	if other.s.ledger.restores.Load() == 0 {
		t.Fatal("the wiped node caught up without restoring a snapshot")
	}
	mustIndexAnswersAsProjection(t, other, dn, ph)
}

// mustIndexAnswersAsProjection verifies every pack of dn on tn, as
// pharmacy, from the node's verify index and from its projection, and
// fails on any difference; it returns the verdicts seen.
func mustIndexAnswersAsProjection(t *testing.T, tn *testNode, dn *demo.Network, pharmacy string) map[models.Verdict]bool {
	t.Helper()
	ix := tn.s.VerifyIndex()
	if ix == nil || ix.Len() == 0 {
		t.Fatalf("%s has no verify index or an empty one", tn.id)
	}
	if v, ok := metricValue(t, "pedigree_raftstore_verify_index_packs", map[string]string{"node": tn.id}); !ok || int(v) != ix.Len() {
		t.Fatalf("%s: verify_index_packs gauge %v (%v), the index holds %d", tn.id, v, ok, ix.Len())
	}
	db, err := tn.s.Read(testCtx(t), Local)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[models.Verdict]bool{}
	at := time.Now()
	for _, p := range dn.Packs {
		es, err := gs1.ParseScan(p.Scan)
		if err != nil {
			t.Fatal(err)
		}
		req := models.VerifyRequest{Scan: es, Pharmacy: pharmacy, Time: at, Signature: models.SignatureValid, KeyOwner: dn.Manufacturer.GLN}
		want, err := models.Verify(db, req)
		if err != nil {
			t.Fatal(err)
		}
		got, ok, err := ix.Verify(req)
		if err != nil || !ok || !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: pack %s from the index: %+v, %v\nfrom the projection: %+v", tn.id, p.Serial, got, err, want)
		}
		seen[got.Verdict] = true
	}
	return seen
}

package server

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"gorm.io/gorm"

	"github.com/pedigree-ledger/pedigree/fixtures/demo"
	"github.com/pedigree-ledger/pedigree/raftstore"
)

// A follower applies an entry only once it hears that the entry has
// committed: the leader tells it with the next entry it replicates or,
// when none follows, when its replication timer next fires (every
// CommitTimeout to twice that; 50 ms by default). These tests stretch the
// timer to half a second or more, so a request sent to the follower right
// after the leader answered a write nearly always meets a follower that
// has not applied it; mustLag checks that it has not.
const slowCommitNotice = 500 * time.Millisecond

func slowCommitNoticeRaft(c *raft.Config) {
	apiNodeRaft(c)
	c.CommitTimeout = slowCommitNotice
	// The leader must keep its leadership for the whole test: an election
	// puts the follower ahead (it leads, and applies before it answers)
	// or level (the new term's no-op carries the commit index), and
	// mustLag fails. apiNodeRaft's 100 ms lease lapsed now and then under
	// -race on two busy cores; a second does not.
	c.HeartbeatTimeout, c.ElectionTimeout, c.LeaderLeaseTimeout = time.Second, time.Second, time.Second
}

// laggingPair is a leader and a voting follower, each serving the API.
type laggingPair struct {
	leader   *apiNode
	follower *raftstore.Store
	url      string // the follower's API
}

func mustLaggingPair(t *testing.T) *laggingPair {
	t.Helper()
	n := mustTunedAPINode(t, slowCommitNoticeRaft)
	f := mustOpenNode(t, "n2", false)
	if err := f.PrepareJoin(n.store.ClusterID()); err != nil {
		t.Fatal(err)
	}
	if err := n.store.Join(t.Context(), f.Info(), true); err != nil {
		t.Fatal(err)
	}
	dash, err := NewDashboard(f)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(Create(f, nil, NewLifecycleAPI(f), dash))
	t.Cleanup(srv.Close)
	p := &laggingPair{leader: n, follower: f, url: srv.URL}
	p.catchUp(t)
	return p
}

// client is an API client of the follower for token.
func (p *laggingPair) client(token string) *demo.Client {
	return &demo.Client{Base: p.url, Token: token, HTTP: http.DefaultClient}
}

// catchUp waits until the follower has applied all the leader has.
func (p *laggingPair) catchUp(t *testing.T) {
	t.Helper()
	applied := p.leader.store.Status().Applied
	waitUntil(t, "the follower to catch up", func() bool { return p.follower.Status().Applied >= applied })
}

// mustLag fails the test unless the follower has yet to apply the leader's
// last entry: without that the test below it would prove nothing.
func (p *laggingPair) mustLag(t *testing.T) {
	t.Helper()
	if f, l := p.follower.Status(), p.leader.store.Status(); f.Applied >= l.Applied {
		t.Fatalf("the follower has applied up to %d (%s, term %d) and the leader %d (%s, term %d): it does not lag",
			f.Applied, f.State, f.Term, l.Applied, l.State, l.Term)
	}
}

// TestAFollowerAcceptsATokenTheLeaderJustIssued: a token is good on every
// node from the moment the leader answers its issue, not only once each
// node has applied it. A follower that has not seen a token checks with
// the leader before calling it unknown, so a node that joins through a
// follower still catching up is not refused either.
func TestAFollowerAcceptsATokenTheLeaderJustIssued(t *testing.T) {
	p := mustLaggingPair(t)
	tok, _ := mustIssueToken(t, p.leader)
	p.mustLag(t)
	if st, _ := call(t, p.url, "GET", "/api/v1/ledger/head", tok, nil, nil); st != http.StatusOK {
		t.Fatalf("a token the leader issued, on the follower: %d", st)
	}
	// A token the cluster never issued is still refused, after the check.
	var body apiErrorBody
	if st, _ := call(t, p.url, "GET", "/api/v1/ledger/head", "pdg_never_issued", nil, &body); st != http.StatusUnauthorized || body.Error.Code != "bad_token" {
		t.Fatalf("an unknown token on the follower: %d %+v", st, body)
	}
}

// TestAFollowerConfirmsASuspectVerdictWithTheLeader: a pharmacy scans a
// pack it has just received at a node that has not applied the receipt.
// That node's own state says "not in this pharmacy's custody"; the answer
// must be the ledger's, authentic, and no alert may reach regulators.
func TestAFollowerConfirmsASuspectVerdictWithTheLeader(t *testing.T) {
	p := mustLaggingPair(t)
	net, s := mustSeed(t, p.leader, 80) // case 1 is at the wholesaler
	whs := p.leader.client(s.Tokens[net.Wholesaler.GLN])
	ph1 := p.leader.client(s.Tokens[net.Pharmacy1.GLN])
	atFollower := p.client(s.Tokens[net.Pharmacy1.GLN])
	pack := net.Packs[net.Cases[1].Packs[0]]
	sscc := []string{demo.SSCCEPC(net.Cases[1].SSCC)}

	ship := demo.Document(time.Now(), demo.Ship(time.Now(), net.Wholesaler.GLN, net.Pharmacy1.GLN, sscc))
	if err := whs.Do(t.Context(), "POST", "/epcis/capture", "application/ld+json", ship, nil); err != nil {
		t.Fatal(err)
	}
	p.catchUp(t)
	// In transit: suspect at the pharmacy on any node, and alerted.
	if v := mustVerify(t, atFollower, pack.Scan); v.Verdict != "not_in_custody" || v.AlertSeq == 0 {
		t.Fatalf("in transit, at the follower: %+v", v)
	}

	rcv := demo.Document(time.Now(), demo.Receive(time.Now(), net.Pharmacy1.GLN, sscc))
	if err := ph1.Do(t.Context(), "POST", "/epcis/capture", "application/ld+json", rcv, nil); err != nil {
		t.Fatal(err)
	}
	p.mustLag(t)
	v := mustVerify(t, atFollower, pack.Scan)
	if v.Verdict != "authentic" || !v.Verified || v.AlertSeq != 0 || v.Pack == nil || v.Pack.Holder != net.Pharmacy1.GLN {
		t.Fatalf("received, at the follower: %+v", v)
	}
}

// TestAFollowerServesWhatTheLeaderJustCommitted: a client holding the seq
// of a write, a capture id or a pack the leader has just acknowledged asks
// a follower that has not applied it for the entry, an inclusion proof, a
// consistency proof, the capture's status or the pack's provenance. Each
// is answered, not 404 or "beyond the tree"; a seq the cluster does not
// have is still refused.
func TestAFollowerServesWhatTheLeaderJustCommitted(t *testing.T) {
	p := mustLaggingPair(t)
	admin := p.leader.client(p.leader.adminToken)
	write := func(i int) uint64 {
		t.Helper()
		var out struct {
			Seq uint64 `json:"seq"`
		}
		org := map[string]any{"id": fmt.Sprintf("auditor-%d", i), "name": "Auditor", "role": "admin"}
		if err := admin.Do(t.Context(), "POST", "/api/v1/organisations", "application/json", org, &out); err != nil || out.Seq == 0 {
			t.Fatalf("register: %+v %v", out, err)
		}
		p.mustLag(t)
		return out.Seq
	}
	get := func(path string, want int) {
		t.Helper()
		var body apiErrorBody
		if st, _ := call(t, p.url, "GET", path, p.leader.adminToken, nil, &body); st != want {
			t.Fatalf("GET %s on the follower: %d %+v, want %d", path, st, body, want)
		}
	}
	seq := write(1)
	get(fmt.Sprintf("/api/v1/ledger/entries/%d", seq), http.StatusOK)
	seq = write(2)
	get(fmt.Sprintf("/api/v1/ledger/proofs/inclusion?seq=%d&size=%d", seq, seq), http.StatusOK)
	seq = write(3)
	get(fmt.Sprintf("/api/v1/ledger/proofs/consistency?first=1&second=%d", seq), http.StatusOK)
	size := p.leader.store.Head().Size
	get(fmt.Sprintf("/api/v1/ledger/entries/%d", size+1), http.StatusNotFound)
	get(fmt.Sprintf("/api/v1/ledger/proofs/inclusion?seq=1&size=%d", size+1), http.StatusBadRequest)

	net, seeded := mustSeed(t, p.leader, 20)
	mfrToken := seeded.Tokens[net.Manufacturer.GLN]
	pack := net.Packs[0]
	commission := func(serial string) string {
		t.Helper()
		epc := demo.PackEPC(pack.GTIN, serial)
		doc := demo.Document(time.Now(), demo.Commission(time.Now(), net.Manufacturer.GLN, []string{epc}, pack.Lot, pack.Expiry))
		var job struct {
			CaptureID string `json:"captureID"`
		}
		if err := p.leader.client(mfrToken).Do(t.Context(), "POST", "/epcis/capture", "application/ld+json", doc, &job); err != nil || job.CaptureID == "" {
			t.Fatalf("capture: %+v %v", job, err)
		}
		p.mustLag(t)
		return job.CaptureID
	}
	var status struct {
		Success bool `json:"success"`
	}
	if st, _ := call(t, p.url, "GET", "/epcis/capture/"+commission("LAG-1"), mfrToken, nil, &status); st != http.StatusOK || !status.Success {
		t.Fatalf("the capture's status on the follower: %d %+v", st, status)
	}
	commission("LAG-2")
	var body apiErrorBody
	if st, _ := call(t, p.url, "GET", "/api/v1/provenance/packs/"+pack.GTIN+"/LAG-2", mfrToken, nil, &body); st != http.StatusOK {
		t.Fatalf("the new pack's provenance on the follower: %d %+v", st, body)
	}
}

// behindNode knows a leader but cannot reach the leader's state within
// any wait: a node restoring a snapshot or replaying a long log.
type behindNode struct{ *fakeNode }

func (behindNode) Read(_ context.Context, c raftstore.Consistency) (*gorm.DB, error) {
	if c == raftstore.Local {
		return nil, nil
	}
	return nil, fmt.Errorf("waiting for index 90000 (applied 12): %w", raftstore.ErrTimeout)
}

// TestANodeFarBehindTheLeaderIsNotReady: a load balancer must not send
// verifications to a node that would judge them from a state hours old,
// but must keep a follower that is in step, even one that has not yet
// heard of the leader's last commit.
func TestANodeFarBehindTheLeaderIsNotReady(t *testing.T) {
	srv := httptest.NewServer(Create(behindNode{&fakeNode{}}, nil))
	defer srv.Close()
	var eb apiErrorBody
	if st, _ := call(t, srv.URL, "GET", "/readyz", "", nil, &eb); st != http.StatusServiceUnavailable || eb.Error.Code != "not_ready" {
		t.Fatalf("readyz on a node far behind: %d %+v", st, eb)
	}

	p := mustLaggingPair(t)
	mustIssueToken(t, p.leader)
	p.mustLag(t)
	var ready map[string]any
	if st, _ := call(t, p.url, "GET", "/readyz", "", nil, &ready); st != http.StatusOK || ready["status"] != "ready" {
		t.Fatalf("readyz on a follower in step: %d %v", st, ready)
	}
}

// TestTheDashboardOfALaggingNodeRaisesNoFalseTamperAlarm: a regulator kept
// the tree head the leader signed a moment ago and checks it on the
// dashboard of a follower that has not applied the last entry. Judged
// against the follower's smaller tree, the kept head would read as a
// ledger rolled back; the page must prove consistency instead, and prove
// the new entry's inclusion.
func TestTheDashboardOfALaggingNodeRaisesNoFalseTamperAlarm(t *testing.T) {
	p := mustLaggingPair(t)
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	resp, err := browser.PostForm(p.url+"/login", url.Values{"token": {p.leader.adminToken}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	page := func(q url.Values) string {
		t.Helper()
		resp, err := browser.Get(p.url + "/ui/ledger?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}

	mustIssueToken(t, p.leader)
	kept := p.leader.store.Head()
	p.mustLag(t)
	got := page(url.Values{"old_size": {strconv.FormatUint(kept.Size, 10)}, "old_root": {hex.EncodeToString(kept.Root)}})
	if !strings.Contains(got, `id="consistency-result" class="ok">Verified`) {
		t.Fatalf("a head the leader signed, checked on a lagging follower:\n%s", got)
	}

	mustIssueToken(t, p.leader)
	seq := p.leader.store.Head().Size
	p.mustLag(t)
	if got := page(url.Values{"seq": {strconv.FormatUint(seq, 10)}}); !strings.Contains(got, `id="proof-result" class="ok">Verified`) {
		t.Fatalf("the leader's last entry, on a lagging follower:\n%s", got)
	}
}

// TestAReadAtLeaderConsistencySeesWhatTheLeaderCommitted: a follower's
// reads are local by default, at most a moment old. Asked for
// consistency=leader or linearizable, it first applies what the leader
// has committed: a pack dispensed a moment ago through the leader is
// already dispensed in a verification on the follower, and the follower's
// tree head is the leader's. An unknown level is refused.
func TestAReadAtLeaderConsistencySeesWhatTheLeaderCommitted(t *testing.T) {
	p := mustLaggingPair(t)
	net, seeded := mustSeed(t, p.leader, 20)
	ph1 := seeded.Tokens[net.Pharmacy1.GLN]
	var held []demo.Pack
	for _, pk := range net.Packs {
		var v struct{ Verdict string }
		if err := p.leader.client(ph1).Do(t.Context(), "POST", "/api/v1/verify", "application/json", map[string]any{"scan": pk.HRI}, &v); err != nil {
			t.Fatal(err)
		}
		if v.Verdict == "authentic" {
			held = append(held, pk)
		}
	}
	if len(held) < 2 {
		t.Fatalf("pharmacy 1 holds %d authentic packs", len(held))
	}
	p.catchUp(t)
	for i, level := range []string{"leader", "linearizable"} {
		pk := held[i]
		dispense := map[string]any{"epcs": []string{demo.PackEPC(pk.GTIN, pk.Serial)}, "status": "dispensed"}
		if err := p.leader.client(ph1).Do(t.Context(), "POST", "/api/v1/decommission", "application/json", dispense, nil); err != nil {
			t.Fatal(err)
		}
		p.mustLag(t)
		var v struct{ Verdict string }
		path := "/api/v1/verify?" + url.Values{"scan": {pk.HRI}, "consistency": {level}}.Encode()
		if st, _ := call(t, p.url, "GET", path, ph1, nil, &v); st != http.StatusOK || v.Verdict != "already_dispensed" {
			t.Fatalf("at %s on the follower, a pack dispensed through the leader: %d %s", level, st, v.Verdict)
		}

		mustIssueToken(t, p.leader)
		p.mustLag(t)
		var head struct{ Size uint64 }
		if st, _ := call(t, p.url, "GET", "/api/v1/ledger/head?consistency="+level, ph1, nil, &head); st != http.StatusOK || head.Size != p.leader.store.Head().Size {
			t.Fatalf("the follower's head at %s: %d %d, the leader's %d", level, st, head.Size, p.leader.store.Head().Size)
		}
	}
	var eb apiErrorBody
	if st, _ := call(t, p.url, "GET", "/api/v1/ledger/head?consistency=eventual", ph1, nil, &eb); st != http.StatusBadRequest || eb.Error.Code != "bad_consistency" {
		t.Fatalf("an unknown level: %d %+v", st, eb)
	}
}

package server

import (
	"context"
	"errors"
	"net"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/hashicorp/raft"

	"github.com/pedigree-ledger/pedigree/fixtures/demo"
	"github.com/pedigree-ledger/pedigree/models"
	"github.com/pedigree-ledger/pedigree/raftstore"
)

// apiNode is one real ledger node (in-process raftstore) with the
// lifecycle API in front of it on an httptest server.
type apiNode struct {
	store      *raftstore.Store
	srv        *httptest.Server
	adminToken string
	clock      *offsetClock
}

// offsetClock is the wall clock moved forward by an offset the test sets,
// so a test can cross a time limit without waiting for it.
type offsetClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *offsetClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// Advance moves the clock forward by d.
func (c *offsetClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// client returns an API client for token.
func (n *apiNode) client(token string) *demo.Client {
	return &demo.Client{Base: n.srv.URL, Token: token, HTTP: n.srv.Client()}
}

// mustAPINode starts a bootstrapped one-node ledger, registers an admin
// with a token through Propose (what serve --bootstrap does), and serves
// the lifecycle API.
func mustAPINode(t testing.TB, configure ...func(*LifecycleAPI)) *apiNode {
	t.Helper()
	return mustTunedAPINode(t, apiNodeRaft, configure...)
}

// apiNodeRaft makes a one-node test ledger elect itself and commit quickly.
func apiNodeRaft(c *raft.Config) {
	c.HeartbeatTimeout = 200 * time.Millisecond
	c.ElectionTimeout = 200 * time.Millisecond
	c.LeaderLeaseTimeout = 100 * time.Millisecond
	c.CommitTimeout = 2 * time.Millisecond
}

// mustTunedAPINode is mustAPINode with the node's Raft settings made by
// tune.
func mustTunedAPINode(t testing.TB, tune func(*raft.Config), configure ...func(*LifecycleAPI)) *apiNode {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	clock := &offsetClock{}
	st, err := raftstore.Open(raftstore.Config{
		NodeID: "n1", Dir: t.TempDir(), Listener: ln, Bootstrap: true, Now: clock.Now, Tune: tune,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	mustLeader(t, st)
	tok, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	mustPropose(t, st, "", models.KindRegisterOrganisation, models.RegisterOrganisationPayload{ID: "admin", Name: "Operator", Role: models.RoleAdmin})
	mustPropose(t, st, "", models.KindIssueToken, models.IssueTokenPayload{TokenSHA256: tokenHash(tok), OrgID: "admin"})
	adoptNewestRules(t, st)
	gin.SetMode(gin.TestMode)
	dash, err := NewDashboard(st)
	if err != nil {
		t.Fatal(err)
	}
	api := NewLifecycleAPI(st)
	for _, f := range configure {
		f(api)
	}
	srv := httptest.NewServer(Create(st, nil, api, dash))
	t.Cleanup(srv.Close)
	return &apiNode{store: st, srv: srv, adminToken: tok, clock: clock}
}

// adoptNewestRules has a new test ledger adopt this binary's rules, as
// pedigree serve --bootstrap does, when the node applies them.
func adoptNewestRules(t testing.TB, st *raftstore.Store) {
	t.Helper()
	if models.RulesVersion > 1 && st.Status().RulesSupported >= models.RulesVersion {
		mustPropose(t, st, "", models.KindAdoptRules, models.AdoptRulesPayload{Version: models.RulesVersion})
	}
}

// mustLeader polls until the node leads.
func mustLeader(t testing.TB, st *raftstore.Store) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !st.IsLeader() {
		if time.Now().After(deadline) {
			t.Fatal("node did not become leader within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// mustPropose commits one command and fails the test unless it is accepted.
func mustPropose(t testing.TB, st *raftstore.Store, actor string, kind models.CommandKind, payload any) models.Result {
	t.Helper()
	cmd, err := models.NewCommand("", kind, actor, time.Time{}, payload)
	if err != nil {
		t.Fatal(err)
	}
	res, err := st.Propose(context.Background(), cmd)
	if err != nil {
		t.Fatal(err)
	}
	if !res[0].Accepted {
		t.Fatalf("%s rejected: %s %s", kind, res[0].Code, res[0].Message)
	}
	return res[0]
}

// mustSeed builds the fixture network with packs packs and seeds it.
func mustSeed(t testing.TB, n *apiNode, packs int) (*demo.Network, *demo.Seeded) {
	t.Helper()
	net, err := demo.New(1, packs, time.Now().Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	s, err := net.Seed(context.Background(), n.client(n.adminToken))
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
	return net, s
}

// wantAPIError checks that err is an API error with status and code.
func wantAPIError(t testing.TB, err error, status int, code string) {
	t.Helper()
	var ae *demo.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("want HTTP %d %s, got %v", status, code, err)
	}
	if ae.Status != status || (code != "" && ae.Code != code) {
		t.Fatalf("want HTTP %d %s, got %v", status, code, ae)
	}
}

package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/hashicorp/raft"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"gorm.io/gorm"

	"github.com/pedigree-ledger/pedigree/models"
	"github.com/pedigree-ledger/pedigree/raftstore"
)

// routerNode is a real one-node ledger behind Create, with an admin token
// and a pharmacy token.
type routerNode struct {
	store    *raftstore.Store
	srv      *httptest.Server
	admin    string
	pharmacy string
}

func quickRaft(c *raft.Config) {
	c.HeartbeatTimeout = 300 * time.Millisecond
	c.ElectionTimeout = 300 * time.Millisecond
	c.LeaderLeaseTimeout = 150 * time.Millisecond
	c.CommitTimeout = 2 * time.Millisecond
}

func mustOpenNode(t *testing.T, id string, bootstrap bool, configure ...func(*raftstore.Config)) *raftstore.Store {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := raftstore.Config{NodeID: id, Dir: t.TempDir(), Listener: ln, Bootstrap: bootstrap, Tune: quickRaft}
	for _, c := range configure {
		c(&cfg)
	}
	st, err := raftstore.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func proposeOK(t *testing.T, st *raftstore.Store, id, actor string, kind models.CommandKind, payload any) {
	t.Helper()
	cmd, err := models.NewCommand(id, kind, actor, time.Time{}, payload)
	if err != nil {
		t.Fatal(err)
	}
	res, err := st.Propose(context.Background(), cmd)
	if err != nil || !res[0].Accepted {
		t.Fatalf("%s: %v %+v", kind, err, res)
	}
}

func mustRouterNode(t *testing.T, configure ...func(*raftstore.Config)) *routerNode {
	t.Helper()
	st := mustOpenNode(t, "n1", true, configure...)
	waitUntil(t, "leadership", st.IsLeader)
	n := &routerNode{store: st}
	var err error
	if n.admin, err = NewToken(); err != nil {
		t.Fatal(err)
	}
	if n.pharmacy, err = NewToken(); err != nil {
		t.Fatal(err)
	}
	proposeOK(t, st, "o1", "", models.KindRegisterOrganisation, models.RegisterOrganisationPayload{ID: "admin", Name: "Operator", Role: models.RoleAdmin})
	proposeOK(t, st, "t1", "", models.KindIssueToken, models.IssueTokenPayload{TokenSHA256: tokenHash(n.admin), OrgID: "admin"})
	proposeOK(t, st, "o2", "", models.KindRegisterOrganisation, models.RegisterOrganisationPayload{ID: "4012345000009", Name: "Pharmacy", Role: models.RolePharmacy})
	proposeOK(t, st, "t2", "", models.KindIssueToken, models.IssueTokenPayload{TokenSHA256: tokenHash(n.pharmacy), OrgID: "4012345000009"})
	adoptNewestRules(t, st)
	gin.SetMode(gin.TestMode)
	n.srv = httptest.NewServer(Create(st, nil))
	t.Cleanup(n.srv.Close)
	return n
}

// call makes a request and decodes the JSON answer into out (if non-nil).
func call(t *testing.T, base, method, path, token string, body any, out any) (int, http.Header) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, data, err)
		}
	}
	return resp.StatusCode, resp.Header
}

type apiErrorBody struct {
	Error struct {
		Code      string `json:"code"`
		Message   string `json:"message"`
		RequestID string `json:"request_id"`
	} `json:"error"`
}

func TestLedgerHeadAndProofsOverHTTP(t *testing.T) {
	n := mustRouterNode(t)
	var head headView
	if st, _ := call(t, n.srv.URL, "GET", "/api/v1/ledger/head", n.pharmacy, nil, &head); st != 200 {
		t.Fatalf("head: %d", st)
	}
	// Four registrations and the adoption of the rules.
	if head.Size != 5 || len(head.Root) != 64 || head.Node != "n1" {
		t.Fatalf("head = %+v", head)
	}
	cp, err := raftstore.VerifyCheckpoint(head.Checkpoint, head.Key)
	if err != nil || cp.Size != head.Size || hex.EncodeToString(cp.Root) != head.Root {
		t.Fatalf("checkpoint %+v does not match head (%v)", cp, err)
	}
	if sig, err := base64.StdEncoding.DecodeString(head.Signature); err != nil || len(sig) != 64 {
		t.Fatalf("signature %q", head.Signature)
	}

	var inc inclusionView
	if st, _ := call(t, n.srv.URL, "GET", "/api/v1/ledger/proofs/inclusion?seq=3&size=5", n.pharmacy, nil, &inc); st != 200 {
		t.Fatalf("inclusion: %d", st)
	}
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, 2, 5, unhex(t, inc.LeafHash), unhexAll(t, inc.Hashes), unhex(t, head.Root)); err != nil {
		t.Fatalf("inclusion proof over HTTP does not verify: %v", err)
	}
	// The leaf hash is the one a regulator recomputes from the entry.
	e, err := n.store.Entry(3)
	if err != nil || hex.EncodeToString(raftstore.LeafHash(3, e.Command, e.Result)) != inc.LeafHash {
		t.Fatalf("leaf hash %s is not recomputable (%v)", inc.LeafHash, err)
	}
	// Entry 3 is the admin's registration of the pharmacy: the admin's to
	// read, not the pharmacy's.
	var ev entryView
	if st, _ := call(t, n.srv.URL, "GET", "/api/v1/ledger/entries/3", n.admin, nil, &ev); st != 200 {
		t.Fatalf("entry: %d", st)
	}
	if st, _ := call(t, n.srv.URL, "GET", "/api/v1/ledger/entries/3", n.pharmacy, nil, nil); st != http.StatusForbidden {
		t.Fatalf("the pharmacy reads the admin's entry: %d", st)
	}
	leafInput := unhex(t, ev.LeafInput)
	if sum := rfc6962.DefaultHasher.HashLeaf(leafInput); hex.EncodeToString(sum) != inc.LeafHash || ev.LeafHash != inc.LeafHash {
		t.Fatalf("entry 3: leaf input hashes to %x, proof leaf %s, entry leaf %s", sum, inc.LeafHash, ev.LeafHash)
	}
	if ev.Command.ID != "o2" || ev.Result.Seq != 3 || !bytes.Contains(leafInput, []byte("4012345000009")) {
		t.Fatalf("entry 3 = %+v", ev)
	}
	for path, want := range map[string]int{"/api/v1/ledger/entries/0": 400, "/api/v1/ledger/entries/x": 400, "/api/v1/ledger/entries/99": 404,
		"/api/v1/ledger/entries/18446744073709551615": 404, "/api/v1/ledger/entries/18446744073709551616": 400} {
		var eb apiErrorBody
		if st, _ := call(t, n.srv.URL, "GET", path, n.admin, nil, &eb); st != want {
			t.Errorf("%s: %d %+v, want %d", path, st, eb, want)
		}
	}
	proposeOK(t, n.store, "o3", "", models.KindRegisterOrganisation, models.RegisterOrganisationPayload{ID: "root2", Name: "Second", Role: models.RoleAdmin})
	var con consistencyView
	if st, _ := call(t, n.srv.URL, "GET", "/api/v1/ledger/proofs/consistency?first=5", n.pharmacy, nil, &con); st != 200 {
		t.Fatalf("consistency: %d", st)
	}
	if con.Second != 6 || con.FirstRoot != head.Root {
		t.Fatalf("consistency = %+v", con)
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, 5, 6, unhexAll(t, con.Hashes), unhex(t, con.FirstRoot), unhex(t, con.SecondRoot)); err != nil {
		t.Fatalf("consistency proof does not verify: %v", err)
	}

	for _, tc := range []struct {
		path   string
		status int
		code   string
	}{
		{"/api/v1/ledger/proofs/inclusion", 400, "invalid_request"},
		{"/api/v1/ledger/proofs/inclusion?seq=x", 400, "invalid_request"},
		{"/api/v1/ledger/proofs/inclusion?seq=99", 400, "invalid_request"},
		{"/api/v1/ledger/proofs/inclusion?seq=0", 400, "invalid_request"},
		{"/api/v1/ledger/proofs/consistency?first=5&second=2", 400, "invalid_request"},
		{"/api/v1/ledger/proofs/consistency?first=-1", 400, "invalid_request"},
		{"/api/v1/nothing-here", 404, "not_found"},
	} {
		var eb apiErrorBody
		st, hdr := call(t, n.srv.URL, "GET", tc.path, n.pharmacy, nil, &eb)
		if st != tc.status || eb.Error.Code != tc.code || eb.Error.Message == "" {
			t.Errorf("%s: %d %+v, want %d %s", tc.path, st, eb, tc.status, tc.code)
		}
		if eb.Error.RequestID == "" || eb.Error.RequestID != hdr.Get("X-Request-Id") {
			t.Errorf("%s: request id %q in body, %q in header", tc.path, eb.Error.RequestID, hdr.Get("X-Request-Id"))
		}
	}
}

func TestClusterEndpointsNeedTheRightToken(t *testing.T) {
	n := mustRouterNode(t)
	for _, tc := range []struct {
		method, path, token string
		body                any
		status              int
		code                string
	}{
		{"GET", "/api/v1/cluster", "", nil, 401, "unauthenticated"},
		{"GET", "/api/v1/ledger/head", "pdg_not-a-token", nil, 401, "bad_token"},
		{"POST", "/api/v1/cluster/join", n.pharmacy, map[string]any{"id": "x", "raft_addr": "127.0.0.1:1"}, 403, "forbidden"},
		{"DELETE", "/api/v1/cluster/nodes/n1", n.pharmacy, nil, 403, "forbidden"},
		{"POST", "/api/v1/cluster/join", n.admin, map[string]any{"id": "x"}, 400, "invalid_request"},
		{"POST", "/api/v1/cluster/join", n.admin, map[string]any{"id": "x", "raft_addr": "127.0.0.1:1", "extra": 1}, 400, "bad_json"},
		{"POST", "/api/v1/cluster/join", n.admin, map[string]any{"id": "bad id!", "raft_addr": "127.0.0.1:1"}, 400, "invalid_request"},
		{"DELETE", "/api/v1/cluster/nodes/ghost", n.admin, nil, 404, "not_found"},
	} {
		var eb apiErrorBody
		st, _ := call(t, n.srv.URL, tc.method, tc.path, tc.token, tc.body, &eb)
		if st != tc.status || eb.Error.Code != tc.code {
			t.Errorf("%s %s: %d %+v, want %d %s", tc.method, tc.path, st, eb.Error, tc.status, tc.code)
		}
	}
	var view clusterView
	if st, _ := call(t, n.srv.URL, "GET", "/api/v1/cluster", n.pharmacy, nil, &view); st != 200 {
		t.Fatalf("cluster: %d", st)
	}
	if view.Leader != "n1" || len(view.Nodes) != 1 || !view.Nodes[0].Leader || view.Self.State != "Leader" {
		t.Fatalf("cluster view = %+v", view)
	}
}

// mustJoiner opens node n2, not yet a member, ready to join n's cluster
// as pedigree serve --join is: it has learnt the cluster's id.
func mustJoiner(t *testing.T, n *routerNode) (*raftstore.Store, raftstore.NodeInfo) {
	t.Helper()
	joiner := mustOpenNode(t, "n2", false)
	var view clusterView
	call(t, n.srv.URL, "GET", "/api/v1/cluster", n.admin, nil, &view)
	if err := joiner.PrepareJoin(view.Self.ClusterID); err != nil {
		t.Fatal(err)
	}
	return joiner, joiner.Info()
}

func TestJoinAndRemoveOverHTTP(t *testing.T) {
	n := mustRouterNode(t)
	joiner, info := mustJoiner(t, n)
	var ok map[string]any
	if st, _ := call(t, n.srv.URL, "POST", "/api/v1/cluster/join", n.admin,
		map[string]any{"id": info.ID, "raft_addr": info.RaftAddr, "http_addr": "http://n2.example", "public_key": info.PublicKey}, &ok); st != 200 {
		t.Fatalf("join: %d %v", st, ok)
	}
	if ok["cluster_id"] != n.store.ClusterID() || joiner.ClusterID() != n.store.ClusterID() {
		t.Fatalf("join answered cluster %v; the joiner's is %q, the cluster's %q", ok["cluster_id"], joiner.ClusterID(), n.store.ClusterID())
	}
	waitUntil(t, "the joiner to learn the ledger", func() bool { return joiner.Head().Size == n.store.Head().Size })
	var view clusterView
	call(t, n.srv.URL, "GET", "/api/v1/cluster", n.admin, nil, &view)
	if len(view.Nodes) != 2 || view.Nodes[1].ID != "n2" || !view.Nodes[1].Voter {
		t.Fatalf("after join: %+v", view.Nodes)
	}
	if st, _ := call(t, n.srv.URL, "DELETE", "/api/v1/cluster/nodes/n2", n.admin, nil, &ok); st != 200 {
		t.Fatalf("remove: %d %v", st, ok)
	}
	call(t, n.srv.URL, "GET", "/api/v1/cluster", n.admin, nil, &view)
	if len(view.Nodes) != 1 {
		t.Fatalf("after remove: %+v", view.Nodes)
	}
}

// fakeNode answers with fixed errors, to check the status mapping.
type fakeNode struct {
	err error
}

func (f *fakeNode) Join(context.Context, raftstore.NodeInfo, bool) error { return f.err }
func (f *fakeNode) Remove(context.Context, string) error                 { return f.err }
func (f *fakeNode) Nodes() ([]raftstore.Node, error)                     { return nil, f.err }
func (f *fakeNode) Status() raftstore.Status                             { return raftstore.Status{ID: "fake"} }
func (f *fakeNode) Ready() error                                         { return f.err }
func (f *fakeNode) Head() raftstore.Head                                 { return raftstore.Head{} }
func (f *fakeNode) Entry(uint64) (raftstore.Entry, error)                { return raftstore.Entry{}, f.err }
func (f *fakeNode) InclusionProof(uint64, uint64) (raftstore.InclusionProof, error) {
	return raftstore.InclusionProof{}, f.err
}
func (f *fakeNode) ConsistencyProof(uint64, uint64) (raftstore.ConsistencyProof, error) {
	return raftstore.ConsistencyProof{}, f.err
}
func (f *fakeNode) Read(context.Context, raftstore.Consistency) (*gorm.DB, error) { return nil, f.err }
func (f *fakeNode) Propose(context.Context, ...models.Command) ([]models.Result, error) {
	return nil, f.err
}
func (f *fakeNode) ActiveRules() int { return 1 }
func (f *fakeNode) MembersRules(context.Context) ([]raftstore.NodeRules, error) {
	return nil, f.err
}
func (f *fakeNode) Backup(context.Context) (*raftstore.Backup, error) {
	return nil, raftstore.ErrClosed
}

func TestHealthAndErrorStatuses(t *testing.T) {
	gin.SetMode(gin.TestMode)
	for _, tc := range []struct {
		err    error
		status int
	}{
		{fmt.Errorf("wrapped: %w", raftstore.ErrNoLeader), 503},
		{raftstore.ErrClosed, 503},
	} {
		srv := httptest.NewServer(Create(&fakeNode{err: tc.err}, nil))
		var eb apiErrorBody
		req, _ := http.NewRequest("GET", srv.URL+"/readyz", nil)
		req.Header.Set("X-Request-Id", "abc-123")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		json.NewDecoder(resp.Body).Decode(&eb)
		resp.Body.Close()
		if resp.StatusCode != tc.status || eb.Error.Code != "not_ready" || eb.Error.RequestID != "abc-123" {
			t.Errorf("readyz with %v: %d %+v", tc.err, resp.StatusCode, eb)
		}
		// Authentication itself needs the projection: a node that cannot
		// read answers 503, not 401 or 500.
		st, _ := call(t, srv.URL, "GET", "/api/v1/cluster", "pdg_x", nil, &eb)
		if st != 503 {
			t.Errorf("auth on a node that cannot read: %d %+v", st, eb)
		}
		st, _ = call(t, srv.URL, "GET", "/healthz", "", nil, nil)
		if st != 200 {
			t.Errorf("healthz: %d", st)
		}
		srv.Close()
	}
	if !errors.Is(fmt.Errorf("x: %w", raftstore.ErrNoLeader), raftstore.ErrNoLeader) {
		t.Fatal("sentinel lost")
	}
	srv := httptest.NewServer(Create(&fakeNode{}, nil))
	defer srv.Close()
	var ready map[string]any
	if st, _ := call(t, srv.URL, "GET", "/readyz", "", nil, &ready); st != 200 || ready["status"] != "ready" {
		t.Fatalf("readyz on a ready node: %d %v", st, ready)
	}
	var eb apiErrorBody
	if st, _ := call(t, srv.URL, "PUT", "/healthz", "", nil, &eb); st != 405 || eb.Error.Code != "method_not_allowed" {
		t.Fatalf("PUT /healthz: %d %+v", st, eb)
	}
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func unhexAll(t *testing.T, ss []string) [][]byte {
	out := make([][]byte, len(ss))
	for i, s := range ss {
		out[i] = unhex(t, s)
	}
	return out
}

// TestErrorMiddlewareAnswersRecordedErrors: a handler that only records an
// error gets the API's JSON error body with a status fitting the error.
func TestErrorMiddlewareAnswersRecordedErrors(t *testing.T) {
	gin.SetMode(gin.TestMode)
	extra := registrarFunc(func(r gin.IRouter) {
		r.GET("/t/no-leader", func(c *gin.Context) { _ = c.Error(fmt.Errorf("propose: %w", raftstore.ErrNoLeader)) })
		r.GET("/t/invalid", func(c *gin.Context) { _ = c.Error(raftstore.ErrInvalid) })
		r.GET("/t/api", func(c *gin.Context) { _ = c.Error(errf(http.StatusTeapot, "teapot", "short and stout")) })
		r.GET("/t/other", func(c *gin.Context) { _ = c.Error(errors.New("disk on fire")) })
		r.GET("/t/panic", func(c *gin.Context) { panic("boom") })
	})
	srv := httptest.NewServer(Create(&fakeNode{}, nil, extra))
	defer srv.Close()
	for path, want := range map[string]struct {
		status int
		code   string
	}{
		"/t/no-leader": {503, "unavailable"},
		"/t/invalid":   {400, "invalid_request"},
		"/t/api":       {418, "teapot"},
		"/t/other":     {500, "internal_error"},
		"/t/panic":     {500, "internal_error"},
	} {
		var eb apiErrorBody
		st, _ := call(t, srv.URL, "GET", path, "", nil, &eb)
		if st != want.status || eb.Error.Code != want.code || eb.Error.RequestID == "" {
			t.Errorf("%s: %d %+v, want %d %s", path, st, eb.Error, want.status, want.code)
		}
		if strings.Contains(eb.Error.Message, "disk on fire") {
			t.Errorf("%s: an internal error's cause leaked to the client", path)
		}
	}
}

type registrarFunc func(gin.IRouter)

func (f registrarFunc) Register(r gin.IRouter) { f(r) }

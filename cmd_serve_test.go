package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pedigree-ledger/pedigree/models"
	"github.com/pedigree-ledger/pedigree/raftstore"
)

func TestServeFlagErrors(t *testing.T) {
	for name, args := range map[string][]string{
		"no node id":              {"--data", "x"},
		"no data":                 {"--node-id", "n1"},
		"bootstrap and join":      {"--node-id", "n1", "--data", "x", "--bootstrap", "--join", "http://a", "--token", "t"},
		"join without token":      {"--node-id", "n1", "--data", "x", "--join", "http://a"},
		"nonvoter, no join":       {"--node-id", "n1", "--data", "x", "--nonvoter"},
		"half the TLS files":      {"--node-id", "n1", "--data", "x", "--raft-tls-cert", "c.pem"},
		"empty TLS files":         {"--node-id", "n1", "--data", "x", "--raft-tls-cert", "", "--raft-tls-key", "", "--raft-tls-ca", ""},
		"advertise not host:port": {"--node-id", "n1", "--data", "x", "--raft-advertise", "bogus"},
		"advertise without host":  {"--node-id", "n1", "--data", "x", "--raft-advertise", ":7000"},
		"raft port not a number":  {"--node-id", "n1", "--data", "x", "--raft-addr", "127.0.0.1:raft"},
		"raft port too large":     {"--node-id", "n1", "--data", "x", "--raft-addr", "127.0.0.1:70000"},
		"bad log level":           {"--node-id", "n1", "--data", "x", "--log-level", "loud"},
		"negative index size":     {"--node-id", "n1", "--data", "x", "--verify-index-packs", "-1"},
		"no snapshot threshold":   {"--node-id", "n1", "--data", "x", "--snapshot-threshold", "0"},
		"no trailing logs":        {"--node-id", "n1", "--data", "x", "--trailing-logs", "0"},
		"negative trailing":       {"--node-id", "n1", "--data", "x", "--trailing-logs", "-5"},
		"positional argument":     {"--node-id", "n1", "--data", "x", "extra"},
		"unknown flag":            {"--node", "n1"},
		"join without scheme":     {"--node-id", "n1", "--data", "x", "--join", "localhost:8080", "--token", "t"},
		"join not http":           {"--node-id", "n1", "--data", "x", "--join", "ftp://a", "--token", "t"},
		"join without host":       {"--node-id", "n1", "--data", "x", "--join", "http://", "--token", "t"},
		"no join timeout":         {"--node-id", "n1", "--data", "x", "--join", "http://a", "--token", "t", "--join-timeout", "0"},
	} {
		t.Setenv("PEDIGREE_TOKEN", "")
		var stderr bytes.Buffer
		if code := serve(context.Background(), args, io.Discard, &stderr); code != exitUsage {
			t.Errorf("%s: exit %d, want %d (%s)", name, code, exitUsage, stderr.String())
		}
	}
	var out bytes.Buffer
	if code := serve(context.Background(), []string{"--help"}, &out, io.Discard); code != exitOK || !strings.Contains(out.String(), "--bootstrap") {
		t.Errorf("--help: exit %d, %q", code, out.String())
	}
}

func TestServeSnapshotFlags(t *testing.T) {
	base := []string{"--node-id", "n1", "--data", "x"}
	o, code := parseServeFlags(base, io.Discard, io.Discard)
	if code >= 0 || o.snapshotThreshold != raftstore.DefaultSnapshotThreshold || o.trailingLogs != raftstore.DefaultTrailingLogs {
		t.Fatalf("defaults: exit %d, threshold %d, trailing %d", code, o.snapshotThreshold, o.trailingLogs)
	}
	o, code = parseServeFlags(append(base, "--snapshot-threshold", "512", "--trailing-logs", "256"), io.Discard, io.Discard)
	if code >= 0 || o.snapshotThreshold != 512 || o.trailingLogs != 256 {
		t.Fatalf("set: exit %d, threshold %d, trailing %d", code, o.snapshotThreshold, o.trailingLogs)
	}
}

// syncBuffer is a bytes.Buffer several goroutines may write.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// serveNode runs `pedigree serve` in-process until the test ends.
type serveNode struct {
	http    string
	stdout  *syncBuffer
	stderr  *syncBuffer
	done    chan int
	cancel  context.CancelFunc
	stopped bool
	code    int
}

func startServe(t *testing.T, args ...string) *serveNode {
	t.Helper()
	return startServeAt(t, freeAddr(t), args...)
}

// startServeAt is startServe with a given Raft address (a restarted node
// keeps its address: the cluster's configuration names it).
func startServeAt(t *testing.T, raftAddr string, args ...string) *serveNode {
	t.Helper()
	httpAddr := freeAddr(t)
	args = append(args, "--raft-addr", raftAddr, "--http-addr", httpAddr, "--log-level", "warn")
	ctx, cancel := context.WithCancel(context.Background())
	n := &serveNode{http: "http://" + httpAddr, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan int, 1), cancel: cancel}
	go func() { n.done <- serve(ctx, args, n.stdout, n.stderr) }()
	t.Cleanup(func() { n.stop(t) })
	return n
}

// stop ends the node and waits for serve to return (once; later calls are
// no-ops).
func (n *serveNode) stop(t *testing.T) {
	n.cancel()
	if n.stopped {
		return
	}
	select {
	case code := <-n.done:
		n.stopped = true
		n.code = code
	case <-time.After(20 * time.Second):
		t.Error("serve did not stop")
	}
}

// serving reports whether the node says it serves, and fails the test if
// serve has returned instead.
func (n *serveNode) serving(t *testing.T) bool {
	t.Helper()
	select {
	case code := <-n.done:
		n.done <- code
		t.Fatalf("serve exited (%d): %s", code, n.stderr.String())
	default:
	}
	return strings.Contains(n.stdout.String(), "serving HTTP")
}

func pollUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func getJSON(t *testing.T, url, token string, out any) int {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	if out != nil {
		json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

// TestServeBootstrapThenJoin runs `serve --bootstrap`, takes the admin token
// from DIR/admin.token, and has a second `serve --join` use it; both nodes
// then list each other and hold the same tree.
func TestServeBootstrapThenJoin(t *testing.T) {
	dir1, dir2 := t.TempDir(), t.TempDir()
	n1 := startServe(t, "--node-id", "n1", "--data", dir1, "--bootstrap")
	tokenPath := filepath.Join(dir1, "admin.token")
	pollUntil(t, "the admin token file", func() bool { _, err := os.Stat(tokenPath); return err == nil })
	pollUntil(t, "n1 ready", func() bool { return getJSON(t, n1.http+"/readyz", "", nil) == 200 })
	st, err := os.Stat(tokenPath)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("admin.token mode = %v (%v), want 0600", st.Mode().Perm(), err)
	}
	raw, _ := os.ReadFile(tokenPath)
	token := strings.TrimSpace(string(raw))
	if !strings.Contains(n1.stderr.String(), tokenPath) || strings.Contains(n1.stderr.String(), token) {
		t.Fatalf("stderr must name the token file and never show the token: %q", n1.stderr.String())
	}
	var head1 struct {
		Size uint64 `json:"size"`
		Root string `json:"root"`
	}
	pollUntil(t, "the bootstrap admin and rules on the ledger", func() bool {
		return getJSON(t, n1.http+"/api/v1/ledger/head", token, &head1) == 200 && head1.Size == 3
	})
	// A new ledger is at this binary's rules from its start.
	var rules struct {
		Active int `json:"active"`
	}
	if getJSON(t, n1.http+"/api/v1/cluster/rules", token, &rules) != 200 || rules.Active != models.RulesVersion {
		t.Fatalf("the bootstrapped ledger is at rules %d, want %d", rules.Active, models.RulesVersion)
	}

	// A wrong token is refused at once, not retried.
	bad := startServe(t, "--node-id", "n3", "--data", t.TempDir(), "--join", n1.http, "--token", "pdg_wrong")
	select {
	case code := <-bad.done:
		bad.done <- code // for the cleanup
		if code != exitError || !strings.Contains(bad.stderr.String(), "401") {
			t.Fatalf("join with a bad token: exit %d, %q", code, bad.stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("join with a bad token did not fail")
	}

	t.Setenv("PEDIGREE_TOKEN", token)
	n2 := startServe(t, "--node-id", "n2", "--data", dir2, "--join", n1.http)
	var cluster struct {
		Leader string `json:"leader"`
		Nodes  []struct {
			ID       string `json:"id"`
			HTTPAddr string `json:"http_addr"`
			Voter    bool   `json:"voter"`
		} `json:"nodes"`
	}
	pollUntil(t, "n2 to list both nodes with their HTTP addresses", func() bool {
		if getJSON(t, n2.http+"/api/v1/cluster", token, &cluster) != 200 || cluster.Leader != "n1" || len(cluster.Nodes) != 2 {
			return false
		}
		return cluster.Nodes[1].ID == "n2" && cluster.Nodes[1].HTTPAddr == n2.http && cluster.Nodes[1].Voter
	})
	var head2 struct {
		Size uint64 `json:"size"`
		Root string `json:"root"`
	}
	pollUntil(t, "n2 to hold n1's tree", func() bool {
		return getJSON(t, n2.http+"/api/v1/ledger/head", token, &head2) == 200 && head2 == head1
	})
}

// TestServeRestartedMemberNeedsNoPeer: a member restarted with --join does
// not depend on the peer it once joined through being up.
func TestServeRestartedMemberNeedsNoPeer(t *testing.T) {
	n1, n2, token := startPair(t)
	n2.stop(t)
	n1.stop(t)
	// n1 is gone; n2 restarts from its data directory with the same flags.
	again := startServeAt(t, n2.raft, "--node-id", "n2", "--data", n2.data, "--join", n1.http, "--token", token, "--join-timeout", "2s")
	// serve says it is serving only after the join step; a member that
	// tried to join through the dead peer would exit with an error instead.
	pollUntil(t, "the restarted member to serve", func() bool { return again.serving(t) })
	var head struct{ Size uint64 }
	if st := getJSON(t, again.http+"/api/v1/ledger/head", token, &head); st != 200 || head.Size != 3 {
		t.Fatalf("restarted member's head: %d %+v", st, head)
	}
}

func TestServeNeedsHTTPAdvertiseOnWildcard(t *testing.T) {
	var stderr bytes.Buffer
	code := serve(context.Background(), []string{"--node-id", "n1", "--data", t.TempDir(), "--bootstrap",
		"--raft-addr", freeAddr(t), "--http-addr", "0.0.0.0:0"}, io.Discard, &stderr)
	if code != exitError || !strings.Contains(stderr.String(), "--http-advertise") {
		t.Fatalf("exit %d, %q", code, stderr.String())
	}
}

// TestServeBootstrapRestartKeepsToken: restarting the first node with
// --bootstrap keeps its token, says nothing about it, and adds no entries.
func TestServeBootstrapRestartKeepsToken(t *testing.T) {
	dir, raftAddr := t.TempDir(), freeAddr(t)
	n := startServeAt(t, raftAddr, "--node-id", "n1", "--data", dir, "--bootstrap")
	pollUntil(t, "n1 serving", func() bool { return strings.Contains(n.stdout.String(), "serving HTTP") })
	tokenPath := filepath.Join(dir, "admin.token")
	before, err := os.ReadFile(tokenPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tokenPath + ".pending"); !os.IsNotExist(err) {
		t.Fatalf("pending token file left behind: %v", err)
	}
	n.stop(t)
	again := startServeAt(t, raftAddr, "--node-id", "n1", "--data", dir, "--bootstrap")
	pollUntil(t, "n1 serving again", func() bool { return strings.Contains(again.stdout.String(), "serving HTTP") })
	after, _ := os.ReadFile(tokenPath)
	if !bytes.Equal(before, after) || strings.Contains(again.stderr.String(), "admin token") {
		t.Fatalf("restart changed or re-announced the token: %q", again.stderr.String())
	}
	var head struct{ Size uint64 }
	if st := getJSON(t, again.http+"/api/v1/ledger/head", strings.TrimSpace(string(after)), &head); st != 200 || head.Size != 3 {
		t.Fatalf("head after restart: %d %+v", st, head)
	}
}

// TestJoinReportsTheClustersLastAnswer: when --join-timeout ends while a
// join request is in flight, the error gives the cluster's last answer (a
// node it cannot reach, one still catching up), not only the deadline
// that cut the request short.
func TestJoinReportsTheClustersLastAnswer(t *testing.T) {
	const answer = `{"error":{"code":"not_caught_up","message":"n3 stays a non-voter until it has caught up: it cannot be reached"}}`
	var calls sync.Mutex
	n := 0
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // so the server notices the client leave
		// Which cluster: asked before every join request.
		if r.Method == http.MethodGet {
			io.WriteString(w, `{"leader":"n1","self":{"cluster_id":"c1"}}`)
			return
		}
		calls.Lock()
		n++
		first := n == 1
		calls.Unlock()
		if first {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, answer)
			return
		}
		select { // the leader still waiting for the node
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	o := serveOptions{join: srv.URL, token: "t", joinTimeout: time.Second}
	j := &fakeJoiner{info: raftstore.NodeInfo{ID: "n3", RaftAddr: "127.0.0.1:1"}}
	err := joinCluster(t.Context(), o, j, "http://127.0.0.1:2")
	if err == nil || !strings.Contains(err.Error(), "not_caught_up") || !strings.Contains(err.Error(), "cannot be reached") {
		t.Fatalf("join error: %v", err)
	}
	if j.prepared != "c1" {
		t.Fatalf("the node was prepared for cluster %q, the member's is c1", j.prepared)
	}
}

// TestJoinChecksTheClusterItJoined: a member that names one cluster and
// then answers the join for another (replaced in between, or not what it
// says) fails the join at once; a node that holds another cluster's state
// fails it before asking.
func TestJoinChecksTheClusterItJoined(t *testing.T) {
	var joins atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			io.WriteString(w, `{"leader":"n1","self":{"cluster_id":"c1"}}`)
			return
		}
		joins.Add(1)
		io.WriteString(w, `{"id":"n3","voter":true,"cluster_id":"c2"}`)
	}))
	defer srv.Close()
	o := serveOptions{join: srv.URL, token: "t", joinTimeout: 10 * time.Second}
	err := joinCluster(t.Context(), o, &fakeJoiner{}, "http://127.0.0.1:2")
	if err == nil || !strings.Contains(err.Error(), `"c2"`) || joins.Load() != 1 {
		t.Fatalf("join answered for another cluster: %v (after %d joins)", err, joins.Load())
	}
	joins.Store(0)
	other := &fakeJoiner{err: fmt.Errorf("%w: holds cluster c9", raftstore.ErrClusterMismatch)}
	// At once: asking again cannot change what the node holds.
	if err := joinCluster(t.Context(), o, other, "http://127.0.0.1:2"); err == nil || !strings.Contains(err.Error(), "c9") ||
		strings.Contains(err.Error(), "not done within") || joins.Load() != 0 {
		t.Fatalf("join of a node of another cluster: %v (after %d joins)", err, joins.Load())
	}
}

// TestAStatelessNodeListedAsAVoterDoesNotJoin: a node that holds no Raft
// state, which the cluster counts as a voter at its address, lost its
// raft.db; it fails the join at once, before it admits the cluster's
// connections (it is not prepared) or asks to join. A node listed as a
// non-voter, or not at all, joins; so does one listed as a voter that
// holds state (its join asked again after it succeeded), and one listed
// at another address (the leader judges: a clone of a live member, or a
// dead member's replacement). A member that knows no leader is asked
// again, not believed.
func TestAStatelessNodeListedAsAVoterDoesNotJoin(t *testing.T) {
	var joins atomic.Int32
	var leader atomic.Value
	leader.Store("n1")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			fmt.Fprintf(w, `{"leader":%q,"self":{"cluster_id":"c1"},"nodes":[{"id":"n1","raft_addr":"127.0.0.1:1","voter":true},`+
				`{"id":"n3","raft_addr":"127.0.0.1:3","voter":true},{"id":"r1","raft_addr":"127.0.0.1:5","voter":false}]}`, leader.Load())
			return
		}
		joins.Add(1)
		io.WriteString(w, `{"id":"x","voter":true,"cluster_id":"c1"}`)
	}))
	defer srv.Close()
	o := serveOptions{join: srv.URL, token: "t", joinTimeout: 10 * time.Second}
	for _, tc := range []struct {
		id, addr string
		state    bool
		refused  bool
	}{
		{"n3", "127.0.0.1:3", false, true},
		{"n3", "127.0.0.1:3", true, false},
		{"n3", "127.0.0.1:4", false, false},
		{"r1", "127.0.0.1:5", false, false},
		{"n4", "127.0.0.1:6", false, false},
	} {
		joins.Store(0)
		j := &fakeJoiner{info: raftstore.NodeInfo{ID: tc.id, RaftAddr: tc.addr}, state: tc.state}
		err := joinCluster(t.Context(), o, j, "http://127.0.0.1:2")
		switch {
		case tc.refused && (err == nil || !strings.Contains(err.Error(), "holds no Raft state") || strings.Contains(err.Error(), "not done within")):
			t.Errorf("%s without Raft state, listed as a voter: join error %v, want an immediate refusal", tc.id, err)
		case tc.refused && (j.prepared != "" || joins.Load() != 0):
			t.Errorf("%s refused after it was prepared for %q and asked to join %d times", tc.id, j.prepared, joins.Load())
		case !tc.refused && (err != nil || joins.Load() != 1):
			t.Errorf("%s at %s (holds state: %v): join error %v after %d joins, want it joined", tc.id, tc.addr, tc.state, err, joins.Load())
		}
	}
	leader.Store("")
	o.joinTimeout = 300 * time.Millisecond
	j := &fakeJoiner{info: raftstore.NodeInfo{ID: "n3", RaftAddr: "127.0.0.1:3"}}
	if err := joinCluster(t.Context(), o, j, "http://127.0.0.1:2"); err == nil || strings.Contains(err.Error(), "holds no Raft state") || !strings.Contains(err.Error(), "no leader") {
		t.Errorf("a listing from a member without a leader: join error %v, want it asked again until the timeout", err)
	}
}

// fakeJoiner records the cluster joinCluster prepares it for.
type fakeJoiner struct {
	info     raftstore.NodeInfo
	prepared string
	err      error
	state    bool // HoldsRaftState
}

func (f *fakeJoiner) HoldsRaftState() bool     { return f.state }
func (f *fakeJoiner) Info() raftstore.NodeInfo { return f.info }
func (f *fakeJoiner) PrepareJoin(id string) error {
	f.prepared = id
	return f.err
}

// TestServeBootstrapRestartNeedsNoQuorumNorTheTokenFile: the first node
// of a two-voter cluster restarted with --bootstrap while the other is
// down serves (and waits for a leader) rather than failing to propose;
// and restarted after its token file was moved away, it says so in one
// line and serves, instead of failing on a token the ledger never took.
func TestServeBootstrapRestartNeedsNoQuorumNorTheTokenFile(t *testing.T) {
	dir1, dir2, raft1 := t.TempDir(), t.TempDir(), freeAddr(t)
	n1 := startServeAt(t, raft1, "--node-id", "n1", "--data", dir1, "--bootstrap")
	tokenPath := filepath.Join(dir1, "admin.token")
	pollUntil(t, "n1 ready", func() bool { return getJSON(t, n1.http+"/readyz", "", nil) == 200 })
	pollUntil(t, "the admin token file", func() bool { _, err := os.Stat(tokenPath); return err == nil })
	raw, _ := os.ReadFile(tokenPath)
	token := strings.TrimSpace(string(raw))
	n2 := startServe(t, "--node-id", "n2", "--data", dir2, "--join", n1.http, "--token", token)
	pollUntil(t, "n2 to join", func() bool { return strings.Contains(n2.stdout.String(), "serving HTTP") })
	n2.stop(t)
	n1.stop(t)

	// n2 stays down: n1 alone has no quorum.
	again := startServeAt(t, raft1, "--node-id", "n1", "--data", dir1, "--bootstrap")
	pollUntil(t, "n1 serving without a quorum", func() bool { return again.serving(t) })
	again.stop(t)

	if err := os.Rename(tokenPath, filepath.Join(t.TempDir(), "kept-elsewhere")); err != nil {
		t.Fatal(err)
	}
	moved := startServeAt(t, raft1, "--node-id", "n1", "--data", dir1, "--bootstrap")
	pollUntil(t, "n1 serving without its token file", func() bool { return moved.serving(t) })
	if msg := moved.stderr.String(); !strings.Contains(msg, "was issued before") || strings.Count(msg, "admin token") != 1 {
		t.Fatalf("stderr: %q", msg)
	}
	for _, p := range []string{tokenPath, tokenPath + ".pending"} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Fatalf("%s written: %v", p, err)
		}
	}
}

// TestServeRefusesToJoinWithALedgerOfItsOwn: a node started once with
// --bootstrap by mistake, then with --join, would take itself for a member
// of its own one-node cluster and serve a separate ledger; it refuses, in
// one line.
func TestServeRefusesToJoinWithALedgerOfItsOwn(t *testing.T) {
	dir1, dir8 := t.TempDir(), t.TempDir()
	n1 := startServe(t, "--node-id", "n1", "--data", dir1, "--bootstrap")
	pollUntil(t, "n1 ready", func() bool { return getJSON(t, n1.http+"/readyz", "", nil) == 200 })
	raw, err := os.ReadFile(filepath.Join(dir1, "admin.token"))
	for err != nil {
		time.Sleep(20 * time.Millisecond)
		raw, err = os.ReadFile(filepath.Join(dir1, "admin.token"))
	}
	token := strings.TrimSpace(string(raw))
	raft8 := freeAddr(t)
	mistake := startServeAt(t, raft8, "--node-id", "n8", "--data", dir8, "--bootstrap")
	pollUntil(t, "n8 serving", func() bool { return strings.Contains(mistake.stdout.String(), "serving HTTP") })
	mistake.stop(t)

	mustRefuseToJoin(t, raft8, "n8", dir8, n1.http, token)
}

// mustRefuseToJoin starts node id on dir with --join and checks it exits
// 1 without serving, saying the directory holds a ledger of its own.
func mustRefuseToJoin(t *testing.T, raftAddr, id, dir, join, token string) {
	t.Helper()
	joiner := startServeAt(t, raftAddr, "--node-id", id, "--data", dir, "--join", join, "--token", token)
	select {
	case code := <-joiner.done:
		joiner.done <- code
		msg := joiner.stderr.String()
		if code != exitError || !strings.Contains(msg, "holds a ledger of its own") || strings.Contains(joiner.stdout.String(), "serving HTTP") {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, joiner.stdout.String(), msg)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the node with a ledger of its own still runs: %s", joiner.stdout.String())
	}
}

// TestServeRefusesToJoinWithARestoredLedger: a node restored from a
// backup is its cluster's founder, as a bootstrapped one is, though a
// restore writes no admin token; started later with --join another
// cluster, it refuses rather than serve its restored ledger alone.
func TestServeRefusesToJoinWithARestoredLedger(t *testing.T) {
	d1 := t.TempDir()
	n1 := startServe(t, "--node-id", "n1", "--data", d1, "--bootstrap")
	token := adminToken(t, d1)
	pollUntil(t, "n1 serving", func() bool { return n1.serving(t) })
	file := filepath.Join(t.TempDir(), "b.db")
	if code, _, stderr := runBackupCmd("--from", n1.http, "--token", token, "--out", file); code != exitOK {
		t.Fatal(stderr)
	}
	dR, raftR := filepath.Join(t.TempDir(), "r"), freeAddr(t)
	r := startServeAt(t, raftR, "--node-id", "r1", "--data", dR, "--bootstrap", "--restore", file)
	pollUntil(t, "the restored node serving", func() bool { return r.serving(t) })
	var c1, cR struct {
		Self struct {
			ClusterID string `json:"cluster_id"`
		} `json:"self"`
	}
	getJSON(t, n1.http+"/api/v1/cluster", token, &c1)
	getJSON(t, r.http+"/api/v1/cluster", token, &cR)
	if c1.Self.ClusterID == "" || cR.Self.ClusterID == "" || c1.Self.ClusterID == cR.Self.ClusterID {
		t.Fatalf("cluster ids: bootstrapped %q, restored %q", c1.Self.ClusterID, cR.Self.ClusterID)
	}
	r.stop(t)
	mustRefuseToJoin(t, raftR, "r1", dR, n1.http, token)
}

// TestServeRejoinsWhenRemovedWhileStopped: a member removed while it was
// stopped never saw its removal, and its own configuration still lists
// it. Restarted with its --join flags it asks the member it joins
// through, learns it is no longer listed, and joins again, rather than
// waiting for votes nobody gives it.
func TestServeRejoinsWhenRemovedWhileStopped(t *testing.T) {
	n1, n2, token := startPair(t)
	n2.stop(t)

	mustRemoveNode(t, n1.http, token, "n2")

	again := startServeAt(t, n2.raft, "--node-id", "n2", "--data", n2.data, "--join", n1.http, "--token", token)
	var cluster struct {
		Nodes []struct {
			ID    string `json:"id"`
			Voter bool   `json:"voter"`
		} `json:"nodes"`
	}
	pollUntil(t, "n2 to be listed again as a voter", func() bool {
		if getJSON(t, n1.http+"/api/v1/cluster", token, &cluster) != 200 {
			return false
		}
		for _, n := range cluster.Nodes {
			if n.ID == "n2" && n.Voter {
				return true
			}
		}
		return false
	})
	pollUntil(t, "n2 ready", func() bool { return getJSON(t, again.http+"/readyz", "", nil) == 200 })
}

// TestServeRefusesAVoterThatLostItsRaftState: a voter whose data
// directory was emptied, its node.key kept, starts again with --join.
// It holds no Raft state while the cluster counts it as a voter, so it
// stops, saying so, rather than be counted in the quorum empty (with the
// same key, the leader would take its join as a no-op). Removed first,
// it joins again as a new member.
func TestServeRefusesAVoterThatLostItsRaftState(t *testing.T) {
	n1, n2, token := startPair(t)
	n3 := pairNode{raft: freeAddr(t), data: t.TempDir()}
	n3.serveNode = startServeAt(t, n3.raft, "--node-id", "n3", "--data", n3.data, "--join", n1.http, "--token", token)
	pollUntil(t, "n3 to join", func() bool { return n3.serving(t) })
	n3.stop(t)
	key, err := os.ReadFile(filepath.Join(n3.data, "node.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(n3.data); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(n3.data, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(n3.data, "node.key"), key, 0o600); err != nil {
		t.Fatal(err)
	}

	wiped := startServeAt(t, n3.raft, "--node-id", "n3", "--data", n3.data, "--join", n1.http, "--token", token)
	select {
	case code := <-wiped.done:
		wiped.done <- code
		if msg := wiped.stderr.String(); code != 1 || !strings.Contains(msg, "holds no Raft state") {
			t.Fatalf("the wiped voter's serve exited %d: %s", code, msg)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the wiped voter still runs: %s", wiped.stdout.String())
	}

	mustRemoveNode(t, n1.http, token, "n3")
	again := startServeAt(t, n3.raft, "--node-id", "n3", "--data", n3.data, "--join", n2.http, "--token", token)
	pollUntil(t, "n3 to join again once removed", func() bool { return again.serving(t) })
}

// mustRemoveNode removes node id from the cluster through the member at
// base, as an admin with token.
func mustRemoveNode(t *testing.T, base, token, id string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodDelete, base+"/api/v1/cluster/nodes/"+id, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("removing %s: HTTP %d", id, resp.StatusCode)
	}
}

// pairNode is a serve node with the Raft address and data directory it
// restarts with.
type pairNode struct {
	*serveNode
	raft, data string
}

// startPair bootstraps n1 and joins n2 to it through n1's admin token,
// and returns both once n2 serves, with the token.
func startPair(t *testing.T) (n1 *serveNode, n2 pairNode, token string) {
	t.Helper()
	dir1 := t.TempDir()
	n1 = startServe(t, "--node-id", "n1", "--data", dir1, "--bootstrap")
	tokenPath := filepath.Join(dir1, "admin.token")
	pollUntil(t, "n1 ready", func() bool { return getJSON(t, n1.http+"/readyz", "", nil) == 200 })
	pollUntil(t, "the admin token file", func() bool { _, err := os.Stat(tokenPath); return err == nil })
	raw, _ := os.ReadFile(tokenPath)
	token = strings.TrimSpace(string(raw))
	n2 = pairNode{raft: freeAddr(t), data: t.TempDir()}
	n2.serveNode = startServeAt(t, n2.raft, "--node-id", "n2", "--data", n2.data, "--join", n1.http, "--token", token)
	pollUntil(t, "n2 to join", func() bool { return strings.Contains(n2.stdout.String(), "serving HTTP") })
	// A joiner is a non-voter until it has caught up; the tests stop and
	// restart n2 as the member it is to be, so they wait until n2's own
	// configuration says it was promoted (a node stopped before then
	// rightly joins again on restart, through a peer that may be gone).
	var cluster struct {
		Nodes []listedNode `json:"nodes"`
	}
	pollUntil(t, "n2 to see itself a voter", func() bool {
		return getJSON(t, n2.http+"/api/v1/cluster", token, &cluster) == 200 &&
			slices.ContainsFunc(cluster.Nodes, func(n listedNode) bool { return n.ID == "n2" && n.Voter })
	})
	return n1, n2, token
}

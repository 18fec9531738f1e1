package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestServeFlagErrors(t *testing.T) {
	for name, args := range map[string][]string{
		"no node id":          {"--data", "x"},
		"no data":             {"--node-id", "n1"},
		"bootstrap and join":  {"--node-id", "n1", "--data", "x", "--bootstrap", "--join", "http://a", "--token", "t"},
		"join without token":  {"--node-id", "n1", "--data", "x", "--join", "http://a"},
		"nonvoter, no join":   {"--node-id", "n1", "--data", "x", "--nonvoter"},
		"half the TLS files":  {"--node-id", "n1", "--data", "x", "--raft-tls-cert", "c.pem"},
		"bad log level":       {"--node-id", "n1", "--data", "x", "--log-level", "loud"},
		"positional argument": {"--node-id", "n1", "--data", "x", "extra"},
		"unknown flag":        {"--node", "n1"},
	} {
		t.Setenv("PEDIGREE_TOKEN", "")
		var stderr bytes.Buffer
		if code := serve(context.Background(), args, io.Discard, &stderr); code != exitUsage {
			t.Errorf("%s: exit %d, want %d (%s)", name, code, exitUsage, stderr.String())
		}
	}
	var out bytes.Buffer
	if code := serve(context.Background(), []string{"--help"}, io.Discard, &out); code != exitOK || !strings.Contains(out.String(), "--bootstrap") {
		t.Errorf("--help: exit %d, %q", code, out.String())
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
	http   string
	stderr *syncBuffer
	done   chan int
	cancel context.CancelFunc
}

func startServe(t *testing.T, args ...string) *serveNode {
	t.Helper()
	httpAddr := freeAddr(t)
	args = append(args, "--raft-addr", freeAddr(t), "--http-addr", httpAddr, "--log-level", "warn")
	ctx, cancel := context.WithCancel(context.Background())
	n := &serveNode{http: "http://" + httpAddr, stderr: &syncBuffer{}, done: make(chan int, 1), cancel: cancel}
	go func() { n.done <- serve(ctx, args, io.Discard, n.stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-n.done:
		case <-time.After(20 * time.Second):
			t.Error("serve did not stop")
		}
	})
	return n
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
	pollUntil(t, "the bootstrap admin on the ledger", func() bool {
		return getJSON(t, n1.http+"/api/v1/ledger/head", token, &head1) == 200 && head1.Size == 2
	})

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

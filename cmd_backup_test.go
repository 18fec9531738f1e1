package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/pedigree-ledger/pedigree/models"
	"github.com/pedigree-ledger/pedigree/raftstore"
	"github.com/pedigree-ledger/pedigree/server"
)

func TestBackupFlagErrors(t *testing.T) {
	t.Setenv("PEDIGREE_TOKEN", "")
	for name, args := range map[string][]string{
		"no from":            {"--out", "b.db", "--token", "t"},
		"no out":             {"--from", "http://a", "--token", "t"},
		"no token":           {"--from", "http://a", "--out", "b.db"},
		"from without host":  {"--from", "http://", "--out", "b.db", "--token", "t"},
		"from not http":      {"--from", "ftp://a", "--out", "b.db", "--token", "t"},
		"bad consistency":    {"--from", "http://a", "--out", "b.db", "--token", "t", "--consistency", "eventual"},
		"positional":         {"--from", "http://a", "--out", "b.db", "--token", "t", "extra"},
		"unknown flag":       {"--form", "http://a"},
		"consistency, empty": {"--from", "http://a", "--out", "b.db", "--token", "t", "--consistency", ""},
	} {
		var stderr bytes.Buffer
		code := backup(context.Background(), args, io.Discard, &stderr)
		if name == "consistency, empty" { // "" is local, as everywhere
			if code == exitUsage {
				t.Errorf("%s: exit %d (%s)", name, code, stderr.String())
			}
			continue
		}
		if code != exitUsage || strings.Count(stderr.String(), "\n") != 1 {
			t.Errorf("%s: exit %d, stderr %q; want %d and one line", name, code, stderr.String(), exitUsage)
		}
	}
	var out bytes.Buffer
	if code := backup(context.Background(), []string{"--help"}, &out, io.Discard); code != exitOK || !strings.Contains(out.String(), "--restore") {
		t.Errorf("--help: exit %d, %q", code, out.String())
	}
	var stderr bytes.Buffer
	if code := serve(context.Background(), []string{"--node-id", "n1", "--data", "x", "--restore", "b.db"}, io.Discard, &stderr); code != exitUsage ||
		!strings.Contains(stderr.String(), "--restore needs --bootstrap") {
		t.Errorf("serve --restore without --bootstrap: exit %d, %q", code, stderr.String())
	}
}

// adminToken waits for the token a bootstrapped node wrote to dir.
func adminToken(t *testing.T, dir string) string {
	t.Helper()
	var raw []byte
	pollUntil(t, "the admin token file", func() bool {
		var err error
		raw, err = os.ReadFile(filepath.Join(dir, "admin.token"))
		return err == nil
	})
	return strings.TrimSpace(string(raw))
}

// postJSON sends body as JSON and fails the test unless the node answers
// with status.
func postJSON(t *testing.T, url, token string, body any, status int) {
	t.Helper()
	data, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", url, bytes.NewReader(data))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != status {
		answer, _ := io.ReadAll(resp.Body)
		t.Fatalf("POST %s: %d %s", url, resp.StatusCode, answer)
	}
}

type headAnswer struct {
	Size uint64 `json:"size"`
	Root string `json:"root"`
}

// runBackupCmd runs `pedigree backup` and returns its exit code and
// output.
func runBackupCmd(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := backup(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// TestBackupThenRestoreIntoANewCluster is the operator's path: back up a
// cluster with `pedigree backup`, lose the cluster, start a new one with
// `serve --bootstrap --restore`, check its head against the one the
// backup printed, join a node with the old admin token, write, and check
// that the new tree extends the backup's. A second restore into the used
// directory is refused and changes nothing; the node restarts without
// --restore.
func TestBackupThenRestoreIntoANewCluster(t *testing.T) {
	d1, d2, d3 := t.TempDir(), filepath.Join(t.TempDir(), "r1"), t.TempDir()
	n1 := startServe(t, "--node-id", "n1", "--data", d1, "--bootstrap")
	token := adminToken(t, d1)
	pollUntil(t, "n1 serving", func() bool { return n1.serving(t) })
	for i := 0; i < 3; i++ {
		postJSON(t, n1.http+"/api/v1/organisations", token, map[string]any{"id": fmt.Sprintf("auditor-%d", i), "name": "Auditor", "role": "admin"}, http.StatusCreated)
	}
	var h1 headAnswer
	// The bootstrap's three entries (admin, token, rules) and the three.
	if st := getJSON(t, n1.http+"/api/v1/ledger/head", token, &h1); st != http.StatusOK || h1.Size != 6 {
		t.Fatalf("n1 head: %d %+v", st, h1)
	}
	file := filepath.Join(t.TempDir(), "ledger.backup")
	code, stdout, stderr := runBackupCmd("--from", n1.http, "--token", token, "--out", file)
	if code != exitOK || stderr != "" || !strings.Contains(stdout, "tree size 6, root "+h1.Root) || strings.Count(stdout, "\n") != 1 {
		t.Fatalf("backup: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if st, err := os.Stat(file); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v %v, want mode 0600", st, err)
	}
	n1.stop(t) // the cluster is lost

	raft2 := freeAddr(t)
	n2 := startServeAt(t, raft2, "--node-id", "r1", "--data", d2, "--bootstrap", "--restore", file)
	pollUntil(t, "the restored node serving", func() bool { return n2.serving(t) })
	if msg := n2.stderr.String(); !strings.Contains(msg, "restored "+file) || !strings.Contains(msg, h1.Root) || strings.Contains(msg, "admin token") {
		t.Fatalf("stderr of the restore: %q", msg)
	}
	if _, err := os.Stat(filepath.Join(d2, "admin.token")); !os.IsNotExist(err) {
		t.Fatalf("a restore made an admin token: %v", err)
	}
	var h2 headAnswer
	if st := getJSON(t, n2.http+"/api/v1/ledger/head", token, &h2); st != http.StatusOK || h2 != h1 {
		t.Fatalf("restored head with the old admin token: %d %+v, backup %+v", st, h2, h1)
	}

	n3 := startServe(t, "--node-id", "r2", "--data", d3, "--join", n2.http, "--token", token)
	pollUntil(t, "the joined node holding the restored tree", func() bool {
		var h headAnswer
		return n3.serving(t) && getJSON(t, n3.http+"/api/v1/ledger/head", token, &h) == http.StatusOK && h == h1
	})
	postJSON(t, n3.http+"/api/v1/organisations", token, map[string]any{"id": "after-restore", "name": "Auditor", "role": "admin"}, http.StatusCreated)
	var h3 headAnswer
	pollUntil(t, "the restored node to apply the new write", func() bool {
		return getJSON(t, n2.http+"/api/v1/ledger/head", token, &h3) == http.StatusOK && h3.Size == h1.Size+1
	})
	var cp struct {
		Hashes []string `json:"hashes"`
	}
	if st := getJSON(t, fmt.Sprintf("%s/api/v1/ledger/proofs/consistency?first=%d&second=%d", n2.http, h1.Size, h3.Size), token, &cp); st != http.StatusOK {
		t.Fatalf("consistency proof: %d", st)
	}
	hashes := make([][]byte, len(cp.Hashes))
	for i, h := range cp.Hashes {
		hashes[i], _ = hex.DecodeString(h)
	}
	oldRoot, _ := hex.DecodeString(h1.Root)
	newRoot, _ := hex.DecodeString(h3.Root)
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, h1.Size, h3.Size, hashes, oldRoot, newRoot); err != nil {
		t.Fatalf("the restored cluster's tree does not extend the backup's: %v", err)
	}

	// The same command line again, on the node's own directory: refused.
	n2.stop(t)
	before := treeHashes(t, d2)
	again := startServeAt(t, raft2, "--node-id", "r1", "--data", d2, "--bootstrap", "--restore", file)
	code = again.wait(t)
	if msg := again.stderr.String(); code != exitError || strings.Count(msg, "\n") != 1 || !strings.Contains(msg, "already holds") {
		t.Fatalf("restore into a used directory: exit %d, stderr %q", code, msg)
	}
	if after := treeHashes(t, d2); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("a refused restore changed %s:\n%v\n%v", d2, before, after)
	}
	restarted := startServeAt(t, raft2, "--node-id", "r1", "--data", d2)
	pollUntil(t, "the restored node restarted without --restore", func() bool {
		var h headAnswer
		return restarted.serving(t) && getJSON(t, restarted.http+"/api/v1/ledger/head", token, &h) == http.StatusOK && h == h3
	})
}

// wait waits for serve to return and gives its exit code.
func (n *serveNode) wait(t *testing.T) int {
	t.Helper()
	select {
	case code := <-n.done:
		n.done <- code // for the cleanup
		return code
	case <-time.After(30 * time.Second):
		t.Fatalf("serve still runs: %s", n.stdout.String())
		return 0
	}
}

// treeHashes is every file under dir with its SHA-256.
func treeHashes(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		sum := sha256.Sum256(data)
		out[path] = hex.EncodeToString(sum[:])
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestBackupCommandFailsCleanly: whatever goes wrong (no node, a wrong
// token, a file already there, an answer cut short, corrupted, or not a
// backup at all), `pedigree backup` exits 1 with one line on stderr and
// leaves no file: not at --out, not beside it.
func TestBackupCommandFailsCleanly(t *testing.T) {
	dir := t.TempDir()
	n1 := startServe(t, "--node-id", "n1", "--data", dir, "--bootstrap")
	token := adminToken(t, dir)
	pollUntil(t, "n1 serving", func() bool { return n1.serving(t) })
	// A real answer, which the fake nodes below replay with one fault each.
	req, _ := http.NewRequest("GET", n1.http+"/api/v1/cluster/backup", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("backup: %d %v", resp.StatusCode, err)
	}
	header, digest := resp.Header, resp.Trailer.Get(server.BackupSHA256Trailer)
	fake := func(edit func(h http.Header, body []byte) ([]byte, string), cut bool) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for k, v := range header {
				w.Header()[k] = v
			}
			b, sum := edit(w.Header(), bytes.Clone(body))
			w.Header().Set("Trailer", server.BackupSHA256Trailer)
			w.WriteHeader(http.StatusOK)
			if cut {
				w.Write(b[:len(b)/2])
				w.(http.Flusher).Flush()
				conn, _, _ := http.NewResponseController(w).Hijack()
				conn.Close()
				return
			}
			w.Write(b)
			w.Header().Set(server.BackupSHA256Trailer, sum)
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	same := func(h http.Header, b []byte) ([]byte, string) { return b, digest }
	down := freeAddr(t)
	for _, tc := range []struct {
		name, from, token string
		existing          bool
		says              string
	}{
		{"node down", "http://" + down, token, false, "connect"},
		{"wrong token", n1.http, "pdg_wrong", false, "bad_token"},
		{"file exists", n1.http, token, true, "exists"},
		{"cut short", fake(same, true), token, false, "receive the backup"},
		{"digest wrong", fake(func(h http.Header, b []byte) ([]byte, string) { return b, strings.Repeat("0", 64) }, false), token, false, "SHA-256"},
		{"root wrong", fake(func(h http.Header, b []byte) ([]byte, string) {
			h.Set(server.BackupTreeRootHeader, strings.Repeat("ab", 32))
			return b, digest
		}, false), token, false, "the file holds"},
		{"an entry edited on the way", fake(func(h http.Header, b []byte) ([]byte, string) {
			i := bytes.Index(b, []byte(`"name":"Cluster administrator"`))
			if i < 0 {
				t.Error("the first entry's payload is not in the backup")
				return b, digest
			}
			b[i+8] = 'K' // "Kluster": the digest is redone, the entry's leaf is not
			sum := sha256.Sum256(b)
			return b, hex.EncodeToString(sum[:])
		}, false), token, false, "does not check out"},
		{"length wrong", fake(func(h http.Header, b []byte) ([]byte, string) {
			h.Set(server.BackupBytesHeader, strconv.Itoa(len(b)+1))
			return b, digest
		}, false), token, false, "ended after"},
		{"not a database", fake(func(h http.Header, b []byte) ([]byte, string) {
			b = []byte("<html>a proxy's page</html>")
			h.Set(server.BackupBytesHeader, strconv.Itoa(len(b)))
			sum := sha256.Sum256(b)
			return b, hex.EncodeToString(sum[:])
		}, false), token, false, "not a SQLite database"},
		{"not a backup answer", fake(func(h http.Header, b []byte) ([]byte, string) {
			h.Del(server.BackupTreeSizeHeader)
			return b, digest
		}, false), token, false, "is it a Pedigree node"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			outDir := t.TempDir()
			out := filepath.Join(outDir, "ledger.backup")
			if tc.existing {
				if err := os.WriteFile(out, []byte("an older backup"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			code, stdout, stderr := runBackupCmd("--from", tc.from, "--token", tc.token, "--out", out)
			if code != exitError || stdout != "" || strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "pedigree backup: ") || !strings.Contains(stderr, tc.says) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit 1 and one line saying %q", code, stdout, stderr, tc.says)
			}
			entries, _ := os.ReadDir(outDir)
			want := 0
			if tc.existing {
				want = 1
				if data, _ := os.ReadFile(out); string(data) != "an older backup" {
					t.Fatalf("the existing file changed: %q", data)
				}
			}
			if len(entries) != want {
				t.Fatalf("left in %s: %v", outDir, entries)
			}
		})
	}
	// The same node, asked properly, gives a good backup: the faults were
	// the fakes', not the node's.
	out := filepath.Join(t.TempDir(), "ledger.backup")
	if code, _, stderr := runBackupCmd("--from", n1.http, "--token", token, "--out", out); code != exitOK {
		t.Fatalf("backup: %d %s", code, stderr)
	}
	if _, err := raftstore.VerifyBackup(out); err != nil {
		t.Fatal(err)
	}
}

// TestABackupOutlastsTheServersWriteTimeout: a backup read more slowly
// than the node's write timeout allows for a whole answer (a large ledger
// over a slow link) still arrives whole: each chunk sent moves the
// deadline.
func TestABackupOutlastsTheServersWriteTimeout(t *testing.T) {
	dir := t.TempDir()
	store, err := raftstore.Open(raftstore.Config{NodeID: "n1", Dir: dir, RaftAddr: "127.0.0.1:0", Bootstrap: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	if err := bootstrapAdmin(t.Context(), store, dir, io.Discard); err != nil {
		t.Fatal(err)
	}
	token := adminToken(t, dir)
	// 20 MiB of ledger, more than loopback socket buffers hold. (The rules
	// refuse these organisations; the ledger keeps the commands.)
	name := strings.Repeat("x", 1<<20)
	for i := 0; i < 20; i++ {
		cmd, err := models.NewCommand("", models.KindRegisterOrganisation, "", time.Time{},
			models.RegisterOrganisationPayload{ID: fmt.Sprintf("bulk-%d", i), Name: name, Role: models.RoleRegulator})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.Propose(t.Context(), cmd); err != nil {
			t.Fatal(err)
		}
	}
	handler, err := serveHandler(store, nil)
	if err != nil {
		t.Fatal(err)
	}
	addr := startHTTPServer(t, handler, shortHTTPTimeouts) // 0.6 s for a whole answer
	req, _ := http.NewRequest("GET", "http://"+addr+"/api/v1/cluster/backup", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("backup: %d", resp.StatusCode)
	}
	want, _ := strconv.ParseInt(resp.Header.Get(server.BackupBytesHeader), 10, 64)
	start := time.Now()
	var got int64
	buf := make([]byte, 1<<20)
	for {
		n, err := io.ReadFull(resp.Body, buf)
		got += int64(n)
		if err == io.EOF || err == io.ErrUnexpectedEOF && got == want {
			break
		}
		if err != nil {
			t.Fatalf("after %d of %d bytes in %v: %v", got, want, time.Since(start), err)
		}
		time.Sleep(100 * time.Millisecond) // a slow link: 10 MiB/s
	}
	if got != want || time.Since(start) < 2*shortHTTPTimeouts.answer+shortHTTPTimeouts.read {
		t.Fatalf("read %d of %d bytes in %v: not slower than the write timeout, the test proves nothing", got, want, time.Since(start))
	}
	if resp.Trailer.Get(server.BackupSHA256Trailer) == "" {
		t.Fatal("no SHA-256 trailer: the answer was cut")
	}
}

// TestPublishLeavesNoFileWhenTheNameCannotBeMadeDurable: once the checked
// file is linked as --out, the directory is synced; if that fails (a
// directory that can be written but not read cannot be), --out is removed
// again: the command exits 1, and exit 1 leaves no file.
func TestPublishLeavesNoFileWhenTheNameCannotBeMadeDurable(t *testing.T) {
	dir := t.TempDir()
	tmp, out := filepath.Join(dir, ".partial"), filepath.Join(dir, "ledger.db")
	if err := os.WriteFile(tmp, []byte("checked"), 0o600); err != nil {
		t.Fatal(err)
	}
	synced := ""
	err := publish(tmp, out, func(d string) error { synced = d; return errors.New("permission denied") })
	if err == nil || !strings.Contains(err.Error(), "permission denied") || synced != dir {
		t.Fatalf("publish with a failing sync of %q: %v", synced, err)
	}
	for _, p := range []string{tmp, out} {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s is left: %v", filepath.Base(p), err)
		}
	}
	if err := os.WriteFile(tmp, []byte("checked"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := publish(tmp, out, raftstore.SyncDir); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(out); err != nil || string(b) != "checked" {
		t.Fatalf("published: %q %v", b, err)
	}
}

package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

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

// runBackupCmd runs `pedigree backup` and returns its exit code and
// output.
func runBackupCmd(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := backup(context.Background(), args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
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

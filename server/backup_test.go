package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pedigree-ledger/pedigree/models"
	"github.com/pedigree-ledger/pedigree/raftstore"
)

// getBackup asks base for a backup; the caller closes the body.
func getBackup(t *testing.T, base, token, query string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), "GET", base+"/api/v1/cluster/backup"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// backupHead is what a backup answer says of the copy it sends.
type backupHead struct {
	size, index uint64
	root        string
	bytes       int64
}

// mustSaveBackup writes a backup answer's body to a file, checks its
// length and SHA-256 against the answer's header and trailer, and checks
// the file with raftstore.VerifyBackup against the tree head the answer
// named.
func mustSaveBackup(t *testing.T, resp *http.Response) (string, backupHead) {
	t.Helper()
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("backup: %d %s", resp.StatusCode, body)
	}
	var h backupHead
	var err error
	parse := func(name string, f func(string) error) {
		if err == nil {
			if err = f(resp.Header.Get(name)); err != nil {
				err = fmt.Errorf("%s: %w", name, err)
			}
		}
	}
	parse(BackupTreeSizeHeader, func(v string) (e error) { h.size, e = strconv.ParseUint(v, 10, 64); return })
	parse(BackupRaftIndexHeader, func(v string) (e error) { h.index, e = strconv.ParseUint(v, 10, 64); return })
	parse(BackupBytesHeader, func(v string) (e error) { h.bytes, e = strconv.ParseInt(v, 10, 64); return })
	h.root = resp.Header.Get(BackupTreeRootHeader)
	if err != nil || len(h.root) != 64 {
		t.Fatalf("backup headers %v: %v", resp.Header, err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/vnd.sqlite3" {
		t.Fatalf("Content-Type %q", ct)
	}
	path := filepath.Join(t.TempDir(), "backup.db")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, sum), resp.Body)
	f.Close()
	if err != nil || n != h.bytes {
		t.Fatalf("backup body: %d of %d bytes: %v", n, h.bytes, err)
	}
	if got, want := resp.Trailer.Get(BackupSHA256Trailer), hex.EncodeToString(sum.Sum(nil)); got != want {
		t.Fatalf("SHA-256 trailer %q, body %q", got, want)
	}
	info, err := raftstore.VerifyBackup(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != h.size || hex.EncodeToString(info.Root) != h.root || info.Applied != h.index {
		t.Fatalf("the file holds %d %x (index %d); the headers said %+v", info.Size, info.Root, info.Applied, h)
	}
	return path, h
}

// TestBackupIsForAdminsOnly: a regulator, who may read every trade, and a
// pharmacy get 403 forbidden; no token 401; a bad consistency level 400.
func TestBackupIsForAdminsOnly(t *testing.T) {
	n := mustAPINode(t)
	net, seeded := mustSeed(t, n, 10)
	for _, tc := range []struct {
		who, token, query string
		status            int
		code              string
	}{
		{"regulator", seeded.Tokens[net.Regulator.GLN], "", http.StatusForbidden, "forbidden"},
		{"pharmacy", seeded.Tokens[net.Pharmacy1.GLN], "?consistency=linearizable", http.StatusForbidden, "forbidden"},
		{"no token", "", "", http.StatusUnauthorized, "unauthenticated"},
		{"admin, bad consistency", n.adminToken, "?consistency=eventual", http.StatusBadRequest, "bad_consistency"},
	} {
		resp := getBackup(t, n.srv.URL, tc.token, tc.query)
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		var body apiErrorBody
		err := json.Unmarshal(data, &body)
		if resp.StatusCode != tc.status || err != nil || body.Error.Code != tc.code || body.Error.Message == "" {
			t.Errorf("%s: %d %.200q, want %d %s", tc.who, resp.StatusCode, data, tc.status, tc.code)
		}
	}
}

// TestBackupOverHTTPHoldsTheHeadItNames: the backup's headers give the
// node's tree head (as GET /api/v1/ledger/head does), its length and,
// in the trailer, its SHA-256; the body is a ledger that verifies to
// that head.
func TestBackupOverHTTPHoldsTheHeadItNames(t *testing.T) {
	n := mustAPINode(t)
	mustSeed(t, n, 40)
	var head headView
	if st, _ := call(t, n.srv.URL, "GET", "/api/v1/ledger/head", n.adminToken, nil, &head); st != http.StatusOK {
		t.Fatalf("head: %d", st)
	}
	_, h := mustSaveBackup(t, getBackup(t, n.srv.URL, n.adminToken, ""))
	if h.size != head.Size || h.root != head.Root {
		t.Fatalf("backup of %d %s, head %d %s", h.size, h.root, head.Size, head.Root)
	}
}

// TestBackupFromALaggingFollowerHoldsWhatTheLeaderAcknowledged: asked of
// a follower that has not applied the leader's last write, a backup at
// linearizable consistency holds it all the same.
func TestBackupFromALaggingFollowerHoldsWhatTheLeaderAcknowledged(t *testing.T) {
	p := mustLaggingPair(t)
	res := mustPropose(t, p.leader.store, "", models.KindRegisterOrganisation,
		models.RegisterOrganisationPayload{ID: "auditor", Name: "Auditor", Role: models.RoleAdmin})
	p.mustLag(t)
	_, h := mustSaveBackup(t, getBackup(t, p.url, p.leader.adminToken, "?consistency=linearizable"))
	if h.size < res.Seq {
		t.Fatalf("the follower's backup holds %d entries; the leader acknowledged entry %d before it was asked", h.size, res.Seq)
	}
}

// TestBackupClientThatLeavesHoldsNothing: a client that goes away in the
// middle of a backup leaves no copy open or on disk, and the next backup
// is served.
func TestBackupClientThatLeavesHoldsNothing(t *testing.T) {
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		t.Skip("needs /proc/self/fd to see the copies this process holds open")
	}
	n := mustAPINode(t)
	// Some 12 MiB of ledger, more than socket buffers hold, so the node
	// is still sending when the client leaves. (The rules refuse these
	// organisations; the ledger keeps the commands all the same.)
	name := strings.Repeat("x", 1<<20)
	for i := 0; i < 12; i++ {
		cmd, err := models.NewCommand("", models.KindRegisterOrganisation, "", time.Time{},
			models.RegisterOrganisationPayload{ID: fmt.Sprintf("bulk-%d", i), Name: name, Role: models.RoleRegulator})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := n.store.Propose(t.Context(), cmd); err != nil {
			t.Fatal(err)
		}
	}
	resp := getBackup(t, n.srv.URL, n.adminToken, "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("backup: %d", resp.StatusCode)
	}
	if _, err := io.CopyN(io.Discard, resp.Body, 64<<10); err != nil {
		t.Fatal(err)
	}
	if open := openBackupCopies(t); open == 0 {
		t.Fatal("no backup copy open while the node sends one: this test cannot see one left open")
	}
	// The collector would close a copy the handler forgot, in time; with
	// it off, only the handler's Close does.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	resp.Body.Close() // mid-body: the connection is closed
	waitUntil(t, "the node to close the copy the client left", func() bool { return openBackupCopies(t) == 0 })
	mustSaveBackup(t, getBackup(t, n.srv.URL, n.adminToken, ""))
}

// openBackupCopies counts the files under a backup's temporary directory
// this process holds open.
func openBackupCopies(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.Contains(target, string(filepath.Separator)+".pedigree-backup-tmp-") { // raftstore's backupTempPrefix
			n++
		}
	}
	return n
}

// divergedNode is a real node whose backups fail as a diverged node's do.
type divergedNode struct{ *raftstore.Store }

func (divergedNode) Backup(context.Context) (*raftstore.Backup, error) {
	return nil, fmt.Errorf("backup: %w", raftstore.ErrDiverged)
}

// TestADivergedNodeAnswersNoBackup: a node whose tree differs from the
// leader's answers a backup request 503 diverged, pointing at another
// node, as its /readyz answers 503.
func TestADivergedNodeAnswersNoBackup(t *testing.T) {
	n := mustAPINode(t)
	srv := httptest.NewServer(Create(divergedNode{n.store}, nil))
	defer srv.Close()
	var eb apiErrorBody
	st, _ := call(t, srv.URL, "GET", "/api/v1/cluster/backup", n.adminToken, nil, &eb)
	if st != http.StatusServiceUnavailable || eb.Error.Code != "diverged" || !strings.Contains(eb.Error.Message, "another node") {
		t.Fatalf("backup of a diverged node: %d %+v, want 503 diverged", st, eb.Error)
	}
}

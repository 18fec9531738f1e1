package raftstore

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/compact"

	"github.com/pedigree-ledger/pedigree/models"
)

// editBackup runs statements on a copy of the backup at good and returns
// the copy's path.
func editBackup(t *testing.T, good string, stmts ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "edited.db")
	copyFile(t, good, path)
	_, db, err := openSQLiteDSN(path, sqliteFileURI(path)+"?_journal_mode=DELETE")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	return path
}

// rehashTree rewrites the Merkle tree of the database at path from its
// entries as they now are: what someone who edits entries and knows how
// the tree is made would do, so that VerifyBackup finds nothing wrong.
func rehashTree(t *testing.T, path string) {
	t.Helper()
	_, db, err := openSQLiteDSN(path, sqliteFileURI(path)+"?_journal_mode=DELETE")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT seq, command_id, kind, actor, time, payload, accepted, code, message, data, raft_index, zeroblob(32)
		FROM ledger_entries ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	var entries []Entry
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, e)
	}
	rows.Close()
	if _, err := db.Exec(`DELETE FROM merkle_nodes`); err != nil {
		t.Fatal(err)
	}
	rng := rangeFactory.NewEmptyRange(0)
	for _, e := range entries {
		err := rng.Append(LeafHash(e.Seq, e.Command, e.Result), func(id compact.NodeID, hash []byte) {
			if _, err := db.Exec(`INSERT INTO merkle_nodes (level, idx, hash) VALUES (?, ?, ?)`, id.Level, id.Index, hash); err != nil {
				t.Fatal(err)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestARestoredProjectionIsWhatTheEntriesMake: a backup whose projection
// was edited by hand (an admin token planted, a real one deleted, an
// organisation renamed, a pack moved, an entry's message, which its leaf
// does not cover, changed), its tree untouched, passes VerifyBackup,
// which checks only the tree; restored, it has the projection its
// entries make and none of the edits.
func TestARestoredProjectionIsWhatTheEntriesMake(t *testing.T) {
	src := mustSingle(t)
	writeN(t, src, "p", 3, 1)
	hash := func(token string) string {
		sum := sha256.Sum256([]byte(token))
		return hex.EncodeToString(sum[:])
	}
	issue, err := models.NewCommand("issue-1", models.KindIssueToken, "", time.Time{},
		models.IssueTokenPayload{TokenSHA256: hash("real"), OrgID: "p0", Label: "scanner"})
	if err != nil {
		t.Fatal(err)
	}
	if res := mustPropose(t, src, issue); !res[0].Accepted {
		t.Fatalf("issue token: %+v", res[0])
	}
	capture := captureMaker(t, func(cmds ...models.Command) {
		if res := mustPropose(t, src, cmds...); !res[0].Accepted {
			t.Fatalf("%s rejected: %s", cmds[0].Kind, res[0].Message)
		}
	})
	for i := range 3 {
		if res := mustPropose(t, src, capture(fmt.Sprintf("c%d", i), i*4, (i+1)*4)); !res[0].Accepted {
			t.Fatalf("capture %d: %+v", i, res[0])
		}
	}
	good, info := mustBackupFile(t, src)
	issued, err := src.EntryByID("issue-1")
	if err != nil {
		t.Fatal(err)
	}

	edited := editBackup(t, good,
		`INSERT INTO tokens (hash, org_id, role, label, issued_seq, issued_at, revoked_seq) VALUES ('`+hash("planted")+`', 'p1', 'admin', 'x', 2, '2026-01-01 00:00:00+00:00', 0)`,
		`DELETE FROM tokens WHERE hash = '`+hash("real")+`'`,
		`UPDATE organisations SET name = 'Mallory' WHERE id = 'p2'`,
		`UPDATE items SET status = 'active', holder = 'p1' WHERE id = 1`,
		// A result's message is not in its leaf.
		fmt.Sprintf(`UPDATE ledger_entries SET message = 'edited' WHERE seq = %d`, issued.Seq))
	if _, err := VerifyBackup(edited); err != nil {
		t.Fatalf("the premise: VerifyBackup finds projection edits (%v); this test would prove nothing", err)
	}

	r, err := restoreInto(t, filepath.Join(t.TempDir(), "restored"), edited)
	if err != nil {
		t.Fatalf("restore: %v", err)
	}
	if h := r.Head(); h.Size != info.Size || !bytes.Equal(h.Root, info.Root) {
		t.Fatalf("restored head %d %x, backup %d %x", h.Size, h.Root, info.Size, info.Root)
	}
	if _, err := models.LookupToken(r.ledger.db, hash("planted")); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("the planted token: %v, want not found", err)
	}
	if tok, err := models.LookupToken(r.ledger.db, hash("real")); err != nil || tok.OrgID != "p0" || tok.Label != "scanner" {
		t.Fatalf("the issued token: %+v %v", tok, err)
	}
	if e, err := r.EntryByID("issue-1"); err != nil || e.Result.Message != issued.Result.Message {
		t.Fatalf("the token's entry says %q, recorded %q (%v)", e.Result.Message, issued.Result.Message, err)
	}
	var name string
	if err := r.ledger.sqlDB.QueryRow(`SELECT name FROM organisations WHERE id = 'p2'`).Scan(&name); err != nil || name != "Admin p2" {
		t.Fatalf("organisation p2 is named %q (%v)", name, err)
	}
	// Everything else is as the source ledger has it.
	mustSameTables(t, src.ledger.sqlDB, r.ledger.sqlDB, "the restored node")
}

// TestARestoreRefusesEntriesThatReplayToOtherResults: an entry whose
// recorded result was changed, with the tree rehashed to match so that
// VerifyBackup passes, replays to its true result: the restore names the
// entry, refuses with ErrBadBackup and leaves the directory as it was.
func TestARestoreRefusesEntriesThatReplayToOtherResults(t *testing.T) {
	src := mustSingle(t)
	writeN(t, src, "q", 3, 1)
	if res := mustPropose(t, src, orgCmd(t, "bad-org", "not an id")); res[0].Accepted || res[0].Seq != 4 {
		t.Fatalf("the rejected registration: %+v", res[0])
	}
	writeN(t, src, "r", 2, 1)
	good, _ := mustBackupFile(t, src)
	for name, tc := range map[string]struct {
		seq  int
		edit string
	}{
		"an acceptance turned into a rejection": {2, `UPDATE ledger_entries SET accepted = 0, code = 'forbidden', message = 'no' WHERE seq = 2`},
		"a rejection turned into an acceptance": {4, `UPDATE ledger_entries SET accepted = 1, code = '', message = '' WHERE seq = 4`},
		"a rejection's code":                    {4, `UPDATE ledger_entries SET code = 'forbidden' WHERE seq = 4`},
	} {
		t.Run(name, func(t *testing.T) {
			edited := editBackup(t, good, tc.edit)
			rehashTree(t, edited)
			if _, err := VerifyBackup(edited); err != nil {
				t.Fatalf("the premise: the rehashed backup fails VerifyBackup (%v)", err)
			}
			dir := t.TempDir()
			before := dirState(t, dir)
			_, err := restoreInto(t, dir, edited)
			if want := fmt.Sprintf("entry %d replays", tc.seq); !errors.Is(err, ErrBadBackup) || !strings.Contains(err.Error(), want) {
				t.Fatalf("restore: %v, want ErrBadBackup saying %q", err, want)
			}
			mustSameDir(t, before, dirState(t, dir), "a refused restore")
		})
	}
}

// TestARestoreAtRulesTheBinaryLacksIsRefused: a backup of a ledger that
// adopted rules newer than the restoring binary applies cannot be
// replayed by it: the restore refuses with models.ErrRulesTooNew and
// leaves the directory as it was.
func TestARestoreAtRulesTheBinaryLacksIsRefused(t *testing.T) {
	c := mustCluster(t, 1, nil)
	tn := c.nodes[0]
	c.kill(tn)
	tn.rules = models.RulesVersion + 1
	c.restart(tn)
	mustLeader(t, c.nodes)
	adopt, err := models.NewCommand("adopt-next", models.KindAdoptRules, "", time.Time{}, models.AdoptRulesPayload{Version: models.RulesVersion + 1})
	if err != nil {
		t.Fatal(err)
	}
	if res := mustPropose(t, tn.s, adopt); !res[0].Accepted {
		t.Fatalf("adopt: %+v", res[0])
	}
	writeN(t, tn.s, "n", 2, 1)
	file, _ := mustBackupFile(t, tn.s)

	dir := t.TempDir()
	before := dirState(t, dir)
	if _, err := restoreInto(t, dir, file); !errors.Is(err, models.ErrRulesTooNew) {
		t.Fatalf("restore with a binary at rules %d: %v, want ErrRulesTooNew", models.RulesVersion, err)
	}
	mustSameDir(t, before, dirState(t, dir), "a refused restore")

	// The binary that adopted them restores it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rc := &testCluster{t: t}
	rn := &testNode{id: "r0", dir: dir, addr: ln.Addr().String(), net: newFaultNet(), rules: models.RulesVersion + 1}
	s, _, err := OpenRestored(rc.config(rn, ln, true), file)
	if err != nil {
		ln.Close()
		t.Fatalf("restore with a binary at rules %d: %v", models.RulesVersion+1, err)
	}
	s.Close()
}

// TestARestoreChecksTheBackupsRaftIndexes: the Raft indexes a backup
// records are outside its tree, so a restore checks them as it replays:
// entries in Raft's order, no more from one Raft entry than a proposal
// holds (which would have the replay hold them all in memory), and an
// applied index no lower than the last entry's (the new log continues
// from it, and a later backup of the restored cluster would fail the
// first check). Each edit is refused with ErrBadBackup, the directory
// left as it was.
func TestARestoreChecksTheBackupsRaftIndexes(t *testing.T) {
	src := mustSingle(t)
	writeN(t, src, "i", maxBatch+1, 1000)
	good, info := mustBackupFile(t, src)
	last, err := src.Entry(info.Size)
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		edit, want string
	}{
		"applied index below the last entry's": {
			fmt.Sprintf(`UPDATE raftstore_meta SET value = %d WHERE key = '%s'`, last.RaftIndex-1, metaApplied),
			fmt.Sprintf("records Raft index %d as applied", last.RaftIndex-1)},
		"an entry before the one before it": {
			fmt.Sprintf(`UPDATE ledger_entries SET raft_index = 1 WHERE seq = %d`, info.Size),
			fmt.Sprintf("entry %d has Raft index 1", info.Size)},
		"every entry in one Raft entry": {
			fmt.Sprintf(`UPDATE ledger_entries SET raft_index = %d`, last.RaftIndex),
			fmt.Sprintf("more than %d entries from Raft index %d", maxBatch, last.RaftIndex)},
	} {
		t.Run(name, func(t *testing.T) {
			edited := editBackup(t, good, tc.edit)
			if _, err := VerifyBackup(edited); err != nil {
				t.Fatalf("the premise: VerifyBackup refuses the edit (%v)", err)
			}
			dir := t.TempDir()
			before := dirState(t, dir)
			if _, err := restoreInto(t, dir, edited); !errors.Is(err, ErrBadBackup) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("restore: %v, want ErrBadBackup saying %q", err, tc.want)
			}
			mustSameDir(t, before, dirState(t, dir), "a refused restore")
		})
	}
}

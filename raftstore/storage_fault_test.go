package raftstore

import (
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/pedigree-ledger/pedigree/models"
)

// TestAFullDiskStopsApplyInsteadOfRejecting: a rule that meets this node's
// disk full must not record the command as rejected, which would go into
// this node's Merkle leaf and no other's. Apply stops instead (the node
// crashes and restarts), and once there is room the same entry applies as
// on every other node. (Here SQLite also rolls its transaction back, which
// stopped apply before IsFault too; models' TestAFaultIsReturnedNotRecorded
// covers a fault that leaves the transaction open.)
func TestAFullDiskStopsApplyInsteadOfRejecting(t *testing.T) {
	l := mustOpenLedger(t, filepath.Join(t.TempDir(), "ledger.db"))
	entry := func(cmds ...models.Command) []byte {
		data, err := encodeEntry(logEntry{Op: opLedger, Cmds: cmds})
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	apply := func(index uint64, data []byte) (resp any, stopped any) {
		defer func() { stopped = recover() }()
		return l.applyBatch([]*raft.Log{{Index: index, Type: raft.LogCommand, Data: data}})[0], nil
	}
	if resp, stopped := apply(1, entry(orgCmd(t, "c1", "root"))); stopped != nil {
		t.Fatalf("first entry: %v", stopped)
	} else if r, ok := resp.([]models.Result); !ok || !r[0].Accepted {
		t.Fatalf("first entry: %v", resp)
	}

	// The disk is full: no connection may grow the file. The pragma is a
	// connection's, so it is set on every connection the pool may hand
	// out, all held at once.
	setMaxPages := func(n string) {
		t.Helper()
		var conns []*sql.Conn
		for range maxSQLiteConns {
			c, err := l.sqlDB.Conn(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
			if _, err := c.ExecContext(t.Context(), `PRAGMA max_page_count = `+n); err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range conns {
			c.Close()
		}
	}
	var pages int
	if err := l.sqlDB.QueryRow(`PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	setMaxPages(fmt.Sprint(pages))
	prefixes := make([]string, 5000) // more than the free room in a few pages of any size
	for i := range prefixes {
		prefixes[i] = fmt.Sprintf("5%08d", i)
	}
	big, err := models.NewCommand("c2", models.KindRegisterOrganisation, "root", orgCmd(t, "x", "x").Time,
		models.RegisterOrganisationPayload{ID: "5000000000005", Name: "Maker", Role: models.RoleManufacturer, Prefixes: prefixes})
	if err != nil {
		t.Fatal(err)
	}
	data := entry(big)
	resp, stopped := apply(2, data)
	if stopped == nil {
		t.Fatalf("apply went on with the disk full and answered %+v", resp)
	}
	if !strings.Contains(fmt.Sprint(stopped), "full") {
		t.Fatalf("apply stopped for another reason: %v", stopped)
	}
	if size, _, applied := l.committed(); size != 1 || applied != 1 {
		t.Fatalf("after the stop: tree size %d, applied %d; want 1 and 1", size, applied)
	}

	// Room again: the same entry applies, accepted.
	setMaxPages("1073741823")
	resp, stopped = apply(2, data)
	if stopped != nil {
		t.Fatalf("with room again: %v", stopped)
	}
	if r, ok := resp.([]models.Result); !ok || !r[0].Accepted || r[0].Seq != 2 {
		t.Fatalf("with room again: %+v", resp)
	}
}

func TestStorageFaultsAreThisNodesOwn(t *testing.T) {
	l := mustOpenLedger(t, filepath.Join(t.TempDir(), "ledger.db"))
	if _, err := l.sqlDB.Exec(`CREATE TABLE t (k TEXT PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	if _, err := l.sqlDB.Exec(`INSERT INTO t VALUES ('a')`); err != nil {
		t.Fatal(err)
	}
	_, constraint := l.sqlDB.Exec(`INSERT INTO t VALUES ('a')`)
	_, syntax := l.sqlDB.Exec(`INSERT INTO nowhere VALUES (1)`)
	for name, err := range map[string]error{"a constraint": constraint, "a missing table": syntax, "a rule's error": errors.New("no")} {
		if err == nil || storageFault(fmt.Errorf("wrapped: %w", err)) {
			t.Errorf("%s (%v) is called a fault of this node", name, err)
		}
	}
	// A full disk, as SQLite reports it.
	c, err := l.sqlDB.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.ExecContext(t.Context(), `PRAGMA max_page_count = 1`); err != nil {
		t.Fatal(err)
	}
	_, full := c.ExecContext(t.Context(), `INSERT INTO t VALUES (?)`, strings.Repeat("x", 1<<20))
	if full == nil || !storageFault(fmt.Errorf("wrapped: %w", full)) {
		t.Errorf("a full disk (%v) is not called a fault of this node", full)
	}
}

package raftstore

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// dirState is every file under dir with a hash of its contents ("dir"
// for directories); a missing dir is nil.
func dirState(t testing.TB, dir string) map[string]string {
	t.Helper()
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if d.IsDir() {
			out[rel] = "dir"
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		out[rel] = fmt.Sprintf("%x", sha256.Sum256(data))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func mustSameDir(t testing.TB, before, after map[string]string, what string) {
	t.Helper()
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Fatalf("%s changed the directory:\nbefore %v\nafter  %v", what, before, after)
	}
}

// restoreInto tries to restore file into dir as node id.
func restoreInto(t testing.TB, dir, file string) (*Store, error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rc := &testCluster{t: t}
	tn := &testNode{id: "r0", dir: dir, addr: ln.Addr().String(), net: newFaultNet()}
	s, _, err := OpenRestored(rc.config(tn, ln, true), file)
	if err != nil {
		ln.Close()
		return nil, err
	}
	t.Cleanup(func() { s.Close() })
	return s, nil
}

// TestRestoreNeverReplacesALedger: a restore into a data directory that
// holds a ledger or Raft state (a node's, a database copied in by hand,
// a restore cut short) is refused with ErrDataDirInUse and changes
// nothing; the node's own ledger opens as before. Open refuses the
// directories a restore would have been needed for.
func TestRestoreNeverReplacesALedger(t *testing.T) {
	src := mustSingle(t)
	writeN(t, src, "b", 5, 1)
	file, _ := mustBackupFile(t, src)

	// A node's data directory, the node stopped.
	c := mustCluster(t, 1, nil)
	node := c.nodes[0]
	writeN(t, node.s, "own", 3, 1)
	own := node.s.Head()
	c.kill(node)
	before := dirState(t, node.dir)
	if _, err := restoreInto(t, node.dir, file); !errors.Is(err, ErrDataDirInUse) {
		t.Fatalf("restore into a node's directory: %v, want ErrDataDirInUse", err)
	}
	mustSameDir(t, before, dirState(t, node.dir), "a refused restore")
	c.restart(node)
	mustLeader(t, c.nodes)
	if h := node.s.Head(); h.Size != own.Size || !bytes.Equal(h.Root, own.Root) {
		t.Fatalf("the node's own ledger after a refused restore: %d %x, was %d %x", h.Size, h.Root, own.Size, own.Root)
	}

	// A backup copied in as ledger.db by hand.
	byHand := t.TempDir()
	copyFile(t, file, filepath.Join(byHand, ledgerFile))
	before = dirState(t, byHand)
	if _, err := restoreInto(t, byHand, file); !errors.Is(err, ErrDataDirInUse) {
		t.Fatalf("restore beside a ledger.db: %v, want ErrDataDirInUse", err)
	}
	mustSameDir(t, before, dirState(t, byHand), "a refused restore")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hc := &testCluster{t: t}
	if s, err := Open(hc.config(&testNode{id: "h", dir: byHand, net: newFaultNet()}, ln, true)); !errors.Is(err, ErrDataDirInUse) {
		if s != nil {
			s.Close()
		}
		t.Fatalf("Open of a ledger.db without Raft state: %v, want ErrDataDirInUse", err)
	}

	// A restore cut short (its marker stayed).
	cut := filepath.Join(t.TempDir(), "cut")
	s, err := restoreInto(t, cut, file)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := os.WriteFile(filepath.Join(cut, restorePending), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	before = dirState(t, cut)
	if _, err := restoreInto(t, cut, file); !errors.Is(err, ErrDataDirInUse) {
		t.Fatalf("restore into a directory a restore left: %v, want ErrDataDirInUse", err)
	}
	mustSameDir(t, before, dirState(t, cut), "a refused restore")
	ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if s, err := Open(hc.config(&testNode{id: "r0", dir: cut, net: newFaultNet()}, ln, false)); !errors.Is(err, ErrDataDirInUse) {
		if s != nil {
			s.Close()
		}
		ln.Close()
		t.Fatalf("Open of a directory a restore left unfinished: %v, want ErrDataDirInUse", err)
	}
	ln.Close()
	mustSameDir(t, before, dirState(t, cut), "a refused open")
}

// TestRestoreOfABadBackupLeavesNothing: a restore from a file that is not
// a sound backup is refused with ErrBadBackup, before it has changed the
// data directory: one that did not exist still does not, and one that
// held only a volume's lost+found and the node's key holds just those.
func TestRestoreOfABadBackupLeavesNothing(t *testing.T) {
	src := mustSingle(t)
	writeN(t, src, "b", 5, 1)
	good, _ := mustBackupFile(t, src)
	tampered := filepath.Join(t.TempDir(), "tampered.db")
	copyFile(t, good, tampered)
	_, db, err := openSQLiteDSN(tampered, sqliteFileURI(tampered)+"?_journal_mode=DELETE")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE ledger_entries SET actor = 'mallory' WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	text := filepath.Join(t.TempDir(), "text.db")
	if err := os.WriteFile(text, []byte("not a database"), 0o600); err != nil {
		t.Fatal(err)
	}

	for name, file := range map[string]string{"tampered": tampered, "text": text, "a directory": t.TempDir()} {
		t.Run(name, func(t *testing.T) {
			missing := filepath.Join(t.TempDir(), "new")
			if _, err := restoreInto(t, missing, file); !errors.Is(err, ErrBadBackup) {
				t.Fatalf("restore: %v, want ErrBadBackup", err)
			}
			if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("the data directory was left behind: %v", err)
			}

			volume := t.TempDir()
			if err := os.Mkdir(filepath.Join(volume, "lost+found"), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(volume, nodeKeyFile), []byte("kept\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			before := dirState(t, volume)
			if _, err := restoreInto(t, volume, file); !errors.Is(err, ErrBadBackup) {
				t.Fatalf("restore: %v, want ErrBadBackup", err)
			}
			mustSameDir(t, before, dirState(t, volume), "a refused restore")
		})
	}
	if _, err := restoreInto(t, filepath.Join(t.TempDir(), "new"), filepath.Join(t.TempDir(), "missing.db")); err == nil {
		t.Fatal("restore of a file that does not exist succeeded")
	}
}

// TestANodeThatLostItsRaftLogIsRefused: a follower whose raft.db is gone
// lost the votes it cast, its term and its cluster id. It is refused
// whether or not it had snapshotted (the snapshot alone used to pass for
// Raft state), again at a second try (the first must not create raft.db),
// and the advice is to join the cluster again with an empty directory,
// not to restore a backup, which would start a second cluster.
func TestANodeThatLostItsRaftLogIsRefused(t *testing.T) {
	for _, snapshotted := range []bool{false, true} {
		t.Run(fmt.Sprintf("snapshotted=%v", snapshotted), func(t *testing.T) {
			c := mustCluster(t, 2, nil)
			leader := mustLeader(t, c.nodes)
			writeN(t, leader.s, "a", 5, 1)
			mustConverge(t, c.nodes, 5)
			f := followers(c.nodes, leader)[0]
			if snapshotted {
				if err := f.s.Snapshot(); err != nil {
					t.Fatal(err)
				}
				if snaps, err := os.ReadDir(filepath.Join(f.dir, snapshotsDir)); err != nil || len(snaps) == 0 {
					t.Fatalf("no snapshot on disk: %v", err)
				}
			}
			c.kill(f)
			if err := os.Remove(filepath.Join(f.dir, raftLogFile)); err != nil {
				t.Fatal(err)
			}
			before := dirState(t, f.dir)
			for try := 1; try <= 2; try++ {
				ln := mustListenAt(t, f.addr)
				s, err := Open(c.config(f, ln, false))
				if err == nil {
					s.Close()
					t.Fatalf("try %d: a node without its raft.db opened", try)
				}
				ln.Close()
				if !errors.Is(err, ErrDataDirInUse) || !strings.Contains(err.Error(), "empty this directory and join it again") {
					t.Fatalf("try %d: %v, want ErrDataDirInUse saying to join again", try, err)
				}
				mustSameDir(t, before, dirState(t, f.dir), "a refused open")
			}
		})
	}
}

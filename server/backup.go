package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pedigree-ledger/pedigree/raftstore"
)

// GET /api/v1/cluster/backup streams a consistent copy of the node's
// database (raftstore.Store.Backup): the ledger, its Merkle tree and the
// projection, as one SQLite file. Admins only: it holds every
// organisation's trade and the hashes of every token.

// BackupSource takes consistent copies of a node's database;
// *raftstore.Store implements it.
type BackupSource interface {
	projectionReader
	Backup(ctx context.Context) (*raftstore.Backup, error)
}

// The backup's own headers. The tree head is the copy's, read from it:
// an operator compares it with GET /api/v1/ledger/head, and a restore
// serves that head. The body is sent chunked, so its SHA-256 comes last,
// as a trailer, computed as it is sent.
const (
	BackupTreeSizeHeader  = "Pedigree-Tree-Size"
	BackupTreeRootHeader  = "Pedigree-Tree-Root" // hex, as GET /api/v1/ledger/head
	BackupRaftIndexHeader = "Pedigree-Raft-Index"
	BackupBytesHeader     = "Pedigree-Backup-Bytes"
	BackupSHA256Trailer   = "Pedigree-Backup-Sha256" // hex
)

// backupStall bounds how long the client may take to accept the next
// chunk of a backup. The server's write timeout bounds a whole answer,
// and a backup of a large ledger over a slow link takes longer: each
// chunk sent moves the deadline.
const backupStall = 2 * time.Minute

// backupChunk is how much of the copy is read and sent at a time.
const backupChunk = 1 << 20

type backupAPI struct {
	node BackupSource
}

func (a *backupAPI) backup(c *gin.Context) {
	asked, err := consistencyAsked(c.Request.URL.RawQuery)
	if err != nil {
		abortErr(c, err)
		return
	}
	cons, err := raftstore.ParseConsistency(asked)
	if err != nil {
		abortErr(c, errf(http.StatusBadRequest, "bad_consistency", "consistency %q is not local, leader or linearizable", asked))
		return
	}
	ctx := c.Request.Context()
	// Wait until this node holds what the consistency level asks; the
	// copy then holds at least that.
	if _, err := a.node.Read(ctx, cons); err != nil {
		abortErr(c, storeErr(err))
		return
	}
	b, err := a.node.Backup(ctx)
	if errors.Is(err, raftstore.ErrDiverged) {
		// 503, as /readyz answers this node: another node can serve it.
		abortErr(c, errf(http.StatusServiceUnavailable, "diverged", "%v; back up from another node", err))
		return
	}
	if err != nil {
		abortErr(c, storeErr(err))
		return
	}
	defer b.Close()
	h := c.Writer.Header()
	h.Set("Content-Type", "application/vnd.sqlite3")
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="pedigree-%d.db"`, b.Size))
	h.Set("Cache-Control", "no-store")
	h.Set(BackupTreeSizeHeader, strconv.FormatUint(b.Size, 10))
	h.Set(BackupTreeRootHeader, hex.EncodeToString(b.Root))
	h.Set(BackupRaftIndexHeader, strconv.FormatUint(b.Applied, 10))
	h.Set(BackupBytesHeader, strconv.FormatInt(b.Bytes, 10))
	h.Set("Trailer", BackupSHA256Trailer)
	c.Status(http.StatusOK)

	rc := http.NewResponseController(c.Writer)
	sum := sha256.New()
	buf := make([]byte, backupChunk)
	var sent int64
	for {
		n, err := b.Read(buf)
		if n > 0 {
			_ = rc.SetWriteDeadline(time.Now().Add(backupStall))
			sum.Write(buf[:n])
			if _, werr := c.Writer.Write(buf[:n]); werr != nil {
				return // the client left; the deferred Close removes the copy
			}
			sent += int64(n)
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			abortBackup(c, rc, fmt.Errorf("read the backup copy after %d bytes: %w", sent, err))
			return
		}
	}
	if sent != b.Bytes {
		abortBackup(c, rc, fmt.Errorf("the backup copy ended after %d of %d bytes", sent, b.Bytes))
		return
	}
	h.Set(BackupSHA256Trailer, hex.EncodeToString(sum.Sum(nil)))
}

// abortBackup cuts the connection of a backup that failed after its
// headers went out: the client then sees the body end without its last
// chunk, rather than a short file that looks complete.
func abortBackup(c *gin.Context, rc *http.ResponseController, err error) {
	_ = c.Error(err)
	if conn, _, herr := rc.Hijack(); herr == nil {
		conn.Close()
	}
	c.Abort()
}

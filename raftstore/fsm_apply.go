package raftstore

// Everything in this file runs inside FSM.Apply on every node and must be
// deterministic: no clock, no randomness, no node-local configuration. Time
// and ids come from the command, stamped before proposing.

import (
	"database/sql"
	"fmt"

	"github.com/hashicorp/raft"
	"github.com/transparency-dev/merkle/compact"
	"gorm.io/gorm"

	"github.com/pedigree-ledger/pedigree/models"
)

// fsm is the Raft state machine over a ledger. It is a separate type so its
// methods stay off the Store's public API.
type fsm struct {
	l *ledger
}

var _ raft.BatchingFSM = (*fsm)(nil)

// Apply applies one log entry; raft calls ApplyBatch instead whenever it
// can, this is here to satisfy raft.FSM.
func (f *fsm) Apply(lg *raft.Log) any {
	return f.ApplyBatch([]*raft.Log{lg})[0]
}

// ApplyBatch applies committed log entries in one SQLite transaction.
func (f *fsm) ApplyBatch(logs []*raft.Log) []any {
	return f.l.applyBatch(logs)
}

// Snapshot and Restore live in fsm_snapshot.go.

// batch is the state of one ApplyBatch transaction.
type batch struct {
	tx     *gorm.DB
	sqlTx  *sql.Tx
	rng    *compact.Range
	insert *sql.Stmt
	node   *sql.Stmt
	dup    *sql.Stmt
	err    error // first storage error: the batch must not commit
}

func (l *ledger) applyBatch(logs []*raft.Log) []any {
	resp := make([]any, len(logs))
	l.mu.RLock()
	applied, rng := l.applied, cloneRange(l.rng)
	l.mu.RUnlock()

	last := applied
	for _, lg := range logs {
		if lg.Index > last {
			last = lg.Index
		}
	}
	if last == applied {
		// Every entry is already in the database: a restart replays the log
		// from the last snapshot, and the database may be ahead of it.
		return resp
	}

	tx := l.db.Begin()
	if tx.Error != nil {
		panic(fmt.Sprintf("raftstore: begin apply transaction: %v", tx.Error))
	}
	sqlTx, ok := tx.Statement.ConnPool.(*sql.Tx)
	if !ok {
		panic("raftstore: gorm transaction is not a *sql.Tx")
	}
	b := &batch{tx: tx, sqlTx: sqlTx, rng: rng}
	if err := b.prepare(); err != nil {
		tx.Rollback()
		panic(fmt.Sprintf("raftstore: prepare apply statements: %v", err))
	}
	defer b.closeStmts()

	for i, lg := range logs {
		if lg.Index <= applied || lg.Type != raft.LogCommand {
			continue
		}
		e, err := decodeEntry(lg.Data)
		if err != nil {
			resp[i] = fmt.Errorf("%w: %v", ErrInvalid, err)
			continue
		}
		switch e.Op {
		case opLedger:
			results := make([]models.Result, len(e.Cmds))
			for j, cmd := range e.Cmds {
				results[j] = b.applyCommand(lg.Index, cmd)
			}
			resp[i] = results
		case opNodePut:
			if e.Node == nil || e.Node.ID == "" {
				resp[i] = fmt.Errorf("%w: node_put without a node id", ErrInvalid)
				continue
			}
			n := e.Node
			b.exec(`INSERT INTO cluster_nodes (id, raft_addr, http_addr, public_key) VALUES (?, ?, ?, ?)
				ON CONFLICT(id) DO UPDATE SET raft_addr = excluded.raft_addr, http_addr = excluded.http_addr, public_key = excluded.public_key`,
				n.ID, n.RaftAddr, n.HTTPAddr, n.PublicKey)
		case opNodeDelete:
			if e.Node == nil {
				resp[i] = fmt.Errorf("%w: node_delete without a node", ErrInvalid)
				continue
			}
			b.exec(`DELETE FROM cluster_nodes WHERE id = ?`, e.Node.ID)
		default:
			resp[i] = fmt.Errorf("%w: unknown log op %q", ErrInvalid, e.Op)
		}
		if b.err != nil {
			break
		}
	}
	b.exec(`INSERT INTO raftstore_meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`, metaApplied, last)
	if b.err == nil {
		b.err = tx.Commit().Error
	} else {
		tx.Rollback()
	}
	if b.err != nil {
		// A committed entry that cannot be stored would make this node's
		// ledger diverge from the others; stopping is the only safe answer.
		panic(fmt.Sprintf("raftstore: cannot store committed entries up to index %d: %v", last, b.err))
	}
	root, err := rootOf(b.rng)
	if err != nil {
		panic(fmt.Sprintf("raftstore: root of committed tree: %v", err))
	}
	l.mu.Lock()
	l.rng, l.root, l.applied = b.rng, root, last
	close(l.appliedCh)
	l.appliedCh = make(chan struct{})
	l.mu.Unlock()
	return resp
}

func (b *batch) prepare() error {
	var err error
	if b.insert, err = b.sqlTx.Prepare(`INSERT INTO ledger_entries
		(seq, command_id, kind, actor, time, payload, accepted, code, message, data, raft_index)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`); err != nil {
		return err
	}
	if b.node, err = b.sqlTx.Prepare(`INSERT INTO merkle_nodes (level, idx, hash) VALUES (?, ?, ?)`); err != nil {
		return err
	}
	b.dup, err = b.sqlTx.Prepare(`SELECT seq, accepted, code, message, data FROM ledger_entries WHERE command_id = ?`)
	return err
}

func (b *batch) closeStmts() {
	for _, s := range []*sql.Stmt{b.insert, b.node, b.dup} {
		if s != nil {
			s.Close()
		}
	}
}

func (b *batch) exec(query string, args ...any) {
	if b.err != nil {
		return
	}
	if _, err := b.sqlTx.Exec(query, args...); err != nil {
		b.err = fmt.Errorf("%.40s...: %w", query, err)
	}
}

// applyCommand applies one ledger command: a repeated id returns its first
// result; otherwise the rules run inside a savepoint (rolled back when they
// reject the command) and the entry gets the next seq and a Merkle leaf.
func (b *batch) applyCommand(raftIndex uint64, cmd models.Command) models.Result {
	if b.err != nil {
		return models.Result{}
	}
	if prev, ok := b.lookup(cmd.ID); ok || b.err != nil {
		return prev
	}
	seq := b.rng.End() + 1
	b.exec(`SAVEPOINT cmd`)
	res := runRules(b.tx, seq, cmd)
	res.Seq = seq
	if !res.Accepted {
		b.exec(`ROLLBACK TO cmd`)
		if b.err == nil {
			if err := recordRejection(b.tx, seq, cmd, res); err != nil {
				b.err = err
			}
		}
	}
	b.exec(`RELEASE cmd`)
	if b.err != nil {
		return models.Result{}
	}
	var payload, data []byte
	if len(cmd.Payload) > 0 {
		payload = cmd.Payload
	}
	if len(res.Data) > 0 {
		data = res.Data
	}
	if _, err := b.insert.Exec(seq, cmd.ID, string(cmd.Kind), cmd.Actor, FormatTime(cmd.Time), payload,
		res.Accepted, res.Code, res.Message, data, raftIndex); err != nil {
		b.err = fmt.Errorf("insert ledger entry %d: %w", seq, err)
		return models.Result{}
	}
	leaf := LeafHash(seq, cmd, res)
	err := b.rng.Append(leaf, func(id compact.NodeID, hash []byte) {
		if b.err != nil {
			return
		}
		if _, err := b.node.Exec(id.Level, id.Index, hash); err != nil {
			b.err = fmt.Errorf("insert merkle node %d/%d: %w", id.Level, id.Index, err)
		}
	})
	if err != nil && b.err == nil {
		b.err = fmt.Errorf("append leaf %d: %w", seq, err)
	}
	return res
}

func (b *batch) lookup(id string) (models.Result, bool) {
	var r models.Result
	var data []byte
	err := b.dup.QueryRow(id).Scan(&r.Seq, &r.Accepted, &r.Code, &r.Message, &data)
	if err == sql.ErrNoRows {
		return models.Result{}, false
	}
	if err != nil {
		b.err = fmt.Errorf("look up command id: %w", err)
		return models.Result{}, false
	}
	if len(data) > 0 {
		r.Data = data
	}
	return r, true
}

// runRules runs the models rules for one command. A panic in the rules is
// deterministic (every node panics on the same input), so it becomes a
// rejection rather than a crash of every node at once.
func runRules(tx *gorm.DB, seq uint64, cmd models.Command) (res models.Result) {
	defer func() {
		if p := recover(); p != nil {
			res = models.Result{Accepted: false, Code: "internal_error", Message: fmt.Sprintf("rules failed: %v", p)}
		}
	}()
	return applyRules(tx, seq, cmd)
}

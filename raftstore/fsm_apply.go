package raftstore

// Everything in this file applies committed entries on every node (from
// the apply queue, fsm_group.go) and must be deterministic: no clock, no
// randomness, no node-local configuration. Time and ids come from the
// command, stamped before proposing.

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"github.com/transparency-dev/merkle/compact"
	"gorm.io/gorm"

	"github.com/pedigree-ledger/pedigree/models"
)

// fsm is the Raft state machine over a ledger. It is a separate type so its
// methods stay off the Store's public API.
type fsm struct {
	l *ledger
	q *applyQueue // group commit: see fsm_group.go
	// restoreFailed, if set, hears why a snapshot could not be restored
	// (snapshotStore.failed), so a node that cannot start can say why.
	restoreFailed func(error)
	// starting is true while raft.NewRaft runs, which restores a snapshot
	// on its caller's goroutine when the database is behind (see Restore).
	starting atomic.Bool
}

// newFSM starts the ledger's apply goroutine; close stops it.
func newFSM(l *ledger) *fsm {
	return &fsm{l: l, q: newApplyQueue(l.applyBatch)}
}

var _ raft.BatchingFSM = (*fsm)(nil)

// Apply queues one log entry; raft calls ApplyBatch instead whenever it
// can, this is here to satisfy raft.FSM.
func (f *fsm) Apply(lg *raft.Log) any {
	return f.ApplyBatch([]*raft.Log{lg})[0]
}

// ApplyBatch queues committed log entries for the ledger's apply
// goroutine, which applies them (with whatever else is queued) in one
// SQLite transaction. Each response is a *deferredResult.
func (f *fsm) ApplyBatch(logs []*raft.Log) []any {
	return f.q.enqueue(logs)
}

// close applies what is still queued and stops the apply goroutine; call
// it once Raft has shut down.
func (f *fsm) close() { f.q.close() }

// Snapshot and Restore live in fsm_snapshot.go.

// batch is the state of one ApplyBatch transaction. Ledger rows and Merkle
// nodes are buffered and written with multi-row INSERTs at the end: the
// rules never read them, and one statement per few hundred rows costs far
// less than one per row.
type batch struct {
	l     *ledger
	tx    *gorm.DB
	sqlTx *sql.Tx
	rng   *compact.Range
	err   error // first storage error: the batch must not commit

	rules *models.Batch // the rules, with their memory of this transaction
	// rulesPanicked is set when the rules' own bookkeeping panicked: what
	// the Batch reports having written may then not be what it wrote.
	rulesPanicked bool

	adoptedRules bool                    // a command adopted rules: read the version after the commit
	known        map[string]knownCommand // ids already in the ledger or this batch
	outcomes     map[string]int          // accepted, rejected, duplicate: for metrics only
	entries      []any                   // ledgerCols values per buffered entry, flattened
	nodes        []any                   // level, idx, hash per buffered Merkle node
}

const ledgerCols = 11

func (l *ledger) applyBatch(logs []*raft.Log) []any {
	start := time.Now()
	resp := make([]any, len(logs))
	l.mu.RLock()
	applied, rng := l.applied, cloneRange(l.rng)
	l.mu.RUnlock()
	sizeBefore := rng.End() // rng grows as the batch appends leaves

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
	entries := make([]*logEntry, len(logs))
	var ids []string
	for i, lg := range logs {
		if lg.Index <= applied || lg.Type != raft.LogCommand {
			continue
		}
		e, err := decodeEntry(lg.Data)
		if err != nil {
			resp[i] = fmt.Errorf("%w: %v", ErrInvalid, err)
			continue
		}
		entries[i] = &e
		for _, c := range e.Cmds {
			ids = append(ids, c.ID)
		}
	}

	tx := l.db.Begin()
	if tx.Error != nil {
		panic(fmt.Sprintf("raftstore: begin apply transaction: %v", tx.Error))
	}
	sqlTx, ok := tx.Statement.ConnPool.(*sql.Tx)
	if !ok {
		panic("raftstore: gorm transaction is not a *sql.Tx")
	}
	// The rules get the same transaction through a pool that reuses
	// prepared statements across batches.
	// (A Session with a Context gets its own Statement, so swapping its pool
	// leaves tx, which commits, untouched.)
	rulesTx := tx.Session(&gorm.Session{Context: context.Background()})
	rulesTx.Statement.ConnPool = &stmtPool{l: l, tx: sqlTx}
	b := &batch{l: l, tx: rulesTx, sqlTx: sqlTx, rng: rng}
	b.prepare()
	b.loadKnown(ids)
	b.prefetch(entries)

	for i, lg := range logs {
		e := entries[i]
		if e == nil || b.err != nil {
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
	}
	if b.err == nil {
		if err := b.rules.Flush(b.tx); err != nil {
			b.fail(err)
		}
	}
	b.flush()
	// The rules wrote the lifecycle rows of this batch's entries, so the
	// lifecycle mark moves with the applied index (indexLifecycle).
	if meta := b.txStmt(`INSERT INTO raftstore_meta (key, value) VALUES (?, ?), (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`); meta != nil && b.err == nil {
		if _, err := meta.Exec(metaApplied, last, metaLifecycleIndexed, b.rng.End()); err != nil {
			b.fail(fmt.Errorf("record applied index: %w", err))
		}
	}
	// The rows this batch wrote, for the verify index once committed:
	// as the rules report them (mostly from memory), or, should the
	// rules' bookkeeping have failed, read back by seq (every write sets
	// its row's seq to its command's ledger position).
	var changes models.IndexChanges
	if l.index != nil && b.err == nil {
		var err error
		if b.rulesPanicked {
			changes, err = models.ChangesSince(b.tx, sizeBefore)
		} else {
			changes, err = b.rules.IndexChanges(b.tx, sizeBefore)
		}
		if err != nil {
			b.fail(err)
		}
	}
	if b.err == nil {
		b.err = tx.Commit().Error
	} else {
		tx.Rollback()
	}
	if b.err == nil && b.adoptedRules {
		// Only the status and join checks read the cached version; the
		// rules read theirs from the database.
		if err := l.loadRules(); err != nil {
			l.log.Warn("read the adopted rules version", "err", err)
		}
	}
	l.trimStmts()
	if b.err != nil {
		// A committed entry that cannot be stored would make this node's
		// ledger diverge from the others; stopping is the only safe answer.
		// The panic value wraps the cause, for a caller that recovers (a
		// restore's replay).
		panic(fmt.Errorf("raftstore: cannot store committed entries up to index %d: %w", last, b.err))
	}
	root, err := rootOf(b.rng)
	if err != nil {
		panic(fmt.Sprintf("raftstore: root of committed tree: %v", err))
	}
	// Published before applyBatch returns, so before any write of the
	// batch is acknowledged (its deferredResult resolves after): a
	// verification after an acknowledged dispense sees it.
	if l.index != nil {
		l.index.Publish(changes)
		l.m.indexPacks.WithLabelValues(l.node).Set(float64(l.index.Len()))
	}
	l.mu.Lock()
	l.rng, l.root, l.applied = b.rng, root, last
	close(l.appliedCh)
	l.appliedCh = make(chan struct{})
	l.mu.Unlock()
	l.m.applyBatch.WithLabelValues(l.node).Observe(time.Since(start).Seconds())
	l.m.applySize.WithLabelValues(l.node).Observe(float64(len(logs)))
	l.m.treeSize.WithLabelValues(l.node).Set(float64(b.rng.End()))
	l.m.applied.WithLabelValues(l.node).Set(float64(last))
	for outcome, n := range b.outcomes {
		if n > 0 {
			l.m.entries.WithLabelValues(l.node, outcome).Add(float64(n))
		}
	}
	return resp
}

func (b *batch) prepare() {
	b.known = map[string]knownCommand{}
	b.rules = newRuleBatch()
	b.rules.Supported = b.l.rulesSupported
	b.outcomes = map[string]int{}
}

// txStmt is the cached statement for query, bound to this transaction.
func (b *batch) txStmt(query string) *sql.Stmt {
	s, err := b.l.stmt(query)
	if err != nil {
		b.fail(fmt.Errorf("prepare %.40s: %w", query, err))
		return nil
	}
	return b.sqlTx.Stmt(s)
}

func (b *batch) fail(err error) {
	if b.err == nil {
		b.err = err
	}
}

func (b *batch) exec(query string, args ...any) {
	if b.err != nil {
		return
	}
	if _, err := b.sqlTx.Exec(query, args...); err != nil {
		b.fail(fmt.Errorf("%.40s...: %w", query, err))
	}
}

// prefetch lets the rules read ahead, in bulk, what the batch's leading
// captures will read one command at a time.
func (b *batch) prefetch(entries []*logEntry) {
	var cmds []models.Command
	for _, e := range entries {
		if e == nil || e.Op != opLedger {
			continue
		}
		for _, c := range e.Cmds {
			if _, known := b.known[c.ID]; !known {
				cmds = append(cmds, c)
			}
		}
	}
	if b.err == nil && len(cmds) > 0 {
		if err := b.rules.Prefetch(b.tx, cmds); err != nil {
			b.fail(err)
		}
	}
}

// loadKnown reads the first results of the batch's ids that are already in
// the ledger, a few hundred ids per query.
func (b *batch) loadKnown(ids []string) {
	const chunk = 500
	for len(ids) > 0 && b.err == nil {
		n := min(chunk, len(ids))
		args := make([]any, n)
		for i, id := range ids[:n] {
			args[i] = id
		}
		ids = ids[n:]
		// Prepared once per list length, like the rules' IN lists: a
		// batch of single writes otherwise parsed this statement anew.
		stmt := b.txStmt(`SELECT command_id, seq, accepted, code, message, data, kind, actor, payload FROM ledger_entries WHERE command_id IN (?` +
			strings.Repeat(",?", n-1) + `)`)
		if stmt == nil {
			return
		}
		rows, err := stmt.Query(args...)
		if err != nil {
			b.fail(fmt.Errorf("look up command ids: %w", err))
			return
		}
		for rows.Next() {
			var id, kind string
			var k knownCommand
			var data []byte
			if err := rows.Scan(&id, &k.res.Seq, &k.res.Accepted, &k.res.Code, &k.res.Message, &data, &kind, &k.actor, &k.payload); err != nil {
				b.fail(err)
				break
			}
			if len(data) > 0 {
				k.res.Data = data
			}
			k.kind = models.CommandKind(kind)
			b.known[id] = k
		}
		if err := rows.Close(); err != nil {
			b.fail(err)
		}
	}
}

// knownCommand is a command the ledger holds, by id: its first result,
// and what a repeat must match to get it.
type knownCommand struct {
	res     models.Result
	kind    models.CommandKind
	actor   string
	payload []byte
}

// same reports whether cmd repeats k: the same request again, which gets
// k's result. The time is the leader's stamp, different on every try.
func (k knownCommand) same(cmd models.Command) bool {
	return k.kind == cmd.Kind && k.actor == cmd.Actor && bytes.Equal(k.payload, cmd.Payload)
}

// applyCommand applies one ledger command: a repeated id returns its first
// result (or CodeIDReused, recording nothing, if the command differs); otherwise the rules apply it (undoing it themselves when they
// reject it) and the entry gets the next seq and a Merkle leaf.
func (b *batch) applyCommand(raftIndex uint64, cmd models.Command) models.Result {
	if b.err != nil {
		return models.Result{}
	}
	if prev, ok := b.known[cmd.ID]; ok {
		if !prev.same(cmd) {
			b.outcomes["id_reused"]++
			return models.Result{Seq: prev.res.Seq, Code: models.CodeIDReused, Message: fmt.Sprintf(
				"id %q was first used for another %s request (ledger entry %d): use a new Idempotency-Key for a new request",
				cmd.ID, prev.kind, prev.res.Seq)}
		}
		b.outcomes["duplicate"]++
		return prev.res
	}
	seq := b.rng.End() + 1
	// The rules undo a rejected command themselves (in memory, or with a
	// savepoint) and record the alert it raises.
	res, panicked, err := runRules(b.rules, b.tx, seq, cmd)
	b.rulesPanicked = b.rulesPanicked || panicked
	if err != nil {
		b.fail(err)
		return models.Result{}
	}
	res.Seq = seq
	var payload, data []byte
	if len(cmd.Payload) > 0 {
		payload = cmd.Payload
	}
	if len(res.Data) > 0 {
		data = res.Data
	}
	b.entries = append(b.entries, seq, cmd.ID, string(cmd.Kind), cmd.Actor, FormatTime(cmd.Time), payload,
		res.Accepted, res.Code, res.Message, data, raftIndex)
	b.known[cmd.ID] = knownCommand{res: res, kind: cmd.Kind, actor: cmd.Actor, payload: cmd.Payload}
	if res.Accepted {
		b.outcomes["accepted"]++
		b.adoptedRules = b.adoptedRules || cmd.Kind == models.KindAdoptRules
	} else {
		b.outcomes["rejected"]++
	}
	err = b.rng.Append(LeafHash(seq, cmd, res), func(id compact.NodeID, hash []byte) {
		b.nodes = append(b.nodes, id.Level, id.Index, hash)
	})
	if err != nil {
		b.fail(fmt.Errorf("append leaf %d: %w", seq, err))
	}
	return res
}

// flush writes the buffered ledger entries and Merkle nodes.
func (b *batch) flush() {
	b.insertRows(`INSERT INTO ledger_entries (seq, command_id, kind, actor, time, payload, accepted, code, message, data, raft_index) VALUES `,
		ledgerCols, b.entries)
	b.insertRows(`INSERT INTO merkle_nodes (level, idx, hash) VALUES `, 3, b.nodes)
}

func (b *batch) insertRows(prefix string, cols int, vals []any) {
	const maxVars = 3000 // well under SQLite's limit, and plenty per statement
	per := maxVars / cols
	row := "(?" + strings.Repeat(",?", cols-1) + ")"
	for len(vals) > 0 && b.err == nil {
		n := min(per, len(vals)/cols)
		stmt := b.txStmt(prefix + row + strings.Repeat(","+row, n-1))
		if stmt == nil {
			return
		}
		if _, err := stmt.Exec(vals[:n*cols]...); err != nil {
			b.fail(fmt.Errorf("%.30s...: %w", prefix, err))
			return
		}
		vals = vals[n*cols:]
	}
}

// runRules applies one command through the batch's rules. models.Batch
// already turns a panic in a rule into a rejection and undoes the
// command's writes; this recover is the last guard, for a panic in the
// Batch's own bookkeeping. That is deterministic too (every node panics on
// the same input), so it becomes a rejection rather than a crash of every
// node at once, though such a command's writes may not all be undone.
func runRules(rules *models.Batch, tx *gorm.DB, seq uint64, cmd models.Command) (res models.Result, panicked bool, err error) {
	defer func() {
		if p := recover(); p != nil {
			res, panicked, err = models.Result{Accepted: false, Code: "internal_error", Message: fmt.Sprintf("rules failed: %v", p)}, true, nil
		}
	}()
	res, err = rules.Apply(tx, seq, cmd)
	return res, false, err
}

package raftstore

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"math/bits"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mattn/go-sqlite3"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/pedigree-ledger/pedigree/models"
)

// schema is raftstore's own bookkeeping, kept in the same SQLite file as the
// models projection so one snapshot carries both atomically.
const schema = `
CREATE TABLE IF NOT EXISTS raftstore_meta (
	key   TEXT PRIMARY KEY,
	value INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ledger_entries (
	seq        INTEGER PRIMARY KEY,
	command_id TEXT NOT NULL UNIQUE,
	kind       TEXT NOT NULL,
	actor      TEXT NOT NULL,
	time       TEXT NOT NULL,
	payload    BLOB,
	accepted   INTEGER NOT NULL,
	code       TEXT NOT NULL,
	message    TEXT NOT NULL,
	data       BLOB,
	raft_index INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS merkle_nodes (
	level INTEGER NOT NULL,
	idx   INTEGER NOT NULL,
	hash  BLOB NOT NULL,
	PRIMARY KEY (level, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS cluster_nodes (
	id         TEXT PRIMARY KEY,
	raft_addr  TEXT NOT NULL,
	http_addr  TEXT NOT NULL,
	public_key TEXT NOT NULL
) WITHOUT ROWID;
`

const metaApplied = "applied_index"

// metaLifecycleIndexed is the ledger size up to which the lifecycle rows
// (models.LifecycleRecord) of every entry are written. Each batch a
// binary with those rows applies moves it with the applied index; a
// binary without them leaves it behind, and the next open catches up
// (indexLifecycle).
const metaLifecycleIndexed = "lifecycle_indexed"

var hasher = rfc6962.DefaultHasher

var rangeFactory = &compact.RangeFactory{Hash: hasher.HashChildren}

// ledger is the SQLite file and the committed view of the Merkle tree. Only
// the FSM goroutine writes; readers take mu for the committed size and root.
type ledger struct {
	node  string // node id, the metrics label
	m     *storeMetrics
	path  string
	db    *gorm.DB
	sqlDB *sql.DB
	log   *slog.Logger
	// openTook is how long opening spent migrating (SQLite recovers its
	// WAL at the first statement, so that too) and loading the tree and
	// the verify index.
	openTook struct{ migrate, load time.Duration }
	// index answers verifications from memory (nil: off); the FSM keeps
	// it exact by publishing each batch's rows after the commit.
	index *models.VerifyIndex
	// rulesSupported is the newest rules version this node applies (0:
	// models.RulesVersion); see models.RulesVersion.
	rulesSupported int
	// rulesActive is the rules version the committed ledger is at, read
	// at load and after a batch that adopted rules.
	rulesActive atomic.Int64

	mu        sync.RWMutex
	rng       *compact.Range // frontier of the committed tree [0, size)
	root      []byte
	applied   uint64        // last Raft index whose effects are committed
	appliedCh chan struct{} // closed and replaced whenever applied grows

	restores atomic.Int64 // snapshots restored since open (observability, tests)
	// testHookRestoreCopied, when set, runs when a restore has copied the
	// snapshot into the database and not yet reloaded what memory holds.
	testHookRestoreCopied func()

	stmtMu  sync.Mutex
	stmts   map[string]*cachedStmt // prepared once, reused by every apply batch
	stmtUse uint64                 // use clock for trimming the cache
}

type cachedStmt struct {
	s       *sql.Stmt
	lastUse uint64
}

// maxCachedStmts bounds the statement cache. The rules' multi-row inserts
// and IN lists make one SQL text per row count, so the set is finite but
// can be large.
const maxCachedStmts = 2048

// stmt returns the statement for query, prepared once on the pool; a
// transaction uses it through tx.Stmt, which reuses the connection's
// prepared copy, so a batch of a few commands does not pay for parsing SQL.
func (l *ledger) stmt(query string) (*sql.Stmt, error) {
	l.stmtMu.Lock()
	defer l.stmtMu.Unlock()
	l.stmtUse++
	if c, ok := l.stmts[query]; ok {
		c.lastUse = l.stmtUse
		return c.s, nil
	}
	s, err := l.sqlDB.Prepare(query)
	if err != nil {
		return nil, err
	}
	if l.stmts == nil {
		l.stmts = map[string]*cachedStmt{}
	}
	l.stmts[query] = &cachedStmt{s: s, lastUse: l.stmtUse}
	return s, nil
}

// trimStmts closes the least recently used statements past the bound. It
// runs between batches, never while a transaction may hold rows of one.
func (l *ledger) trimStmts() {
	l.stmtMu.Lock()
	defer l.stmtMu.Unlock()
	if len(l.stmts) <= maxCachedStmts {
		return
	}
	uses := make([]uint64, 0, len(l.stmts))
	for _, c := range l.stmts {
		uses = append(uses, c.lastUse)
	}
	slices.Sort(uses)
	cut := uses[len(uses)-maxCachedStmts/2] // keep the most recent half
	for q, c := range l.stmts {
		if c.lastUse < cut {
			c.s.Close()
			delete(l.stmts, q)
		}
	}
}

// sqliteDriver is go-sqlite3 with per-connection settings the DSN cannot
// carry: savepoint journals and sort spills stay in memory. A command the
// rules apply in SQL runs inside a savepoint, and a file-backed sub-journal
// costs a temp file write per page it first touches; the Raft log, not
// this file, is the durable record, so nothing here needs to survive a
// crash.
const sqliteDriver = "sqlite3_pedigree"

// walSizeLimit is what a WAL file is cut back to when SQLite starts it
// over. Without a limit it keeps the largest size it ever reached: after
// a follower installs a snapshot (written through the WAL, all of it),
// that is the whole ledger again, for good.
const walSizeLimit = 64 << 20

func init() {
	sql.Register(sqliteDriver, &sqlite3.SQLiteDriver{
		ConnectHook: func(c *sqlite3.SQLiteConn) error {
			_, err := c.Exec(fmt.Sprintf("PRAGMA temp_store = MEMORY; PRAGMA journal_size_limit = %d", walSizeLimit), nil)
			return err
		},
	})
}

// openSQLite opens (creating if needed) the SQLite file in WAL mode. WAL
// lets reads and VACUUM INTO snapshots run while the FSM writes; normal
// synchronous mode is safe because the Raft log is the durable record and a
// restarted node replays what SQLite lost. Each connection caches up to
// 64 MiB of pages (SQLite's default is 2 MiB): the apply path reads index
// pages of items and events for every command, and re-reading them through
// the OS costs a syscall each. A new file gets pages of ledgerPageSize.
func openSQLite(path string) (*gorm.DB, *sql.DB, error) {
	if err := createWithPageSize(path, ledgerPageSize); err != nil {
		return nil, nil, fmt.Errorf("create %s: %w", path, err)
	}
	return openSQLiteDSN(path, sqliteFileURI(path)+"?_journal_mode=WAL&_synchronous=NORMAL&_busy_timeout=10000&_foreign_keys=on&_cache_size=-65536")
}

// ledgerPageSize is the page size of a new ledger file: 16 KiB rather
// than SQLite's 4 KiB. Each capture's random keys (serials, event ids)
// land on pages all over three indexes, and a commit writes every page it
// touched; with larger pages the indexes have fewer levels and pages to
// split and write, and a 3-node cluster spent about 15% less CPU per
// captured event (BenchmarkClusterCapture1000, eight alternated runs:
// median 222 against 189 µs) and the same per single-event write (798
// against 789), though single writes wrote 67% more bytes (each group
// commit writes whole pages for its random keys). Reading one pack's
// rows, as a verification outside the verify index does, measured no
// slower. A file keeps the page size it was made with: a ledger made
// before stays at 4 KiB, which works as before, and a snapshot of the
// other size is converted before it is installed (inPageSizeOf).
const ledgerPageSize = 16 << 10

// createWithPageSize makes an empty database file at path with pages of
// size bytes, unless a database is there: an empty file is none (a start
// stopped in here leaves one). A database's page size is fixed when it is
// first written, and opening a file in WAL mode writes it, so it is set
// on a connection of its own before that.
func createWithPageSize(path string, size int) error {
	switch st, err := os.Stat(path); {
	case err == nil && st.Size() > 0:
		return nil
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return err
	}
	db, err := sql.Open(sqliteDriver, sqliteFileURI(path))
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	// The table makes SQLite write the file, at the page size set.
	_, err = db.Exec(fmt.Sprintf(`PRAGMA page_size = %d; CREATE TABLE page_size_set (x); DROP TABLE page_size_set`, size))
	return err
}

// uriPathEscaper escapes what a SQLite URI would otherwise read as the
// start of its query ('?', where go-sqlite3 also cuts the DSN), its
// fragment ('#') or an escape ('%'); SQLite decodes %HH in the path.
var uriPathEscaper = strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")

// sqliteFileURI is the "file:" URI of the file at path, whatever
// characters the data directory's name holds.
func sqliteFileURI(path string) string {
	return "file:" + uriPathEscaper.Replace(path)
}

// maxSQLiteConns bounds a database's connections: the apply transaction
// and the readers beside it.
const maxSQLiteConns = 8

// openSQLiteDSN opens the database dsn names; name is what errors call it.
func openSQLiteDSN(name, dsn string) (*gorm.DB, *sql.DB, error) {
	db, err := gorm.Open(sqlite.New(sqlite.Config{DriverName: sqliteDriver, DSN: dsn}), &gorm.Config{
		Logger:                 logger.Default.LogMode(logger.Silent),
		SkipDefaultTransaction: true,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", name, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, nil, err
	}
	sqlDB.SetMaxOpenConns(maxSQLiteConns)
	sqlDB.SetMaxIdleConns(maxSQLiteConns)
	return db, sqlDB, nil
}

// openLedger opens the ledger's database at path; with indexPacks above
// zero it keeps a verify index of that many packs.
func openLedger(path, node string, indexPacks, rulesSupported int, log *slog.Logger) (*ledger, error) {
	db, sqlDB, err := openSQLite(path)
	if err != nil {
		return nil, err
	}
	return newLedger(path, db, sqlDB, node, indexPacks, rulesSupported, log)
}

// newLedger migrates and loads the open database; path is where its
// snapshot files go, rulesSupported the newest rules version the node
// applies (0: models.RulesVersion), which the database may not be past.
func newLedger(path string, db *gorm.DB, sqlDB *sql.DB, node string, indexPacks, rulesSupported int, log *slog.Logger) (*ledger, error) {
	l := &ledger{node: node, m: defaultMetrics(), path: path, db: db, sqlDB: sqlDB, log: log, appliedCh: make(chan struct{}),
		rulesSupported: rulesSupported}
	if indexPacks > 0 {
		l.index = models.NewVerifyIndex(indexPacks)
	}
	start := time.Now()
	if err := l.migrate(); err != nil {
		sqlDB.Close()
		return nil, err
	}
	l.openTook.migrate = time.Since(start)
	start = time.Now()
	if err := l.load(); err != nil {
		sqlDB.Close()
		return nil, err
	}
	l.openTook.load = time.Since(start)
	return l, nil
}

func (l *ledger) migrate() error {
	if err := migrateRules(l.db); err != nil {
		return fmt.Errorf("migrate projection: %w", err)
	}
	if err := l.db.Exec(schema).Error; err != nil {
		return fmt.Errorf("create ledger schema: %w", err)
	}
	return l.indexLifecycle()
}

// indexLifecycle writes the lifecycle rows of the decommissions and undos
// committed past the lifecycle mark: all of them in a ledger older than
// the rows, or those a node applied while it ran a binary without them
// (rolled back, or a snapshot such a node took). The rows of an entry are
// read from the entry alone (models.LifecycleRecordsOf), so every node
// writes the same ones, and writing an entry's rows again changes nothing.
// It goes a page of entries a transaction (lifecyclePage), each moving the
// mark, so a large ledger's first open holds little memory and, stopped,
// resumes.
func (l *ledger) indexLifecycle() error {
	var mark, size uint64
	err := l.sqlDB.QueryRow(`SELECT value FROM raftstore_meta WHERE key = ?`, metaLifecycleIndexed).Scan(&mark)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("read the lifecycle mark: %w", err)
	}
	if err := l.sqlDB.QueryRow(`SELECT COALESCE(MAX(seq), 0) FROM ledger_entries`).Scan(&size); err != nil {
		return fmt.Errorf("read ledger size: %w", err)
	}
	if mark >= size {
		return nil
	}
	start, from, entries := time.Now(), mark+1, 0
	for mark < size {
		n, next, err := l.indexLifecyclePage(mark, size)
		if err != nil {
			return err
		}
		entries += n
		mark = next
		if mark < size {
			l.log.Info("recording the lifecycle of decommissioned packs", "entries", entries, "through_seq", mark, "of", size)
		}
	}
	l.log.Info("recorded the lifecycle of decommissioned packs", "entries", entries, "from_seq", from, "to_seq", size,
		"took", time.Since(start).Round(time.Millisecond))
	return nil
}

// lifecyclePage and lifecyclePageKeys bound the decommission entries
// indexLifecycle reads a transaction, and the packs they name (an entry
// may name 10,000); variables so tests can make them small.
var (
	lifecyclePage     = 2000
	lifecyclePageKeys = 50000
)

// indexLifecyclePage writes the rows of the next lifecyclePage decommission
// entries after mark and moves the mark past them (to size after the
// last), in one transaction; it returns how many entries it read and the
// new mark.
func (l *ledger) indexLifecyclePage(mark, size uint64) (int, uint64, error) {
	tx := l.db.Begin()
	if tx.Error != nil {
		return 0, mark, fmt.Errorf("index lifecycle: %w", tx.Error)
	}
	defer tx.Rollback()
	rows, err := tx.Raw(`SELECT e.seq, e.command_id, e.kind, e.actor, e.time, e.payload, e.accepted, e.code, e.message, e.data, e.raft_index, x''
		FROM ledger_entries e WHERE e.seq > ? AND e.seq <= ? AND e.accepted AND e.kind IN (?, ?) ORDER BY e.seq LIMIT ?`,
		mark, size, models.KindDecommission, models.KindUndoDecommission, lifecyclePage).Rows()
	if err != nil {
		return 0, mark, fmt.Errorf("read decommission entries: %w", err)
	}
	// An entry whose rows cannot be written (its payload unreadable, a
	// pack it names missing from the projection) is logged and passed
	// over: the rows serve chains of custody, and a node that would not
	// open over one would stop a rolling upgrade.
	skip := func(seq uint64, err error) {
		l.log.Error("a decommission entry's lifecycle rows cannot be written; chains of custody will not list them", "seq", seq, "err", err)
	}
	var ofs []models.LifecycleOf
	n, keys, next := 0, 0, size
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			rows.Close()
			return 0, mark, err
		}
		n++
		if of, err := models.LifecycleRecordsOf(e.Seq, e.Command); err != nil {
			skip(e.Seq, err)
		} else {
			ofs, keys = append(ofs, of), keys+len(of.Keys)
		}
		if n == lifecyclePage || keys >= lifecyclePageKeys {
			next = e.Seq // a full page: there may be more
			break
		}
	}
	if err := rows.Close(); err != nil {
		return 0, mark, fmt.Errorf("read decommission entries: %w", err)
	}
	skipped, err := models.RecordLifecycle(tx, ofs)
	if err != nil {
		return 0, mark, err
	}
	for _, of := range ofs {
		if err := skipped[of.Change.Seq]; err != nil {
			skip(of.Change.Seq, err)
		}
	}
	if err := tx.Exec(`INSERT INTO raftstore_meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`,
		metaLifecycleIndexed, next).Error; err != nil {
		return 0, mark, fmt.Errorf("record the lifecycle mark: %w", err)
	}
	if err := tx.Commit().Error; err != nil {
		return 0, mark, fmt.Errorf("index lifecycle: %w", err)
	}
	return n, next, nil
}

// load reads the committed state (applied index, tree frontier, the
// verify index) from the database; called at open and after a snapshot
// restore.
func (l *ledger) load() error {
	if l.index != nil {
		if err := l.index.Load(l.db); err != nil {
			return err
		}
		l.m.indexPacks.WithLabelValues(l.node).Set(float64(l.index.Len()))
	}
	var applied uint64
	err := l.sqlDB.QueryRow(`SELECT value FROM raftstore_meta WHERE key = ?`, metaApplied).Scan(&applied)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("read applied index: %w", err)
	}
	var size uint64
	if err := l.sqlDB.QueryRow(`SELECT COALESCE(MAX(seq), 0) FROM ledger_entries`).Scan(&size); err != nil {
		return fmt.Errorf("read ledger size: %w", err)
	}
	rng, err := l.rangeAt(l.sqlDB, size)
	if err != nil {
		return err
	}
	root, err := rootOf(rng)
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.rng, l.root, l.applied = rng, root, applied
	close(l.appliedCh)
	l.appliedCh = make(chan struct{})
	l.mu.Unlock()
	l.m.treeSize.WithLabelValues(l.node).Set(float64(size))
	l.m.applied.WithLabelValues(l.node).Set(float64(applied))
	// Last, so that memory matches the file even when its rules are too
	// new: a snapshot restored by a binary that lacks them is then
	// refused with the node's view of the ledger the file's.
	return l.loadRules()
}

// loadRules reads the committed ledger's rules version, and refuses a
// ledger at rules newer than this node applies (models.ErrRulesTooNew): a
// database opened, or a snapshot restored, by an older binary than the
// one that adopted them. Apply would stop at the next entry anyway; this
// says so before the node serves what it cannot keep up to date.
func (l *ledger) loadRules() error {
	v, err := models.ActiveRules(l.db)
	if err != nil {
		return err
	}
	l.rulesActive.Store(int64(v))
	if supported := cmp.Or(l.rulesSupported, models.RulesVersion); v > supported {
		return fmt.Errorf("%w: %s is at rules version %d, this binary applies up to %d: upgrade it",
			models.ErrRulesTooNew, l.path, v, supported)
	}
	return nil
}

type queryer interface {
	QueryRow(query string, args ...any) *sql.Row
}

// rangeAt builds the compact range [0, size) from the stored perfect
// subtrees that cover it: at most 64 lookups, whatever the ledger size.
func (l *ledger) rangeAt(q queryer, size uint64) (*compact.Range, error) {
	ids := subtreeIDs(size)
	hashes := make([][]byte, 0, len(ids))
	for _, id := range ids {
		h, err := nodeHash(q, id)
		if err != nil {
			return nil, err
		}
		hashes = append(hashes, h)
	}
	return rangeFactory.NewRange(0, size, hashes)
}

func nodeHash(q queryer, id compact.NodeID) ([]byte, error) {
	var h []byte
	err := q.QueryRow(`SELECT hash FROM merkle_nodes WHERE level = ? AND idx = ?`, id.Level, id.Index).Scan(&h)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("merkle node level %d index %d missing: %w", id.Level, id.Index, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read merkle node: %w", err)
	}
	return h, nil
}

func rootOf(rng *compact.Range) ([]byte, error) {
	if rng.End() == 0 {
		return hasher.EmptyRoot(), nil
	}
	return rng.GetRootHash(nil)
}

// cloneRange copies a compact range so the FSM can extend it inside a
// transaction and throw it away if the transaction fails.
func cloneRange(r *compact.Range) *compact.Range {
	hs := make([][]byte, len(r.Hashes()))
	copy(hs, r.Hashes())
	c, err := rangeFactory.NewRange(r.Begin(), r.End(), hs)
	if err != nil {
		panic(fmt.Sprintf("raftstore: cloning a valid compact range failed: %v", err))
	}
	return c
}

// committed returns the committed tree size, root and applied Raft index.
func (l *ledger) committed() (size uint64, root []byte, applied uint64) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.rng.End(), l.root, l.applied
}

// waitApplied blocks until the committed Raft index reaches idx.
func (l *ledger) waitApplied(ctx context.Context, idx uint64) error {
	for {
		l.mu.RLock()
		applied, ch := l.applied, l.appliedCh
		l.mu.RUnlock()
		if applied >= idx {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("waiting for index %d (applied %d): %w", idx, applied, ErrTimeout)
		}
	}
}

// Entry is one committed ledger entry as stored: the command as committed
// and the result the rules gave it. LeafInput(entry.Seq, entry.Command,
// entry.Result) gives its Merkle leaf bytes.
type Entry struct {
	Seq       uint64         `json:"seq"`
	Command   models.Command `json:"command"`
	Result    models.Result  `json:"result"`
	RaftIndex uint64         `json:"raft_index"`
	LeafHash  []byte         `json:"leaf_hash"`
}

// entryBySeq reads one committed entry.
func (l *ledger) entryBySeq(seq uint64) (Entry, error) {
	if seq > math.MaxInt64 {
		// SQLite's integers are signed: no entry has such a seq, and
		// database/sql refuses to bind it.
		return Entry{}, ErrNotFound
	}
	row := l.sqlDB.QueryRow(`SELECT e.seq, e.command_id, e.kind, e.actor, e.time, e.payload, e.accepted, e.code, e.message, e.data, e.raft_index, m.hash
		FROM ledger_entries e JOIN merkle_nodes m ON m.level = 0 AND m.idx = e.seq - 1 WHERE e.seq = ?`, seq)
	return scanEntry(row)
}

// entryByID reads the committed entry of a command id.
func (l *ledger) entryByID(id string) (Entry, error) {
	row := l.sqlDB.QueryRow(`SELECT e.seq, e.command_id, e.kind, e.actor, e.time, e.payload, e.accepted, e.code, e.message, e.data, e.raft_index, m.hash
		FROM ledger_entries e JOIN merkle_nodes m ON m.level = 0 AND m.idx = e.seq - 1 WHERE e.command_id = ?`, id)
	return scanEntry(row)
}

// rowScanner is a *sql.Row or *sql.Rows.
type rowScanner interface {
	Scan(dest ...any) error
}

func scanEntry(row rowScanner) (Entry, error) {
	var e Entry
	var ts string
	var payload, data []byte
	var kind string
	err := row.Scan(&e.Seq, &e.Command.ID, &kind, &e.Command.Actor, &ts, &payload, &e.Result.Accepted,
		&e.Result.Code, &e.Result.Message, &data, &e.RaftIndex, &e.LeafHash)
	if errors.Is(err, sql.ErrNoRows) {
		return Entry{}, ErrNotFound
	}
	if err != nil {
		return Entry{}, fmt.Errorf("read ledger entry: %w", err)
	}
	t, err := parseTime(ts)
	if err != nil {
		return Entry{}, err
	}
	e.Command.Kind = models.CommandKind(kind)
	e.Command.Time = t
	if len(payload) > 0 {
		e.Command.Payload = json.RawMessage(payload)
	}
	if len(data) > 0 {
		e.Result.Data = json.RawMessage(data)
	}
	e.Result.Seq = e.Seq
	return e, nil
}

// NodeInfo is what the cluster records about a member, beside Raft's own
// configuration: where its HTTP API listens and the key that signs its
// tree heads.
type NodeInfo struct {
	ID        string `json:"id"`
	RaftAddr  string `json:"raft_addr"`
	HTTPAddr  string `json:"http_addr"`
	PublicKey string `json:"public_key"`
}

func (l *ledger) nodeInfos() (map[string]NodeInfo, error) {
	rows, err := l.sqlDB.Query(`SELECT id, raft_addr, http_addr, public_key FROM cluster_nodes`)
	if err != nil {
		return nil, fmt.Errorf("read cluster nodes: %w", err)
	}
	defer rows.Close()
	out := map[string]NodeInfo{}
	for rows.Next() {
		var n NodeInfo
		if err := rows.Scan(&n.ID, &n.RaftAddr, &n.HTTPAddr, &n.PublicKey); err != nil {
			return nil, err
		}
		out[n.ID] = n
	}
	return out, rows.Err()
}

// subtreeIDs lists the perfect subtrees that cover [0, size), left to right.
func subtreeIDs(size uint64) []compact.NodeID {
	ids := make([]compact.NodeID, 0, bits.OnesCount64(size))
	var begin uint64
	for level := 63; level >= 0; level-- {
		if size&(1<<uint(level)) != 0 {
			ids = append(ids, compact.NewNodeID(uint(level), begin>>uint(level)))
			begin += 1 << uint(level)
		}
	}
	return ids
}

func (l *ledger) close() error {
	l.stmtMu.Lock()
	for _, c := range l.stmts {
		c.s.Close()
	}
	l.stmts = nil
	l.stmtMu.Unlock()
	return l.sqlDB.Close()
}

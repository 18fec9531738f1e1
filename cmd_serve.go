package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pedigree-ledger/pedigree/models"
	"github.com/pedigree-ledger/pedigree/raftstore"
	"github.com/pedigree-ledger/pedigree/server"
)

// serveOptions are the flags of `pedigree serve`.
type serveOptions struct {
	nodeID, dataDir         string
	raftAddr, raftAdvertise string
	httpAddr, httpAdvertise string
	bootstrap               bool
	restore                 string
	join                    string
	nonvoter                bool
	token                   string
	tlsCert, tlsKey, tlsCA  string
	logLevel                string
	joinTimeout             time.Duration
	verifyIndexPacks        int
	snapshotThreshold       uint64
	trailingLogs            uint64
}

// runServe is `pedigree serve`: one ledger node, served until SIGINT or
// SIGTERM.
func runServe(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return serve(ctx, args, stdout, stderr)
}

// serve parses the flags and runs the node until ctx ends.
func serve(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, code := parseServeFlags(args, stdout, stderr)
	if code >= 0 {
		return code
	}
	if err := serveMain(ctx, o, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "pedigree serve: %v\n", err)
		return exitError
	}
	return exitOK
}

func parseServeFlags(args []string, stdout, stderr io.Writer) (serveOptions, int) {
	var o serveOptions
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.nodeID, "node-id", "", "this node's id in the cluster (letters, digits, '.', '_', '-'); required")
	fs.StringVar(&o.dataDir, "data", "", "data directory: Raft log, snapshots, SQLite ledger, node key; required")
	fs.StringVar(&o.raftAddr, "raft-addr", "127.0.0.1:7000", "listen address for Raft and leader forwarding")
	fs.StringVar(&o.raftAdvertise, "raft-advertise", "", "Raft address peers dial (default: --raft-addr)")
	fs.StringVar(&o.httpAddr, "http-addr", "127.0.0.1:8080", "listen address of the HTTP API")
	fs.StringVar(&o.httpAdvertise, "http-advertise", "", "URL clients reach this node's API at (default: http://<--http-addr>)")
	fs.BoolVar(&o.bootstrap, "bootstrap", false, "start a new cluster with this node as its only voter and create DIR/admin.token")
	fs.StringVar(&o.restore, "restore", "", "with --bootstrap: start the new cluster from this backup (made by pedigree backup) in an empty --data directory; "+
		"the backup's tokens are the cluster's, and no admin token is made")
	fs.StringVar(&o.join, "join", "", "URL of a member's HTTP API to join through (e.g. http://10.0.0.1:8080)")
	fs.BoolVar(&o.nonvoter, "nonvoter", false, "join as a non-voting read replica")
	fs.StringVar(&o.token, "token", "", "admin bearer token for --join (default: $PEDIGREE_TOKEN)")
	fs.StringVar(&o.tlsCert, "raft-tls-cert", "", "PEM certificate for mutual TLS between nodes; it and its key are read again when renewed")
	fs.StringVar(&o.tlsKey, "raft-tls-key", "", "PEM key for --raft-tls-cert")
	fs.StringVar(&o.tlsCA, "raft-tls-ca", "", "PEM CA that signs every node's certificate (read at start)")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.DurationVar(&o.joinTimeout, "join-timeout", 2*time.Minute, "how long to keep asking --join to add this node; a voter joins as a non-voter and is promoted once it has caught up, so allow for copying the ledger")
	fs.IntVar(&o.verifyIndexPacks, "verify-index-packs", raftstore.DefaultVerifyIndexPacks,
		"recently changed packs kept in memory for verification, about 0.5 KiB each (0: none; other packs are read from SQLite)")
	fs.Uint64Var(&o.snapshotThreshold, "snapshot-threshold", raftstore.DefaultSnapshotThreshold,
		"Raft log entries between snapshots of the ledger, after which the log is compacted; a 1,000-event capture is one entry of about 400 KiB")
	fs.Uint64Var(&o.trailingLogs, "trailing-logs", raftstore.DefaultTrailingLogs,
		"Raft log entries kept behind a snapshot: a follower lagging by fewer is sent entries, not the whole ledger")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: pedigree serve --node-id ID --data DIR [--bootstrap | --join URL] [flags]\n\n"+
			"Runs one ledger node: Raft (with leader forwarding) on --raft-addr and the HTTP API\n"+
			"on --http-addr. The first node of a cluster starts with --bootstrap and writes the\n"+
			"first admin token to DIR/admin.token; the others start with --join and that token.\n"+
			"A node restarted with its data directory needs neither. --bootstrap --restore FILE\n"+
			"starts a new cluster whose ledger is a backup, in a --data directory that holds none.\n\n")
		fs.PrintDefaults()
	}
	if code, done := parseFlags(fs, args, stdout, stderr); done {
		return o, code
	}
	if o.token == "" {
		o.token = os.Getenv("PEDIGREE_TOKEN")
	}
	var problems []string
	if fs.NArg() > 0 {
		problems = append(problems, "serve takes only flags")
	}
	if o.nodeID == "" || o.dataDir == "" {
		problems = append(problems, "--node-id and --data are required")
	}
	if o.bootstrap && o.join != "" {
		problems = append(problems, "--bootstrap and --join exclude each other")
	}
	if o.restore != "" && !o.bootstrap {
		problems = append(problems, "--restore needs --bootstrap: a restore starts a new cluster")
	}
	if o.nonvoter && o.join == "" {
		problems = append(problems, "--nonvoter needs --join")
	}
	if o.join != "" && o.token == "" {
		problems = append(problems, "--join needs --token or PEDIGREE_TOKEN")
	}
	if u, err := url.Parse(o.join); o.join != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
		problems = append(problems, "--join is the http:// or https:// URL of a member's API")
	}
	if o.joinTimeout <= 0 {
		problems = append(problems, "--join-timeout is more than 0")
	}
	if n := countSet(o.tlsCert, o.tlsKey, o.tlsCA); n != 0 && n != 3 {
		problems = append(problems, "--raft-tls-cert, --raft-tls-key and --raft-tls-ca go together")
	}
	// Addresses are checked before anything is made in --data: a bad one
	// would otherwise fail the start after node.key and raft.db exist.
	if !hostPort(o.raftAddr, false) {
		problems = append(problems, "--raft-addr is [host]:port, the address Raft listens on")
	}
	if o.raftAdvertise != "" && !hostPort(o.raftAdvertise, true) {
		problems = append(problems, "--raft-advertise is host:port, the address peers dial")
	}
	// An empty value given (an unset variable in a unit file) would run
	// the node without TLS, and with no word of it.
	fs.Visit(func(f *flag.Flag) {
		if strings.HasPrefix(f.Name, "raft-tls-") && f.Value.String() == "" {
			problems = append(problems, "--"+f.Name+" is given empty; leave the --raft-tls-* flags out to run without TLS")
		}
	})
	if _, ok := logLevels[o.logLevel]; !ok {
		problems = append(problems, "--log-level is debug, info, warn or error")
	}
	if o.verifyIndexPacks < 0 {
		problems = append(problems, "--verify-index-packs is 0 (none) or more")
	}
	if o.snapshotThreshold == 0 || o.trailingLogs == 0 {
		problems = append(problems, "--snapshot-threshold and --trailing-logs are 1 or more")
	}
	if len(problems) > 0 {
		fmt.Fprintf(stderr, "pedigree serve: %s\n", strings.Join(problems, "; "))
		return o, exitUsage
	}
	return o, -1
}

var logLevels = map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}

func countSet(ss ...string) int {
	n := 0
	for _, s := range ss {
		if s != "" {
			n++
		}
	}
	return n
}

// serveMain wires the node in order: TLS, HTTP listener, ledger node, admin
// token (bootstrap), HTTP server, join; then waits for ctx.
func serveMain(ctx context.Context, o serveOptions, stdout, stderr io.Writer) error {
	// A node's live heap is a few MiB and every request allocates; without
	// a floor under the heap goal the collector runs many times a second.
	defer server.TuneGC(server.GCHeapFloor)()
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: logLevels[o.logLevel]}))
	tlsConf, err := serveTLS(o)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.httpAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.httpAddr, err)
	}
	defer ln.Close()
	httpURL := o.httpAdvertise
	if httpURL == "" {
		if a, ok := ln.Addr().(*net.TCPAddr); ok && a.IP.IsUnspecified() {
			return fmt.Errorf("the HTTP API listens on %s; give --http-advertise, the URL other nodes and clients reach it at", ln.Addr())
		}
		httpURL = "http://" + ln.Addr().String()
	}
	cfg := raftstore.Config{
		NodeID: o.nodeID, Dir: o.dataDir, RaftAddr: o.raftAddr, AdvertiseAddr: o.raftAdvertise,
		HTTPAddr: httpURL, Bootstrap: o.bootstrap, TLS: tlsConf, Logger: log,
		VerifyIndexPacks:  verifyIndexPacks(o.verifyIndexPacks),
		SnapshotThreshold: o.snapshotThreshold, TrailingLogs: o.trailingLogs,
	}
	// The listener answers from the start (server.Starting), not once the
	// ledger is open: connections would otherwise wait unanswered.
	var handler swapHandler
	handler.set(server.Starting())
	srv := newHTTPServer(&handler, defaultHTTPTimeouts)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	var store *raftstore.Store
	defer func() {
		// The HTTP server stops first: no request reaches a closed store.
		shCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shCtx)
		if store != nil {
			store.Close()
		}
	}()
	if o.restore != "" {
		store, err = restoreNode(cfg, o.restore, stderr)
	} else if store, err = openStore(cfg); err != nil {
		err = fmt.Errorf("open ledger node: %w", err)
	}
	if err != nil {
		return err
	}
	api, err := serveHandler(store, log)
	if err != nil {
		return err
	}
	handler.set(api)

	if o.bootstrap && o.restore == "" {
		if err := bootstrapAdmin(ctx, store, o.dataDir, stderr); err != nil {
			return err
		}
	}
	if o.join != "" && bootstrappedAlone(store, o.dataDir) {
		return fmt.Errorf("%s holds a ledger of its own (it was started with --bootstrap, or restored from a backup), so it cannot join another cluster; join with an empty --data directory", o.dataDir)
	}
	if o.join != "" && (!isMember(store, !o.nonvoter) || removedBy(ctx, o, store.ID())) {
		if err := joinCluster(ctx, o, store, httpURL); err != nil {
			if ctx.Err() != nil {
				return nil // stopped (a signal) while joining: a clean stop
			}
			return err
		}
	}
	fmt.Fprintf(stdout, "pedigree: node %s serving HTTP on %s, Raft on %s\n", o.nodeID, httpURL, store.RaftAddr())

	select {
	case <-ctx.Done():
		// Hand leadership over before stopping, so writes pause for one
		// transfer instead of an election timeout. A lone node has nobody
		// to hand over to, which is fine.
		if store.IsLeader() {
			if err := store.TransferLeadership(); err != nil {
				log.Debug("no leadership transfer on shutdown", "error", err)
			}
		}
		return nil
	case err := <-served:
		return fmt.Errorf("http server: %w", err)
	}
}

// openStore opens the ledger node; a variable so a test can hold a start.
var openStore = raftstore.Open

// swapHandler serves with one handler until the next is set.
type swapHandler struct{ h atomic.Pointer[http.Handler] }

func (s *swapHandler) set(h http.Handler) { s.h.Store(&h) }

func (s *swapHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	(*s.h.Load()).ServeHTTP(w, r)
}

func serveTLS(o serveOptions) (*tls.Config, error) {
	if o.tlsCert == "" {
		return nil, nil
	}
	return raftstore.MutualTLS(o.tlsCert, o.tlsKey, o.tlsCA)
}

// serveHandler builds a node's HTTP handler: the router with the lifecycle
// API and the dashboard.
func serveHandler(store *raftstore.Store, log *slog.Logger) (http.Handler, error) {
	gin.SetMode(gin.ReleaseMode)
	dash, err := server.NewDashboard(store)
	if err != nil {
		return nil, err
	}
	return server.Create(store, log, server.NewLifecycleAPI(store), dash), nil
}

// restoreNode starts a new cluster from the backup at path
// (raftstore.OpenRestored), before the node serves its API (until then
// it answers server.Starting). The
// backed-up cluster's organisations and tokens come with it, so no admin
// token is made: the old admin token works. A directory that holds an
// admin token was a node's, and is refused as one holding a ledger is.
func restoreNode(cfg raftstore.Config, path string, stderr io.Writer) (*raftstore.Store, error) {
	for _, name := range []string{"admin.token", "admin.token.pending"} {
		if _, err := os.Lstat(filepath.Join(cfg.Dir, name)); err == nil {
			return nil, fmt.Errorf("restore %s: %s holds %s: it was a node's data directory; restore into an empty one", path, cfg.Dir, name)
		}
	}
	store, info, err := raftstore.OpenRestored(cfg, path)
	if err != nil {
		return nil, fmt.Errorf("restore %s: %w", path, err)
	}
	fmt.Fprintf(stderr, "pedigree: restored %s into %s: tree size %d, root %s (Raft index %d); the backup's tokens are this cluster's. "+
		"Restart this node without --restore.\n", path, cfg.Dir, info.Size, hex.EncodeToString(info.Root), info.Applied)
	return store, nil
}

// bootstrapAdmin makes sure the cluster has the first admin and its token,
// and that a new ledger is at this binary's rules version.
// The token is made once and kept in DIR/admin.token.pending (mode 0600)
// until the ledger has committed it, then renamed to DIR/admin.token, so
// the file an operator reads always holds a token that works. The
// commands have fixed ids: running this again (a restart with --bootstrap,
// or after a crash between the steps) changes nothing.
func bootstrapAdmin(ctx context.Context, store *raftstore.Store, dir string, stderr io.Writer) error {
	path := filepath.Join(dir, "admin.token")
	pending := path + ".pending"
	// A restart: this node's own ledger holds the first admin's token
	// already, and nothing needs proposing, nor a quorum to propose it.
	if e, err := store.EntryByID(bootstrapTokenID); err == nil {
		return settleBootstrapToken(e, path, pending, stderr)
	} else if !errors.Is(err, raftstore.ErrNotFound) {
		return fmt.Errorf("look up the bootstrap admin: %w", err)
	}
	token, err := readToken(path)
	final := err == nil
	if errors.Is(err, os.ErrNotExist) {
		token, err = readToken(pending)
		if errors.Is(err, os.ErrNotExist) {
			if token, err = server.NewToken(); err != nil {
				return err
			}
			if err := writeFileAtomic(pending, []byte(token+"\n"), 0o600); err != nil {
				return fmt.Errorf("write admin token: %w", err)
			}
		}
	}
	if err != nil {
		return err
	}
	reg, err := models.NewCommand("bootstrap-admin", models.KindRegisterOrganisation, "", time.Time{},
		models.RegisterOrganisationPayload{ID: "admin", Name: "Cluster administrator", Role: models.RoleAdmin})
	if err != nil {
		return err
	}
	iss, err := models.NewCommand(bootstrapTokenID, models.KindIssueToken, "", time.Time{},
		models.IssueTokenPayload{TokenSHA256: server.TokenSHA256(token), OrgID: "admin", Label: "bootstrap admin"})
	if err != nil {
		return err
	}
	cmds := []models.Command{reg, iss}
	// A new ledger is judged by this binary's rules from its start; a
	// ledger without an adoption is at version 1 (models.RulesVersion).
	if models.RulesVersion > 1 {
		adopt, err := models.NewCommand("bootstrap-rules", models.KindAdoptRules, "", time.Time{},
			models.AdoptRulesPayload{Version: models.RulesVersion})
		if err != nil {
			return err
		}
		cmds = append(cmds, adopt)
	}
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res, err := store.Propose(pctx, cmds...)
	if err != nil {
		return fmt.Errorf("register the bootstrap admin: %w", err)
	}
	for _, r := range res {
		if !r.Accepted {
			return fmt.Errorf("register the bootstrap admin: %s: %s", r.Code, r.Message)
		}
	}
	if !final {
		if err := os.Rename(pending, path); err != nil {
			return fmt.Errorf("publish admin token: %w", err)
		}
		fmt.Fprintf(stderr, "pedigree: the first admin token is in %s (mode 0600); it is not shown anywhere else\n", path)
	}
	return nil
}

// bootstrapTokenID is the command id of the first admin token's issue.
const bootstrapTokenID = "bootstrap-admin-token"

// settleBootstrapToken finishes a bootstrap the ledger already holds: the
// token file is published if the node stopped between committing the
// token and renaming its file, and otherwise left as it is. A token file
// that is missing (moved to a secret store, or this node joined the
// cluster and never had it) is said in one line, and the node serves.
func settleBootstrapToken(e raftstore.Entry, path, pending string, stderr io.Writer) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	var p models.IssueTokenPayload
	if err := json.Unmarshal(e.Command.Payload, &p); err != nil {
		return fmt.Errorf("read the bootstrap admin token's entry: %w", err)
	}
	if tok, err := readToken(pending); err == nil && server.TokenSHA256(tok) == p.TokenSHA256 {
		if err := os.Rename(pending, path); err != nil {
			return fmt.Errorf("publish admin token: %w", err)
		}
		fmt.Fprintf(stderr, "pedigree: the first admin token is in %s (mode 0600); it is not shown anywhere else\n", path)
		return nil
	}
	fmt.Fprintf(stderr, "pedigree: this cluster's first admin token was issued before and %s is not here; none is written\n", path)
	return nil
}

func readToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return tok, nil
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// bootstrappedAlone reports whether the data directory holds a cluster
// this node founded (bootstrapped, or restored from a backup) and of which
// it is still the only member: a node started once with --bootstrap or
// --restore, and then with --join, would otherwise take itself for a
// member and serve a ledger of its own. A directory bootstrapped before
// cluster ids records no founding; its admin token file says as much.
func bootstrappedAlone(store *raftstore.Store, dir string) bool {
	_, errFinal := os.Stat(filepath.Join(dir, "admin.token"))
	_, errPending := os.Stat(filepath.Join(dir, "admin.token.pending"))
	if !store.Founded() && errFinal != nil && errPending != nil {
		return false
	}
	nodes, err := store.Nodes()
	return err == nil && len(nodes) == 1 && nodes[0].ID == store.ID()
}

// isMember reports whether the node's stored Raft configuration already
// lists it as it asks to be (voter or not): a restarted member needs no
// join, and must not depend on the --join peer being up. A voter is
// added as a non-voter until it has caught up (raftstore's Join), so one
// whose join ended before its promotion asks again when restarted.
func isMember(store *raftstore.Store, voter bool) bool {
	nodes, err := store.Nodes()
	if err != nil {
		return false
	}
	for _, n := range nodes {
		if n.ID == store.ID() {
			return n.Voter == voter
		}
	}
	return false
}

// hostPort reports whether addr is host:port with a port number (1 to
// 65535, or 0 for a listener to choose), and a host if needHost.
func hostPort(addr string, needHost bool) bool {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || needHost && host == "" {
		return false
	}
	n, err := strconv.Atoi(port)
	return err == nil && n >= 0 && n <= 65535 && (n > 0 || !needHost)
}

// removedBy reports whether the member at --join, knowing a leader, lists
// this node otherwise than it is to be (as a voter, or a read replica),
// or not at all. A node removed while it was stopped never saw its
// removal: its own configuration still lists it, and it would wait for
// votes nobody gives it. An answer that cannot be had (the member down)
// leaves the node's own configuration to stand, as before.
func removedBy(ctx context.Context, o serveOptions, id string) bool {
	ctx, cancel := context.WithTimeout(ctx, removedByWait)
	defer cancel()
	var view struct {
		Leader string       `json:"leader"`
		Nodes  []listedNode `json:"nodes"`
	}
	client := &http.Client{Timeout: removedByWait}
	if err := callMember(ctx, client, http.MethodGet, strings.TrimSuffix(o.join, "/")+"/api/v1/cluster", o.token, nil, &view); err != nil || view.Leader == "" {
		return false
	}
	for _, n := range view.Nodes {
		if n.ID == id {
			return n.Voter == o.nonvoter
		}
	}
	return true
}

// listedNode is a member as GET /api/v1/cluster lists it.
type listedNode struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	Voter    bool   `json:"voter"`
}

// removedByWait bounds asking the --join member whether this node is
// still listed.
const removedByWait = 5 * time.Second

// joinCluster asks a member (any: it forwards to the leader) to add this
// node, retrying while the member is unreachable or has no leader. Each
// attempt first asks the member for its cluster's id and tells the store
// (PrepareJoin), which then admits that cluster's connections alone: an
// old member of another cluster that still dials this address cannot make
// the node its own while it waits for the leader.
func joinCluster(ctx context.Context, o serveOptions, store joiner, httpURL string) error {
	me := store.Info()
	body, err := json.Marshal(map[string]any{
		"id": me.ID, "raft_addr": me.RaftAddr, "http_addr": httpURL, "public_key": me.PublicKey, "voter": !o.nonvoter,
	})
	if err != nil {
		return err
	}
	base := strings.TrimSuffix(o.join, "/")
	ctx, cancel := context.WithTimeout(ctx, o.joinTimeout)
	defer cancel()
	client := &http.Client{Timeout: 30 * time.Second}
	wait := 100 * time.Millisecond
	var last error // the last answer not cut short by the join timeout
	for {
		err := joinOnce(ctx, client, base, o.token, body, store)
		if err == nil {
			return nil
		}
		var perm *permanentError
		if errors.As(err, &perm) {
			return err
		}
		if ctx.Err() == nil || last == nil {
			last = err
		}
		select {
		case <-ctx.Done():
			// The cluster's reason (a node it cannot reach, one still
			// catching up) says more than the deadline that cut the
			// request in flight.
			return fmt.Errorf("join through %s: not done within %v (last: %v)", o.join, o.joinTimeout, last)
		case <-time.After(wait):
		}
		wait = min(wait*2, 3*time.Second)
	}
}

// joiner is what joinCluster needs of the node that joins;
// *raftstore.Store implements it.
type joiner interface {
	Info() raftstore.NodeInfo
	PrepareJoin(clusterID string) error
	HoldsRaftState() bool
}

// permanentError is a join refusal that retrying cannot fix (bad token,
// bad request).
type permanentError struct{ msg string }

func (e *permanentError) Error() string { return e.msg }

// joinOnce is one attempt: learn the member's cluster id, prepare the
// store for it, ask to join, and check the answer names the same cluster.
func joinOnce(ctx context.Context, client *http.Client, base, token string, body []byte, store joiner) error {
	var view struct {
		Leader string `json:"leader"`
		Self   struct {
			ClusterID string `json:"cluster_id"`
		} `json:"self"`
		Nodes []listedNode `json:"nodes"`
	}
	if err := callMember(ctx, client, http.MethodGet, base+"/api/v1/cluster", token, nil, &view); err != nil {
		return err
	}
	if view.Leader == "" {
		// Its cluster id is not to be trusted yet: a node that belongs
		// to no cluster reports none either.
		return fmt.Errorf("%s knows no leader yet", base)
	}
	// A node without Raft state that the cluster counts as a voter at its
	// own address lost its raft.db, and with it the votes it cast,
	// whatever its node key (kept, or put back): Raft takes its join as a
	// no-op, and counts it in the quorum, empty, once it admits the
	// cluster's connections. A node becomes a voter only once it has
	// caught up, so a new node's join asked again after it succeeded finds
	// state here. Checked before the node admits anyone (PrepareJoin).
	// Listed at another address, the leader judges the join (a member
	// that answers there keeps its place; a dead one is replaced, the
	// node added as a non-voter until it has caught up).
	if me := store.Info(); !store.HoldsRaftState() && slices.Contains(view.Nodes, listedNode{ID: me.ID, RaftAddr: me.RaftAddr, Voter: true}) {
		return &permanentError{fmt.Sprintf("the cluster counts %s at %s as a voter, but this node holds no Raft state: it lost its raft.db, and with it the votes it cast. "+
			"Remove it first (DELETE /api/v1/cluster/nodes/%s), then start it again", me.ID, me.RaftAddr, me.ID)}
	}
	if err := store.PrepareJoin(view.Self.ClusterID); err != nil {
		return &permanentError{err.Error()}
	}
	var answer struct {
		ClusterID *string `json:"cluster_id"` // absent from a binary older than cluster ids
	}
	if err := callMember(ctx, client, http.MethodPost, base+"/api/v1/cluster/join", token, body, &answer); err != nil {
		return err
	}
	if answer.ClusterID != nil && *answer.ClusterID != view.Self.ClusterID {
		return &permanentError{fmt.Sprintf("%s said its cluster is %q, then added this node to %q", base, view.Self.ClusterID, *answer.ClusterID)}
	}
	return nil
}

// callMember sends a request to a member's API and decodes its 200 answer
// into out; a 5xx answer or a transport error may be retried, anything
// else is a permanentError.
func callMember(ctx context.Context, client *http.Client, method, url, token string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return &permanentError{err.Error()}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	switch {
	case resp.StatusCode == http.StatusOK:
		if err := json.Unmarshal(data, out); err != nil {
			return &permanentError{fmt.Sprintf("%s %s: not the answer of a Pedigree node: %v", method, url, err)}
		}
		return nil
	case resp.StatusCode >= 500:
		return fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(data))
	}
	what := "join refused"
	if method == http.MethodGet {
		what = "the member would not say which cluster it is of"
	}
	return &permanentError{fmt.Sprintf("%s: %s: %s", what, resp.Status, bytes.TrimSpace(data))}
}

// verifyIndexPacks maps --verify-index-packs, where 0 means no index, to
// raftstore's setting, where 0 means the default and a negative value none.
func verifyIndexPacks(flag int) int {
	if flag == 0 {
		return -1
	}
	return flag
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/pedigree-ledger/pedigree/fixtures/demo"
	"github.com/pedigree-ledger/pedigree/models/gs1"
	"github.com/pedigree-ledger/pedigree/raftstore"
	"github.com/pedigree-ledger/pedigree/server"
)

// runDemo is `pedigree demo`: a one-node ledger seeded with the fixture
// network through the HTTP API, served until interrupted.
func runDemo(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	httpAddr := fs.String("http-addr", "127.0.0.1:8080", "address of the HTTP API and dashboard")
	dataDir := fs.String("data", "", "data directory (default: a temporary one, removed on exit)")
	packs := fs.Int("packs", 400, "about how many packs to commission (whole cases of 20)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: pedigree demo [flags]\n\nStarts a one-node ledger, seeds the demo network (manufacturer, wholesaler,\ntwo pharmacies, regulator; signed packs, shipments, dispenses, a recall and a\nfalsified scan) and serves the API and dashboard until Ctrl-C.\n\n")
		fs.PrintDefaults()
	}
	if code, done := parseFlags(fs, args, stdout, stderr); done {
		return code
	}
	if fs.NArg() > 0 || *packs < 1 || *packs > 100000 {
		fmt.Fprintln(stderr, "pedigree demo: takes only flags; --packs is 1 to 100000")
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := demoMain(ctx, *httpAddr, *dataDir, *packs, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "pedigree demo: %v\n", err)
		return exitError
	}
	return exitOK
}

// demoMain wires the demo in order: data directory, ledger node, admin
// credential, HTTP server, seed, banner, then waits for ctx.
func demoMain(ctx context.Context, httpAddr, dataDir string, packs int, stdout, stderr io.Writer) error {
	// A node's live heap is a few MiB and every request allocates; without
	// a floor under the heap goal the collector runs many times a second.
	defer server.TuneGC(server.GCHeapFloor)()
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if dataDir == "" {
		dir, err := os.MkdirTemp("", "pedigree-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		dataDir = dir
	}
	ln, err := net.Listen("tcp", httpAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", httpAddr, err)
	}
	defer ln.Close()
	// The listener answers from the start, as serve's does: a --data of a
	// large ledger takes a while to open.
	var handler swapHandler
	handler.set(server.Starting())
	srv := newHTTPServer(&handler, defaultHTTPTimeouts)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	defer srv.Close() // an early return; a clean stop shuts it down below
	store, err := openDemoStore(ctx, dataDir, ln.Addr().String(), log)
	if err != nil {
		return err
	}
	defer func() {
		srv.Close() // no request reaches a closed store
		store.Close()
	}()
	adminToken, fresh, err := demoAdmin(ctx, store, dataDir)
	if err != nil {
		return err
	}
	api, err := serveHandler(store, log)
	if err != nil {
		return err
	}
	handler.set(api)

	base := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "Pedigree demo: ledger data in %s\n", dataDir)
	var seeded *demo.Seeded
	var network *demo.Network
	if fresh {
		fmt.Fprintf(stdout, "Seeding the demo network (%d packs) through the API...\n", packs)
		network, err = demo.New(uint64(time.Now().UnixNano()), packs, time.Now().Add(-72*time.Hour))
		if err != nil {
			return err
		}
		seeded, err = network.Seed(ctx, &demo.Client{Base: base, Token: adminToken})
		if err != nil {
			srv.Close()
			return fmt.Errorf("seed: %w", err)
		}
	}
	printDemoBanner(stdout, base, adminToken, network, seeded, store)

	select {
	case <-ctx.Done():
	case err := <-served:
		return fmt.Errorf("http server: %w", err)
	}
	fmt.Fprintln(stdout, "\nShutting down...")
	shCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shCtx); err != nil {
		return fmt.Errorf("http shutdown: %w", err)
	}
	return nil
}

// openDemoStore opens a bootstrapped one-node ledger and waits until it
// leads.
func openDemoStore(ctx context.Context, dir, httpAddr string, log *slog.Logger) (*raftstore.Store, error) {
	store, err := openStore(raftstore.Config{NodeID: "demo", Dir: dir, RaftAddr: "127.0.0.1:0",
		HTTPAddr: httpAddr, Bootstrap: true, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("open ledger: %w", err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for !store.IsLeader() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			store.Close()
			return nil, errors.New("the ledger node did not become leader")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return store, nil
}

// demoAdmin bootstraps the admin on a fresh ledger, as serve --bootstrap
// does, and returns its token from DIR/admin.token. fresh says whether the
// ledger was empty.
func demoAdmin(ctx context.Context, store *raftstore.Store, dir string) (token string, fresh bool, err error) {
	fresh = store.Head().Size == 0
	if fresh {
		if err := bootstrapAdmin(ctx, store, dir, io.Discard); err != nil {
			return "", false, err
		}
	}
	token, err = readToken(filepath.Join(dir, "admin.token"))
	if err != nil {
		return "", false, fmt.Errorf("the ledger in %s has no readable admin.token: %w", dir, err)
	}
	return token, fresh, nil
}

// printDemoBanner tells the user where to look and how to sign in.
func printDemoBanner(w io.Writer, base, admin string, n *demo.Network, s *demo.Seeded, store *raftstore.Store) {
	fmt.Fprintf(w, "\nDashboard:  %s/\nAPI:        %s/api/v1/  (Authorization: Bearer <token>)\n", base, base)
	fmt.Fprintf(w, "Ledger:     %d entries\n\nTokens (shown once; sign in to the dashboard with one):\n", store.Head().Size)
	fmt.Fprintf(w, "  %-34s %s\n", "admin", admin)
	if n != nil && s != nil {
		for _, o := range n.Orgs() {
			fmt.Fprintf(w, "  %-34s %s\n", fmt.Sprintf("%s (%s)", o.Name, o.Role), s.Tokens[o.GLN])
		}
		p := n.Packs[n.Cases[0].Packs[2]]
		fmt.Fprintf(w, "\nTry:\n  a pack in stock at %s:  %s\n", n.Pharmacy1.Name, p.HRI)
		fmt.Fprintf(w, "  its Digital Link:       %s/01/%s/21/%s\n", base, p.GTIN, p.Serial)
		// As HRI, like the pack above: the raw scan's GS separators would
		// print as escapes the API (rightly) reads as data.
		falsified := s.FalsifiedScan
		if es, err := gs1.ParseScan(falsified); err == nil {
			falsified = es.HRI()
		}
		fmt.Fprintf(w, "  the falsified scan:     %s\n", falsified)
	}
	fmt.Fprintln(w, "\nPress Ctrl-C to stop.")
}

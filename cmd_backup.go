package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pedigree-ledger/pedigree/raftstore"
	"github.com/pedigree-ledger/pedigree/server"
)

// backupOptions are the flags of `pedigree backup`.
type backupOptions struct {
	from, token, out string
	consistency      raftstore.Consistency
}

// backupStall is how long the node may send nothing before the backup is
// given up; the node allows a client as long (server.backupStall).
const backupStall = 2 * time.Minute

// backupHeaderWait bounds the wait for the node's answer to start: it
// first catches up with the leader and copies its database (seconds for
// a ledger of hundreds of thousands of events).
const backupHeaderWait = 10 * time.Minute

// runBackup is `pedigree backup`: a consistent copy of a node's database,
// checked and written to a new file.
func runBackup(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return backup(ctx, args, stdout, stderr)
}

// backup parses the flags and takes the backup; on any failure it says why
// in one line on stderr and leaves no file.
func backup(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, code := parseBackupFlags(args, stdout, stderr)
	if code >= 0 {
		return code
	}
	h, err := backupMain(ctx, o)
	if err != nil {
		fmt.Fprintf(stderr, "pedigree backup: %s\n", oneLine(err.Error()))
		return exitError
	}
	fmt.Fprintf(stdout, "pedigree backup: %s holds a ledger of tree size %d, root %s (Raft index %d, %d bytes)\n",
		o.out, h.info.Size, hex.EncodeToString(h.info.Root), h.info.Applied, h.bytes)
	return exitOK
}

func parseBackupFlags(args []string, stdout, stderr io.Writer) (backupOptions, int) {
	var o backupOptions
	var consistency string
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.from, "from", "", "URL of a node's HTTP API (any node of the cluster); required")
	fs.StringVar(&o.token, "token", "", "admin bearer token (default: $PEDIGREE_TOKEN)")
	fs.StringVar(&o.out, "out", "", "file to write the backup to; it must not exist; required")
	fs.StringVar(&consistency, "consistency", string(raftstore.Linearizable),
		"local (what the node holds), leader, or linearizable (every write the cluster acknowledged before the backup began)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "Usage: pedigree backup --from URL --out FILE [--token T] [--consistency linearizable]\n\n"+
			"Takes a consistent copy of a node's ledger (entries, Merkle tree and projection, one\n"+
			"SQLite file) through GET /api/v1/cluster/backup with an admin token, checks it (its\n"+
			"SHA-256, and that its entries hash to the tree head the node gave) and writes it to\n"+
			"FILE, which appears only once checked and is never replaced. Prints the tree size and\n"+
			"root it holds: compare them with GET /api/v1/ledger/head, and keep them with the file.\n"+
			"Restore with pedigree serve --bootstrap --restore FILE. The file holds every\n"+
			"organisation's trade and the hashes of their tokens: keep it as the admin token.\n\nFlags:\n")
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
		problems = append(problems, "backup takes only flags")
	}
	if o.from == "" || o.out == "" {
		problems = append(problems, "--from and --out are required")
	}
	if u, err := url.Parse(o.from); o.from != "" && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
		problems = append(problems, "--from is the http:// or https:// URL of a node's API")
	}
	if o.token == "" {
		problems = append(problems, "--token or PEDIGREE_TOKEN is required")
	}
	c, err := raftstore.ParseConsistency(consistency)
	if err != nil {
		problems = append(problems, "--consistency is local, leader or linearizable")
	}
	o.consistency = c
	if len(problems) > 0 {
		fmt.Fprintf(stderr, "pedigree backup: %s\n", strings.Join(problems, "; "))
		return o, exitUsage
	}
	return o, -1
}

// backupHead is what the node said of the copy it sent, and its length.
type backupHead struct {
	info  raftstore.BackupInfo
	bytes int64
}

// backupMain fetches the backup into a temporary file beside --out,
// checks it, and only then links it as --out.
func backupMain(ctx context.Context, o backupOptions) (backupHead, error) {
	if _, err := os.Lstat(o.out); err == nil {
		return backupHead{}, fmt.Errorf("%s exists; a backup never replaces a file", o.out)
	} else if !errors.Is(err, os.ErrNotExist) {
		return backupHead{}, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(o.out), "."+filepath.Base(o.out)+".partial-*")
	if err != nil {
		return backupHead{}, fmt.Errorf("create a file beside %s: %w", o.out, err)
	}
	kept := false
	defer func() {
		tmp.Close()
		if !kept {
			os.Remove(tmp.Name())
		}
	}()
	h, err := fetchBackup(ctx, o, tmp)
	if err != nil {
		return backupHead{}, err
	}
	if err := tmp.Sync(); err != nil {
		return backupHead{}, fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return backupHead{}, fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	info, err := raftstore.VerifyBackup(tmp.Name())
	if err != nil {
		return backupHead{}, fmt.Errorf("the backup does not check out: %w", err)
	}
	if info.Size != h.info.Size || !bytes.Equal(info.Root, h.info.Root) || info.Applied != h.info.Applied {
		return backupHead{}, fmt.Errorf("the node said the backup holds tree size %d, root %x, Raft index %d; the file holds %d, %x, %d",
			h.info.Size, h.info.Root, h.info.Applied, info.Size, info.Root, info.Applied)
	}
	if err := publish(tmp.Name(), o.out, raftstore.SyncDir); err != nil {
		return backupHead{}, err
	}
	kept = true
	return h, nil
}

// fetchBackup asks the node for a backup and writes it to w, checking
// its length and SHA-256 against the node's header and trailer.
func fetchBackup(ctx context.Context, o backupOptions, w io.Writer) (backupHead, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	u := strings.TrimSuffix(o.from, "/") + "/api/v1/cluster/backup?consistency=" + url.QueryEscape(string(o.consistency))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return backupHead{}, err
	}
	req.Header.Set("Authorization", "Bearer "+o.token)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ResponseHeaderTimeout = backupHeaderWait
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return backupHead{}, fmt.Errorf("ask %s for a backup: %w", o.from, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return backupHead{}, refusal(resp)
	}
	h, err := parseBackupHeaders(resp.Header)
	if err != nil {
		return backupHead{}, fmt.Errorf("%s did not answer with a backup (%w); is it a Pedigree node?", o.from, err)
	}
	// A node that stops sending (a dead link, a frozen machine) is given
	// up on after backupStall without a byte.
	stall := time.AfterFunc(backupStall, func() { cancel(fmt.Errorf("%s sent nothing for %v", o.from, backupStall)) })
	defer stall.Stop()
	sum := sha256.New()
	n, err := io.Copy(io.MultiWriter(w, sum), &progressReader{r: resp.Body, progress: func() { stall.Reset(backupStall) }})
	if err != nil {
		if cause := context.Cause(ctx); cause != nil {
			err = cause // a stall or a signal says more than the read it cut
		}
		return backupHead{}, fmt.Errorf("receive the backup from %s: after %d of %d bytes: %w", o.from, n, h.bytes, err)
	}
	if n != h.bytes {
		return backupHead{}, fmt.Errorf("the backup from %s ended after %d of %d bytes", o.from, n, h.bytes)
	}
	want := resp.Trailer.Get(server.BackupSHA256Trailer)
	if got := hex.EncodeToString(sum.Sum(nil)); want != got {
		return backupHead{}, fmt.Errorf("the backup's SHA-256 is %s, the node's %s %q", got, server.BackupSHA256Trailer, want)
	}
	return h, nil
}

// progressReader calls progress after every read that returned data.
type progressReader struct {
	r        io.Reader
	progress func()
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.progress()
	}
	return n, err
}

func parseBackupHeaders(hdr http.Header) (backupHead, error) {
	var h backupHead
	var err error
	get := func(name string) string {
		v := hdr.Get(name)
		if v == "" && err == nil {
			err = fmt.Errorf("no %s header", name)
		}
		return v
	}
	size, index, length, root := get(server.BackupTreeSizeHeader), get(server.BackupRaftIndexHeader), get(server.BackupBytesHeader), get(server.BackupTreeRootHeader)
	if err != nil {
		return h, err
	}
	if h.info.Size, err = strconv.ParseUint(size, 10, 64); err != nil {
		return h, fmt.Errorf("bad %s %q", server.BackupTreeSizeHeader, size)
	}
	if h.info.Applied, err = strconv.ParseUint(index, 10, 64); err != nil {
		return h, fmt.Errorf("bad %s %q", server.BackupRaftIndexHeader, index)
	}
	if h.bytes, err = strconv.ParseInt(length, 10, 64); err != nil || h.bytes < 0 {
		return h, fmt.Errorf("bad %s %q", server.BackupBytesHeader, length)
	}
	if h.info.Root, err = hex.DecodeString(root); err != nil || len(h.info.Root) != sha256.Size {
		return h, fmt.Errorf("bad %s %q", server.BackupTreeRootHeader, root)
	}
	return h, nil
}

// refusal words a node's error answer: its code and message when it is
// the API's JSON error, else the start of what it sent.
func refusal(resp *http.Response) error {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(data, &body) == nil && body.Error.Code != "" {
		return fmt.Errorf("the node refused: %s: %s: %s", resp.Status, body.Error.Code, body.Error.Message)
	}
	text := string(bytes.TrimSpace(data))
	if len(text) > 200 {
		text = text[:200] + "..."
	}
	return fmt.Errorf("the node refused: %s: %q", resp.Status, text)
}

// publish gives the checked file its name, and makes the name durable
// with sync (raftstore.SyncDir; tests make it fail). A hard link fails if the name
// was taken meanwhile, where a rename would replace it; a file system
// without hard links gets a rename after one more look. If the name cannot
// be made durable (a directory that can be written but not read cannot be
// synced) the file is removed again: the command promises that a failure
// leaves no file, and an operator who sees exit 1 must not find one that
// looks like a backup.
func publish(tmp, out string, sync func(dir string) error) error {
	err := os.Link(tmp, out)
	switch {
	case err == nil:
		os.Remove(tmp)
	case errors.Is(err, os.ErrExist):
		return fmt.Errorf("%s appeared while the backup was taken; it is not replaced", out)
	default:
		if _, serr := os.Lstat(out); !errors.Is(serr, os.ErrNotExist) {
			return fmt.Errorf("%s appeared while the backup was taken; it is not replaced", out)
		}
		if err := os.Rename(tmp, out); err != nil {
			return fmt.Errorf("name the backup %s: %w", out, err)
		}
	}
	if err := sync(filepath.Dir(out)); err != nil {
		if rerr := os.Remove(out); rerr != nil {
			return fmt.Errorf("sync %s: %w; and %s, which may not last, could not be removed: %v", filepath.Dir(out), err, out, rerr)
		}
		return fmt.Errorf("sync %s: %w; %s was not kept", filepath.Dir(out), err, out)
	}
	return nil
}

// oneLine keeps an error to the one line the command promises.
func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' }), " ")
}

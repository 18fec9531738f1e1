package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/pedigree-ledger/pedigree/fixtures/demo"
	"github.com/pedigree-ledger/pedigree/models"
	"github.com/pedigree-ledger/pedigree/raftstore"
)

// fakeLedger accepts every proposal and reads an in-memory projection that
// holds one token; it lets the fuzzer drive the handlers without Raft.
type fakeLedger struct {
	db  *gorm.DB
	seq atomic.Uint64
}

var fakeDBs atomic.Int64

func mustFakeLedger(t testing.TB, org string, role models.Role) (*fakeLedger, string) {
	t.Helper()
	dsn := fmt.Sprintf("file:server_fake_%d?mode=memory&cache=shared", fakeDBs.Add(1))
	db, err := gorm.Open(sqlite.Open(dsn), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		t.Fatal(err)
	}
	sqlDB, _ := db.DB()
	sqlDB.SetMaxOpenConns(1)
	t.Cleanup(func() { sqlDB.Close() })
	if err := models.Migrate(db); err != nil {
		t.Fatal(err)
	}
	tok, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Create(&models.Token{Hash: tokenHash(tok), OrgID: org, Role: role}).Error; err != nil {
		t.Fatal(err)
	}
	return &fakeLedger{db: db}, tok
}

func (f *fakeLedger) Propose(_ context.Context, cmds ...models.Command) ([]models.Result, error) {
	out := make([]models.Result, len(cmds))
	for i := range cmds {
		out[i] = models.Result{Seq: f.seq.Add(1), Accepted: true}
	}
	return out, nil
}
func (f *fakeLedger) Read(ctx context.Context, _ raftstore.Consistency) (*gorm.DB, error) {
	return f.db.WithContext(ctx), nil
}
func (f *fakeLedger) InclusionProof(seq, size uint64) (raftstore.InclusionProof, error) {
	return raftstore.InclusionProof{}, raftstore.ErrNotFound
}
func (f *fakeLedger) ConsistencyProof(uint64, uint64) (raftstore.ConsistencyProof, error) {
	return raftstore.ConsistencyProof{}, raftstore.ErrNotFound
}
func (f *fakeLedger) Entry(uint64) (raftstore.Entry, error) {
	return raftstore.Entry{}, raftstore.ErrNotFound
}
func (f *fakeLedger) EntryByID(string) (raftstore.Entry, error) {
	return raftstore.Entry{}, raftstore.ErrNotFound
}
func (f *fakeLedger) Head() raftstore.Head             { return raftstore.Head{} }
func (f *fakeLedger) ActiveRules() int                 { return models.RulesVersion }
func (f *fakeLedger) Ready() error                     { return nil }
func (f *fakeLedger) Nodes() ([]raftstore.Node, error) { return nil, nil }

// FuzzCaptureHandler posts arbitrary bodies to POST /epcis/capture: the
// answer must be 202 or a 4xx JSON error, never a 5xx or a panic.
func FuzzCaptureHandler(f *testing.F) {
	net, err := demo.New(3, 40, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		f.Fatal(err)
	}
	m := net.Manufacturer.GLN
	at := net.Start
	p := net.Packs[0]
	f.Add(demo.Document(at, demo.Commission(at, m, net.PackEPCs([]int{0, 1}), net.LotA, p.Expiry)))
	f.Add(demo.Document(at, demo.PackInto(at, m, demo.SSCCEPC(net.Cases[0].SSCC), net.PackEPCs(net.Cases[0].Packs))))
	f.Add(demo.Document(at, demo.Ship(at, m, net.Wholesaler.GLN, []string{demo.SSCCEPC(net.Pallet)})))
	f.Add(demo.Document(at, demo.Receive(at, net.Wholesaler.GLN, []string{p.DigitalLink()}), demo.Unpack(at, m, demo.SSCCEPC(net.Pallet), nil)))
	f.Add([]byte(`{"type":"EPCISDocument","schemaVersion":"2.0","epcisBody":{"eventList":[{"type":"ObjectEvent","eventTime":"2026-01-01T00:00:00Z","eventTimeZoneOffset":"+00:00","action":"OBSERVE","epcList":["urn:epc:id:sgtin:4012345.000001.X"]}]}}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`{"type":"EPCISDocument","epcisBody":{"eventList":[null,1,"x",{}]}}`))

	led, tok := mustFakeLedger(f, m, models.RoleManufacturer)
	gin.SetMode(gin.TestMode)
	r := gin.New()
	NewLifecycleAPI(led).Register(r)
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest("POST", "/epcis/capture", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/ld+json")
		req.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		switch {
		case w.Code == http.StatusAccepted:
			var out struct{ CaptureID string }
			if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || out.CaptureID == "" {
				t.Fatalf("202 with body %q", w.Body.Bytes())
			}
		case w.Code >= 400 && w.Code < 500:
			mustErrorBody(t, w)
		default:
			t.Fatalf("status %d for body %q: %s", w.Code, body, w.Body.Bytes())
		}
	})
}

// mustErrorBody fails unless a 4xx answer has the API's JSON error body
// with a machine-readable code.
func mustErrorBody(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error.Code == "" {
		t.Fatalf("%d with body %q", w.Code, w.Body.Bytes())
	}
}

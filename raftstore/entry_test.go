package raftstore

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pedigree-ledger/pedigree/models"
)

func TestLedgerEntryRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 21, 9, 30, 0, 123456789, time.UTC)
	cmds := []models.Command{
		{ID: "c1", Kind: models.KindCaptureEvents, Actor: "4012345000009", Time: at, Payload: json.RawMessage(`{"events":[{"type":"ObjectEvent"}]}`)},
		{ID: "c2", Kind: models.KindRegisterOrganisation, Time: time.Unix(0, 0).UTC(), Payload: nil},
		{ID: "", Kind: "", Actor: "", Time: time.Time{}, Payload: json.RawMessage(`"ünïcödé \u0000"`)},
	}
	data, err := encodeEntry(logEntry{Op: opLedger, Cmds: cmds})
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeEntry(data)
	if err != nil {
		t.Fatal(err)
	}
	if got.Op != opLedger || !reflect.DeepEqual(got.Cmds, cmds) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got.Cmds, cmds)
	}
	// Each command's record time survives to the nanosecond, in UTC, as
	// the leaf bytes need.
	if !got.Cmds[0].Time.Equal(at) || got.Cmds[0].Time.Location() != time.UTC {
		t.Fatalf("time %v", got.Cmds[0].Time)
	}
}

// The payload is committed compacted, as the JSON entry form committed it,
// and a payload that is not JSON is refused before it reaches the log.
func TestLedgerEntryPayloadCompactedOrRefused(t *testing.T) {
	data, err := encodeEntry(logEntry{Op: opLedger, Cmds: []models.Command{{ID: "a", Payload: json.RawMessage("{ \"a\" : [ 1, 2 ] }\n")}}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeEntry(data)
	if err != nil {
		t.Fatal(err)
	}
	if p := string(got.Cmds[0].Payload); p != `{"a":[1,2]}` {
		t.Fatalf("payload %q", p)
	}
	if _, err := encodeEntry(logEntry{Op: opLedger, Cmds: []models.Command{{ID: "a", Payload: json.RawMessage(`{"a":`)}}}); err == nil {
		t.Fatal("a truncated JSON payload was encoded")
	}
}

// Logs written before the binary form (JSON entries) still replay.
func TestLedgerEntryJSONFormStillDecodes(t *testing.T) {
	old := `{"op":"ledger","cmds":[{"id":"x","kind":"register_organisation","time":"2026-01-02T03:04:05.000000006Z","payload":{"id":"a"}}]}`
	e, err := decodeEntry([]byte(old))
	if err != nil {
		t.Fatal(err)
	}
	if len(e.Cmds) != 1 || e.Cmds[0].ID != "x" || string(e.Cmds[0].Payload) != `{"id":"a"}` || e.Cmds[0].Time.Nanosecond() != 6 {
		t.Fatalf("decoded %+v", e)
	}
}

// Every truncation or corruption of a binary entry is an error, never a
// panic or a silently shorter entry.
func TestLedgerEntryTruncatedIsAnError(t *testing.T) {
	data, err := encodeEntry(logEntry{Op: opLedger, Cmds: []models.Command{
		{ID: "a", Kind: "k", Actor: "x", Time: time.Unix(1700000000, 5).UTC(), Payload: json.RawMessage(`{"n":1}`)},
		{ID: "b", Kind: "k", Time: time.Unix(1700000000, 5).UTC(), Payload: json.RawMessage(`{"n":2}`)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for n := len(binaryEntryMagic); n < len(data); n++ {
		if _, err := decodeEntry(data[:n]); err == nil {
			t.Fatalf("a %d-byte prefix of a %d-byte entry decoded", n, len(data))
		}
	}
	if _, err := decodeEntry(append(data, 0)); err == nil || !strings.Contains(err.Error(), "trailing") {
		t.Fatalf("trailing byte: %v", err)
	}
}

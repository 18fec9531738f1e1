package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pedigree-ledger/pedigree/fixtures/demo"
	"github.com/pedigree-ledger/pedigree/models"
)

// TestCaptureDecodesAreBounded: no more documents are decoded at once
// than the machine has cores; a capture that finds every slot taken
// waits, gives up with 503 busy when its context ends, and goes ahead
// once a slot is free.
func TestCaptureDecodesAreBounded(t *testing.T) {
	doc := []byte(`{"type":"EPCISDocument","epcisBody":{"eventList":[{"type":"ObjectEvent","eventTime":"2026-01-01T00:00:00Z",
		"eventTimeZoneOffset":"+00:00","action":"OBSERVE","epcList":["https://id.gs1.org/01/09506000134352/21/S1"]}]}}`)
	checkDecodeSlots(t, captureDecodes, func(ctx context.Context) error {
		_, err := decodeCaptureInSlot(ctx, doc, models.RulesVersion)
		return err
	})
	if len(captureDecodes) != 0 {
		t.Fatalf("%d slots still taken", len(captureDecodes))
	}
}

// TestARefusedCaptureMayBeSentAgain: without an Idempotency-Key a
// capture's id comes from its events, so a retry commits it once. A
// refused capture changed nothing, though, and once what refused it has
// changed (a receipt sent before its shipment) the same document is
// captured; after that, it is answered as captured.
func TestARefusedCaptureMayBeSentAgain(t *testing.T) {
	n := mustAPINode(t)
	net, s := mustSeed(t, n, 60)
	ph1, whs := n.client(s.Tokens[net.Pharmacy1.GLN]), n.client(s.Tokens[net.Wholesaler.GLN])
	sscc := []string{demo.SSCCEPC(net.Cases[1].SSCC)}
	at := time.Now().Add(-time.Hour).Truncate(time.Second)
	receipt := demo.Document(at, demo.Receive(at, net.Pharmacy1.GLN, sscc))
	type answer struct {
		CaptureID string
		Seq       uint64
	}
	capture := func(c *demo.Client, doc []byte) (answer, error) {
		var a answer
		err := c.Do(t.Context(), "POST", "/epcis/capture", "application/ld+json", doc, &a)
		return a, err
	}
	size := func() uint64 {
		t.Helper()
		var head struct{ Size uint64 }
		if err := ph1.Do(t.Context(), "GET", "/api/v1/ledger/head", "", nil, &head); err != nil {
			t.Fatal(err)
		}
		return head.Size
	}
	// Each try is judged again: a refusal is an entry of its own.
	for i := range 2 {
		before := size()
		_, err := capture(ph1, receipt)
		wantAPIError(t, err, http.StatusConflict, "not_in_transit")
		if after := size(); after != before+1 {
			t.Fatalf("try %d of the receipt: the ledger went from %d to %d entries, not one more", i+1, before, after)
		}
	}
	if _, err := capture(whs, demo.Document(at, demo.Ship(at.Add(-time.Minute), net.Wholesaler.GLN, net.Pharmacy1.GLN, sscc))); err != nil {
		t.Fatal(err)
	}
	first, err := capture(ph1, receipt)
	if err != nil {
		t.Fatalf("the receipt after its shipment: %v", err)
	}
	again, err := capture(ph1, receipt)
	if err != nil || again != first {
		t.Fatalf("the captured receipt again: %+v, %v; first %+v", again, err, first)
	}
	var st struct {
		Success bool
		Seq     uint64
	}
	if err := ph1.Do(t.Context(), "GET", "/epcis/capture/"+first.CaptureID, "", nil, &st); err != nil || !st.Success || st.Seq != first.Seq {
		t.Fatalf("capture status %+v, %v", st, err)
	}
}

// TestAnErrorDeclarationNeedsNoIdempotencyKey: a declaration that an
// event was in error restates the event's id; it is a capture of its
// own, not a retry of the event's, and a retry of it is answered once.
func TestAnErrorDeclarationNeedsNoIdempotencyKey(t *testing.T) {
	n := mustAPINode(t)
	net, s := mustSeed(t, n, 1)
	ph1 := n.client(s.Tokens[net.Pharmacy1.GLN])
	p := net.Packs[net.Cases[0].Packs[3]]
	at := time.Now().Add(-time.Hour).Truncate(time.Second)
	ev := demo.Event{"type": "ObjectEvent", "eventTime": at.Format(time.RFC3339), "eventTimeZoneOffset": "+00:00",
		"epcList": []string{demo.PackEPC(p.GTIN, p.Serial)}, "action": "OBSERVE", "bizStep": "inspecting",
		"readPoint": map[string]any{"id": demo.SGLN(net.Pharmacy1.GLN)}}
	var captured struct {
		Seq      uint64
		EventIDs []string
	}
	if err := ph1.Do(t.Context(), "POST", "/epcis/capture", "application/ld+json", demo.Document(at, ev), &captured); err != nil {
		t.Fatal(err)
	}
	ev["eventID"] = captured.EventIDs[0]
	ev["errorDeclaration"] = map[string]any{"declarationTime": at.Add(time.Minute).Format(time.RFC3339), "reason": "incorrect_data"}
	var declared, again struct {
		CaptureID string
		Seq       uint64
	}
	if err := ph1.Do(t.Context(), "POST", "/epcis/capture", "application/ld+json", demo.Document(at, ev), &declared); err != nil {
		t.Fatalf("the declaration: %v", err)
	}
	if declared.Seq == captured.Seq {
		t.Fatalf("the declaration was answered as the event's capture (seq %d)", declared.Seq)
	}
	if err := ph1.Do(t.Context(), "POST", "/epcis/capture", "application/ld+json", demo.Document(at, ev), &again); err != nil || again != declared {
		t.Fatalf("the declaration again: %+v, %v; first %+v", again, err, declared)
	}
}

// TestAnEventIDWithASemicolonCanBeQueried: every EPCIS 2.0 hash event id
// holds ";" ("ni:///sha-256;...?ver=CBV2.0"), which RFC 3986 allows in a
// query as it is. url.ParseQuery refuses it (and url.Values dropped the
// filter, answering every event); the events query reads it, and its
// next link keeps it.
func TestAnEventIDWithASemicolonCanBeQueried(t *testing.T) {
	n := mustAPINode(t)
	net, s := mustSeed(t, n, 20)
	token := s.Tokens[net.Regulator.GLN]
	var all struct {
		EPCISBody struct {
			QueryResults struct {
				ResultsBody struct {
					EventList []struct {
						EventID string `json:"eventID"`
					} `json:"eventList"`
				} `json:"resultsBody"`
			} `json:"queryResults"`
		} `json:"epcisBody"`
	}
	status, body := getWith(t, n, "/epcis/events?perPage=2", "", token)
	if err := json.Unmarshal([]byte(body), &all); err != nil || status != http.StatusOK {
		t.Fatalf("the events: %d %v", status, err)
	}
	events := all.EPCISBody.QueryResults.ResultsBody.EventList
	if len(events) == 0 || !strings.Contains(events[0].EventID, ";") {
		t.Fatalf("the premise: a hash event id with \";\": %+v", events)
	}
	id := events[0].EventID
	all.EPCISBody.QueryResults.ResultsBody.EventList = nil
	status, body = getWith(t, n, "/epcis/events?EQ_eventID="+id, "", token)
	if err := json.Unmarshal([]byte(body), &all); err != nil || status != http.StatusOK {
		t.Fatalf("EQ_eventID=%s: %d %s", id, status, body)
	}
	if got := all.EPCISBody.QueryResults.ResultsBody.EventList; len(got) != 1 || got[0].EventID != id {
		t.Fatalf("EQ_eventID=%s: %+v, want that event alone", id, got)
	}

	// Two ids, a page each: the next link asks for the same two.
	req, _ := http.NewRequestWithContext(t.Context(), "GET", n.srv.URL+"/epcis/events?perPage=1&EQ_eventID="+id+","+events[1].EventID, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := n.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	link := resp.Header.Get("Link")
	if resp.StatusCode != http.StatusOK || !strings.Contains(link, "EQ_eventID="+url.QueryEscape(id+","+events[1].EventID)) {
		t.Fatalf("the next link of two ids: %d %q", resp.StatusCode, link)
	}
}

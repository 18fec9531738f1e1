package server

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pedigree-ledger/pedigree/models"
	"github.com/pedigree-ledger/pedigree/raftstore"
)

// TestEventQueryFiltersAndVisibilityOverHTTP checks, on a seeded node,
// that the HTTP query hands the action and record-time filters to models
// and that a wholesaler's unfiltered query lists exactly the events the
// visibility rule gives it: those it captured or that happened at its own
// locations, checked against the projection event by event.
func TestEventQueryFiltersAndVisibilityOverHTTP(t *testing.T) {
	n := mustAPINode(t)
	net, s := mustSeed(t, n, 40)
	get := func(token, q string) []map[string]any {
		t.Helper()
		var d eventQueryDoc
		if err := n.client(token).Do(t.Context(), "GET", "/epcis/events?perPage=1000&"+q, "", nil, &d); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return d.events()
	}
	reg, whs := s.Tokens[net.Regulator.GLN], s.Tokens[net.Wholesaler.GLN]

	all := get(reg, "")
	adds := get(reg, "EQ_action=ADD")
	if len(adds) == 0 || len(adds) >= len(all) {
		t.Fatalf("EQ_action=ADD: %d of %d events", len(adds), len(all))
	}
	for _, e := range adds {
		if e["action"] != "ADD" {
			t.Fatalf("EQ_action=ADD let through %v", e["action"])
		}
	}
	future := url.QueryEscape(time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	if got := get(reg, "GE_recordTime="+future); len(got) != 0 {
		t.Fatalf("GE_recordTime in the future: %d events", len(got))
	}
	if got := get(reg, "LT_recordTime="+future); len(got) != len(all) {
		t.Fatalf("LT_recordTime in the future: %d of %d events", len(got), len(all))
	}

	db, err := n.store.Read(t.Context(), raftstore.Local)
	if err != nil {
		t.Fatal(err)
	}
	var want int64
	w := net.Wholesaler.GLN
	if err := db.Model(&models.EventRecord{}).Where("actor = ? OR biz_location = ? OR biz_location LIKE ?", w, "(414)"+w, "(414)"+w+"(254)%").
		Count(&want).Error; err != nil {
		t.Fatal(err)
	}
	mine := get(whs, "")
	if want == 0 || int64(len(mine)) != want || len(mine) >= len(all) {
		t.Fatalf("the wholesaler sees %d events, the rule gives it %d of %d", len(mine), want, len(all))
	}
	for _, e := range mine {
		var rec models.EventRecord
		if err := db.Where("event_id = ?", e["eventID"]).Take(&rec).Error; err != nil {
			t.Fatal(err)
		}
		if rec.Actor != w && rec.BizLocation != "(414)"+w && !strings.HasPrefix(rec.BizLocation, "(414)"+w+"(254)") {
			t.Fatalf("the wholesaler sees %s's event at %q", rec.Actor, rec.BizLocation)
		}
	}
}

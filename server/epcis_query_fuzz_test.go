package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/pedigree-ledger/pedigree/models"
)

// FuzzEventQuery sends arbitrary query strings to GET /epcis/events as a
// trading partner: the answer must be a query document or a 4xx JSON
// error, never a 5xx or a panic, whatever models.QueryEvents is given.
func FuzzEventQuery(f *testing.F) {
	for _, q := range []string{
		"perPage=3",
		"eventType=ObjectEvent,AggregationEvent&EQ_bizStep=shipping&EQ_disposition=in_transit",
		"EQ_bizStep=https%3A%2F%2Fref.gs1.org%2Fcbv%2FBizStep-receiving&EQ_action=OBSERVE",
		"GE_eventTime=2026-03-01T00:00:00Z&LT_eventTime=2026-03-02T00:00:00.5%2B01:00",
		"GE_recordTime=2026-03-01T00:00:00Z&LT_recordTime=2027-01-01T00:00:00Z",
		"MATCH_epc=urn:epc:id:sgtin:4012345.012345.X1&MATCH_anyEPC=https://id.gs1.org/00/040123450000000017",
		"MATCH_parentID=urn:epc:id:sscc:4012345.0000000001",
		"MATCH_epc=urn:epc:idpat:sgtin:4012345.*.*&MATCH_inputEPC=urn:epc:idpat:sscc:*.*",
		"MATCH_anyEPCClass=urn:epc:idpat:sgtin:4012345.012345.*,urn:epc:class:lgtin:4012345.012345.L%2F1",
		"MATCH_outputEPC=urn:epc:idpat:sgtin:*.*.*&MATCH_epcClass=https://id.gs1.org/01/04012345123456",
		"EQ_bizLocation=urn:epc:id:sgln:4012345.00001.0&EQ_readPoint=https://id.gs1.org/414/4012345000016/254/7",
		"EQ_eventID=ni:///sha-256;abc?ver=CBV2.0",
		"nextPageToken=AAAAAAAAAAEAAAAAAAAAAA&perPage=1000",
		"EQ_action=UPDATE", "eventType=FooEvent", "perPage=0", "nextPageToken=!!", "EQ_colour=red",
		"EQ_bizStep=%27%3B+DROP+TABLE+event_records%3B--", "MATCH_epc=%25", "EQ_readPoint=geo:1,2",
		"consistency=linearizable&perPage=2", "consistency=eventual",
	} {
		f.Add(q)
	}
	led, tok := mustFakeLedger(f, "4012345000016", models.RoleManufacturer)
	gin.SetMode(gin.TestMode)
	r := gin.New()
	NewLifecycleAPI(led).Register(r)
	f.Fuzz(func(t *testing.T, query string) {
		req := httptest.NewRequest("GET", "/epcis/events", nil)
		req.URL.RawQuery = query
		req.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		switch {
		case w.Code == http.StatusOK:
			var doc struct{ Type string }
			if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil || doc.Type != "EPCISQueryDocument" {
				t.Fatalf("200 with body %q", w.Body.Bytes())
			}
		case w.Code >= 400 && w.Code < 500:
			mustErrorBody(t, w)
		default:
			t.Fatalf("status %d for query %q: %s", w.Code, query, w.Body.Bytes())
		}
	})
}

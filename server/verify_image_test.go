package server

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/pedigree-ledger/pedigree/models"
	"github.com/pedigree-ledger/pedigree/models/gs1"
	"github.com/pedigree-ledger/pedigree/scanner"
)

// TestVerifyImageUpload photographs (renders) a signed pack's DataMatrix and
// verifies the PNG, as a raw image/png body and as a multipart upload.
func TestVerifyImageUpload(t *testing.T) {
	n := mustAPINode(t)
	net, s := mustSeed(t, n, 40)
	p := net.Packs[net.Cases[0].Packs[2]]
	es, err := gs1.ParseScan(p.Scan)
	if err != nil {
		t.Fatal(err)
	}
	sym, err := scanner.EncodeGS1(es.Raw(), scanner.ShapeSquare)
	if err != nil {
		t.Fatal(err)
	}
	var png bytes.Buffer
	if err := sym.WritePNG(&png, scanner.RenderOptions{ModuleSize: 6}); err != nil {
		t.Fatal(err)
	}
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	fw, err := mw.CreateFormFile("image", "pack.png")
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(png.Bytes())
	mw.Close()
	token := s.Tokens[net.Pharmacy1.GLN]
	for _, tc := range []struct {
		name, ctype string
		body        []byte
	}{
		{"raw png", "image/png", png.Bytes()},
		{"multipart", mw.FormDataContentType(), form.Bytes()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(t.Context(), "POST", n.srv.URL+"/api/v1/verify", bytes.NewReader(tc.body))
			req.Header.Set("Content-Type", tc.ctype)
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := n.srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var buf bytes.Buffer
			buf.ReadFrom(resp.Body)
			if resp.StatusCode != 200 || !strings.Contains(buf.String(), `"verdict":"authentic"`) || !strings.Contains(buf.String(), `"status":"valid"`) {
				t.Fatalf("%d %s", resp.StatusCode, buf.String())
			}
		})
	}
}

// TestLotAndContainerProvenance asks for a lot's and a case's chain of
// custody.
func TestLotAndContainerProvenance(t *testing.T) {
	n := mustAPINode(t)
	net, s := mustSeed(t, n, 40)
	reg := n.client(s.Tokens[net.Regulator.GLN])
	var lot Provenance
	if err := reg.Do(t.Context(), "GET", "/api/v1/provenance/lots/"+net.Products[0].GTIN+"/"+net.LotA, "", nil, &lot); err != nil {
		t.Fatal(err)
	}
	if len(lot.Items) != 20 || len(lot.Events) == 0 {
		t.Fatalf("lot: %d items, %d events", len(lot.Items), len(lot.Events))
	}
	var cs Provenance
	if err := reg.Do(t.Context(), "GET", "/api/v1/provenance/containers/"+net.Cases[0].SSCC, "", nil, &cs); err != nil {
		t.Fatal(err)
	}
	var steps []string
	for _, e := range cs.Events {
		steps = append(steps, e.BizStep)
		if e.Proof == nil || !proofHolds(e.Proof, cs.Head.Root) {
			t.Fatalf("event at seq %d has no valid proof", e.Seq)
		}
	}
	if got := strings.Join(steps, " "); got != "commissioning packing packing shipping receiving unpacking shipping receiving unpacking" {
		t.Fatalf("case events: %s", got)
	}
}

// TestRejectionStatuses pins the HTTP status of every rule rejection: the
// caller's fault is 4xx, only a storage failure is 5xx.
func TestRejectionStatuses(t *testing.T) {
	for code, want := range map[string]int{
		models.CodeBadPayload: 422, models.CodeForbidden: 403, models.CodeNotCustodian: 403,
		models.CodeNotDestination: 403, models.CodeUndoOtherOrg: 403, models.CodeNotYourPrefix: 403,
		models.CodeUnknownItem: 404, models.CodeUnknownProduct: 404, models.CodeInactive: 409,
		models.CodeUndoTooLate: 409, models.CodeUndoNotAllowed: 409, models.CodeFinal: 409,
		models.CodeRecalled: 409, models.CodeInContainer: 409, models.CodeInternal: 500,
	} {
		if got := rejectionStatus(code); got != want {
			t.Errorf("%s: %d, want %d", code, got, want)
		}
	}
}

// TestProvenanceHidesOthersTrade: a pharmacy cannot read the custody of a
// pack it never handled; the regulator can.
func TestProvenanceHidesOthersTrade(t *testing.T) {
	n := mustAPINode(t)
	net, s := mustSeed(t, n, 40)
	p := net.Packs[net.Cases[0].Packs[1]] // at pharmacy 1
	path := "/api/v1/provenance/packs/" + p.GTIN + "/" + p.Serial
	err := n.client(s.Tokens[net.Pharmacy2.GLN]).Do(t.Context(), "GET", path, "", nil, nil)
	wantAPIError(t, err, http.StatusNotFound, "not_found")
	if err := n.client(s.Tokens[net.Pharmacy1.GLN]).Do(t.Context(), "GET", path, "", nil, nil); err != nil {
		t.Fatalf("the holder: %v", err)
	}
}

// TestCaptureAnswers202WithLocationAndLimits checks the EPCIS REST binding's
// capture answer: 202, Location of the capture job, the advertised limits.
func TestCaptureAnswers202WithLocationAndLimits(t *testing.T) {
	n := mustAPINode(t)
	net, s := mustSeed(t, n, 40)
	doc := []byte(`{"type":"EPCISDocument","schemaVersion":"2.0","epcisBody":{"eventList":[{"type":"ObjectEvent","eventTime":"2026-01-01T00:00:00Z","eventTimeZoneOffset":"+00:00","action":"OBSERVE","bizStep":"inspecting","epcList":["` + net.Packs[net.Cases[0].Packs[1]].DigitalLink() + `"]}]}}`)
	req, _ := http.NewRequestWithContext(t.Context(), "POST", n.srv.URL+"/epcis/capture", bytes.NewReader(doc))
	req.Header.Set("Content-Type", "application/ld+json")
	req.Header.Set("Authorization", "Bearer "+s.Tokens[net.Pharmacy1.GLN])
	resp, err := n.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusAccepted || !strings.HasPrefix(loc, "/epcis/capture/capture-") ||
		resp.Header.Get("GS1-EPCIS-Capture-Limit") == "" || resp.Header.Get("GS1-EPCIS-Capture-File-Size-Limit") == "" {
		t.Fatalf("%d, Location %q, headers %v", resp.StatusCode, loc, resp.Header)
	}
	var st struct{ Success bool }
	if err := n.client(s.Tokens[net.Pharmacy1.GLN]).Do(t.Context(), "GET", loc, "", nil, &st); err != nil || !st.Success {
		t.Fatalf("capture job %s: %v %+v", loc, err, st)
	}
}

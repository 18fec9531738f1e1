package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"mime/multipart"
	"net/http"
	"runtime"
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

// pngHeader is a PNG signature and IHDR claiming w x h pixels of the given
// bit depth and colour type (0 gray, 6 RGBA), with no pixel data: a few
// dozen bytes that declare a huge image.
func pngHeader(w, h uint32, depth, colorType byte) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = depth, colorType
	binary.Write(&b, binary.BigEndian, uint32(len(ihdr)))
	chunk := append([]byte("IHDR"), ihdr...)
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

// TestDecodeImagePixelLimit: verification refuses, from the header and
// with its own code, an image over the server's 16 MP, far below the
// scanner's default of 50 MP; 16-bit pixels count twice.
func TestDecodeImagePixelLimit(t *testing.T) {
	for _, tc := range []struct {
		name   string
		data   []byte
		status int
		code   string
	}{
		{"20 MP gray", pngHeader(5000, 4000, 8, 0), 413, "image_too_large"},
		{"9 MP of 16-bit RGBA", pngHeader(3000, 3000, 16, 6), 413, "image_too_large"},
		// Within the limit, the header passes and decoding finds no pixels.
		{"9 MP of 8-bit RGBA", pngHeader(3000, 3000, 8, 6), 422, "no_code"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeImage(t.Context(), bytes.NewReader(tc.data))
			var ae *apiErr
			if !errors.As(err, &ae) || ae.Status != tc.status || ae.Code != tc.code {
				t.Fatalf("got %v, want %d %s", err, tc.status, tc.code)
			}
		})
	}
}

// TestImageDecodesAreBounded: no more images are decoded at once than the
// machine has cores; a request that finds every slot taken waits, and
// gives up when its context ends.
func TestImageDecodesAreBounded(t *testing.T) {
	sym, err := scanner.EncodeGS1("0109506000134352\x1d21S1", scanner.ShapeSquare)
	if err != nil {
		t.Fatal(err)
	}
	var label bytes.Buffer
	if err := sym.WritePNG(&label, scanner.RenderOptions{ModuleSize: 4}); err != nil {
		t.Fatal(err)
	}
	checkDecodeSlots(t, imageDecodes, func(ctx context.Context) error {
		_, err := decodeImage(ctx, bytes.NewReader(label.Bytes()))
		return err
	})
}

// checkDecodeSlots checks that slots has one slot per core, and that
// decode, which takes one: waits while every slot is taken, answers 503
// busy without decoding when its context ends meanwhile, and goes ahead
// once a slot is freed.
func checkDecodeSlots(t *testing.T, slots decodeSlots, decode func(context.Context) error) {
	t.Helper()
	if cap(slots) != runtime.NumCPU() {
		t.Fatalf("%d decode slots on %d cores", cap(slots), runtime.NumCPU())
	}
	var held []func()
	for range cap(slots) {
		release, err := slots.acquire(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, release)
	}
	defer func() {
		for _, release := range held {
			release()
		}
	}()

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- decode(ctx) }()
	select {
	case err := <-done:
		t.Fatalf("decoded with every slot taken: %v", err)
	default:
	}
	cancel()
	var ae *apiErr
	if err := <-done; !errors.As(err, &ae) || ae.Status != http.StatusServiceUnavailable || ae.Code != "busy" {
		t.Fatalf("waiting request whose context ended: %v, want 503 busy", err)
	}

	go func() { done <- decode(t.Context()) }()
	held[0]()
	held = held[1:]
	if err := <-done; err != nil {
		t.Fatalf("after a slot was freed: %v", err)
	}
}

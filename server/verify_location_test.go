package server

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"testing"

	"github.com/pedigree-ledger/pedigree/fixtures/demo"
	"github.com/pedigree-ledger/pedigree/models"
	"github.com/pedigree-ledger/pedigree/models/gs1"
)

// glnOf makes a GLN from a company prefix and a location reference.
func glnOf(prefix string, ref int) string {
	body := prefix + strconv.Itoa(1e12 + ref)[1+len(prefix):]
	return body + strconv.Itoa(gs1.CheckDigit(body))
}

// TestVerifyLocationMustBeTheCallersPremises: an alert is listed to the
// organisation that raised it and to the one at whose GLN it was raised,
// so a verification's location must be the caller's own GLN or one under
// its company prefix (not another organisation's); regulators and admins
// may name any GLN. A refusal is a 403 bad_location and raises no alert.
func TestVerifyLocationMustBeTheCallersPremises(t *testing.T) {
	n := mustAPINode(t)
	net, s := mustSeed(t, n, 40)
	ph1, ph2 := s.Tokens[net.Pharmacy1.GLN], s.Tokens[net.Pharmacy2.GLN]
	mfr, reg := s.Tokens[net.Manufacturer.GLN], s.Tokens[net.Regulator.GLN]
	// An organisation whose GLN is under the manufacturer's prefix is
	// still not the manufacturer's premises.
	tenant := glnOf(net.Manufacturer.Prefixes[0], 900)
	if err := n.client(n.adminToken).Do(t.Context(), "POST", "/api/v1/organisations", "application/json",
		map[string]any{"id": tenant, "name": "Tenant Apotheke", "role": models.RolePharmacy}, nil); err != nil {
		t.Fatal(err)
	}
	scan := "(01)" + net.Packs[0].GTIN + "(21)NOT-ON-THE-LEDGER"
	alertsOf := func(token string) int {
		t.Helper()
		var out struct{ Alerts []models.Alert }
		if err := n.client(token).Do(t.Context(), "GET", "/api/v1/alerts", "", nil, &out); err != nil {
			t.Fatal(err)
		}
		return len(out.Alerts)
	}
	ph2Before := alertsOf(ph2)

	form := func(loc string) (string, []byte) {
		var b bytes.Buffer
		w := multipart.NewWriter(&b)
		_ = w.WriteField("scan", scan)
		_ = w.WriteField("location", loc)
		_ = w.Close()
		return w.FormDataContentType(), b.Bytes()
	}
	verify := func(how, token, loc string) error {
		t.Helper()
		var v struct{ Verdict string }
		var err error
		c := n.client(token)
		switch how {
		case "json":
			err = c.Do(t.Context(), "POST", "/api/v1/verify", "application/json", map[string]any{"scan": scan, "location": loc}, &v)
		case "query":
			err = c.Do(t.Context(), "GET", "/api/v1/verify?"+url.Values{"scan": {scan}, "location": {loc}}.Encode(), "", nil, &v)
		case "form":
			ct, body := form(loc)
			err = c.Do(t.Context(), "POST", "/api/v1/verify", ct, body, &v)
		}
		if err == nil && v.Verdict != "unknown_serial" {
			t.Fatalf("%s %s: verdict %q", how, loc, v.Verdict)
		}
		return err
	}
	for _, how := range []string{"json", "query", "form"} {
		for _, tc := range []struct {
			name, token, loc string
			ok               bool
		}{
			{"a pharmacy at its own GLN", ph1, net.Pharmacy1.GLN, true},
			{"a pharmacy at another's", ph1, net.Pharmacy2.GLN, false},
			{"a pharmacy at a stranger's GLN", ph1, glnOf("4099999", 1), false},
			{"a pharmacy at a GLN under another's prefix", ph1, glnOf(net.Manufacturer.Prefixes[0], 7), false},
			{"a manufacturer under its prefix", mfr, glnOf(net.Manufacturer.Prefixes[0], 7), true},
			{"a manufacturer at an organisation under its prefix", mfr, tenant, false},
			{"a manufacturer at a pharmacy", mfr, net.Pharmacy2.GLN, false},
			{"a regulator anywhere", reg, net.Pharmacy2.GLN, true},
			{"an admin anywhere", n.adminToken, net.Pharmacy2.GLN, true},
		} {
			err := verify(how, tc.token, tc.loc)
			switch {
			case tc.ok && err != nil:
				t.Errorf("%s, %s: %v", how, tc.name, err)
			case !tc.ok:
				if err == nil {
					t.Errorf("%s, %s: accepted", how, tc.name)
					continue
				}
				wantAPIError(t, err, http.StatusForbidden, "bad_location")
				var eb apiErrorBody
				if json.Unmarshal([]byte(err.(*demo.APIError).Body), &eb) != nil || eb.Error.Message == "" {
					t.Errorf("%s, %s: no message in %v", how, tc.name, err)
				}
			}
		}
	}
	// Only the regulator's and the admin's alerts are at pharmacy 2.
	if got := alertsOf(ph2) - ph2Before; got != 2*3 {
		t.Errorf("pharmacy 2 gained %d alerts, want the regulator's and admin's 6", got)
	}
}

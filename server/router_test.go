package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestAPathIsRoutedAsItsNormalForm: routes match the escaped path (so a
// %2F stays inside its parameter), after the percent-encodings of
// unreserved characters are decoded, which RFC 3986 says name the same
// resource: /api/v1/%6Cedger/head is /api/v1/ledger/head. A path that
// matches no route is named as it was sent.
func TestAPathIsRoutedAsItsNormalForm(t *testing.T) {
	n := mustAPINode(t)
	for _, path := range []string{"/%68ealthz", "/api/v1/%6Cedger/head", "/api/v1/ledger/%68%65%61%64", "/api/v1/ledger/entries/%31"} {
		if status, body := getWith(t, n, path, "", n.adminToken); status != http.StatusOK {
			t.Errorf("GET %s: %d %s", path, status, body)
		}
	}
	status, body := getWith(t, n, "/api/v1/ledger%2Fhead", "", n.adminToken)
	var eb apiErrorBody
	if err := json.Unmarshal([]byte(body), &eb); err != nil || status != http.StatusNotFound || !strings.Contains(eb.Error.Message, "ledger%2Fhead") {
		t.Errorf("GET /api/v1/ledger%%2Fhead: %d %s, want 404 naming the path as sent", status, body)
	}
}

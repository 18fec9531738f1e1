package server

import (
	"errors"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
)

// TestReadBody covers both ways readBody reads: a small body of announced
// length into one buffer, anything else (unknown length, large) through a
// limit reader.
func TestReadBody(t *testing.T) {
	big := strings.Repeat("b", smallBody+10)
	tests := []struct {
		name    string
		body    string
		length  int64 // the announced Content-Length; -1 unknown
		limit   int64
		want    string
		status  int // 0: no error
		errCode string
	}{
		{"small, announced", "]d2scan", 7, 100, "]d2scan", 0, ""},
		{"empty", "", 0, 100, "", 0, ""},
		{"small, unknown length", "]d2scan", -1, 100, "]d2scan", 0, ""},
		{"announced over the limit", "12345", 5, 4, "", 413, "body_too_large"},
		{"unknown length over the limit", "12345", -1, 4, "", 413, "body_too_large"},
		{"shorter than announced", "abc", 10, 100, "", 400, "bad_body"},
		{"large, announced", big, int64(len(big)), 1 << 20, big, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			c, _ := gin.CreateTestContext(w)
			c.Request = httptest.NewRequest("POST", "/", io.NopCloser(strings.NewReader(tc.body)))
			c.Request.ContentLength = tc.length
			if tc.length >= 0 {
				// As net/http does: the body ends at the announced length.
				c.Request.Body = io.NopCloser(io.LimitReader(strings.NewReader(tc.body), tc.length))
			}
			data, err := readBody(c, tc.limit)
			if tc.status == 0 {
				if err != nil || string(data) != tc.want {
					t.Fatalf("got %d bytes, %v; want %d bytes", len(data), err, len(tc.want))
				}
				return
			}
			var ae *apiErr
			if !errors.As(err, &ae) || ae.Status != tc.status || ae.Code != tc.errCode {
				t.Fatalf("error %v, want HTTP %d %s", err, tc.status, tc.errCode)
			}
		})
	}
}

package server

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
)

func TestRateLimiterBucket(t *testing.T) {
	now := time.Unix(0, 0)
	l := newRateLimiter(10, 3)
	l.now = func() time.Time { return now }
	for i := 0; i < 3; i++ {
		if ok, _ := l.allow("a"); !ok {
			t.Fatalf("request %d of the burst refused", i)
		}
	}
	ok, wait := l.allow("a")
	if ok || wait != 100*time.Millisecond {
		t.Fatalf("past the burst: ok %v wait %v", ok, wait)
	}
	if ok, _ := l.allow("b"); !ok {
		t.Fatal("another token is limited by the first's bucket")
	}
	now = now.Add(100 * time.Millisecond)
	if ok, _ := l.allow("a"); !ok {
		t.Fatal("not refilled after 1/rate")
	}
	if ok, _ := newRateLimiter(0, 0).allow("a"); !ok {
		t.Fatal("rate 0 must mean unlimited")
	}
}

func TestRateLimitAnswers429(t *testing.T) {
	gin.SetMode(gin.TestMode)
	l := newRateLimiter(1, 1)
	r := gin.New()
	r.GET("/x", func(c *gin.Context) { c.Set(tokenKey, "h") }, l.middleware(), func(c *gin.Context) { c.Status(204) })
	codes := []int{}
	for i := 0; i < 2; i++ {
		w := httptest.NewRecorder()
		r.ServeHTTP(w, httptest.NewRequest("GET", "/x", nil))
		codes = append(codes, w.Code)
		if w.Code == http.StatusTooManyRequests && w.Header().Get("Retry-After") != "1" {
			t.Fatalf("Retry-After %q", w.Header().Get("Retry-After"))
		}
	}
	if codes[0] != 204 || codes[1] != 429 {
		t.Fatalf("codes %v", codes)
	}
}

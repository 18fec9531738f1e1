package server

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func TestSaneRequestID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"", false},
		{"a", true},
		{"req-42_x.Y", true},
		{strings.Repeat("a", 64), true},
		{strings.Repeat("a", 65), false},
		{"has space", false},
		{"semi;colon", false},
		{"new\nline", false},
		{"ümlaut", false},
		{"slash/", false},
	}
	for _, tc := range tests {
		if got := saneRequestID(tc.id); got != tc.want {
			t.Errorf("saneRequestID(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
}

// mustMiddlewareEngine is a router with the middleware chain of Create
// (request id, access log, metrics, error body) and two routes: /ok
// answers 200, /fail records an error and writes nothing.
func mustMiddlewareEngine(t *testing.T, log *slog.Logger) *gin.Engine {
	t.Helper()
	gin.SetMode(gin.TestMode)
	r := gin.New()
	r.Use(requestID(), accessLog(log), metricsMiddleware(), errorBody())
	r.GET("/ok", func(c *gin.Context) { c.String(http.StatusOK, "fine") })
	r.GET("/fail", func(c *gin.Context) { _ = c.Error(errors.New("disk on fire")) })
	return r
}

func TestRequestIDEchoedOrMade(t *testing.T) {
	r := mustMiddlewareEngine(t, slog.New(slog.DiscardHandler))
	get := func(id string) string {
		req := httptest.NewRequest("GET", "/ok", nil)
		if id != "" {
			req.Header.Set("X-Request-Id", id)
		}
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		return w.Header().Get("X-Request-Id")
	}
	if got := get("client-7.a_b"); got != "client-7.a_b" {
		t.Errorf("a sane client id came back as %q", got)
	}
	seen := map[string]bool{}
	for _, id := range []string{"", "bad id", strings.Repeat("x", 65), "", ""} {
		got := get(id)
		if len(got) != 16 || strings.Trim(got, "0123456789abcdef") != "" {
			t.Fatalf("made id %q for client id %q: want 16 hex digits", got, id)
		}
		if seen[got] {
			t.Fatalf("id %q made twice", got)
		}
		seen[got] = true
	}
}

func TestAccessLogLevels(t *testing.T) {
	tests := []struct {
		name  string
		level slog.Level
		path  string
		want  []string // substrings of the log; none means nothing logged
	}{
		{"success at info: silent", slog.LevelInfo, "/ok", nil},
		{"success at debug: logged", slog.LevelDebug, "/ok", []string{`msg=request`, `path=/ok`, `status=200`, `request_id=`}},
		{"failure at info: logged with cause", slog.LevelInfo, "/fail", []string{`level=ERROR`, `msg="request failed"`, `status=500`, `disk on fire`}},
		{"failure at error: logged", slog.LevelError, "/fail", []string{`msg="request failed"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			r := mustMiddlewareEngine(t, slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: tc.level})))
			w := httptest.NewRecorder()
			r.ServeHTTP(w, httptest.NewRequest("GET", tc.path, nil))
			got := buf.String()
			if len(tc.want) == 0 && got != "" {
				t.Fatalf("logged %q, want nothing", got)
			}
			for _, s := range tc.want {
				if !strings.Contains(got, s) {
					t.Errorf("log %q lacks %q", got, s)
				}
			}
		})
	}
}

// TestAccessLogClipsTheMethod: the access log copies at most
// maxLoggedMethod bytes of the method a client sent, so an invented method
// of a megabyte makes a short log line.
func TestAccessLogClipsTheMethod(t *testing.T) {
	var buf bytes.Buffer
	r := mustMiddlewareEngine(t, slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	long := "BREW" + strings.Repeat("X", 64<<10)
	r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(long, "/ok", nil))
	r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("PATCH", "/ok", nil))
	got := buf.String()
	if len(got) > 1024 {
		t.Fatalf("two requests made %d bytes of log: %.200q...", len(got), got)
	}
	for _, want := range []string{"method=" + long[:maxLoggedMethod] + "...", "method=PATCH "} {
		if !strings.Contains(got, want) {
			t.Errorf("log %q lacks %q", got, want)
		}
	}
}

// mustTestMetrics is an httpMetrics on its own registry.
func mustTestMetrics(t *testing.T) (*httpMetrics, *prometheus.Registry) {
	t.Helper()
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "requests_total"}, []string{"route", "method", "code"}),
		latency:  prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "request_seconds"}, []string{"route", "method"}),
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(m.requests, m.latency)
	return m, reg
}

func mustCounterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var pb dto.Metric
	if err := c.Write(&pb); err != nil {
		t.Fatal(err)
	}
	return pb.GetCounter().GetValue()
}

func TestSeriesCacheCountsEverySeries(t *testing.T) {
	m, reg := mustTestMetrics(t)
	sc := &seriesCache{m: m}
	// More series than the cache holds: the ones past the bound are
	// counted all the same, through the vectors.
	const routes = maxCachedSeries + 10
	for round := 0; round < 3; round++ {
		for i := 0; i < routes; i++ {
			s := sc.get(fmt.Sprintf("/r/%d", i), "GET", 200+i%2)
			s.requests.Inc()
			s.latency.Observe(0.001)
		}
	}
	if n := len(*sc.series.Load()); n != maxCachedSeries {
		t.Errorf("cache holds %d series, want the bound %d", n, maxCachedSeries)
	}
	for _, i := range []int{0, 1, maxCachedSeries - 1, maxCachedSeries, routes - 1} {
		code := fmt.Sprint(200 + i%2)
		if got := mustCounterValue(t, m.requests.WithLabelValues(fmt.Sprintf("/r/%d", i), "GET", code)); got != 3 {
			t.Errorf("route %d counted %v times, want 3", i, got)
		}
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "request_seconds" {
			continue
		}
		if len(f.Metric) != routes {
			t.Errorf("%d latency series, want %d", len(f.Metric), routes)
		}
		for _, x := range f.Metric {
			if x.GetHistogram().GetSampleCount() != 3 {
				t.Fatalf("latency series %v has %d samples, want 3", x.GetLabel(), x.GetHistogram().GetSampleCount())
			}
		}
	}
}

package server

import (
	"maps"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// HTTP metrics: a request counter and a latency histogram per route
// (the route pattern, not the raw path, so /01/{gtin}/... is one series
// however many packs are resolved), method and status class. Every label
// comes from a small fixed set, whatever a client sends: a series lives as
// long as the process, so a label a client could choose would let anyone
// grow /metrics without bound.

// httpMetrics are the collectors of the HTTP layer.
type httpMetrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

var (
	metricsOnce sync.Once
	metricsSet  *httpMetrics
)

// defaultHTTPMetrics registers the HTTP collectors with Prometheus's default
// registry once per process (the registry /metrics serves, beside the Go
// and process collectors it already holds).
func defaultHTTPMetrics() *httpMetrics {
	metricsOnce.Do(func() {
		m := &httpMetrics{
			requests: prometheus.NewCounterVec(prometheus.CounterOpts{
				Namespace: "pedigree", Subsystem: "http", Name: "requests_total",
				Help: "HTTP requests by route pattern, method and status code.",
			}, []string{"route", "method", "code"}),
			latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
				Namespace: "pedigree", Subsystem: "http", Name: "request_duration_seconds",
				Help: "HTTP request latency by route pattern and method.",
				// From 250 µs (a cached verification) to 10 s (a 10,000-event capture).
				Buckets: []float64{.00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
			}, []string{"route", "method"}),
		}
		prometheus.MustRegister(m.requests, m.latency)
		metricsSet = m
	})
	return metricsSet
}

// metricsMiddleware counts and times every request.
func metricsMiddleware() gin.HandlerFunc {
	m := &seriesCache{m: defaultHTTPMetrics()}
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		s := m.get(route, methodLabel(c.Request.Method), c.Writer.Status())
		s.requests.Inc()
		s.latency.Observe(time.Since(start).Seconds())
	}
}

// methodLabel is the method's label: the method itself when it is one the
// API could serve, "other" for anything else. A client may send any token
// as a method (net/http accepts it, Gin answers 405), so the method itself
// would make a new series per invented method.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}

// seriesCache remembers the counter and histogram of each route, method
// and status, so a request costs a map lookup instead of hashing its label
// values into the vectors and formatting the status (a tenth of the
// middleware chain's CPU on a verification). The map is copied on write:
// reads take no lock, and the set of series is small and soon complete.
type seriesCache struct {
	m      *httpMetrics
	mu     sync.Mutex // serialises writers
	series atomic.Pointer[map[seriesKey]series]
}

type seriesKey struct {
	route, method string
	code          int
}

type series struct {
	requests prometheus.Counter
	latency  prometheus.Observer
}

// maxCachedSeries bounds the cache: past it (clients inventing methods,
// say) series are looked up in the vectors every time, as before.
const maxCachedSeries = 1024

func (sc *seriesCache) get(route, method string, code int) series {
	k := seriesKey{route, method, code}
	if p := sc.series.Load(); p != nil {
		if s, ok := (*p)[k]; ok {
			return s
		}
	}
	s := series{
		requests: sc.m.requests.WithLabelValues(route, method, strconv.Itoa(code)),
		latency:  sc.m.latency.WithLabelValues(route, method),
	}
	sc.mu.Lock()
	defer sc.mu.Unlock()
	old := sc.series.Load()
	if old != nil && len(*old) >= maxCachedSeries {
		return s
	}
	next := map[seriesKey]series{}
	if old != nil {
		next = maps.Clone(*old)
	}
	next[k] = s
	sc.series.Store(&next)
	return s
}

// metricsHandler serves /metrics in the Prometheus exposition format.
func metricsHandler() gin.HandlerFunc {
	h := metricsHTTP()
	return func(c *gin.Context) { h.ServeHTTP(c.Writer, c.Request) }
}

// metricsHTTP serves the default registry, the HTTP collectors in it.
func metricsHTTP() http.Handler {
	defaultHTTPMetrics()
	return promhttp.Handler()
}

// verifyReads counts where verifications read the pack's rows: from the
// node's verify index or from SQLite. Their ratio tells an operator whether
// --verify-index-packs holds the packs being verified.
var verifyReads = sync.OnceValue(func() [2]prometheus.Counter {
	v := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "pedigree", Subsystem: "verify", Name: "reads_total",
		Help: "Verifications by where the pack's rows were read: the verify index or SQLite.",
	}, []string{"source"})
	prometheus.MustRegister(v)
	return [2]prometheus.Counter{v.WithLabelValues("sqlite"), v.WithLabelValues("index")}
})

// countVerifyRead counts one verification's read.
func countVerifyRead(fromIndex bool) {
	c := verifyReads()
	if fromIndex {
		c[1].Inc()
	} else {
		c[0].Inc()
	}
}

package server

import (
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// HTTP metrics: a request counter and a latency histogram per route
// (the route pattern, not the raw path, so /01/{gtin}/... is one series
// however many packs are resolved), method and status class.

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
	m := defaultHTTPMetrics()
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		m.requests.WithLabelValues(route, c.Request.Method, strconv.Itoa(c.Writer.Status())).Inc()
		m.latency.WithLabelValues(route, c.Request.Method).Observe(time.Since(start).Seconds())
	}
}

// metricsHandler serves /metrics in the Prometheus exposition format.
func metricsHandler() gin.HandlerFunc {
	defaultHTTPMetrics()
	h := promhttp.Handler()
	return func(c *gin.Context) { h.ServeHTTP(c.Writer, c.Request) }
}

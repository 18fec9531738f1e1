package main

import (
	"net/http"
	"time"
)

// httpTimeouts bound how long one connection may hold a node's goroutines
// and file descriptors without making progress. Without them, a client
// that sends its headers and then trickles its body, or a scanner that
// leaves a keep-alive connection open as it roams out of Wi-Fi, holds a
// connection forever; enough of them exhaust the node's descriptors.
type httpTimeouts struct {
	// header bounds reading a request's headers.
	header time.Duration
	// read bounds reading a whole request, headers and body. A capture
	// may be 32 MiB: in five minutes it arrives at 110 KiB/s, slower than
	// a warehouse's or a pharmacy's uplink.
	read time.Duration
	// answer bounds the handler and writing its answer, after the
	// request has arrived. The slowest handlers wait for a commit through
	// a leader election (a few seconds) or page through a large EPCIS
	// query.
	answer time.Duration
	// idle bounds a keep-alive connection with no request.
	idle time.Duration
}

var defaultHTTPTimeouts = httpTimeouts{
	header: 10 * time.Second,
	read:   5 * time.Minute,
	answer: 2 * time.Minute,
	idle:   2 * time.Minute,
}

// newHTTPServer is the HTTP server of `serve` and `demo`.
func newHTTPServer(handler http.Handler, t httpTimeouts) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: t.header,
		ReadTimeout:       t.read,
		// net/http counts WriteTimeout from the end of the headers, so
		// it includes the time the body takes to arrive: a slow upload
		// within the read timeout must still get its answer.
		WriteTimeout: t.read + t.answer,
		IdleTimeout:  t.idle,
	}
}

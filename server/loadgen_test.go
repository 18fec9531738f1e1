package server

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The load generator of the verification benchmarks. It is part of what
// they measure (the client runs in the same process, on the same two
// cores, and its CPU is in the cpu-µs/op figure), so it is built the way
// wrk is, to cost little beside the server:
//
//   - rawConn is an HTTP/1.1 keep-alive client on a plain net.Conn: one
//     write of prebuilt request bytes, then the status line, the headers
//     and the body (Content-Length or chunked) read with bufio into a
//     reused buffer. No goroutine handoffs per request (net/http.Client's
//     Transport runs a read loop and a write loop per connection and
//     passes every request and response between goroutines through
//     channels), and almost no allocation. A pool of them (loadConns) is
//     kept from the warm-up to the measured run.
//   - runOpenLoop offers a constant rate, whatever the server does, and
//     times each request from when it was scheduled, not from when it
//     was sent: a request that had to wait for a free connection because
//     the server was slow counts that wait. This corrects "coordinated
//     omission" as wrk2 does; a closed loop (each client sends its next
//     request when the last one is answered) slows down with the server,
//     leaves out the requests a real population of scanners would have
//     sent meanwhile, and its latency is just clients/throughput (Little's
//     law), so it cannot test "so many per second with p99 under so much".
//   - runClosedLoop keeps a fixed number of requests in flight, for the
//     maximum throughput.

// rawConn is one keep-alive HTTP/1.1 client connection. It is not safe for
// concurrent use; the generator gives each worker its own.
type rawConn struct {
	addr string
	conn net.Conn
	r    *bufio.Reader
	body []byte // the last response body, reused
}

// do sends one complete request (request line, headers and body) and reads
// the response. The returned body is valid until the next call. Any error
// closes the connection; the next call dials again.
func (rc *rawConn) do(req []byte) (status int, body []byte, err error) {
	if rc.conn == nil {
		c, err := net.Dial("tcp", rc.addr)
		if err != nil {
			return 0, nil, err
		}
		rc.conn = c
		if rc.r == nil {
			rc.r = bufio.NewReaderSize(c, 16<<10)
		} else {
			rc.r.Reset(c)
		}
	}
	status, body, keep, err := rc.roundTrip(req)
	if err != nil || !keep {
		rc.close()
	}
	return status, body, err
}

func (rc *rawConn) roundTrip(req []byte) (status int, body []byte, keep bool, err error) {
	if _, err := rc.conn.Write(req); err != nil {
		return 0, nil, false, err
	}
	line, err := rc.r.ReadSlice('\n')
	if err != nil {
		return 0, nil, false, fmt.Errorf("loadgen: status line: %w", err)
	}
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return 0, nil, false, fmt.Errorf("loadgen: bad status line %q", line)
	}
	status, err = strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, nil, false, fmt.Errorf("loadgen: bad status line %q", line)
	}
	length, chunked, keep := -1, false, true
	for {
		h, err := rc.r.ReadSlice('\n')
		if err != nil {
			return 0, nil, false, fmt.Errorf("loadgen: header: %w", err)
		}
		h = bytes.TrimRight(h, "\r\n")
		if len(h) == 0 {
			break
		}
		name, value, ok := bytes.Cut(h, []byte(":"))
		if !ok {
			return 0, nil, false, fmt.Errorf("loadgen: bad header %q", h)
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			n, err := strconv.Atoi(string(value))
			if err != nil || n < 0 {
				return 0, nil, false, fmt.Errorf("loadgen: bad Content-Length %q", value)
			}
			length = n
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			if !bytes.EqualFold(value, []byte("chunked")) {
				return 0, nil, false, fmt.Errorf("loadgen: transfer encoding %q", value)
			}
			chunked = true
		case bytes.EqualFold(name, []byte("Connection")) && bytes.EqualFold(value, []byte("close")):
			keep = false
		}
	}
	rc.body = rc.body[:0]
	switch {
	case chunked:
		err = rc.readChunked()
	case length >= 0:
		err = rc.readN(length)
	default:
		return 0, nil, false, errors.New("loadgen: response without Content-Length or chunked body")
	}
	if err != nil {
		return 0, nil, false, fmt.Errorf("loadgen: body: %w", err)
	}
	return status, rc.body, keep, nil
}

// readN appends n body bytes to rc.body.
func (rc *rawConn) readN(n int) error {
	rc.body = slices.Grow(rc.body, n)
	m := len(rc.body)
	rc.body = rc.body[:m+n]
	_, err := io.ReadFull(rc.r, rc.body[m:])
	return err
}

// readChunked appends a chunked body to rc.body: hex sizes, each chunk
// followed by CRLF, a zero size, then trailers up to an empty line.
func (rc *rawConn) readChunked() error {
	for {
		line, err := rc.r.ReadSlice('\n')
		if err != nil {
			return err
		}
		size, _, _ := bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte(";"))
		n, err := strconv.ParseInt(string(bytes.TrimSpace(size)), 16, 32)
		if err != nil || n < 0 {
			return fmt.Errorf("bad chunk size %q", line)
		}
		if n == 0 {
			break
		}
		if err := rc.readN(int(n)); err != nil {
			return err
		}
		if crlf, err := rc.r.ReadSlice('\n'); err != nil || string(crlf) != "\r\n" {
			return fmt.Errorf("chunk not followed by CRLF: %q %v", crlf, err)
		}
	}
	for { // trailers
		line, err := rc.r.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			return nil
		}
	}
}

func (rc *rawConn) close() {
	if rc.conn != nil {
		rc.conn.Close()
		rc.conn = nil
	}
}

// rawRequest builds the bytes of one POST request with a body.
func rawRequest(path, contentType, token string, body []byte) []byte {
	b := fmt.Appendf(nil, "POST %s HTTP/1.1\r\nHost: pedigree\r\nAuthorization: Bearer %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n",
		path, token, contentType, len(body))
	return append(b, body...)
}

// loadResult is what a run of the generator measured.
type loadResult struct {
	sent     int             // requests answered or failed
	failed   int             // transport errors and answers check refused
	firstErr error           // the first failure, for the report
	lat      []time.Duration // one per request, sorted
	byIndex  []time.Duration // request i's latency
	elapsed  time.Duration   // from the first scheduled send to the last answer
}

// rate is the achieved throughput in requests per second.
func (r loadResult) rate() float64 { return float64(r.sent) / r.elapsed.Seconds() }

// quantile is the q-quantile of the latencies (q in [0,1]), nearest rank.
func (r loadResult) quantile(q float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	i := int(q*float64(len(r.lat))+0.5) - 1
	return r.lat[min(max(i, 0), len(r.lat)-1)]
}

// loadCheck judges one answer; a non-nil error counts the request failed.
type loadCheck func(status int, body []byte) error

// loadConns makes n keep-alive connections to addr, dialled on first use
// and kept across runs, so a warm-up run leaves them (and the server's
// goroutines serving them) ready for the measured one.
func loadConns(addr string, n int) []*rawConn {
	conns := make([]*rawConn, n)
	for i := range conns {
		conns[i] = &rawConn{addr: addr}
	}
	return conns
}

// closeConns closes every connection.
func closeConns(conns []*rawConn) {
	for _, rc := range conns {
		rc.close()
	}
}

// runOpenLoop sends n requests at a constant offered rate (per second)
// over the connections, request i being reqs[i % len(reqs)] scheduled at
// start + i/rate. A free connection takes the next request, waits for its
// scheduled time if that is still ahead, and sends it; when every
// connection is busy the schedule runs on and the late requests are timed
// from their scheduled time, so a stalled server shows as latency, not as
// a lower rate with good latencies.
func runOpenLoop(conns []*rawConn, reqs [][]byte, n int, rate float64, check loadCheck) loadResult {
	interval := float64(time.Second) / rate
	start := time.Now().Add(time.Millisecond) // let every worker start first
	return runWorkers(conns, reqs, n, check, func(i int) time.Time {
		return start.Add(time.Duration(float64(i) * interval))
	}, start)
}

// runClosedLoop sends n requests over the connections, each sending its
// next request as soon as its last is answered; latencies are from send.
func runClosedLoop(conns []*rawConn, reqs [][]byte, n int, check loadCheck) loadResult {
	return runWorkers(conns, reqs, n, check, nil, time.Now())
}

// runWorkers runs one worker per connection; the workers share the request
// sequence. With a schedule, each request waits for its time and is timed
// from it.
func runWorkers(conns []*rawConn, reqs [][]byte, n int, check loadCheck, schedule func(int) time.Time, start time.Time) loadResult {
	var (
		next     atomic.Int64
		mu       sync.Mutex
		res      loadResult
		lastDone time.Time
		wg       sync.WaitGroup
	)
	// byIndex[i] is request i's latency; each worker writes only the
	// indices it took.
	byIndex := make([]time.Duration, n)
	for _, rc := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var failed int
			var firstErr error
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					break
				}
				var t0 time.Time
				if schedule != nil {
					t0 = schedule(i)
					if d := time.Until(t0); d > 0 {
						time.Sleep(d)
					}
				} else {
					t0 = time.Now()
				}
				status, body, err := rc.do(reqs[i%len(reqs)])
				byIndex[i] = time.Since(t0)
				if err == nil {
					err = check(status, body)
				}
				if err != nil {
					failed++
					if firstErr == nil {
						firstErr = fmt.Errorf("request %d: %w", i, err)
					}
				}
			}
			done := time.Now()
			mu.Lock()
			defer mu.Unlock()
			res.failed += failed
			if res.firstErr == nil {
				res.firstErr = firstErr
			}
			if done.After(lastDone) {
				lastDone = done
			}
		}()
	}
	wg.Wait()
	res.sent = n
	res.elapsed = lastDone.Sub(start)
	res.byIndex = byIndex
	res.lat = slices.Clone(byIndex)
	slices.Sort(res.lat)
	return res
}

func TestRawConn(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch r.URL.Path {
		case "/echo":
			w.Write(body)
		case "/missing":
			http.Error(w, "no such thing", http.StatusNotFound)
		case "/close":
			w.Header().Set("Connection", "close")
			w.Write([]byte("bye"))
		case "/chunked":
			w.Write([]byte("part one"))
			w.(http.Flusher).Flush()
			w.Write([]byte("part two"))
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	rc := &rawConn{addr: srv.Listener.Addr().String()}
	defer rc.close()
	tests := []struct {
		path, body string
		status     int
		want       string
		conns      int64 // connections opened so far
	}{
		{"/echo", "scan one", 200, "scan one", 1},
		{"/echo", "", 200, "", 1},
		{"/missing", "x", 404, "no such thing\n", 1},
		{"/echo", strings.Repeat("z", 3000), 200, strings.Repeat("z", 3000), 1}, // chunked
		{"/close", "x", 200, "bye", 1},
		{"/echo", "again", 200, "again", 2}, // the server closed: dial again
		{"/chunked", "x", 200, "part onepart two", 2},
		{"/echo", "still the same connection", 200, "still the same connection", 2},
	}
	for _, tc := range tests {
		status, body, err := rc.do(rawRequest(tc.path, "text/plain", "tok", []byte(tc.body)))
		if err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		if status != tc.status || string(body) != tc.want {
			t.Fatalf("%s: HTTP %d %q, want %d %q", tc.path, status, body, tc.status, tc.want)
		}
		if n := conns.Load(); n != tc.conns {
			t.Fatalf("%s: %d connections opened, want %d", tc.path, n, tc.conns)
		}
	}
}

// TestOpenLoopTimesFromSchedule stalls the server once and checks that the
// requests scheduled during the stall are timed from their schedule: over
// one connection at 1,000/s, request 10 takes at least 50 ms, so requests
// 11 to 49 (due at 11-49 ms) cannot start before 60 ms and each has a
// latency of at least 11 ms, although the server answers them at once. A
// generator that timed from the send would report one slow request.
func TestOpenLoopTimesFromSchedule(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if n.Add(1) == 11 { // request 10; the first is number 0
			time.Sleep(50 * time.Millisecond)
		}
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	reqs := [][]byte{rawRequest("/", "text/plain", "tok", []byte("x"))}
	ok := func(status int, body []byte) error {
		if status != 200 || string(body) != "ok" {
			return fmt.Errorf("HTTP %d %q", status, body)
		}
		return nil
	}
	conns := loadConns(srv.Listener.Addr().String(), 1)
	defer closeConns(conns)
	res := runOpenLoop(conns, reqs, 50, 1000, ok)
	if res.failed > 0 || res.sent != 50 {
		t.Fatalf("%d of %d failed: %v", res.failed, res.sent, res.firstErr)
	}
	for i := 11; i < 50; i++ {
		if least := time.Duration(60-i) * time.Millisecond; res.byIndex[i] < least {
			t.Errorf("request %d: latency %v, want at least %v", i, res.byIndex[i], least)
		}
	}
	if res.byIndex[10] < 50*time.Millisecond {
		t.Errorf("the stalled request took %v", res.byIndex[10])
	}
	if got := res.quantile(0.5); got < 11*time.Millisecond {
		t.Errorf("median %v: the stall's queue is not in the latencies", got)
	}
}

func TestRawConnRefusesMalformedAnswers(t *testing.T) {
	tests := []struct{ name, answer string }{
		{"not HTTP", "SSH-2.0-OpenSSH\r\n\r\n"},
		{"bad status", "HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n"},
		{"no length", "HTTP/1.1 200 OK\r\n\r\nbody"},
		{"bad length", "HTTP/1.1 200 OK\r\nContent-Length: -3\r\n\r\n"},
		{"short body", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"},
		{"bad chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc"},
		{"header without colon", "HTTP/1.1 200 OK\r\nNonsense\r\n\r\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			go func() {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				bufio.NewReader(c).ReadString('\n')
				io.WriteString(c, tc.answer)
			}()
			rc := &rawConn{addr: ln.Addr().String()}
			defer rc.close()
			if status, body, err := rc.do(rawRequest("/", "text/plain", "tok", nil)); err == nil {
				t.Fatalf("answer %q read as HTTP %d %q", tc.answer, status, body)
			}
			if rc.conn != nil {
				t.Fatal("the connection stays open after a malformed answer")
			}
		})
	}
}

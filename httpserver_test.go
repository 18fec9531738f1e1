package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// startHTTPServer serves h with timeouts t on a loopback port.
func startHTTPServer(t *testing.T, h http.Handler, timeouts httpTimeouts) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newHTTPServer(h, timeouts)
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// dial opens a raw connection to addr, closed when the test ends.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// closedWithin reports whether the server closes conn within d; whatever
// it answers before closing is read and dropped.
func closedWithin(t *testing.T, conn net.Conn, d time.Duration) bool {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false
	}
	return true
}

var shortHTTPTimeouts = httpTimeouts{
	header: 200 * time.Millisecond,
	read:   300 * time.Millisecond,
	answer: 300 * time.Millisecond,
	idle:   300 * time.Millisecond,
}

func TestAClientTricklingItsBodyIsCutOff(t *testing.T) {
	readErr := make(chan error, 1)
	addr := startHTTPServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		readErr <- err
		if err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
		}
	}), shortHTTPTimeouts)
	conn := dial(t, addr)
	// Headers promising 1 MiB, then a few bytes, then nothing.
	if _, err := io.WriteString(conn, "POST /capture HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n{\"events\":"); err != nil {
		t.Fatal(err)
	}
	if !closedWithin(t, conn, 10*time.Second) {
		t.Fatal("the server still holds a connection whose body stopped arriving 10 s ago")
	}
	select {
	case err := <-readErr:
		if err == nil {
			t.Fatal("the handler read a whole body the client never sent")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the handler is still reading the body")
	}
}

func TestASlowButSteadyUploadGetsItsAnswer(t *testing.T) {
	timeouts := httpTimeouts{header: time.Second, read: 3 * time.Second, answer: 300 * time.Millisecond, idle: time.Second}
	addr := startHTTPServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "%d bytes", len(body))
	}), timeouts)
	conn := dial(t, addr)
	// The body takes about 1 s, well within the read timeout but longer
	// than the answer timeout.
	if _, err := io.WriteString(conn, "POST /capture HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		time.Sleep(200 * time.Millisecond)
		if _, err := io.WriteString(conn, "x"); err != nil {
			t.Fatal(err)
		}
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to an upload that arrived within the read timeout: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(body) != "5 bytes" {
		t.Fatalf("answer %d %q", resp.StatusCode, body)
	}
}

func TestAnIdleKeepAliveConnectionIsClosed(t *testing.T) {
	// Only the idle timeout is short: net/http falls back on the read
	// timeout for idle connections, which must not be what closes this one.
	addr := startHTTPServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}), httpTimeouts{header: time.Minute, read: time.Minute, answer: time.Minute, idle: 300 * time.Millisecond})
	conn := dial(t, addr)
	if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != "ok" {
		t.Fatalf("answer %d %q", resp.StatusCode, body)
	}
	if resp.Close {
		t.Fatal("the server closed the connection after the first request; nothing to test")
	}
	if !closedWithin(t, conn, 10*time.Second) {
		t.Fatal("the server still holds a keep-alive connection idle for 10 s")
	}
}

func TestTheServersTimeoutsAreAllSet(t *testing.T) {
	srv := newHTTPServer(http.NotFoundHandler(), defaultHTTPTimeouts)
	for name, d := range map[string]time.Duration{
		"ReadHeaderTimeout": srv.ReadHeaderTimeout, "ReadTimeout": srv.ReadTimeout,
		"WriteTimeout": srv.WriteTimeout, "IdleTimeout": srv.IdleTimeout,
	} {
		// Zero (or less) means no limit to net/http.
		if d <= 0 {
			t.Errorf("%s is %v: no limit", name, d)
		}
	}
	// A capture of the largest size must be able to arrive at a modest
	// rate: 32 MiB in the read timeout is at least 128 KiB/s.
	if defaultHTTPTimeouts.read < 32<<20/(128<<10)*time.Second {
		t.Errorf("read timeout %v cuts off a 32 MiB capture slower than 128 KiB/s", defaultHTTPTimeouts.read)
	}
}

// TestNetHTTPRefusesABadPathEscapeBeforeAnyHandler pins what the README
// says of a path with a malformed percent-escape ("%ZZ", a bare "%"):
// net/http's server refuses the request line itself (url.ParseRequestURI
// fails in its readRequest) and writes a plain-text 400 that no handler,
// ours or Gin's, ever sees, so it cannot carry the API's JSON error. If a
// Go release lets such a request through, this fails, and the router
// should answer it as JSON instead.
func TestNetHTTPRefusesABadPathEscapeBeforeAnyHandler(t *testing.T) {
	reached := make(chan string, 4)
	addr := startHTTPServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached <- r.URL.RequestURI()
	}), defaultHTTPTimeouts)
	for _, target := range []string{"/api/v1/provenance/packs/04012345000016/%ZZ", "/api/v1/verify%", "/01/04012345000016/21/%2"} {
		conn := dial(t, addr)
		fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", target)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%s: %v", target, err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusBadRequest || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
			t.Errorf("%s: %d %s %q", target, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	}
	select {
	case uri := <-reached:
		t.Fatalf("a handler was given %s", uri)
	default:
	}
}

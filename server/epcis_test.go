package server

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"testing"

	"github.com/pedigree-ledger/pedigree/models"
)

// TestCaptureDecodesAreBounded: no more documents are decoded at once
// than the machine has cores; a capture that finds every slot taken
// waits, gives up with 503 busy when its context ends, and goes ahead
// once a slot is free.
func TestCaptureDecodesAreBounded(t *testing.T) {
	if cap(captureDecodes) != runtime.NumCPU() {
		t.Fatalf("%d decode slots on %d cores", cap(captureDecodes), runtime.NumCPU())
	}
	doc := []byte(`{"type":"EPCISDocument","epcisBody":{"eventList":[{"type":"ObjectEvent","eventTime":"2026-01-01T00:00:00Z",
		"eventTimeZoneOffset":"+00:00","action":"OBSERVE","epcList":["https://id.gs1.org/01/09506000134352/21/S1"]}]}}`)
	var held []func()
	for range cap(captureDecodes) {
		release, err := captureDecodes.acquire(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, release)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := decodeCaptureInSlot(ctx, doc, models.RulesVersion)
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("decoded with every slot taken: %v", err)
	default:
	}
	cancel()
	var ae *apiErr
	if err := <-done; !errors.As(err, &ae) || ae.Status != http.StatusServiceUnavailable || ae.Code != "busy" {
		t.Fatalf("waiting capture whose context ended: %v, want 503 busy", err)
	}

	go func() {
		_, err := decodeCaptureInSlot(t.Context(), doc, models.RulesVersion)
		done <- err
	}()
	held[0]()
	if err := <-done; err != nil {
		t.Fatalf("capture after a slot was freed: %v", err)
	}
	for _, release := range held[1:] {
		release()
	}
	if len(captureDecodes) != 0 {
		t.Fatalf("%d slots still taken", len(captureDecodes))
	}
}

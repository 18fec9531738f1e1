package models

import (
	"fmt"
	"strings"
	"testing"
)

// Benchmarks of the per-event CPU cost of a capture_events apply outside
// SQL: decoding the payload, the CBV hash id and the stored JSON. Every node
// runs all three for every event, so their sum bounds the cluster's rate.
// Figures depend on the machine; run briefly on a shared one and say so.

// demoCommissionJSON is one commissioning event as the demo fixture's
// json.Marshal writes it (keys sorted), with serial n.
func demoCommissionJSON(n int) string {
	return `{"action":"ADD","bizLocation":{"id":"urn:epc:id:sgln:4012345.00001.0"},"bizStep":"commissioning",` +
		`"disposition":"active","epcList":["https://id.gs1.org/01/04012345000016/21/S` + fmt.Sprint(n) + `"],` +
		`"eventTime":"2026-11-21T20:00:00Z","eventTimeZoneOffset":"+00:00",` +
		`"ilmd":{"cbvmda:itemExpirationDate":"2028-11-21","cbvmda:lotNumber":"L1"},` +
		`"readPoint":{"id":"urn:epc:id:sgln:4012345.00001.0"},"type":"ObjectEvent"}`
}

// demoCapturePayload is a capture_events payload of n commissioning events.
func demoCapturePayload(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"events":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(demoCommissionJSON(i))
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// BenchmarkCaptureDecode1000 decodes a payload of 1,000 commissioning
// events as Apply does; ns/op and allocs/op are per event.
func BenchmarkCaptureDecode1000(b *testing.B) {
	payload := demoCapturePayload(1000)
	b.ReportAllocs()
	b.SetBytes(int64(len(payload) / 1000))
	b.ResetTimer()
	for done := 0; done < b.N; done += 1000 {
		if _, ok := decodeCaptureFast(payload); !ok {
			b.Fatal("the one pass gave up on the demo payload")
		}
	}
}

// benchEvents are decoded commissioning and shipping events.
func benchEvents(b *testing.B) []Event {
	b.Helper()
	var out []Event
	for i := 0; i < 100; i++ {
		out = append(out, mustEvent(b, demoCommissionJSON(i)))
	}
	return out
}

// BenchmarkEventHashID hashes commissioning events without an eventID, as
// assignIDs does.
func BenchmarkEventHashID(b *testing.B) { benchHashID(b, EventHashID) }

// BenchmarkEventMarshal encodes commissioning events with their record
// time, as the stored JSON is written.
func BenchmarkEventMarshal(b *testing.B) { benchMarshal(b, Event.MarshalJSON) }

// BenchmarkEventHashIDReference is BenchmarkEventHashID on the frozen
// reference implementation, for an A/B comparison in one run.
func BenchmarkEventHashIDReference(b *testing.B) { benchHashID(b, refEventHashID) }

// BenchmarkEventMarshalReference is BenchmarkEventMarshal on the frozen
// reference implementation.
func BenchmarkEventMarshalReference(b *testing.B) { benchMarshal(b, refMarshalJSON) }

// benchHashID hashes benchEvents with hash.
func benchHashID(b *testing.B, hash func(Event) string) {
	events := benchEvents(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if id := hash(events[i%len(events)]); len(id) == 0 {
			b.Fatal("empty id")
		}
	}
}

// benchMarshal encodes benchEvents, with a record time, with marshal.
func benchMarshal(b *testing.B, marshal func(Event) ([]byte, error)) {
	events := benchEvents(b)
	for i := range events {
		events[i].RecordTime = events[i].EventTime.Add(3e9)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := marshal(events[i%len(events)]); err != nil {
			b.Fatal(err)
		}
	}
}

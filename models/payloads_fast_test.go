package models

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
)

// strictCapture is the strict decoding every payload got before the
// one-pass path: decodeThen must answer exactly as it does.
func strictCapture(payload []byte) (CaptureEventsPayload, error) {
	var p CaptureEventsPayload
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return p, fmt.Errorf("decode: %v", err)
	}
	if dec.More() {
		return p, fmt.Errorf("trailing data")
	}
	return p, nil
}

func TestCaptureDecodeFastMatchesStrict(t *testing.T) {
	ev := `{"type":"ObjectEvent","eventTime":"2026-03-01T09:00:00Z","eventTimeZoneOffset":"+00:00","action":"ADD",` +
		`"bizStep":"commissioning","epcList":["` + sgtinDL(gtinA, "F1") + `"]}`
	tests := []struct {
		name    string
		payload string
		ok      bool // decodes without error
	}{
		{"one event", `{"events":[` + ev + `]}`, true},
		{"two events, spaced", " \n\t{\"events\" : [ " + ev + " , " + ev + " ] }\r\n", true},
		{"trailing data", `{"events":[` + ev + `]} {"events":[]}`, false},
		{"trailing garbage", `{"events":[` + ev + `]}x`, false},
		{"vertical tab is not JSON space", "\v{\"events\":[" + ev + "]}", false},
		{"null event", `{"events":[` + ev + `,null]}`, false},
		{"string event", `{"events":["x"]}`, false},
		{"unknown top field", `{"events":[` + ev + `],"extra":1}`, false},
		{"unknown event field", `{"events":[{"type":"ObjectEvent","bogus":1}]}`, false},
		{"no events", `{"events":[]}`, false},
		{"events null", `{"events":null}`, false},
		{"null", `null`, false},
		{"empty", ``, false},
		{"truncated", `{"events":[` + ev, false},
		{"duplicate key, last wins", `{"events":[{"type":"Nope","type":"ObjectEvent","eventTime":"2026-03-01T09:00:00Z","eventTimeZoneOffset":"+00:00","action":"ADD","epcList":[]}]}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, wantErr := strictCapture([]byte(tt.payload))
			var got CaptureEventsPayload
			cmd := Command{Kind: KindCaptureEvents, Payload: []byte(tt.payload)}
			_, gotErr := decodeThen(cmd, &got, func() (any, error) { return nil, nil })
			if tt.ok && wantErr != nil {
				t.Fatalf("strict decoding failed: %v", wantErr)
			}
			if (wantErr == nil) != (gotErr == nil) {
				t.Fatalf("strict error %v, decodeThen error %v", wantErr, gotErr)
			}
			if wantErr != nil {
				var rej *Rejection
				msg := gotErr.Error()
				if r, ok := gotErr.(*Rejection); ok {
					rej, msg = r, r.Message
				}
				if rej == nil || msg != fmt.Sprintf("%s payload: %s", KindCaptureEvents, trimDecodePrefix(wantErr)) {
					t.Fatalf("decodeThen %q, strict %q", msg, wantErr)
				}
				return
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("decoded\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

// trimDecodePrefix turns strictCapture's error into decodeThen's wording.
func trimDecodePrefix(err error) string {
	s := err.Error()
	if rest, ok := bytes.CutPrefix([]byte(s), []byte("decode: ")); ok {
		return string(rest)
	}
	return s
}

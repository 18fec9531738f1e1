package server

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/pedigree-ledger/pedigree/models"
)

// jsonTrickyStrings are strings whose encoding has every escape rule of
// encoding/json in it.
var jsonTrickyStrings = []string{
	"", "plain", "(01)09506000134352(21)A1", `quote " and \ backslash`, "<script>&amp;</script>",
	"ctl \x00\x01\x07\x1f \b\f\n\r\t", "ünïcödé € 日本", "line\u2028para\u2029", "bad\xffutf8\xc3",
	"\x7f del", "emoji 💊", "\xed\xa0\x80 surrogate", "\u00e9 and e\u0301",
}

// fillRandom sets every settable field reachable from v (a pointer's
// target, a slice's elements) to random values, including nil pointers,
// nil and empty slices and zero values, so that omitempty and null are
// exercised as well as every field.
func fillRandom(v reflect.Value, r *rand.Rand) {
	if v.Type() == reflect.TypeFor[time.Time]() {
		zones := []*time.Location{time.UTC, time.FixedZone("", 2*3600), time.FixedZone("", -(9*3600 + 30*60))}
		t := time.Unix(r.Int64N(4e9)-1e9, r.Int64N(1e9)).In(zones[r.IntN(len(zones))])
		if r.IntN(4) == 0 {
			t = t.Truncate(time.Second)
		}
		v.Set(reflect.ValueOf(t))
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fillRandom(v.Field(i), r)
			}
		}
	case reflect.Pointer:
		if r.IntN(4) == 0 {
			v.SetZero()
			return
		}
		p := reflect.New(v.Type().Elem())
		fillRandom(p.Elem(), r)
		v.Set(p)
	case reflect.Slice:
		switch n := r.IntN(5); n {
		case 0:
			v.SetZero()
		default:
			s := reflect.MakeSlice(v.Type(), n-1, n-1)
			for i := 0; i < n-1; i++ {
				fillRandom(s.Index(i), r)
			}
			v.Set(s)
		}
	case reflect.String:
		v.SetString(jsonTrickyStrings[r.IntN(len(jsonTrickyStrings))])
	case reflect.Bool:
		v.SetBool(r.IntN(2) == 0)
	case reflect.Int, reflect.Int64, reflect.Int32:
		if r.IntN(3) > 0 {
			v.SetInt(r.Int64() - r.Int64())
		}
	case reflect.Uint, reflect.Uint64, reflect.Uint32:
		if r.IntN(3) > 0 {
			v.SetUint(r.Uint64() >> r.IntN(64))
		}
	default:
		panic("fillRandom: no filler for " + v.Type().String())
	}
}

// TestVerifyJSONMatchesEncodingJSON compares the hand encoder with
// encoding/json on random answers that set every field of every type in
// them: a field added anywhere (verifyResponse, models.Product, Recall,
// scanner.Verification, gs1.Element...) without its line in
// verify_json.go fails here.
func TestVerifyJSONMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 3000; i++ {
		var resp verifyResponse
		fillRandom(reflect.ValueOf(&resp).Elem(), r)
		want, err := json.Marshal(resp)
		if err != nil {
			t.Fatal(err)
		}
		got, err := resp.appendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("answer %d:\n got %s\nwant %s", i, got, want)
		}
	}
	// The zero answer: nulls for the nil slices, every omitempty left out.
	var zero verifyResponse
	want, _ := json.Marshal(zero)
	if got, _ := zero.appendJSON(nil); !bytes.Equal(got, want) {
		t.Fatalf("zero answer:\n got %s\nwant %s", got, want)
	}
}

// TestVerifyJSONTimeOutOfRange checks that a time encoding/json refuses is
// refused too (answer then falls back to encoding/json's own error path).
func TestVerifyJSONTimeOutOfRange(t *testing.T) {
	for _, resp := range []verifyResponse{
		{Pack: &packView{DecommissionedAt: new(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC))}},
		{Recall: &models.Recall{RecordTime: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)}},
	} {
		if _, err := json.Marshal(resp); err == nil {
			t.Fatal("encoding/json accepted a year outside 0-9999")
		}
		if _, err := resp.appendJSON(nil); err == nil {
			t.Fatal("appendJSON accepted a year outside 0-9999")
		}
	}
}

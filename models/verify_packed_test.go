package models

import (
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mattn/go-sqlite3"
)

// Verify reads its row packed into one text value (verifySQL). It must
// return exactly what gorm reads from the same rows, for every kind of
// value: non-ASCII text (the lengths are in bytes), colons and digits
// inside values, empty strings, NULLs, booleans, times. A lot outside
// GS1 CSET 82 is refused from rules version 3, but a ledger commissioned
// under older rules holds such lots, so this one is at version 2.
func TestVerifyReadsRowsAsStored(t *testing.T) {
	l := newLedger(t)
	l.rules = 2
	l.network()
	l.mustApply(glnMaker, KindRegisterProduct, RegisterProductPayload{GTIN: mkKey("0401234599999"),
		Name: "Paracétamol 500 mg — 20:1 «test» 日本", Form: "", Strength: "12:34", PackSize: "-1:", Signed: true})
	gtinU := mkKey("0401234599999")
	u1 := sgtinDL(gtinU, "U:1")
	l.capture(glnMaker, l.commissionEv("L:ü", "2028-12-31", u1), l.shipEv(glnPharmacy, u1))
	l.capture(glnPharmacy, l.observeEv("receiving", u1), l.observeEv("dispensing", u1))
	l.mustApply(glnReg, KindRecall, RecallPayload{GTIN: gtinU, Lot: "L:ü", Reason: "naïve: 3:abc"})
	l.supplyChain("P1")
	at := l.now.Add(time.Hour)

	for _, tc := range []struct{ gtin, serial string }{{gtinU, "U:1"}, {gtinA, "P1"}, {gtinA, "NOPE"}, {gtinC, ""}} {
		v, err := Verify(l.db, VerifyRequest{Scan: scan(tc.gtin, tc.serial, "", ""), Time: at})
		if err != nil {
			t.Fatalf("%s/%s: %v", tc.gtin, tc.serial, err)
		}
		var prod Product
		if err := l.db.Where("gtin = ?", tc.gtin).Take(&prod).Error; err != nil {
			t.Fatal(err)
		}
		if v.Product == nil || !sameRow(*v.Product, prod) {
			t.Fatalf("%s: product\n got %+v\nwant %+v", tc.gtin, v.Product, prod)
		}
		var items []Item
		if err := l.db.Where(`"key" = ?`, PackKey(tc.gtin, tc.serial)).Find(&items).Error; err != nil {
			t.Fatal(err)
		}
		if stored := tc.serial == "U:1" || tc.serial == "P1"; stored != (len(items) == 1) {
			t.Fatalf("%s/%s: fixture: %d stored packs", tc.gtin, tc.serial, len(items))
		}
		switch {
		case len(items) == 0 && v.Pack != nil:
			t.Fatalf("%s/%s: a pack that is not stored: %+v", tc.gtin, tc.serial, v.Pack)
		case len(items) == 1 && (v.Pack == nil || !sameRow(*v.Pack, items[0])):
			t.Fatalf("%s/%s: pack\n got %+v\nwant %+v", tc.gtin, tc.serial, v.Pack, items[0])
		}
		if len(items) == 1 {
			var recalls []Recall
			if err := l.db.Where("gtin = ? AND lot = ?", items[0].GTIN, items[0].Lot).Find(&recalls).Error; err != nil {
				t.Fatal(err)
			}
			if tc.serial == "U:1" && len(recalls) != 1 {
				t.Fatalf("fixture: lot L:ü has %d recalls", len(recalls))
			}
			if (len(recalls) == 1) != (v.Recall != nil) || len(recalls) == 1 && !sameRow(*v.Recall, recalls[0]) {
				t.Fatalf("%s/%s: recall\n got %+v\nwant %+v", tc.gtin, tc.serial, v.Recall, recalls)
			}
		}
	}
}

// sameRow compares two rows field by field, times by instant.
func sameRow(a, b any) bool {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	for i := range va.NumField() {
		fa, fb := va.Field(i).Interface(), vb.Field(i).Interface()
		switch x := fa.(type) {
		case time.Time:
			if !x.Equal(fb.(time.Time)) {
				return false
			}
		case *time.Time:
			y := fb.(*time.Time)
			if (x == nil) != (y == nil) || x != nil && !x.Equal(*y) {
				return false
			}
		default:
			if !reflect.DeepEqual(fa, fb) {
				return false
			}
		}
	}
	return true
}

// packForTest packs values as packColumns does in SQL (nil is NULL).
func packForTest(vals []*string) string {
	var b strings.Builder
	for _, v := range vals {
		if v == nil {
			b.WriteString("-1:")
			continue
		}
		b.WriteString(strconv.Itoa(len(*v)) + ":" + *v)
	}
	return b.String()
}

func FuzzUnpackColumns(f *testing.F) {
	f.Add("5:hello-1:0:", 3)
	f.Add("3:a:b", 1)
	f.Add("-2:", 1)
	f.Add("99999999999999999999:x", 1)
	f.Add("2:日", 1)
	f.Fuzz(func(t *testing.T, packed string, n int) {
		if n < 0 || n > 64 {
			return
		}
		fields := make([]packedField, n)
		if err := unpackColumns(packed, fields); err != nil {
			return
		}
		// What unpacks, packs back to the same text.
		vals := make([]*string, n)
		for i, fl := range fields {
			if fl.valid {
				vals[i] = &fl.s
			}
		}
		if again := packForTest(vals); again != packed {
			t.Fatalf("unpacked %q to %+v, which packs to %q", packed, fields, again)
		}
	})
}

// Values pack and unpack to themselves, whatever bytes they hold.
func TestPackedColumnsRoundTrip(t *testing.T) {
	s := func(v string) *string { return &v }
	vals := []*string{s(""), nil, s(":"), s("-1:"), s("12:34"), s("日本"), nil, s("\x00\xff")}
	fields := make([]packedField, len(vals))
	if err := unpackColumns(packForTest(vals), fields); err != nil {
		t.Fatal(err)
	}
	for i, v := range vals {
		if (v == nil) == fields[i].valid || v != nil && *v != fields[i].s {
			t.Fatalf("field %d: got %+v, want %v", i, fields[i], v)
		}
	}
	for _, bad := range []string{"", "1:", "x:", "3:ab", "-1:extra", "01", "-5:"} {
		if err := unpackColumns(bad, make([]packedField, 1)); err == nil {
			t.Errorf("%q unpacked", bad)
		}
	}
}

// storedTimeLayouts copies go-sqlite3's SQLiteTimestampFormats (models does
// not link the driver): Verify's packed read parses times with them, and
// sqliteTime writes the first, so they must follow the driver.
func TestStoredTimeLayoutsAreTheDrivers(t *testing.T) {
	if !slices.Equal(storedTimeLayouts, sqlite3.SQLiteTimestampFormats) {
		t.Fatalf("storedTimeLayouts\n%q\ngo-sqlite3's SQLiteTimestampFormats\n%q", storedTimeLayouts, sqlite3.SQLiteTimestampFormats)
	}
}

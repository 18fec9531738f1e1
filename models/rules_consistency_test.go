package models

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// adoptRules3 moves a test ledger at rules 2 to rules version 3.
func (l *ledger) adoptRules3() {
	l.t.Helper()
	if res, err := l.applyBatch(3, l.adoptCmd(3)); err != nil || !res[0].Accepted {
		l.t.Fatalf("adopting 3: %+v, %v", res, err)
	}
}

// TestRules3CommissionOnlyWhatACodeCarries commissions packs whose lot or
// expiry no GS1 code can carry, or whose Digital Link names a lot or an
// expiry other than the ILMD's: rules version 2 took them and recorded the
// ILMD's lot and expiry, version 3 refuses the whole capture. An expiry
// AI (17) carries is taken at either version, already past or not.
func TestRules3CommissionOnlyWhatACodeCarries(t *testing.T) {
	l := newLedger(t)
	l.rules = 2
	l.network() // l.now is 2026-03-01
	withLot := func(lot string) func(string) string {
		return func(serial string) string { return "https://id.gs1.org/01/" + gtinA + "/10/" + lot + "/21/" + serial }
	}
	withQuery := func(query string) func(string) string {
		return func(serial string) string { return sgtinDL(gtinA, serial) + "?" + query }
	}
	type pack struct {
		name, lot, expiry string
		link              func(serial string) string // nil: sgtinDL
	}
	refused := []pack{
		{"a lot of 21 characters", strings.Repeat("L", 21), "2028-12-31", nil},
		{"a lot of 30 characters", "LOT-WITH-MORE-THAN-20-CHARS-30", "2028-12-31", nil},
		{"a lot with a space and an é", "A 1 é", "2028-12-31", nil},
		{"a lot with a GS", "A1\x1dB2", "2028-12-31", nil},
		{"an expiry 124 years ahead", "L1", "2150-01-31", nil},
		{"an expiry 51 years ahead", "L1", "2077-01-31", nil},
		{"an expiry 50 years back", "L1", "1976-12-31", nil},
		{"a Digital Link naming another lot", "L1", "2028-12-31", withLot("LOTX")},
		{"a Digital Link naming another expiry", "L1", "2028-12-31", withQuery("17=281130")},
	}
	taken := []pack{
		{"a lot of 20 characters of CSET 82", "A-Z_az09%&'()*+,./:;", "2028-12-31", nil},
		{"an expiry 50 years ahead", "L1", "2076-12-31", nil},
		{"an expiry 49 years back, long past", "L1", "1977-01-31", nil},
		{"a Digital Link naming its lot", "L1", "2028-12-31", withLot("L1")},
		{"a Digital Link naming its expiry, day 00", "L1", "2028-12-31", withQuery("17=281200")},
	}
	uri := func(p pack, serial string) string {
		if p.link == nil {
			return sgtinDL(gtinA, serial)
		}
		return p.link(serial)
	}
	for _, rules := range []int{2, 3} {
		if rules == 3 {
			l.adoptRules3()
		}
		for i, tc := range refused {
			serial := fmt.Sprintf("R%d-%d", i, rules)
			e := l.commissionEv(tc.lot, tc.expiry, uri(tc, serial))
			good := l.commissionEv("L1", "2028-12-31", sgtinDL(gtinA, "G"+serial))
			res := l.apply(glnMaker, KindCaptureEvents, CaptureEventsPayload{Events: []Event{good, e}})
			switch {
			case rules == 2 && !res.Accepted:
				t.Errorf("rules 2, %s: refused: %s %s", tc.name, res.Code, res.Message)
			case rules == 2:
				// Recorded, as before, by the ILMD whatever the link says.
				if it := l.mustItem(PackKey(gtinA, serial)); it.Lot != tc.lot || it.Expiry != tc.expiry {
					t.Errorf("rules 2, %s: recorded lot %q, expiry %s", tc.name, it.Lot, it.Expiry)
				}
			case res.Accepted || res.Code != CodeBadPayload:
				t.Errorf("rules 3, %s: accepted %v, %s %s; want %s", tc.name, res.Accepted, res.Code, res.Message, CodeBadPayload)
			case l.itemExists(PackKey(gtinA, "G"+serial)):
				t.Errorf("rules 3, %s: the refused capture's other pack was commissioned", tc.name)
			}
		}
		for i, tc := range taken {
			e := l.commissionEv(tc.lot, tc.expiry, uri(tc, fmt.Sprintf("T%d-%d", i, rules)))
			if res := l.apply(glnMaker, KindCaptureEvents, CaptureEventsPayload{Events: []Event{e}}); !res.Accepted {
				t.Errorf("rules %d, %s: refused: %s %s", rules, tc.name, res.Code, res.Message)
			}
		}
	}
}

// TestRules3ReadAnExpiryAtTheEntrysTime: the century of AI (17)'s year is
// the one the GS1 rule gives it at the entry's record time, not at the
// time the node applies it: in a ledger whose clock reads 2090, 2140 is
// an expiry a code carries and 2039 is not.
func TestRules3ReadAnExpiryAtTheEntrysTime(t *testing.T) {
	l := newLedger(t)
	l.network()
	l.now = time.Date(2090, 6, 1, 0, 0, 0, 0, time.UTC)
	l.capture(glnMaker, l.commissionEv("L1", "2140-12-31", sgtinDL(gtinA, "F1")))
	l.captureReject(CodeBadPayload, glnMaker, l.commissionEv("L1", "2039-12-31", sgtinDL(gtinA, "F2")))
}

package models

import "testing"

// ListAlerts with a Viewer keeps what the visibility rule gives it: an
// organisation sees the alerts it raised and those raised at its
// premises; a regulator, and a read without a viewer, see all.
func TestListAlertsVisibility(t *testing.T) {
	l := newLedger(t)
	l.network()
	l.mustApply(glnPharmacy, KindAlert, AlertPayload{Verdict: VerdictUnknownSerial, Serial: "A"})
	l.mustApply(glnPharm2, KindAlert, AlertPayload{Verdict: VerdictExpired, Serial: "B"})
	l.mustApply(glnWholesal, KindAlert, AlertPayload{Verdict: VerdictRecalled, Serial: "C", Location: glnPharmacy})
	serials := func(v *Viewer) string {
		t.Helper()
		alerts, err := ListAlerts(l.db, AlertQuery{Viewer: v})
		if err != nil {
			t.Fatal(err)
		}
		s := ""
		for _, a := range alerts {
			s += a.Serial
		}
		return s
	}
	for _, tc := range []struct {
		viewer *Viewer
		want   string // newest first
	}{
		{nil, "CBA"},
		{&Viewer{Org: glnReg, Role: RoleRegulator}, "CBA"},
		{&Viewer{Org: glnPharmacy, Role: RolePharmacy}, "CA"}, // its own, and one raised at its premises
		{&Viewer{Org: glnPharm2, Role: RolePharmacy}, "B"},
		{&Viewer{Org: glnWholesal, Role: RoleWholesaler}, "C"},
		{&Viewer{Org: glnMaker, Role: RoleManufacturer}, ""},
	} {
		if got := serials(tc.viewer); got != tc.want {
			t.Errorf("viewer %+v sees %q, want %q", tc.viewer, got, tc.want)
		}
	}
}

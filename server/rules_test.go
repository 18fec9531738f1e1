package server

import (
	"net/http"
	"testing"

	"github.com/pedigree-ledger/pedigree/models"
	"github.com/pedigree-ledger/pedigree/raftstore"
)

// TestAnAdminAdoptsRulesEveryMemberKnows: anyone reads the ledger's rules
// version and what each member knows; only an admin adopts a newer one,
// never one a member lacks nor one already in force, and the adoption is
// in the history with its ledger position.
func TestAnAdminAdoptsRulesEveryMemberKnows(t *testing.T) {
	// A new test node adopts this binary's rules (adoptNewestRules); the
	// second plays a newer binary, which knows one version more.
	for _, tc := range []struct {
		supported  int
		status     int
		code       string
		wantActive int
	}{
		{models.RulesVersion, http.StatusConflict, "rules_unsupported", models.RulesVersion},
		{models.RulesVersion + 1, http.StatusOK, "", models.RulesVersion + 1},
	} {
		n := mustRouterNode(t, func(c *raftstore.Config) { c.RulesVersion = tc.supported })
		var view rulesView
		if st, _ := call(t, n.srv.URL, "GET", "/api/v1/cluster/rules", n.pharmacy, nil, &view); st != http.StatusOK ||
			view.Active != models.RulesVersion || len(view.Members) != 1 || view.Members[0].Supported != tc.supported ||
			len(view.History) != 1 || view.History[0].Version != models.RulesVersion {
			t.Fatalf("rules before: %d %+v", st, view)
		}
		for _, bad := range []struct {
			token  string
			body   any
			status int
			code   string
		}{
			{n.pharmacy, map[string]int{"version": 2}, http.StatusForbidden, "forbidden"},
			{n.admin, map[string]int{"version": 0}, http.StatusBadRequest, "bad_version"},
			{n.admin, map[string]string{"version": "2"}, http.StatusBadRequest, "bad_json"},
			{n.admin, map[string]int{"version": models.RulesVersion}, http.StatusConflict, "conflict"},
			{n.admin, map[string]int{"version": tc.supported + 1}, http.StatusConflict, "rules_unsupported"},
		} {
			var e struct{ Error struct{ Code string } }
			if st, _ := call(t, n.srv.URL, "POST", "/api/v1/cluster/rules", bad.token, bad.body, &e); st != bad.status || e.Error.Code != bad.code {
				t.Errorf("adopt %v: %d %s, want %d %s", bad.body, st, e.Error.Code, bad.status, bad.code)
			}
		}

		var e struct{ Error struct{ Code string } }
		st, _ := call(t, n.srv.URL, "POST", "/api/v1/cluster/rules", n.admin, map[string]int{"version": models.RulesVersion + 1}, &e)
		if st != tc.status || e.Error.Code != tc.code {
			t.Fatalf("a node knowing %d adopts %d: %d %s, want %d %s", tc.supported, models.RulesVersion+1, st, e.Error.Code, tc.status, tc.code)
		}
		if st, _ := call(t, n.srv.URL, "GET", "/api/v1/cluster/rules", n.pharmacy, nil, &view); st != http.StatusOK || view.Active != tc.wantActive {
			t.Fatalf("rules after: %d %+v", st, view)
		}
		if last := view.History[len(view.History)-1]; tc.status == http.StatusOK && (last.Version != tc.wantActive || last.Actor != "admin" || last.Seq == 0) {
			t.Fatalf("history: %+v", view.History)
		}
	}
}

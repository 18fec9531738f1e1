package raftstore

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/pedigree-ledger/pedigree/models"
)

// TestLeafInputFollowsTheSpec rebuilds the leaf bytes from the documented
// layout by hand, so the code and the documentation a regulator reads
// cannot drift apart, and pins one leaf hash so any change to the encoding
// is a deliberate, visible one.
func TestLeafInputFollowsTheSpec(t *testing.T) {
	cmd := models.Command{
		ID: "evt-1", Kind: models.KindRegisterOrganisation, Actor: "4012345000009",
		Time:    time.Date(2026, 3, 4, 5, 6, 7, 890000000, time.FixedZone("CET", 3600)),
		Payload: []byte(`{"id":"admin"}`),
	}
	res := models.Result{Accepted: false, Code: "conflict", Message: "messages are not in the leaf"}

	var want bytes.Buffer
	want.WriteString("pedigree-leaf-v1\x00")
	want.Write([]byte{0, 0, 0, 0, 0, 0, 0, 42})
	for _, field := range []string{"evt-1", "register_organisation", "4012345000009", "2026-03-04T04:06:07.89Z", `{"id":"admin"}`} {
		want.Write([]byte{0, 0, 0, byte(len(field))})
		want.WriteString(field)
	}
	want.WriteByte(0) // rejected
	want.Write([]byte{0, 0, 0, 8})
	want.WriteString("conflict")

	got := LeafInput(42, cmd, res)
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("LeafInput =\n%q\nwant\n%q", got, want.Bytes())
	}
	h := sha256.Sum256(append([]byte{0}, want.Bytes()...))
	if !bytes.Equal(LeafHash(42, cmd, res), h[:]) {
		t.Fatal("LeafHash is not SHA-256(0x00 || LeafInput)")
	}
	const pinned = "eda85e316f693118f66db636a68979a6b94241ed7928dc221cb61a7e0f9e46a5"
	if got := hex.EncodeToString(h[:]); got != pinned {
		t.Fatalf("leaf hash of the fixed entry = %s, pinned %s: changing the leaf encoding breaks every published proof", got, pinned)
	}
}

func TestLeafInputSeparatesFields(t *testing.T) {
	base := models.Command{ID: "ab", Kind: "k", Actor: "c", Time: time.Unix(0, 0)}
	moved := base
	moved.ID, moved.Kind = "a", "bk" // same concatenation, different fields
	ok := models.Result{Accepted: true}
	for name, pair := range map[string][2][]byte{
		"field boundary": {LeafInput(1, base, ok), LeafInput(1, moved, ok)},
		"seq":            {LeafInput(1, base, ok), LeafInput(2, base, ok)},
		"verdict":        {LeafInput(1, base, ok), LeafInput(1, base, models.Result{})},
	} {
		if bytes.Equal(pair[0], pair[1]) {
			t.Errorf("%s: two different entries share leaf bytes", name)
		}
	}
}

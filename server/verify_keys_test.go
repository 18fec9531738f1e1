package server

import (
	"context"
	"crypto/elliptic"
	"errors"
	"math/big"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pedigree-ledger/pedigree/fixtures/demo"
	"github.com/pedigree-ledger/pedigree/models"
	"github.com/pedigree-ledger/pedigree/models/gs1"
	"github.com/pedigree-ledger/pedigree/scanner"
)

// mustRegisterKey writes a signing key row into a fake ledger's projection.
func mustRegisterKey(t *testing.T, f *fakeLedger, pub scanner.PublicKey) {
	t.Helper()
	row := models.SigningKey{KeyID: pub.ID, OrgID: "org", Algorithm: string(pub.Algorithm), PublicKey: pub.Key}
	if err := f.db.Create(&row).Error; err != nil {
		t.Fatal(err)
	}
}

// TestLedgerKeysPrepareAtMostMaxPreparedKeys resolves more registered keys
// than the bound, some of them from many requests at once: the first
// scanner.MaxPreparedKeys distinct keys are prepared and counted once
// each, the rest are cached unprepared, an unparsable key is cached as it
// is, and every usable key verifies its codes.
func TestLedgerKeysPrepareAtMostMaxPreparedKeys(t *testing.T) {
	f, _ := mustFakeLedger(t, "0000000000000", models.RoleAdmin)
	var keys []*scanner.PrivateKey
	for range scanner.MaxPreparedKeys + 2 {
		k, err := scanner.GenerateKey(scanner.Ed25519, nil)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
		mustRegisterKey(t, f, k.Public())
	}
	broken := scanner.PublicKey{ID: "brkn", Algorithm: scanner.Ed25519, Key: make([]byte, 31)}
	mustRegisterKey(t, f, broken)

	lk := &ledgerKeys{reader: f}
	ctx := context.Background()
	for i, k := range keys {
		// Eight requests resolve each new key at once.
		var wg sync.WaitGroup
		got := make([]scanner.PublicKey, 8)
		for j := range got {
			wg.Add(1)
			go func() {
				defer wg.Done()
				pk, err := lk.ResolveKey(ctx, k.Public().ID)
				if err != nil {
					t.Error(err)
				}
				got[j] = pk
			}()
		}
		wg.Wait()
		for _, pk := range got {
			if want := i < scanner.MaxPreparedKeys; pk.Prepared() != want {
				t.Fatalf("key %d prepared %v, want %v", i, pk.Prepared(), want)
			}
		}
		if want := min(i+1, scanner.MaxPreparedKeys); lk.prepared != want {
			t.Fatalf("after key %d: %d prepared keys counted, want %d", i, lk.prepared, want)
		}
	}
	for _, i := range []int{0, scanner.MaxPreparedKeys - 1, scanner.MaxPreparedKeys, scanner.MaxPreparedKeys + 1} {
		v, err := scanner.Verify(ctx, mustSignedCode(t, keys[i], "K1"), lk)
		if err != nil || v.Status != scanner.SigValid {
			t.Fatalf("key %d: %+v %v", i, v, err)
		}
	}
	pk, err := lk.ResolveKey(ctx, broken.ID)
	if err != nil || pk.Prepared() || len(pk.Key) != 31 {
		t.Fatalf("unparsable key: %+v %v", pk, err)
	}
	if _, err := lk.ResolveKey(ctx, "none"); !errors.Is(err, scanner.ErrUnknownKey) {
		t.Fatalf("unknown key: %v", err)
	}
	if n := lk.prepared; n != scanner.MaxPreparedKeys {
		t.Fatalf("%d prepared keys counted at the end", n)
	}
}

// TestLedgerKeysCompressedP256 registers a P-256 key in the 33-byte
// compressed form the registry accepts: its codes verify as valid, not as
// signed by an unusable key.
func TestLedgerKeysCompressedP256(t *testing.T) {
	f, _ := mustFakeLedger(t, "0000000000000", models.RoleAdmin)
	k, err := scanner.GenerateKey(scanner.ECDSAP256, nil)
	if err != nil {
		t.Fatal(err)
	}
	pub := k.Public()
	x, y := new(big.Int).SetBytes(pub.Key[1:33]), new(big.Int).SetBytes(pub.Key[33:])
	pub.Key = elliptic.MarshalCompressed(elliptic.P256(), x, y)
	mustRegisterKey(t, f, pub)
	v, err := scanner.Verify(context.Background(), mustSignedCode(t, k, "C1"), &ledgerKeys{reader: f})
	if err != nil || v.Status != scanner.SigValid {
		t.Fatalf("%+v %v", v, err)
	}
}

// TestVerifyRefusesAnotherManufacturersKey: a registered key signs only
// its owner's products. Manufacturer 1's key makes a signature that
// verifies on a code of manufacturer 2's pack, and the verdict is
// signature_invalid naming whose key it is, also when the signature check
// comes from the cache; manufacturer 2's own key makes the pack authentic.
func TestVerifyRefusesAnotherManufacturersKey(t *testing.T) {
	n := mustAPINode(t)
	net, _ := mustSeed(t, n, 20)
	ctx := context.Background()
	admin := n.client(n.adminToken)
	m1 := net.Manufacturer.GLN
	m2 := "501234500000" + strconv.Itoa(gs1.CheckDigit("501234500000"))
	gtin2 := "0501234500001" + strconv.Itoa(gs1.CheckDigit("0501234500001"))
	if err := admin.Do(ctx, "POST", "/api/v1/organisations", "application/json",
		map[string]any{"id": m2, "name": "Borealis Pharma", "role": "manufacturer", "prefixes": []string{"5012345"}}, nil); err != nil {
		t.Fatal(err)
	}
	var tok struct{ Token string }
	if err := admin.Do(ctx, "POST", "/api/v1/organisations/"+m2+"/tokens", "application/json", map[string]any{"label": "test"}, &tok); err != nil {
		t.Fatal(err)
	}
	c2 := n.client(tok.Token)
	k2, err := scanner.GenerateKey(scanner.Ed25519, nil)
	if err != nil {
		t.Fatal(err)
	}
	pub2 := k2.Public()
	at := time.Now().Add(-time.Hour)
	for _, step := range []struct {
		path, contentType string
		body              any
	}{
		{"/api/v1/products", "application/json", models.RegisterProductPayload{GTIN: gtin2, Name: "Borealis 10 mg", Signed: true}},
		{"/api/v1/keys", "application/json", models.RegisterKeyPayload{KeyID: pub2.ID, Algorithm: string(pub2.Algorithm), PublicKey: pub2.Key}},
		{"/epcis/capture", "application/ld+json", demo.Document(at, demo.Commission(at, m2, []string{demo.PackEPC(gtin2, "B1")}, "L2", "2030-12-31"))},
	} {
		if err := c2.Do(ctx, "POST", step.path, step.contentType, step.body, nil); err != nil {
			t.Fatalf("%s: %v", step.path, err)
		}
	}
	code := func(k *scanner.PrivateKey) string {
		es, err := gs1.ParseScan("(01)" + gtin2 + "(17)301231(10)L2(21)B1")
		if err != nil {
			t.Fatal(err)
		}
		signed, err := k.Sign(es)
		if err != nil {
			t.Fatal(err)
		}
		return "]d2" + signed.Raw()
	}
	type answer struct {
		Verdict   string
		Reasons   []struct{ Message string }
		AlertSeq  uint64 `json:"alert_seq"`
		Signature struct {
			Status   string
			KeyOwner string `json:"key_owner"`
			Reason   string
		}
	}
	verify := func(scan string) answer {
		t.Helper()
		var a answer
		if err := c2.Do(ctx, "POST", "/api/v1/verify", "application/json", map[string]any{"scan": scan}, &a); err != nil {
			t.Fatal(err)
		}
		return a
	}
	own := code(k2)
	for i := range 2 { // the cached check keeps the key's owner
		if a := verify(own); a.Verdict != "authentic" || a.Signature.Status != "valid" || a.Signature.KeyOwner != m2 {
			t.Fatalf("scan %d with the manufacturer's own key: %+v", i+1, a)
		}
	}
	forged := code(net.Key)
	for i := range 2 { // the second check of the code comes from the cache
		a := verify(forged)
		if a.Verdict != "signature_invalid" || len(a.Reasons) == 0 || !strings.Contains(a.Reasons[0].Message, "key of "+m1) ||
			a.Signature.Status != "invalid" || a.Signature.KeyOwner != m1 || a.Signature.Reason != a.Reasons[0].Message || a.AlertSeq == 0 {
			t.Fatalf("scan %d of a code signed with another manufacturer's key: %+v", i+1, a)
		}
	}
}

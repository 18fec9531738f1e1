package server

import (
	"context"
	"crypto/elliptic"
	"errors"
	"math/big"
	"sync"
	"testing"

	"github.com/pedigree-ledger/pedigree/models"
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

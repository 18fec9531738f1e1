package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/pedigree-ledger/pedigree/models/gs1"
	"github.com/pedigree-ledger/pedigree/scanner"
)

// countingKeys is a KeyResolver that counts its lookups: scanner.Verify
// resolves the key once per real check, so the count says how many checks
// the cache let through.
type countingKeys struct {
	set   *scanner.KeySet
	calls atomic.Int64
}

func (k *countingKeys) ResolveKey(ctx context.Context, id string) (scanner.PublicKey, error) {
	k.calls.Add(1)
	return k.set.ResolveKey(ctx, id)
}

func mustSignedCode(t *testing.T, key *scanner.PrivateKey, serial string) gs1.ElementString {
	t.Helper()
	es, err := gs1.ParseScan("(01)09506000134352(17)281231(10)L1(21)" + serial)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := key.Sign(es)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}

func TestSigCache(t *testing.T) {
	key, err := scanner.GenerateKey(scanner.Ed25519, nil)
	if err != nil {
		t.Fatal(err)
	}
	other, err := scanner.GenerateKey(scanner.Ed25519, nil)
	if err != nil {
		t.Fatal(err)
	}
	set, err := scanner.NewKeySet(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	keys := &countingKeys{set: set}
	ctx := context.Background()
	good := mustSignedCode(t, key, "A1")
	// The same signature on another serial: altered data.
	tampered := append(gs1.ElementString(nil), good...)
	for i := range tampered {
		if tampered[i].AI == "21" {
			tampered[i].Value = "A2"
		}
	}
	unknown := mustSignedCode(t, other, "A3")

	tests := []struct {
		name      string
		es        gs1.ElementString
		want      scanner.SignatureStatus
		wantCalls int64 // key lookups over two checks of the code
	}{
		{"valid is cached", good, scanner.SigValid, 1},
		{"invalid is cached", tampered, scanner.SigInvalid, 1},
		{"unknown key is not cached", unknown, scanner.SigUnknownKey, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newSigCache(16)
			keys.calls.Store(0)
			for range 2 {
				v, err := c.verify(ctx, tt.es, keys)
				if err != nil && !errors.Is(err, scanner.ErrUnknownKey) {
					t.Fatal(err)
				}
				if v.Status != tt.want {
					t.Fatalf("status %s, want %s (%s)", v.Status, tt.want, v.Reason)
				}
			}
			if got := keys.calls.Load(); got != tt.wantCalls {
				t.Errorf("%d key lookups, want %d", got, tt.wantCalls)
			}
		})
	}

	t.Run("bounded, least recently used out first", func(t *testing.T) {
		c := newSigCache(3)
		codes := make([]gs1.ElementString, 4)
		for i := range codes {
			codes[i] = mustSignedCode(t, key, fmt.Sprintf("B%d", i))
		}
		check := func(es gs1.ElementString) {
			t.Helper()
			if v, err := c.verify(ctx, es, keys); err != nil || v.Status != scanner.SigValid {
				t.Fatalf("%s %v", v.Status, err)
			}
		}
		for _, es := range codes[:3] {
			check(es)
		}
		check(codes[0]) // codes[1] is now the least recently used
		check(codes[3]) // evicts codes[1]
		if n := c.ll.Len(); n != 3 {
			t.Fatalf("%d entries, want 3", n)
		}
		keys.calls.Store(0)
		check(codes[0])
		check(codes[2])
		check(codes[3])
		if got := keys.calls.Load(); got != 0 {
			t.Errorf("kept codes were checked again (%d lookups)", got)
		}
		check(codes[1])
		if got := keys.calls.Load(); got != 1 {
			t.Errorf("evicted code: %d lookups, want 1", got)
		}
	})

	t.Run("nil cache checks every time", func(t *testing.T) {
		var c *sigCache
		keys.calls.Store(0)
		for range 2 {
			if v, err := c.verify(ctx, good, keys); err != nil || v.Status != scanner.SigValid {
				t.Fatalf("%s %v", v.Status, err)
			}
		}
		if got := keys.calls.Load(); got != 2 {
			t.Errorf("%d key lookups, want 2", got)
		}
	})
}

// TestCodeKeyDistinct checks that codes differing anywhere, even only in
// where one value ends and the next begins, have different keys, and that
// a code longer than codeKey's stack buffer is keyed all the same.
func TestCodeKeyDistinct(t *testing.T) {
	long := strings.Repeat("S", 600)
	codes := []gs1.ElementString{
		{{AI: "01", Value: "09506000134352"}, {AI: "21", Value: "A1"}},
		{{AI: "01", Value: "09506000134352"}, {AI: "21", Value: "A2"}},
		{{AI: "01", Value: "09506000134352"}, {AI: "10", Value: "AB"}, {AI: "21", Value: "C"}},
		{{AI: "01", Value: "09506000134352"}, {AI: "10", Value: "A"}, {AI: "21", Value: "BC"}},
		{{AI: "01", Value: "09506000134352"}, {AI: "102", Value: "1"}},
		{{AI: "01", Value: "09506000134352"}, {AI: "10", Value: "21"}},
		{{AI: "01", Value: "09506000134352"}, {AI: "21", Value: long}},
		{{AI: "01", Value: "09506000134352"}, {AI: "21", Value: long + "X"}},
	}
	seen := map[[32]byte]int{}
	for i, es := range codes {
		k := codeKey(es)
		if j, ok := seen[k]; ok {
			t.Fatalf("codes %d and %d share a key", j, i)
		}
		seen[k] = i
		if codeKey(slices.Clone(es)) != k {
			t.Fatalf("code %d: the key is not a function of the code", i)
		}
	}
}

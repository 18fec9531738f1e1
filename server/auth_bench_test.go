package server

import (
	"context"
	"testing"
)

// BenchmarkTokenLookup measures what authenticating costs on a real node:
// a cached token (the revocation state read through the node's applied
// index, no SQL), and the projection's revocation query that runs once
// each time the node has applied more entries.
func BenchmarkTokenLookup(b *testing.B) {
	n := mustAPINode(b)
	auth := authFor(n.store)
	hash := tokenHash(n.adminToken)
	ctx := context.Background()
	if _, err := auth.lookup(ctx, hash); err != nil {
		b.Fatal(err)
	}
	b.Run("cached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := auth.lookup(ctx, hash); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("revocation_query", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := auth.querySeq(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}

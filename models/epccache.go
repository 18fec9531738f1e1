package models

import (
	"sync"

	"github.com/pedigree-ledger/pedigree/models/gs1"
)

// epcCache remembers successful EPC parses. Applying one event parses each
// of its EPCs several times (its hash id, its item key, its index rows, the
// commissioning checks), and a Digital Link parse is costly; an EPC string
// always parses to the same value, so remembering it changes no result and
// keeps Apply deterministic. Failures are not cached: each caller gets a
// fresh error.
var epcCache = struct {
	sync.Mutex
	m map[string]gs1.EPC
}{m: map[string]gs1.EPC{}}

// epcCacheMax bounds the cache; when full it is emptied and refilled, which
// keeps the one batch's EPCs (at most MaxCaptureEvents events) hot.
const epcCacheMax = 1 << 15

// parseEPC is gs1.ParseEPC with the cache in front.
func parseEPC(s string) (gs1.EPC, error) {
	epcCache.Lock()
	e, ok := epcCache.m[s]
	epcCache.Unlock()
	if ok {
		return e, nil
	}
	e, err := gs1.ParseEPC(s)
	if err != nil {
		return e, err
	}
	epcCache.Lock()
	if len(epcCache.m) >= epcCacheMax {
		clear(epcCache.m)
	}
	epcCache.m[s] = e
	epcCache.Unlock()
	return e, nil
}

package server

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"sync"

	"github.com/pedigree-ledger/pedigree/models/gs1"
	"github.com/pedigree-ledger/pedigree/scanner"
)

// sigCache remembers signature checks of scanned codes, bounded, least
// recently used out first. A printed code never changes and a registered
// key is never replaced (the registry refuses a second key with an id), so
// a code's check against the registry has one answer for good: the same
// pack is scanned again at every hand-over, and Ed25519 verification was
// about a third of a verification's CPU. Only answers that depend on the
// code and an immutable key are kept (valid, invalid); an unknown key may
// be registered later, and errors are never cached.
//
// A cached check holds the key's owner, not a judgement of it: whether the
// owner made the product is judged by models.Verify on every request,
// after the cache, against the product the code's GTIN names. And the
// cache key is the whole code, GTIN included, so a check is only ever
// reused for the very code it was made for.
type sigCache struct {
	mu    sync.Mutex
	max   int
	ll    *list.List // front: most recently used *sigEntry
	byKey map[[sha256.Size]byte]*list.Element
}

type sigEntry struct {
	key [sha256.Size]byte
	v   scanner.Verification
}

// sigCacheSize bounds the cache: about 200 bytes an entry, so ~13 MB.
const sigCacheSize = 1 << 16

func newSigCache(max int) *sigCache {
	return &sigCache{max: max, ll: list.New(), byKey: map[[sha256.Size]byte]*list.Element{}}
}

// codeKey hashes every element of the code (AI and value, length-prefixed
// so no two codes share a key): the signature, its key id and the signed
// data are all in it. The elements are laid out in a stack buffer and
// hashed at once (a hash.Hash and a []byte per value were allocations on
// every verification).
func codeKey(es gs1.ElementString) [sha256.Size]byte {
	var buf [512]byte
	b := buf[:0]
	for _, e := range es {
		b = binary.AppendUvarint(b, uint64(len(e.AI)))
		b = append(b, e.AI...)
		b = binary.AppendUvarint(b, uint64(len(e.Value)))
		b = append(b, e.Value...)
	}
	return sha256.Sum256(b)
}

// verify is scanner.Verify through the cache; a nil cache verifies every
// time.
func (c *sigCache) verify(ctx context.Context, es gs1.ElementString, keys scanner.KeyResolver) (scanner.Verification, error) {
	if c == nil {
		return scanner.Verify(ctx, es, keys)
	}
	k := codeKey(es)
	c.mu.Lock()
	if el, ok := c.byKey[k]; ok {
		c.ll.MoveToFront(el)
		v := el.Value.(*sigEntry).v
		c.mu.Unlock()
		return v, nil
	}
	c.mu.Unlock()
	v, err := scanner.Verify(ctx, es, keys)
	if err != nil || (v.Status != scanner.SigValid && v.Status != scanner.SigInvalid) {
		return v, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.byKey[k]; !ok {
		c.byKey[k] = c.ll.PushFront(&sigEntry{key: k, v: v})
		for c.ll.Len() > c.max {
			old := c.ll.Remove(c.ll.Back()).(*sigEntry)
			delete(c.byKey, old.key)
		}
	}
	return v, nil
}

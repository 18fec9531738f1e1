package raftstore

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
)

// Signed tree heads are C2SP tlog-checkpoint bodies in the C2SP signed-note
// format, signed with the node's Ed25519 key, so tools that read
// transparency-log checkpoints (golang.org/x/mod/sumdb/note verifiers, for
// one) check them without Pedigree code:
//
//	<origin>\n<size, decimal>\n<root, base64>\n
//	\n
//	— <key name> <base64(key hash[4] || Ed25519 signature[64])>\n
//
// The key hash is the first 4 bytes of SHA-256(key name || "\n" || 0x01 ||
// public key), and the verifier key is "<name>+<key hash, hex>+<base64(0x01
// || public key)>". The format is small enough to write here rather than
// take another module.

const algEd25519 = 0x01

func loadOrCreateKey(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		seed, err := hex.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(seed) != ed25519.SeedSize {
			return nil, fmt.Errorf("node key %s is not a hex Ed25519 seed", path)
		}
		return ed25519.NewKeyFromSeed(seed), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read node key: %w", err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, []byte(hex.EncodeToString(priv.Seed())+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("write node key: %w", err)
	}
	return priv, nil
}

type signer struct {
	origin      string
	name        string
	key         ed25519.PrivateKey
	hash        uint32
	verifierKey string

	// last is the latest signed head. Every provenance answer, dashboard
	// page and head request carries a signed head, and Ed25519 signatures
	// are deterministic, so a head is signed once per tree size.
	mu   sync.Mutex
	last signedHead
}

type signedHead struct {
	size uint64
	root []byte
	note string
	sig  []byte
}

func keyHash(name string, pub ed25519.PublicKey) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{'\n', algEd25519})
	h.Write(pub)
	return binary.BigEndian.Uint32(h.Sum(nil)[:4])
}

func newSigner(origin, name string, key ed25519.PrivateKey) *signer {
	pub := key.Public().(ed25519.PublicKey)
	kh := keyHash(name, pub)
	vk := fmt.Sprintf("%s+%08x+%s", name, kh, base64.StdEncoding.EncodeToString(append([]byte{algEd25519}, pub...)))
	return &signer{origin: origin, name: name, key: key, hash: kh, verifierKey: vk}
}

// CheckpointBody is the C2SP tlog-checkpoint text of a tree head.
func CheckpointBody(origin string, size uint64, root []byte) string {
	return fmt.Sprintf("%s\n%d\n%s\n", origin, size, base64.StdEncoding.EncodeToString(root))
}

// sign returns the signed note and the raw signature over its body.
func (s *signer) sign(size uint64, root []byte) (note string, sig []byte) {
	s.mu.Lock()
	last := s.last
	s.mu.Unlock()
	if last.note != "" && last.size == size && bytes.Equal(last.root, root) {
		return last.note, bytes.Clone(last.sig)
	}
	body := CheckpointBody(s.origin, size, root)
	sig = ed25519.Sign(s.key, []byte(body))
	var kh [4]byte
	binary.BigEndian.PutUint32(kh[:], s.hash)
	line := fmt.Sprintf("\u2014 %s %s\n", s.name, base64.StdEncoding.EncodeToString(append(kh[:], sig...)))
	note = body + "\n" + line
	s.mu.Lock()
	if size >= s.last.size {
		s.last = signedHead{size: size, root: bytes.Clone(root), note: note, sig: bytes.Clone(sig)}
	}
	s.mu.Unlock()
	return note, sig
}

// Checkpoint is a verified tree head read from a signed note.
type Checkpoint struct {
	Origin string
	Size   uint64
	Root   []byte
}

// VerifyCheckpoint checks a signed note against a verifier key (as Head
// and the cluster listing publish it) and returns the tree head it signs.
func VerifyCheckpoint(note, verifierKey string) (Checkpoint, error) {
	name, pub, kh, err := parseVerifierKey(verifierKey)
	if err != nil {
		return Checkpoint{}, err
	}
	body, sigs, ok := strings.Cut(note, "\n\n")
	if !ok {
		return Checkpoint{}, errors.New("checkpoint: no blank line before the signatures")
	}
	body += "\n"
	for _, line := range strings.Split(strings.TrimSuffix(sigs, "\n"), "\n") {
		rest, ok := strings.CutPrefix(line, "\u2014 ")
		if !ok {
			return Checkpoint{}, fmt.Errorf("checkpoint: bad signature line %q", line)
		}
		n, b64, ok := strings.Cut(rest, " ")
		if !ok || n != name {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(raw) != 4+ed25519.SignatureSize || binary.BigEndian.Uint32(raw[:4]) != kh {
			continue
		}
		if !ed25519.Verify(pub, []byte(body), raw[4:]) {
			return Checkpoint{}, errors.New("checkpoint: signature does not verify")
		}
		return parseCheckpointBody(body)
	}
	return Checkpoint{}, fmt.Errorf("checkpoint: no signature by %s", name)
}

// nodeKeyName names node id's head-signing key.
func nodeKeyName(id string) string { return "pedigree-" + id }

// CheckNodeKey checks that vk is a verifier key, in the form Head and the
// cluster listing publish, and that it is named for node id, as that
// node's own key is. A join refuses any other: clients check heads with
// the keys the listing gives.
func CheckNodeKey(id, vk string) error {
	name, _, _, err := parseVerifierKey(vk)
	if err != nil {
		return err
	}
	if want := nodeKeyName(id); name != want {
		return fmt.Errorf("verifier key is named %q; node %s's is named %q", name, id, want)
	}
	return nil
}

func parseVerifierKey(vk string) (string, ed25519.PublicKey, uint32, error) {
	parts := strings.SplitN(vk, "+", 3) // the base64 key may itself hold "+"
	if len(parts) != 3 {
		return "", nil, 0, fmt.Errorf("verifier key %q: want name+hash+key", vk)
	}
	h, err := strconv.ParseUint(parts[1], 16, 32)
	if err != nil || len(parts[1]) != 8 {
		return "", nil, 0, fmt.Errorf("verifier key %q: bad key hash", vk)
	}
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) != 1+ed25519.PublicKeySize || raw[0] != algEd25519 {
		return "", nil, 0, fmt.Errorf("verifier key %q: not an Ed25519 key", vk)
	}
	pub := ed25519.PublicKey(raw[1:])
	if keyHash(parts[0], pub) != uint32(h) {
		return "", nil, 0, fmt.Errorf("verifier key %q: key hash does not match", vk)
	}
	return parts[0], pub, uint32(h), nil
}

func parseCheckpointBody(body string) (Checkpoint, error) {
	lines := strings.SplitN(body, "\n", 4)
	if len(lines) < 4 {
		return Checkpoint{}, errors.New("checkpoint: body needs origin, size and root lines")
	}
	size, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint: bad size %q", lines[1])
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != sha256.Size {
		return Checkpoint{}, fmt.Errorf("checkpoint: bad root %q", lines[2])
	}
	return Checkpoint{Origin: lines[0], Size: size, Root: bytes.Clone(root)}, nil
}

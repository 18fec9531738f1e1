package scanner

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"strings"
)

// MarshalPEM encodes the private key as PKCS#8 in a "PRIVATE KEY" PEM
// block, the form openssl and other tools read.
func (k *PrivateKey) MarshalPEM() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k.key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParsePrivateKeyPEM reads a PKCS#8 Ed25519 or P-256 private key in PEM.
func ParsePrivateKeyPEM(data []byte) (*PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, errors.New("not a PEM \"PRIVATE KEY\" block")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse private key: %w", err)
	}
	return newPrivateKey(key)
}

// ReadPublicKeys reads public keys as JSON: one object
// {"key_id":…,"algorithm":…,"public_key":"<base64>"}, several objects one
// after another (JSON lines), or an array of them. Each key is validated.
func ReadPublicKeys(r io.Reader) ([]PublicKey, error) {
	dec := json.NewDecoder(r)
	var keys []PublicKey
	for {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("read public keys: %w", err)
		}
		var batch []PublicKey
		if strings.HasPrefix(strings.TrimSpace(string(raw)), "[") {
			if err := json.Unmarshal(raw, &batch); err != nil {
				return nil, fmt.Errorf("read public keys: %w", err)
			}
		} else {
			var k PublicKey
			if err := json.Unmarshal(raw, &k); err != nil {
				return nil, fmt.Errorf("read public keys: %w", err)
			}
			batch = append(batch, k)
		}
		for _, k := range batch {
			if err := k.Validate(); err != nil {
				return nil, fmt.Errorf("public key %q: %w", k.ID, err)
			}
		}
		keys = append(keys, batch...)
	}
	if len(keys) == 0 {
		return nil, errors.New("read public keys: no keys")
	}
	return keys, nil
}

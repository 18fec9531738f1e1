package scanner

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/pedigree-ledger/pedigree/models/gs1"
)

// ErrInvalidGS1 means a code is marked as GS1 (FNC1 first, "]d2") but its
// data breaks the GS1 rules; the error wraps the *gs1.Error that says how.
var ErrInvalidGS1 = errors.New("GS1 data is invalid")

// classify parses a decoded code's data with gs1.ParseScan and decides
// whether the search may stop. A DataMatrix is definitive whatever it
// holds (error correction vouches for the data, so another view would read
// the same); a QR code ends the search only when it holds a GS1 Digital
// Link, since a photo may show a marketing QR beside the pack's code.
func (s *search) accept(r *Result) bool {
	switch {
	case r.Format == "datamatrix" && r.Symbology == "]d2":
		r.Elements, r.parseErr = gs1.ParseScan(r.ScanText())
		return true
	case r.Format == "qrcode":
		if es, err := gs1.ParseScan(r.ScanText()); err == nil {
			r.Elements = es
			return true
		}
	case r.Format == "datamatrix":
		s.nonGS1 = r
		return true
	}
	if s.nonGS1 == nil {
		s.nonGS1 = r
	}
	return false
}

// finish turns an accepted result into Decode's answer.
func finish(r *Result) (*Result, error) {
	switch {
	case r.Elements != nil:
		return r, nil
	case r.parseErr != nil:
		return r, fmt.Errorf("%w: %w", ErrInvalidGS1, r.parseErr)
	}
	return r, fmt.Errorf("%w: read %s code with symbology %s", ErrNotGS1, r.Format, r.Symbology)
}

// HRI is the bracketed form of the code's GS1 data, "(" in a value
// written "\(" so that it parses back to the same data (see
// gs1.ElementString.HRI), or "" when the code has no GS1 data.
func (r *Result) HRI() string {
	if r.Elements == nil {
		return ""
	}
	return r.Elements.HRI()
}

// Sign returns a copy of es with AI 8030 appended: the key's id and its
// signature over every other element (see the package documentation for
// the bytes). es must not already carry 8030; the result is validated
// against the GS1 rules, which want 8030 beside a serialised key (01+21).
func (k *PrivateKey) Sign(es gs1.ElementString) (gs1.ElementString, error) {
	v, err := k.signFields(fields(es))
	if err != nil {
		return nil, err
	}
	out := append(slices.Clone(es), gs1.Element{AI: AIDigSig, Value: v})
	if err := out.Validate(); err != nil {
		return nil, fmt.Errorf("signed data is not valid GS1: %w", err)
	}
	return out, nil
}

// Verify checks the signature a code carries against keys. Every outcome
// about the code itself is a Verification; the error is only for a key
// resolver that failed for another reason than an unknown key, when no
// verdict can be given. keys may be nil: a signed code then verifies as
// unknown_key.
func Verify(ctx context.Context, es gs1.ElementString, keys KeyResolver) (Verification, error) {
	return verifyFields(ctx, fields(es), keys)
}

// SignedMessage returns the exact bytes a signature by the key with id
// keyID covers for es, for other implementations to test against.
func SignedMessage(keyID string, es gs1.ElementString) ([]byte, error) {
	return signedMessage(keyID, fields(es))
}

func fields(es gs1.ElementString) []field {
	out := make([]field, len(es))
	for i, e := range es {
		out[i] = field{ai: e.AI, value: e.Value}
	}
	return out
}

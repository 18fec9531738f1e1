// Package scanner reads and prints the codes on medicine packs: GS1
// DataMatrix symbols (and QR codes carrying a GS1 Digital Link), and the
// digital signature a manufacturer puts in them (GS1 AI 8030, DigSig).
//
// # Decoding
//
// Decode takes an untrusted PNG, JPEG or GIF. It rejects an image from its
// header, before decoding a pixel, when it is over Options.MaxBytes or
// Options.MaxPixels (a pixel of 16 bits per channel counting twice, for
// its memory); it bounds the whole retry ladder by Options.Timeout
// and the context's deadline; and a panic inside a decoder becomes an
// error. gozxing's DataMatrix reader makes a single attempt, so Decode
// retries cheapest first (see search.go): binarizers, inversion, crops of
// high-contrast regions, upscaling, a median filter, rotation, and the
// full-resolution photo, stopping at the first DataMatrix or Digital Link
// it reads. The symbology identifier is kept ("]d2" means GS1) and the
// data goes through gs1.ParseScan, so Result.Elements is validated GS1.
//
// # Encoding
//
// EncodeGS1 makes an ECC200 symbol whose first codeword is FNC1 (232),
// with FNC1 for every GS separator, in ASCII encodation (digit pairs in one
// codeword). It builds on gozxing's encoder package for the symbol table,
// Reed-Solomon error correction and module placement, since gozxing's
// writer has no GS1 mode. Symbols render to PNG and SVG with a quiet zone
// and the human-readable text under them.
//
// # DigSig byte layout (version 1)
//
// The value of AI 8030 is exactly 90 characters of base64url (RFC 4648 §5,
// no padding, unused trailing bits zero):
//
//	characters 1-4:   key id, base64url of 3 bytes
//	characters 5-90:  signature, base64url of 64 bytes
//
// The key id is the first 3 bytes of
//
//	SHA-256("pedigree-keyid-v1" || 0x00 || algorithm || 0x00 || public key)
//
// where algorithm is the ASCII name "ed25519" or "ecdsa-p256" and the
// public key is raw: 32 bytes for Ed25519, the 65-byte uncompressed point
// (0x04 || X || Y) for P-256. A P-256 key registered in its 33-byte
// compressed form has the id of its uncompressed point and verifies the
// same codes. Ids are short hints; a registry must refuse a second key
// with an id it already holds (models.KeyID is the derivation).
//
// The signature covers the message
//
//	"pedigree-digsig-v1" || GS || key id (4 ASCII characters)
//	  || for each element except 8030, in ascending byte order of the AI:
//	     GS || AI || value
//
// with GS the byte 0x1D and AIs and values as ASCII. Sorting makes the
// message independent of the order a printer put the fields in. An AI may
// appear once. Ed25519 signs the message itself (RFC 8032, pure Ed25519);
// ECDSA P-256 signs SHA-256 of it and the signature is r || s, each 32
// bytes big-endian. Since (r, n-s) verifies as well as (r, s), the signer
// writes s <= n/2 only; a verifier takes either, for codes printed before
// it did (see ParseDigSig). For example, for
// (01)09506000134352(17)280131(10)LOT7(21)SN12345abc and the Ed25519 key
// with seed 00 01 02 .. 1f (key id "GgEs") the message is
//
//	pedigree-digsig-v1 GS GgEs GS 0109506000134352 GS 10LOT7 GS 17280131 GS 21SN12345abc
//
// (spaces added) and AI 8030 is
// GgEspkzpeTChsWXeCj4sF_4EGvlQJloY9hMCOGNaC2bMETI0tugbiP7ny5L6Xr-_0PXkAP2ki6LIVU1f_xHzcW3bDA.
//
// Verify gives one SignatureStatus per outcome: valid; missing (no 8030);
// malformed (not 90 base64url characters, e.g. truncated); unknown_key (no
// registered key has the id); invalid (the data or signature was changed).
// Keys come from a KeyResolver: KeySet in memory, or the ledger's registry
// in the server.
package scanner

// Package gs1 reads, checks and writes GS1 identifiers and barcode data: the
// Application Identifier (AI) table, element strings as scanners transmit
// them, the bracketed human-readable form, GS1 Digital Link URIs, and the
// keys (GTIN, SSCC, GLN) with their EPC URI forms.
//
// Everything here is pure and deterministic; the package imports nothing of
// Pedigree's.
package gs1

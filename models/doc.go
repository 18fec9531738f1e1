// Package models is Pedigree's domain: GS1 identifiers and scan parsing, the
// EPCIS events that move packs through the supply chain, the pack lifecycle
// rules, and the gorm models of the ledger's SQLite projection.
//
// It imports nothing else of Pedigree's, so every other package can depend on
// it and it can be tested alone.
//
// Everything that runs inside the replicated state machine (the rules applied
// by Apply) is deterministic: it takes time and identifiers from the command
// it is given, never from the clock, randomness or node-local configuration.
// Files holding such code are named apply_*.go.
package models

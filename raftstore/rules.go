package raftstore

import "github.com/pedigree-ledger/pedigree/models"

// The lifecycle rules raftstore applies, named once so the FSM code reads
// as what it does.
var (
	newRuleBatch = models.NewBatch
	migrateRules = models.Migrate
)

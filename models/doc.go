// Package models is Pedigree's domain: the commands that change the ledger,
// the EPCIS 2.0 events that move packs through the supply chain, the pack
// lifecycle rules, the gorm models of the ledger's SQLite projection and the
// reads served from it (verification, provenance, EPCIS queries). GS1
// identifiers and scan parsing live in the subpackage gs1.
//
// It imports nothing else of Pedigree's, so every other package can depend on
// it and it can be tested alone.
//
// # Writes
//
// A write is a Command (kind, actor, record time, JSON payload). Apply runs
// its rule against the projection inside the caller's transaction and
// returns a Result; Migrate creates the tables. Everything that runs inside
// the replicated state machine is deterministic: it takes time and
// identifiers from the command, never from the clock, randomness or
// node-local configuration, and it iterates maps only in sorted order, so
// every node that applies the same log holds the same projection. Files
// holding such code are named apply_*.go. Apply never panics; a rejected
// command gets Accepted false, a Code (the Code* constants) and a Message,
// and the caller rolls its writes back, then calls RecordRejection, which
// keeps the alert some rejections raise. A Batch does all of that itself
// for the commands of one transaction, applying runs of captures in memory
// and writing them at once (Flush), with the same results and projection
// as Apply command by command, however the commands are grouped.
//
// # Packs and their lives
//
// A pack is an SGTIN, a case or pallet an SSCC; both are Items, keyed by
// their GS1 element string ("(01)…(21)…", "(00)…"), so any EPC URI or
// Digital Link spelling finds the same row. Items form a tree through
// ParentID (aggregation) whose inner nodes are containers: a pack holds
// nothing. Who may do what:
//
//   - a manufacturer commissions only registered GTINs under its own GS1
//     company prefix that are registered as its own products, with lot and
//     expiry in the ILMD; no company prefix is registered that equals,
//     extends or is extended by another organisation's, so a GTIN is under
//     one manufacturer's prefix only;
//   - only the holder packs, unpacks, ships, observes or decommissions an
//     item; shipping names a registered destination; shipping or receiving
//     a container moves its whole subtree in one SQL statement, and a
//     shipment travels whole: its shipper voids it only at the top (not
//     for an item inside a container) and no one unpacks a container in
//     transit;
//   - only the holder records a TransactionEvent, TransformationEvent or
//     AssociationEvent: it must hold every pack and container the event
//     names (parentID, epcList, childEPCs, inputEPCList and outputEPCList,
//     so a transformation's outputs are commissioned first);
//   - an event of any type that names a class of packs (a lot or a product,
//     in quantityList, childQuantityList, inputQuantityList or
//     outputQuantityList) is recorded only by the product's manufacturer
//     or by an organisation holding at least one pack of that lot (of that
//     product, for a product class); the product must be registered. An
//     event is indexed under every pack, container and lot it names, and
//     these rules keep an organisation's events out of the histories of
//     packs and lots it never had (and so keep those histories from it);
//   - only the destination receives (anyone else is rejected and alerted);
//   - only a pharmacy dispenses, and only what it holds; nobody dispenses
//     or gives as a sample a pack that is expired or of a recalled lot;
//   - destroyed and stolen are final; an undo of a decommission is made by
//     the same organisation at the same premises within UndoWindow of the
//     decommission's record time, never for an expired, recalled or
//     supplied-to-the-public pack;
//   - a lot is recalled by its product's manufacturer or a regulator;
//   - a manufacturer registers a signing key only under the id derived
//     from it (KeyID), the first to register an id keeps it.
//
// # Reads
//
// Verify judges a scan with one statement of three indexed lookups;
// VerifyIndex.Verify judges it from memory, from the rows of the packs
// changed last that whoever applies the commands keeps there, with the
// same answer (the judgement is one function of the rows, wherever they
// were read). A signature the caller found valid counts only when its
// key's owner (VerifyRequest.KeyOwner) is the product's manufacturer: any
// registered key makes signatures that verify.
// ChainOfCustody reads the event-EPC index (a container's moves are indexed
// for everything inside it), QueryEvents serves the EPCIS query interface
// with stable keyset pages, and the Lookup* and List* functions serve the
// rest of the API. Who sees what is
// one rule, Viewer: a regulator or admin sees every event, anyone else the
// events it captured or that happened at its own locations; QueryEvents
// and ChainOfCustody (a pack's, lot's or container's provenance) apply it.
// Reads return ErrNotFound, ErrRevoked and ErrBadQuery for the cases
// callers branch on.
package models

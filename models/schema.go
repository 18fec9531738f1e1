package models

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// The projection: gorm models of the SQLite tables that Apply writes and the
// read queries use. Every row is derived from the ledger, so a node can drop
// the database and rebuild it by replaying the log. No field is named
// CreatedAt or UpdatedAt: gorm would fill those from the local clock, and the
// projection must be the same on every node.

// Role is what an organisation is in the supply chain; rules check it.
type Role string

// The roles.
const (
	RoleManufacturer Role = "manufacturer"
	RoleWholesaler   Role = "wholesaler"
	RolePharmacy     Role = "pharmacy"
	RoleRegulator    Role = "regulator"
	RoleAdmin        Role = "admin"
)

// Valid reports whether r is one of the roles.
func (r Role) Valid() bool {
	switch r {
	case RoleManufacturer, RoleWholesaler, RolePharmacy, RoleRegulator, RoleAdmin:
		return true
	}
	return false
}

// Organisation is a registered trading partner, regulator or admin.
type Organisation struct {
	// ID is the organisation's GLN, or a name for an admin.
	ID   string `gorm:"primaryKey" json:"id"`
	Name string `gorm:"not null" json:"name"`
	Role Role   `gorm:"not null" json:"role"`
	// Prefixes are its GS1 company prefixes, space-separated (each is also a
	// CompanyPrefix row, which is what rules look up).
	Prefixes   string    `json:"prefixes,omitempty"`
	Seq        uint64    `json:"seq"`
	RecordTime time.Time `json:"record_time"`
}

// CompanyPrefix maps a GS1 company prefix to the organisation licensing it.
// A prefix belongs to one organisation.
type CompanyPrefix struct {
	Prefix string `gorm:"primaryKey"`
	OrgID  string `gorm:"index;not null"`
}

// Token is an API token, stored only as its SHA-256 hash.
type Token struct {
	// Hash is the lowercase hex SHA-256 of the bearer token.
	Hash  string `gorm:"primaryKey" json:"hash"`
	OrgID string `gorm:"index;not null" json:"org_id"`
	// Role is the organisation's role, copied at issue so that
	// authenticating a request is one lookup.
	Role       Role       `json:"role"`
	Label      string     `json:"label,omitempty"`
	IssuedSeq  uint64     `json:"issued_seq"`
	IssuedAt   time.Time  `json:"issued_at"`
	RevokedSeq uint64     `gorm:"index" json:"revoked_seq,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

// Product is a registered GTIN.
type Product struct {
	// GTIN is 14 digits.
	GTIN string `gorm:"primaryKey" json:"gtin"`
	Name string `json:"name"`
	// Manufacturer is the owning organisation's GLN.
	Manufacturer string `gorm:"index;not null" json:"manufacturer"`
	Form         string `json:"form,omitempty"`
	Strength     string `json:"strength,omitempty"`
	PackSize     string `json:"pack_size,omitempty"`
	// Signed says packs carry an AI 8030 signature.
	Signed bool `json:"signed"`
	// Seq, here as on items and recalls, is indexed for the verify
	// index, which reads each batch's new rows by it (ChangesSince).
	Seq        uint64    `gorm:"index" json:"seq"`
	RecordTime time.Time `json:"record_time"`
}

// SigningKey is a manufacturer's registered public key.
type SigningKey struct {
	KeyID      string    `gorm:"primaryKey" json:"key_id"`
	OrgID      string    `gorm:"index;not null" json:"org_id"`
	Algorithm  string    `gorm:"not null" json:"algorithm"`
	PublicKey  []byte    `gorm:"not null" json:"public_key"`
	Seq        uint64    `json:"seq"`
	RecordTime time.Time `json:"record_time"`
}

// Status is a pack's (or container's) lifecycle status, after the EU FMD
// statuses and the CBV dispositions.
type Status string

// The statuses. Active and in transit are the live ones; the others are the
// EU FMD decommissioned statuses. Destroyed and stolen are final.
const (
	StatusActive     Status = "active"
	StatusInTransit  Status = "in_transit"
	StatusDispensed  Status = "dispensed" // EU FMD "supplied"
	StatusDestroyed  Status = "destroyed"
	StatusStolen     Status = "stolen"
	StatusExported   Status = "exported"
	StatusSample     Status = "sample"
	StatusFreeSample Status = "free_sample"
	StatusLocked     Status = "locked"
)

// Final reports whether no rule may change s again.
func (s Status) Final() bool { return s == StatusDestroyed || s == StatusStolen }

// Decommissioned reports whether s is one of the EU FMD inactive statuses.
func (s Status) Decommissioned() bool {
	switch s {
	case StatusDispensed, StatusDestroyed, StatusStolen, StatusExported, StatusSample, StatusFreeSample, StatusLocked:
		return true
	}
	return false
}

// Item kinds: a pack is an SGTIN, a container (case, pallet) an SSCC.
const (
	ItemPack      = "sgtin"
	ItemContainer = "sscc"
)

// Item is a pack or a container: one table, so the aggregation tree is one
// self-reference (ParentID) and moving a pallet is one recursive query.
type Item struct {
	ID int64 `gorm:"primaryKey;autoIncrement" json:"-"`
	// Key is the canonical identity: "(01)<gtin>(21)<serial>" for a pack,
	// "(00)<sscc>" for a container (see PackKey, ContainerKey).
	Key  string `gorm:"uniqueIndex;not null" json:"key"`
	Kind string `gorm:"not null" json:"kind"`
	// GTIN, Serial, Lot and Expiry describe a pack; Lot and Expiry come
	// from the commissioning event's ILMD. Expiry is "2006-01-02".
	GTIN   string `gorm:"index:idx_items_lot,priority:1" json:"gtin,omitempty"`
	Serial string `json:"serial,omitempty"`
	Lot    string `gorm:"index:idx_items_lot,priority:2" json:"lot,omitempty"`
	Expiry string `json:"expiry,omitempty"`
	Status Status `gorm:"not null" json:"status"`
	// Holder is the GLN of the organisation with custody.
	Holder string `gorm:"index;not null" json:"holder"`
	// Destination is the GLN a shipment is going to, while in transit.
	Destination string `json:"destination,omitempty"`
	// ParentID is the container the item is packed in (0: none).
	ParentID int64 `gorm:"index" json:"-"`
	// The decommission record: who, where and when (record time).
	DecommissionedBy  string     `json:"decommissioned_by,omitempty"`
	DecommissionedAt  *time.Time `json:"decommissioned_at,omitempty"`
	DecommissionedLoc string     `json:"decommissioned_location,omitempty"`
	DecommissionedSeq uint64     `json:"decommissioned_seq,omitempty"`
	// SuppliedToPublic marks a dispense that can never be undone.
	SuppliedToPublic bool   `json:"supplied_to_public,omitempty"`
	CommissionedSeq  uint64 `json:"commissioned_seq"`
	// Seq is the ledger position that last changed the item: every write
	// sets it, which the verify index relies on (see VerifyIndex).
	Seq uint64 `gorm:"index" json:"seq"`
}

// EventRecord is a stored EPCIS event.
type EventRecord struct {
	// ID orders events in ledger order; query pages are keyed by it.
	ID int64 `gorm:"primaryKey;autoIncrement"`
	// Seq is the ledger position of the capture command.
	Seq uint64 `gorm:"index;not null"`
	// EventID is the event's eventID, or its CBV 2.0 hash id.
	EventID string `gorm:"not null"`
	// EventHash (EventIDHash of EventID) is what event ids are looked up
	// by. Ids are random (UUIDs, hash ids), so each new event lands on a
	// different page of their index, and a commit rewrites every page it
	// touched. Hashes of 8 bytes make an index several times smaller than
	// one of ids of 50-90 characters, so a commit touches fewer pages. The
	// capture rule rejects a duplicate id, so the index need not be unique
	// (nor can be: hashes may collide, and lookups compare EventID too).
	EventHash  int64     `gorm:"index;not null;default:0"`
	Type       string    `gorm:"not null"`
	EventTime  time.Time `gorm:"index;not null"`
	RecordTime time.Time `gorm:"not null"`
	Action     string
	// Type, BizStep and Disposition have few values each, so they have
	// no index: a filtered query walks the id order and pages stay cheap.
	BizStep     string
	Disposition string
	// BizLocation and ReadPoint are canonical location keys (LocationKey).
	BizLocation string `gorm:"index"`
	ReadPoint   string
	// Actor is indexed, and the organisation part of BizLocation too
	// (locationOrgIndex), for the events a trading partner may see.
	Actor string `gorm:"index"`
	// JSON is the event as EPCIS 2.0 JSON-LD (canonical field order).
	JSON string `gorm:"not null"`
}

// EventDeclaration names the ledger entry whose error declaration an
// event's stored JSON (EventRecord.JSON) now restates. The projection is a
// copy the Merkle tree does not cover; with the entry named, a reader can
// check a declared event against what that entry committed, as it checks
// any event against the entry that captured it. A table of its own, not a
// column of event_records: declarations are rare, and each captured event
// would otherwise bind one more value. An event declared before this
// table existed has no row.
//
// JSONHash is the SHA-256 of the stored JSON the row describes. A binary
// from before the table rewrites the JSON of an event declared again
// without touching its row (a rolling upgrade, a node rolled back); the
// row then describes a JSON no longer stored, and is not given out
// (history): the declaration counts as one no entry is named for.
type EventDeclaration struct {
	EventRecordID int64  `gorm:"primaryKey;autoIncrement:false"`
	Seq           uint64 `gorm:"not null"`
	// JSONHash may be NULL (a row without it names no entry): a column
	// added NOT NULL to a table with rows cannot be migrated.
	JSONHash []byte
}

// EventIDHash is the EventHash of an event with id: the first 8 bytes of
// its SHA-256. A cryptographic hash, so nobody can find many ids with one
// hash and make their lookups slow.
func EventIDHash(id string) int64 {
	sum := sha256.Sum256([]byte(id))
	return int64(binary.BigEndian.Uint64(sum[:8]))
}

func eventIDHashes(ids []string) []int64 {
	hashes := make([]int64, len(ids))
	for i, id := range ids {
		hashes[i] = EventIDHash(id)
	}
	return hashes
}

// EventEPC indexes which identifiers an event concerns, so provenance and
// the EPCIS MATCH_* filters are index lookups. Roles says where the event
// names the identifier (RoleEPCList, RoleParentID...). Shipping or
// receiving a container indexes the event for everything inside it too,
// and unpacking all of a container for what it held, with no role and
// under contentsKey.
type EventEPC struct {
	Key     string `gorm:"primaryKey"`
	EventID int64  `gorm:"primaryKey"`
	Roles   int    `gorm:"not null;default:0"`
}

// Recall is a recalled lot.
type Recall struct {
	ID         int64     `gorm:"primaryKey;autoIncrement" json:"id"`
	GTIN       string    `gorm:"uniqueIndex:idx_recalls_lot,priority:1;not null" json:"gtin"`
	Lot        string    `gorm:"uniqueIndex:idx_recalls_lot,priority:2;not null" json:"lot"`
	RecalledBy string    `json:"by"`
	Reason     string    `json:"reason,omitempty"`
	Seq        uint64    `gorm:"index" json:"seq"`
	RecordTime time.Time `json:"record_time"`
}

// Alert is a recorded suspect finding: a failed verification, a receipt by
// someone who is not the destination.
type Alert struct {
	ID int64 `gorm:"primaryKey;autoIncrement" json:"id"`
	// Verdict is the verdict or finding, e.g. VerdictUnknownSerial or
	// "wrong_receiver".
	Verdict    string    `gorm:"index" json:"verdict"`
	Code       string    `json:"code,omitempty"`
	Actor      string    `json:"actor,omitempty"`
	Location   string    `json:"location,omitempty"`
	Scanned    string    `json:"scanned,omitempty"`
	GTIN       string    `json:"gtin,omitempty"`
	Serial     string    `json:"serial,omitempty"`
	Lot        string    `json:"lot,omitempty"`
	Message    string    `json:"message,omitempty"`
	Seq        uint64    `gorm:"index" json:"seq"`
	RecordTime time.Time `json:"record_time"`
}

// tables lists every table of the projection, in creation order.
func tables() []any {
	return []any{
		&Organisation{}, &CompanyPrefix{}, &Token{}, &Product{}, &SigningKey{},
		&Item{}, &EventRecord{}, &EventEPC{}, &EventDeclaration{}, &Recall{}, &Alert{}, &RulesAdoption{},
		&LifecycleRecord{},
	}
}

// Migrate creates or updates the projection's tables and indices.
func Migrate(db *gorm.DB) error {
	// The event-EPC index is all key: without a rowid it is one b-tree
	// instead of a table plus an index, half the writes per indexed EPC.
	m := db.Migrator()
	if !m.HasTable(&EventEPC{}) {
		if err := db.Exec(eventEPCsTable("event_epcs")).Error; err != nil {
			return fmt.Errorf("models: migrate: %w", err)
		}
	} else if m.HasColumn(&EventEPC{}, "direct") {
		if err := indexEventRoles(db); err != nil {
			return fmt.Errorf("models: migrate: %w", err)
		}
	}
	unhashed := m.HasTable(&EventRecord{}) && !m.HasColumn(&EventRecord{}, "EventHash")
	if err := db.AutoMigrate(tables()...); err != nil {
		return fmt.Errorf("models: migrate: %w", err)
	}
	if unhashed {
		if err := hashEventIDs(db); err != nil {
			return fmt.Errorf("models: migrate: %w", err)
		}
	}
	if err := db.Exec(eventEPCsByEventIndex).Error; err != nil {
		return fmt.Errorf("models: migrate: %w", err)
	}
	if err := db.Exec(locationOrgIndex).Error; err != nil {
		return fmt.Errorf("models: migrate: %w", err)
	}
	// Event ids were once looked up by a unique index on their text.
	if m.HasIndex(&EventRecord{}, "idx_event_records_event_id") {
		if err := m.DropIndex(&EventRecord{}, "idx_event_records_event_id"); err != nil {
			return fmt.Errorf("models: migrate: %w", err)
		}
	}
	return nil
}

// hashEventIDs fills in the EventHash of events stored before it existed,
// a page of events per UPDATE: a statement per event would keep a node
// with millions of events starting for minutes.
func hashEventIDs(db *gorm.DB) error {
	const pageSize = 1000
	return db.Transaction(func(tx *gorm.DB) error {
		var page []EventRecord
		for after := int64(0); ; after = page[len(page)-1].ID {
			page = page[:0]
			if err := tx.Select("id", "event_id").Where("id > ?", after).Order("id").Limit(pageSize).Find(&page).Error; err != nil {
				return fmt.Errorf("read event ids: %w", err)
			}
			if len(page) == 0 {
				return nil
			}
			args := make([]any, 0, 2*len(page))
			for _, e := range page {
				args = append(args, e.ID, EventIDHash(e.EventID))
			}
			values := "(?,?)" + strings.Repeat(",(?,?)", len(page)-1)
			if err := tx.Exec(`UPDATE event_records SET event_hash = v.column2 FROM (VALUES `+values+`) AS v
				WHERE event_records.id = v.column1`, args...).Error; err != nil {
				return fmt.Errorf("hash the ids of events %d-%d: %w", page[0].ID, page[len(page)-1].ID, err)
			}
		}
	})
}

// eventEPCsByEventIndex reads the event-EPC index by event: the rows of
// one event, by key. A trading partner's query that reads its own events
// checks each against a MATCH_ parameter through it (keyMatch.exists),
// rather than first listing every event the parameter selects, which for
// a pattern of a whole company is much of the ledger. Ids only grow, so
// each capture appends to it.
const eventEPCsByEventIndex = `CREATE INDEX IF NOT EXISTS idx_event_epcs_event ON event_epcs (event_id)`

// eventEPCsTable is the statement creating the event-EPC index as table.
func eventEPCsTable(table string) string {
	return `CREATE TABLE ` + table + ` ("key" text NOT NULL, event_id integer NOT NULL, roles integer NOT NULL DEFAULT 0,
		PRIMARY KEY ("key", event_id)) WITHOUT ROWID`
}

// indexEventRoles rebuilds an event-EPC index made before it recorded
// roles, when a row said only whether the event named the identifier
// itself (direct) or a container it was in. The roles of direct rows come
// from the stored events, a page at a time; the others have none and move
// under contentsKey. Every node rebuilds from the same events, so the
// indexes stay alike.
func indexEventRoles(db *gorm.DB) error {
	const pageSize = 1000
	return db.Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec(eventEPCsTable("event_epcs_roles")).Error; err != nil {
			return fmt.Errorf("create the event-EPC index with roles: %w", err)
		}
		// A content row has direct 0, or, where a binary of this version
		// wrote it and an older one then added the direct column back
		// (installing a snapshot in a mixed cluster), no direct and roles 0.
		contents := `NOT direct`
		if tx.Migrator().HasColumn(&EventEPC{}, "roles") {
			contents += ` OR direct IS NULL AND roles = 0`
		}
		if err := tx.Exec(`INSERT INTO event_epcs_roles ("key", event_id, roles)
			SELECT CASE WHEN "key" LIKE '~%' THEN "key" ELSE ` + contentsKeySQL(`"key"`) + ` END, event_id, 0
			FROM event_epcs WHERE ` + contents).Error; err != nil {
			return fmt.Errorf("copy the event-EPC index of container contents: %w", err)
		}
		var page []EventRecord
		for after := int64(0); ; after = page[len(page)-1].ID {
			page = page[:0]
			if err := tx.Select("id", "json").Where("id > ?", after).Order("id").Limit(pageSize).Find(&page).Error; err != nil {
				return fmt.Errorf("read events: %w", err)
			}
			if len(page) == 0 {
				break
			}
			var rows [][]any
			for _, r := range page {
				// Only the identifier fields, not DecodeEvent: an event
				// stored under older rules need not pass today's.
				var ids storedIdentifiers
				if err := json.Unmarshal([]byte(r.JSON), &ids); err != nil {
					return fmt.Errorf("read the identifiers of stored event %d: %w", r.ID, err)
				}
				e := Event{EPCList: ids.EPCList, ChildEPCs: ids.ChildEPCs, InputEPCList: ids.InputEPCList,
					OutputEPCList: ids.OutputEPCList, ParentID: ids.ParentID, QuantityList: ids.QuantityList,
					ChildQuantityList: ids.ChildQuantityList, InputQuantityList: ids.InputQuantityList,
					OutputQuantityList: ids.OutputQuantityList}
				for _, k := range eventKeyRoles(&e) {
					rows = append(rows, []any{k.key, r.ID, k.roles})
				}
			}
			// A container's contents that the event also named itself
			// keep the event's roles.
			if err := insertRows(tx, "event_epcs_roles", eventEPCColumns, rows,
				` ON CONFLICT DO UPDATE SET roles = roles | excluded.roles`); err != nil {
				return fmt.Errorf("index the roles of events %d-%d: %w", page[0].ID, page[len(page)-1].ID, err)
			}
		}
		for _, stmt := range []string{`DROP TABLE event_epcs`, `ALTER TABLE event_epcs_roles RENAME TO event_epcs`} {
			if err := tx.Exec(stmt).Error; err != nil {
				return fmt.Errorf("replace the event-EPC index: %w", err)
			}
		}
		return nil
	})
}

// storedIdentifiers is the fields of a stored event that name
// identifiers.
type storedIdentifiers struct {
	EPCList            []string          `json:"epcList"`
	ChildEPCs          []string          `json:"childEPCs"`
	InputEPCList       []string          `json:"inputEPCList"`
	OutputEPCList      []string          `json:"outputEPCList"`
	ParentID           string            `json:"parentID"`
	QuantityList       []QuantityElement `json:"quantityList"`
	ChildQuantityList  []QuantityElement `json:"childQuantityList"`
	InputQuantityList  []QuantityElement `json:"inputQuantityList"`
	OutputQuantityList []QuantityElement `json:"outputQuantityList"`
}

package models

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pedigree-ledger/pedigree/models/gs1"
)

// The lifecycle rules for EPCIS events. The business step decides what an
// event does to the packs it names:
//
//	ObjectEvent ADD                    commission (manufacturer, own prefix)
//	AggregationEvent ADD / DELETE      pack into / unpack from a container
//	ObjectEvent shipping               custodian ships to a named destination
//	ObjectEvent receiving              only the destination receives
//	ObjectEvent void_shipping          shipper cancels a shipment
//	ObjectEvent dispensing             pharmacy supplies a pack it holds
//	ObjectEvent destroying             custodian destroys a pack
//	ObjectEvent decommissioning        custodian sets stolen/destroyed/dispensed
//	other ObjectEvent / AggregationEvent OBSERVE: custodian observes
//
// TransactionEvent, TransformationEvent and AssociationEvent change no
// pack: the custodian of every pack or container they name records them.
// Whatever its type, an event naming classes (quantity lists: a lot, or a
// product) is recorded only by the product's manufacturer or by an
// organisation holding a pack of that class (mayNameClass). An event is
// indexed under every key it names, so these checks are what keeps an
// organisation's events out of the history of packs and lots it never had.
//
// From rules version 3 an event's disposition, when it says something of
// a status the ledger keeps (dispositionClaims), must agree with what the
// event did
// (dispositionHolds): an inspecting event that says "destroyed" would
// otherwise show a destruction in the chain of custody of a pack that
// stays active and can still be dispensed.

func (c *capture) apply(e *Event) error {
	if e.ErrorDeclaration != nil {
		return c.declareError(e)
	}
	if err := c.record(e); err != nil {
		return err
	}
	if err := c.classes(e); err != nil {
		return err
	}
	if c.a.rules < rulesCaptureConsistency {
		return c.applyByType(e)
	}
	said := saidDispositions(e)
	if len(said) == 0 && c.reached == nil {
		return c.applyByType(e) // nothing to judge nor to note: the common case
	}
	keys := instanceKeys(e)
	if err := c.trackStatuses(keys, true); err != nil {
		return err
	}
	var before map[string]Status
	if len(said) > 0 {
		var err error
		if before, err = c.statuses(keys); err != nil {
			return err
		}
	}
	if err := c.applyByType(e); err != nil {
		return err
	}
	if err := c.trackStatuses(keys, false); err != nil {
		return err
	}
	for _, d := range said {
		if err := c.dispositionHolds(e, d, keys, before); err != nil {
			return err
		}
	}
	return nil
}

// applyByType applies the rule of the event's type and business step.
func (c *capture) applyByType(e *Event) error {
	switch e.Type {
	case ObjectEvent:
		return c.objectEvent(e)
	case AggregationEvent:
		return c.aggregationEvent(e)
	case TransactionEvent, AssociationEvent:
		if e.ParentID != "" {
			if _, err := c.held(e.ParentID); err != nil {
				return err
			}
		}
		if err := c.observe(e.EPCList); err != nil {
			return err
		}
		return c.observe(e.ChildEPCs)
	case TransformationEvent:
		// Outputs too: a transformation changes no pack, so its outputs
		// are commissioned (and held) before it is recorded.
		if err := c.observe(e.InputEPCList); err != nil {
			return err
		}
		return c.observe(e.OutputEPCList)
	}
	return nil
}

// dispositionClaim is what a CBV disposition says of the status of the
// packs and containers an event describes, for the dispositions that say
// something of a status the ledger keeps. The others (damaged, expired,
// returned, disposed: returned for disposal, still in the chain;
// sellable_not_accessible, ...) describe what the ledger does not track,
// and any event may carry them.
type dispositionClaim struct {
	holds func(Status) bool
	says  string // the status it names, for a refusal
	hint  string // what makes it so, for a refusal
	// gone is true of a disposition saying the pack left the supply
	// chain: it must hold of a pack the event left as it was.
	gone bool
}

func isStatus(s Status) func(Status) bool { return func(t Status) bool { return t == s } }

// inactiveStatus is CBV's inactive: decommissioned, and may come back
// into the supply chain (not destroyed nor stolen).
func inactiveStatus(s Status) bool { return s.Decommissioned() && !s.Final() }

var dispositionClaims = map[string]dispositionClaim{
	"active":     {isStatus(StatusActive), "active", "an ObjectEvent with bizStep commissioning, receiving or void_shipping sets it", false},
	"in_transit": {isStatus(StatusInTransit), "in_transit", "an ObjectEvent with bizStep shipping sets it", false},
	"dispensed":  {isStatus(StatusDispensed), "dispensed", "an ObjectEvent with bizStep dispensing (or decommissioning) sets it", true},
	"destroyed":  {isStatus(StatusDestroyed), "destroyed", "an ObjectEvent with bizStep destroying (or decommissioning) sets it", true},
	"stolen":     {isStatus(StatusStolen), "stolen", "an ObjectEvent with bizStep decommissioning sets it", true},
	// A sale to a consumer is a dispense to the ledger.
	"retail_sold": {isStatus(StatusDispensed), "dispensed", "an ObjectEvent with bizStep dispensing sets it", true},
	"inactive":    {inactiveStatus, "decommissioned (and not destroyed or stolen)", "the decommission command sets it", true},
}

// goneClaim is a disposition saying that a pack an event left as it was
// is out of the supply chain, which some event of the capture must make
// true, before or after it (checkGoneClaims).
type goneClaim struct {
	event       int
	eventID     string
	disposition string
	key         string
	claim       dispositionClaim
	step        string
}

// statuses returns the status of each item of keys ("" for one not on
// the ledger), loaded in one query.
func (c *capture) statuses(keys []string) (map[string]Status, error) {
	if err := c.load(keys); err != nil {
		return nil, err
	}
	out := make(map[string]Status, len(keys))
	for _, k := range keys {
		if it := c.items[k]; it != nil {
			out[k] = it.Status
		}
	}
	return out, nil
}

// hasClasses reports whether the event names classes (quantity lists).
func hasClasses(e *Event) bool {
	return len(e.QuantityList) > 0 || len(e.ChildQuantityList) > 0 || len(e.InputQuantityList) > 0 || len(e.OutputQuantityList) > 0
}

// saidDispositions are the dispositions of dispositionClaims an event
// says its packs are in: its disposition, and those its
// persistentDisposition sets.
func saidDispositions(e *Event) []string {
	var said []string
	if _, ok := dispositionClaims[e.Disposition]; ok {
		said = append(said, e.Disposition)
	}
	if pd := e.PersistentDisposition; pd != nil {
		for _, d := range pd.Set {
			if _, ok := dispositionClaims[d]; ok && !slices.Contains(said, d) {
				said = append(said, d)
			}
		}
	}
	return said
}

// mayClaimGone reports whether any event of a capture says its packs left
// the supply chain: only then does the capture keep the statuses its
// packs reach (trackStatuses).
func mayClaimGone(events []Event) bool {
	for i := range events {
		for _, d := range saidDispositions(&events[i]) {
			if dispositionClaims[d].gone {
				return true
			}
		}
	}
	return false
}

// trackStatuses notes the statuses keys are in, when the capture may
// need them (mayClaimGone): after an event, every key's; before one
// (first), only those of keys no earlier event named, which is the status
// the capture found them in and counts too (a pack dispensed before a
// capture that destroys it and then records its sale).
func (c *capture) trackStatuses(keys []string, first bool) error {
	if c.reached == nil || len(keys) == 0 {
		return nil
	}
	if err := c.load(keys); err != nil {
		return err
	}
	for _, k := range keys {
		it := c.items[k]
		if _, seen := c.reached[k]; it == nil || first && seen {
			continue
		}
		c.reached[k] = append(c.reached[k], it.Status)
	}
	return nil
}

// dispositionHolds checks, once the event is applied, that disposition d
// (one of dispositionClaims) it says agrees with what it did to the packs
// and containers it describes (keys, whose statuses before it were
// before). (Rules version 3, rulesCaptureConsistency.)
//   - An event that changed an item's status must say the status it set:
//     a shipment that says "active" leaves the pack in transit.
//   - An event that left it as it was may say active or in_transit:
//     EPCIS events may be recorded late, and listed in any order in a
//     document (a TransactionEvent before its shipment, an inspection
//     recorded after it), so those may rightly describe a state the item
//     has since left. It may say the pack left the supply chain
//     (dispensed, destroyed, ...) only if some event of the capture,
//     before or after it, leaves the pack so (checkGoneClaims): a sale's
//     TransactionEvent may come before or after the dispensing it
//     records, and a destruction after both. Otherwise the chain would
//     show a pack gone that the ledger keeps saleable.
//   - An event naming classes leaves no pack in any status, so it may
//     not say they left the supply chain.
func (c *capture) dispositionHolds(e *Event, d string, keys []string, before map[string]Status) error {
	claim := dispositionClaims[d]
	if claim.gone && hasClasses(e) {
		return reject(CodeUnsupportedEvent, "disposition %s says the packs left the supply chain, and an event naming classes takes none of them out; for packs, %s",
			d, claim.hint)
	}
	step := "this " + e.Type + " without bizStep"
	if e.BizStep != "" {
		step = "this " + e.Type + " with bizStep " + e.BizStep
	}
	if err := c.load(keys); err != nil { // a container move empties the cache
		return err
	}
	for _, k := range keys {
		it := c.items[k]
		if it == nil || claim.holds(it.Status) {
			continue // every item an applied event names exists: nothing to judge
		}
		if before[k] != it.Status {
			return reject(CodeUnsupportedEvent, "disposition %s says %s is %s, but %s leaves it %s; %s",
				d, k, claim.says, step, it.Status, claim.hint)
		}
		if claim.gone {
			c.goneClaims = append(c.goneClaims, goneClaim{event: c.event, eventID: e.EventID, disposition: d, key: k, claim: claim, step: step})
		}
	}
	return nil
}

// checkGoneClaims refuses, once every event of a capture is applied, a
// claim (dispositionHolds) that no status its pack had during the capture
// (at its start, after each event naming it, at its end) holds.
func (c *capture) checkGoneClaims() error {
	if len(c.goneClaims) == 0 {
		return nil
	}
	keys := make([]string, len(c.goneClaims))
	for i, g := range c.goneClaims {
		keys[i] = g.key
	}
	if err := c.load(keys); err != nil {
		return err
	}
	for _, g := range c.goneClaims {
		reached := c.reached[g.key]
		if it := c.items[g.key]; it != nil {
			reached = append(reached, it.Status)
		}
		if !slices.ContainsFunc(reached, g.claim.holds) {
			return reject(CodeUnsupportedEvent, "event %d (%s): disposition %s says %s is %s, but %s leaves it as it was, and it is so at no point of the capture; %s",
				g.event, g.eventID, g.disposition, g.key, g.claim.says, g.step, g.claim.hint)
		}
	}
	return nil
}

// classes checks every class (lot or product) the event's quantity lists
// name: see mayNameClass.
func (c *capture) classes(e *Event) error {
	for _, list := range [][]QuantityElement{e.QuantityList, e.ChildQuantityList, e.InputQuantityList, e.OutputQuantityList} {
		for _, q := range list {
			if err := c.mayNameClass(q.EPCClass); err != nil {
				return err
			}
		}
	}
	return nil
}

// mayNameClass checks that the actor may record an event about a class of
// packs, a lot (LGTIN) or every lot of a product (GTIN): the product must
// be registered, and the actor must be its manufacturer or hold at least
// one pack of the class, as the custody rule for single packs asks. The
// event then goes into the lot's history, which its other handlers read.
func (c *capture) mayNameClass(class string) error {
	epc, err := parseEPC(class)
	if err != nil {
		return reject(CodeBadPayload, "epcClass: %v", err)
	}
	if epc.Kind != gs1.EPCLGTIN && epc.Kind != gs1.EPCGTIN {
		return reject(CodeBadPayload, "epcClass %q is a %s, not a lot or product class", class, epc.Kind)
	}
	p, err := c.product(epc.GTIN)
	if err != nil {
		return err
	}
	if p == nil {
		return reject(CodeUnknownProduct, "GTIN %s is not a registered product", epc.GTIN)
	}
	me := c.a.actorID()
	if p.Manufacturer == me {
		return nil
	}
	// Whether the actor holds a pack of the class is a question for the
	// whole projection, not the items in memory: write those first.
	if err := c.needSQL(); err != nil {
		return err
	}
	if err := c.flush(); err != nil {
		return err
	}
	q := c.a.tx.Model(&Item{}).Select(`"key"`).Where("gtin = ? AND kind = ? AND holder = ?", epc.GTIN, ItemPack, me)
	what := "product " + epc.GTIN
	if epc.Kind == gs1.EPCLGTIN {
		q = q.Where("lot = ?", epc.Lot)
		what = "lot " + epc.Lot + " of " + epc.GTIN
	}
	var keys []string
	if err := q.Limit(1).Find(&keys).Error; err != nil {
		return fmt.Errorf("look up packs held of %s: %w", what, err)
	}
	if len(keys) == 0 {
		return reject(CodeNotCustodian, "%s holds no pack of %s and is not its manufacturer (%s)", me, what, p.Manufacturer)
	}
	return nil
}

func (c *capture) objectEvent(e *Event) error {
	if e.Action == ActionAdd {
		switch e.BizStep {
		case "", "commissioning", "encoding":
			return c.commission(e)
		}
		return reject(CodeUnsupportedEvent, "an ObjectEvent ADD commissions; bizStep %q does not", e.BizStep)
	}
	switch e.BizStep {
	case "shipping":
		return c.ship(e)
	case "receiving":
		return c.receive(e)
	case "void_shipping":
		return c.voidShipping(e)
	case "dispensing":
		return c.decommissionByEvent(e, StatusDispensed, true)
	case "destroying":
		return c.decommissionByEvent(e, StatusDestroyed, false)
	case "decommissioning":
		switch e.Disposition {
		case "stolen":
			return c.decommissionByEvent(e, StatusStolen, false)
		case "destroyed", "":
			return c.decommissionByEvent(e, StatusDestroyed, false)
		case "dispensed":
			return c.decommissionByEvent(e, StatusDispensed, true)
		case "inactive":
			// From rules version 3, CBV's record of a decommission the
			// decommission command made (locked, exported, a sample...):
			// it sets no status, which of the EU FMD statuses being the
			// command's to say, and the disposition check holds the
			// packs to being so (dispositionHolds).
			if c.a.rules >= rulesCaptureConsistency {
				return c.observe(e.EPCList)
			}
		}
		return reject(CodeUnsupportedEvent, "decommissioning with disposition %q: use the decommission command for other EU FMD statuses", e.Disposition)
	}
	if e.Action == ActionDelete {
		return reject(CodeUnsupportedEvent, "an ObjectEvent DELETE must be decommissioning or destroying, not %q", e.BizStep)
	}
	return c.observe(e.EPCList)
}

// observe checks that the actor holds every named item: a party records
// events only about what it has.
func (c *capture) observe(epcs []string) error {
	for _, s := range epcs {
		if _, err := c.held(s); err != nil {
			return err
		}
	}
	return nil
}

// held returns the named item if it exists and the actor holds it.
func (c *capture) held(epc string) (*itemState, error) {
	key := keyOf(epc)
	it, err := c.item(key)
	if err != nil {
		return nil, err
	}
	if it == nil {
		return nil, reject(CodeUnknownItem, "%s was never commissioned", key)
	}
	// Refusals name no other party: they go to whoever asked, and anyone
	// may ask about any item, so naming the holder (or, on receipt, the
	// destination) would list who holds a competitor's containers, whose
	// SSCCs run in sequence.
	if it.Holder != c.a.actorID() {
		return nil, reject(CodeNotCustodian, "%s is not held by %s", key, c.a.actorID())
	}
	return it, nil
}

// commission creates packs (SGTINs, by their manufacturer) and containers
// (SSCCs, by anyone here; the API lets an organisation create them only
// under its own company prefixes, as GS1 allocates SSCCs).
func (c *capture) commission(e *Event) error {
	if e.Disposition != "" && e.Disposition != "active" {
		return reject(CodeUnsupportedEvent, "commissioning with disposition %q; packs start active", e.Disposition)
	}
	for _, s := range e.EPCList {
		epc, err := parseEPC(s)
		if err != nil {
			return reject(CodeBadPayload, "%v", err)
		}
		key := EPCKey(epc)
		existing, err := c.item(key)
		if err != nil {
			return err
		}
		if existing != nil {
			return reject(CodeAlreadyExists, "%s was already commissioned at seq %d", key, existing.CommissionedSeq)
		}
		id, err := c.newItemID()
		if err != nil {
			return err
		}
		it := &itemState{dirty: true}
		it.ID, it.Key, it.Status, it.Holder, it.CommissionedSeq, it.Seq = id, key, StatusActive, c.a.actorID(), c.a.seq, c.a.seq
		switch epc.Kind {
		case gs1.EPCSSCC:
			it.Kind = ItemContainer
		case gs1.EPCSGTIN:
			if err := c.mayCommission(epc.SGTIN.GTIN); err != nil {
				return err
			}
			if e.ILMD == nil || e.ILMD.LotNumber == "" || e.ILMD.ItemExpirationDate == "" {
				return reject(CodeBadPayload, "commissioning %s needs ilmd cbvmda:lotNumber and cbvmda:itemExpirationDate", key)
			}
			if c.a.rules >= rulesCaptureConsistency {
				if err := c.codeCarries(s, epc.SGTIN.GTIN, e.ILMD); err != nil {
					return err
				}
			}
			it.Kind, it.GTIN, it.Serial = ItemPack, epc.SGTIN.GTIN, epc.SGTIN.Serial
			it.Lot, it.Expiry = e.ILMD.LotNumber, e.ILMD.ItemExpirationDate
		default:
			return reject(CodeBadPayload, "cannot commission a %s", epc.Kind)
		}
		c.put(it)
	}
	return nil
}

// codeCarries checks, from rules version 3 (rulesCaptureConsistency),
// that the pack uri names can carry in its code the lot and expiry its
// commissioning records (m): a recall names a lot as AI (10), a scan
// reads both from the code, and a pack whose lot no code can carry could
// never be recalled nor verified. AI (17) has two digits for the year,
// read in the century the GS1 rule gives them at the time of reading: the
// entry's record time, never the clock, for every node to judge alike. A
// Digital Link may also name the lot or the expiry; then the ILMD must
// say the same, or the ledger would record one and the event say another.
func (c *capture) codeCarries(uri, gtin string, m *ILMD) error {
	if err := (gs1.ElementString{{AI: "01", Value: gtin}, {AI: "10", Value: m.LotNumber}}).Validate(); err != nil {
		return reject(CodeBadPayload, "cbvmda:lotNumber %q is no lot a pack's code can carry: %v", m.LotNumber, err)
	}
	expiry, err := time.Parse(time.DateOnly, m.ItemExpirationDate)
	if err != nil {
		return reject(CodeBadPayload, "cbvmda:itemExpirationDate %q is not a date like 2027-06-30", m.ItemExpirationDate)
	}
	if year := gs1.CenturyYear(expiry.Year()%100, c.a.at.Year()); year != expiry.Year() {
		return reject(CodeBadPayload, "cbvmda:itemExpirationDate %s is no expiry a pack's code can carry: AI (17) writes the year as %02d, which reads as %d at this entry's time (%s)",
			m.ItemExpirationDate, expiry.Year()%100, year, c.a.at.Format(time.DateOnly))
	}
	// Only a link with a query or a /10/ segment can name either; the
	// others, nearly all, need not be read again.
	if !strings.Contains(uri, "?") && !strings.Contains(uri, "/10/") {
		return nil
	}
	attrs, err := gs1.EPCAttributes(uri)
	if err != nil {
		return reject(CodeBadPayload, "%v", err)
	}
	if lot, ok := attrs.Get("10"); ok && lot != m.LotNumber {
		return reject(CodeBadPayload, "%s names lot %q, but its cbvmda:lotNumber is %q", uri, lot, m.LotNumber)
	}
	if yymmdd, ok := attrs.Get("17"); ok {
		if read, err := gs1.ParseExpiry(yymmdd, c.a.at); err != nil || !read.Equal(expiry) {
			return reject(CodeBadPayload, "%s names expiry %s, but its cbvmda:itemExpirationDate is %s", uri, yymmdd, m.ItemExpirationDate)
		}
	}
	return nil
}

// mayCommission checks that the actor is a manufacturer licensing the
// GTIN's company prefix and that the product is registered as its own.
func (c *capture) mayCommission(gtin string) error {
	if c.a.actor.Role != RoleManufacturer {
		return reject(CodeForbidden, "only a manufacturer commissions packs; %s is a %s", c.a.actorID(), c.a.actor.Role)
	}
	if !gs1.UnderCompanyPrefix(gtin, c.prefixes) {
		return reject(CodeNotYourPrefix, "GTIN %s is not under a company prefix of %s", gtin, c.a.actorID())
	}
	p, err := c.product(gtin)
	if err != nil {
		return err
	}
	if p == nil {
		return reject(CodeUnknownProduct, "GTIN %s is not a registered product", gtin)
	}
	// The prefix alone does not decide: on a ledger whose prefixes nest
	// (registered before they were refused), a GTIN is under two.
	if p.Manufacturer != c.a.actorID() {
		return reject(CodeForbidden, "GTIN %s is a product of %s; only it commissions its packs", gtin, p.Manufacturer)
	}
	return nil
}

// destinationOf picks the GLN the shipment goes to: the first destination
// (owning party, then possessing party, then location) that is a
// registered organisation.
func (c *capture) destinationOf(e *Event) (string, error) {
	for _, typ := range []string{"owning_party", "possessing_party", "location"} {
		for _, d := range e.DestinationList {
			if d.Type != typ {
				continue
			}
			gln := glnOf(d.Destination)
			if gln == "" {
				continue
			}
			ok, err := c.knownOrg(gln)
			if err != nil {
				return "", err
			}
			if ok {
				return gln, nil
			}
		}
	}
	if len(e.DestinationList) == 0 {
		return "", reject(CodeBadPayload, "a shipping event must name its destination in destinationList")
	}
	return "", reject(CodeNotFound, "no destination in destinationList is a registered organisation's GLN")
}

func (c *capture) ship(e *Event) error {
	dest, err := c.destinationOf(e)
	if err != nil {
		return err
	}
	if dest == c.a.actorID() {
		return reject(CodeBadPayload, "%s cannot ship to itself", dest)
	}
	for _, s := range e.EPCList {
		it, err := c.held(s)
		if err != nil {
			return err
		}
		if err := c.topLevelActive(it); err != nil {
			return err
		}
		if it.Kind == ItemContainer {
			if err := c.moveContainer(it, "status <> ?", []any{StatusActive}, "are not active",
				map[string]any{"status": StatusInTransit, "destination": dest}); err != nil {
				return err
			}
			continue
		}
		it.Status, it.Destination = StatusInTransit, dest
		c.touch(it)
	}
	return nil
}

// topLevelActive checks that an item to be moved is active and not inside
// a container (ship the container, or unpack first).
func (c *capture) topLevelActive(it *itemState) error {
	if it.Status != StatusActive {
		return reject(CodeInactive, "%s is %s, not active", it.Key, it.Status)
	}
	if it.parentKey != "" {
		return reject(CodeInContainer, "%s is packed in %s; move the container or unpack it first", it.Key, it.parentKey)
	}
	return nil
}

func (c *capture) receive(e *Event) error {
	me := c.a.actorID()
	for _, s := range e.EPCList {
		key := keyOf(s)
		it, err := c.item(key)
		if err != nil {
			return err
		}
		if it == nil {
			return reject(CodeUnknownItem, "%s was never commissioned", key)
		}
		if it.Status != StatusInTransit {
			return reject(CodeNotInTransit, "%s is %s, not in transit", key, it.Status)
		}
		if it.Destination != me {
			return reject(CodeNotDestination, "%s was not shipped to %s", key, me)
		}
		if it.parentKey != "" {
			return reject(CodeInContainer, "%s is packed in %s; receive the container", key, it.parentKey)
		}
		if it.Kind == ItemContainer {
			if err := c.moveContainer(it, "status <> ? OR destination <> ?", []any{StatusInTransit, me}, "are not in transit to "+me,
				map[string]any{"status": StatusActive, "destination": "", "holder": me}); err != nil {
				return err
			}
			continue
		}
		it.Status, it.Destination, it.Holder = StatusActive, "", me
		c.touch(it)
	}
	return nil
}

func (c *capture) voidShipping(e *Event) error {
	for _, s := range e.EPCList {
		it, err := c.held(s)
		if err != nil {
			return err
		}
		if it.Status != StatusInTransit {
			return reject(CodeNotInTransit, "%s is %s, not in transit", it.Key, it.Status)
		}
		// Its container travels on with it: void the container's shipment.
		if it.parentKey != "" {
			return reject(CodeInContainer, "%s is packed in %s; void the container's shipment", it.Key, it.parentKey)
		}
		if it.Kind == ItemContainer {
			if err := c.moveContainer(it, "status <> ?", []any{StatusInTransit}, "are not in transit",
				map[string]any{"status": StatusActive, "destination": ""}); err != nil {
				return err
			}
			continue
		}
		it.Status, it.Destination = StatusActive, ""
		c.touch(it)
	}
	return nil
}

// decommissionByEvent applies a dispensing, destroying or decommissioning
// event to the packs it names.
func (c *capture) decommissionByEvent(e *Event, status Status, suppliedToPublic bool) error {
	loc := c.a.actorID()
	if e.BizLocation != "" {
		if gln := glnOf(e.BizLocation); gln != "" {
			loc = gln
		}
	}
	held := make([]*itemState, len(e.EPCList))
	packs := make([]*Item, len(e.EPCList))
	for i, s := range e.EPCList {
		it, err := c.held(s)
		if err != nil {
			return err
		}
		held[i], packs[i] = it, &it.Item
	}
	if err := c.a.maySupply(packs, status); err != nil {
		return err
	}
	for _, it := range held {
		if err := c.a.decommissionItem(&it.Item, status, loc, suppliedToPublic); err != nil {
			return err
		}
		it.parentKey = ""
		c.touch(it)
	}
	return nil
}

func (c *capture) aggregationEvent(e *Event) error {
	switch e.Action {
	case ActionAdd:
		return c.pack(e)
	case ActionDelete:
		return c.unpack(e)
	}
	if e.ParentID != "" {
		if _, err := c.held(e.ParentID); err != nil {
			return err
		}
	}
	return c.observe(e.ChildEPCs)
}

// pack puts children into a container (an SSCC), creating one that does
// not exist yet.
func (c *capture) pack(e *Event) error {
	pkey := keyOf(e.ParentID)
	parent, err := c.item(pkey)
	if err != nil {
		return err
	}
	if parent == nil {
		epc, err := parseEPC(e.ParentID)
		if err != nil || epc.Kind != gs1.EPCSSCC {
			return reject(CodeUnknownItem, "parent %s was never commissioned", pkey)
		}
		id, err := c.newItemID()
		if err != nil {
			return err
		}
		parent = &itemState{dirty: true}
		parent.ID, parent.Key, parent.Kind, parent.Status, parent.Holder = id, pkey, ItemContainer, StatusActive, c.a.actorID()
		parent.CommissionedSeq, parent.Seq = c.a.seq, c.a.seq
		c.put(parent)
	} else if parent.Holder != c.a.actorID() {
		return reject(CodeNotCustodian, "%s is not held by %s", pkey, c.a.actorID())
	} else if parent.Kind != ItemContainer {
		// Only a container's moves carry what is inside it.
		return reject(CodeBadPayload, "parent %s is a pack, not a case or pallet (SSCC)", pkey)
	}
	if parent.Status != StatusActive {
		return reject(CodeInactive, "container %s is %s, not active", pkey, parent.Status)
	}
	for _, s := range e.ChildEPCs {
		child, err := c.held(s)
		if err != nil {
			return err
		}
		if child.Status != StatusActive {
			return reject(CodeInactive, "%s is %s, not active", child.Key, child.Status)
		}
		if child.parentKey == pkey {
			continue
		}
		if child.parentKey != "" {
			return reject(CodeInContainer, "%s is already packed in %s", child.Key, child.parentKey)
		}
		if err := c.checkNoCycle(child.Key, pkey); err != nil {
			return err
		}
		child.parentKey = pkey
		c.touch(child)
	}
	return nil
}

// checkNoCycle rejects packing child into parent when child is parent or
// one of its containers.
func (c *capture) checkNoCycle(child, parent string) error {
	for k, depth := parent, 0; k != ""; depth++ {
		if k == child || depth > 64 {
			return reject(CodeBadPayload, "packing %s into %s would make a cycle", child, parent)
		}
		it, err := c.item(k)
		if err != nil {
			return err
		}
		if it == nil {
			return nil
		}
		k = it.parentKey
	}
	return nil
}

// unpack takes the named children (all of them when none are named) out of
// a container.
func (c *capture) unpack(e *Event) error {
	parent, err := c.held(e.ParentID)
	if err != nil {
		return err
	}
	// A shipment travels whole: the destination unpacks it once received,
	// or the shipper once it voided the shipment.
	if parent.Status == StatusInTransit {
		return reject(CodeInactive, "container %s is in transit to %s; receive it, or void its shipment, before unpacking", parent.Key, parent.Destination)
	}
	if len(e.ChildEPCs) == 0 {
		if err := c.needSQL(); err != nil {
			return err
		}
		if err := c.flush(); err != nil {
			return err
		}
		// The event, the last one flushed, names none of the children, so
		// it is indexed for them as moveContainer indexes a container's
		// contents: under contentsKey, with no role, so provenance shows
		// it and EPCIS queries (which look at what events name) do not.
		// Only the direct children: they are what leaves the container,
		// as if the event had named them; what is inside a child case
		// stays in that case, as an unpacking naming the case leaves it.
		// From rules version 3 only, though it changes no result: every
		// node, and every replay of an older entry, then indexes an entry
		// alike, whichever binary applies it.
		if c.a.rules >= rulesCaptureConsistency {
			if err := c.a.tx.Exec(`INSERT OR IGNORE INTO event_epcs ("key", event_id, roles) SELECT `+contentsKeySQL(`"key"`)+`, ?, 0 FROM items WHERE parent_id = ?`,
				c.lastEventID, parent.ID).Error; err != nil {
				return fmt.Errorf("index unpacked contents: %w", err)
			}
		}
		if err := c.a.tx.Exec(`UPDATE items SET parent_id = 0, seq = ? WHERE parent_id = ?`, c.a.seq, parent.ID).Error; err != nil {
			return err
		}
		c.batch.wroteInSQL(c.a.seq)
		clear(c.items)
		return nil
	}
	for _, s := range e.ChildEPCs {
		key := keyOf(s)
		child, err := c.item(key)
		if err != nil {
			return err
		}
		if child == nil || child.parentKey != parent.Key {
			return reject(CodeBadPayload, "%s is not packed in %s", key, parent.Key)
		}
		child.parentKey = ""
		c.touch(child)
	}
	return nil
}

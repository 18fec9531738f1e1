package server

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pedigree-ledger/pedigree/models"
	"github.com/pedigree-ledger/pedigree/models/gs1"
	"github.com/pedigree-ledger/pedigree/raftstore"
)

// resolverAPI is a GS1 Digital Link resolver for packs: the URI printed in a
// pack's QR code, /01/{gtin}[/10/{lot}]/21/{serial}?17=YYMMDD, answers a
// browser with a verification page and an API client with JSON. With
// linkType=verificationService it is the DSCSA Verification Router
// Service endpoint (vrs.go).
//
// Anyone may resolve a link: a patient holding a pack may check it. An
// anonymous check reveals the verdict, the product, the lot, the expiry and
// the status, never a party (the holder, who dispensed or destroyed the
// pack and where, who recalled it: see withoutParties), and raises no alert
// (it would let anyone flood regulators); a check with a token is a full
// verification.
type resolverAPI struct {
	ledger LifecycleLedger
	verify *verifyAPI
	dash   *Dashboard
}

// Register mounts the resolver under /01/. The session middleware lets a
// signed-in browser get the full answer.
func (h *resolverAPI) Register(r gin.IRouter) {
	opt := authenticate(h.ledger, false)
	for _, route := range []string{"/01/:gtin", "/01/:gtin/*rest"} {
		if h.dash != nil {
			r.GET(route, h.servesLedger, navigationOnly(h.dash.session), opt, h.resolve)
		} else {
			r.GET(route, h.servesLedger, opt, h.resolve)
		}
	}
}

// servesLedger refuses every resolution while the node's ledger is
// diverged (diverged.go), with a page for a browser.
func (h *resolverAPI) servesLedger(c *gin.Context) {
	if err := divergedErr(h.ledger); err != nil {
		h.fail(c, err)
		c.Abort()
	}
}

// navigationOnly applies a dashboard session to a link the browser opens
// as a page (a top-level navigation from this site, or typed in), not to
// the same URL fetched by another page: an <img> or a fetch from a sibling
// subdomain, which a SameSite=Strict cookie still goes with. A signed-in
// resolution raises an alert in the user's name, so a page the user merely
// visits must not be able to make one. API tokens are not affected.
func navigationOnly(session gin.HandlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		site, dest := c.GetHeader("Sec-Fetch-Site"), c.GetHeader("Sec-Fetch-Dest")
		if (site != "" && site != "same-origin" && site != "none") || (dest != "" && dest != "document") {
			return // anonymous, as far as the session goes
		}
		session(c)
	}
}

// maxResolverLink bounds a resolver request's path and query together: what
// gs1.ParseDigitalLink reads once the resolver's domain is put in front.
const maxResolverLink = gs1.MaxDigitalLinkLen - len(gs1.DefaultDigitalLinkBase)

// resolve handles GET /01/{gtin}/...
func (h *resolverAPI) resolve(c *gin.Context) {
	// Anyone may call this, so refuse what no Digital Link can be before
	// parsing the query or the path.
	path := c.Request.URL.EscapedPath()
	if n := len(path) + len(c.Request.URL.RawQuery); n > maxResolverLink {
		h.fail(c, errf(http.StatusBadRequest, "link_too_long",
			"a Digital Link's path and query are at most %d bytes; these are %d", maxResolverLink, n))
		return
	}
	linkType, query, err := resolverQuery(c.Request.URL.RawQuery)
	if err == nil {
		err = readAtLevelAsked(c, h.ledger) // ?consistency=, as on every read
	}
	if err != nil {
		h.fail(c, err)
		return
	}
	// A Digital Link has no trailing slash.
	uri := gs1.DefaultDigitalLinkBase + strings.TrimSuffix(path, "/")
	if query != "" {
		uri += "?" + query
	}
	es, err := gs1.ParseDigitalLink(uri)
	if err != nil {
		h.fail(c, errf(http.StatusBadRequest, "bad_gs1", "%v", err))
		return
	}
	if isVerificationLinkType(linkType) {
		vrsAnswer(c, h.verify, es)
		return
	}
	if linkType != "" && linkType != "all" && !strings.HasSuffix(linkType, "pip") {
		h.fail(c, errf(http.StatusNotFound, "no_link", "this resolver has no %q link; it answers verificationService and the default page", linkType))
		return
	}
	cl, authErr := callerOf(c)
	if _, ok := es.Get("21"); !ok {
		h.product(c, es, authErr != nil)
		return
	}
	resp, alert, err := h.verify.checkElements(c.Request.Context(), cl, es, "", checkLink)
	if err != nil {
		h.fail(c, err)
		return
	}
	if authErr != nil {
		// Anonymous: no party, no alert.
		withoutParties(&resp)
	} else if alert != nil {
		res, err := proposeAlert(c, h.ledger, cl, *alert)
		if err != nil {
			h.fail(c, err)
			return
		}
		resp.AlertSeq = res.Seq
	}
	if wantsHTML(c) && h.dash != nil {
		h.dash.render(c, http.StatusOK, "verify", page{Title: "Verification", Verify: &resp})
		return
	}
	c.JSON(http.StatusOK, resp)
}

// resolverParams are the resolver's own query parameters (GS1 Digital Link
// 1.x section 8, and the read's consistency level, as on every read):
// they say what to answer, and are no part of the link.
var resolverParams = map[string]bool{"linkType": true, "context": true, "reqGLN": true, "corrUUID": true, "consistency": true}

// resolverQuery splits a request's raw query into the linkType asked for
// and the link's own query, the rest as it came, for ParseDigitalLink to
// read. url.Values would drop a pair it cannot decode without a word, and
// with it an AI: a link whose expiry is malformed would then verify as a
// link without one. So a key or linkType that does not decode is refused
// here, and any other value by ParseDigitalLink.
func resolverQuery(raw string) (linkType, query string, err error) {
	var kept []string
	seen := map[string]bool{}
	for _, param := range strings.Split(raw, "&") {
		if param == "" {
			continue
		}
		rawK, rawV, _ := strings.Cut(param, "=")
		k, err := url.QueryUnescape(rawK)
		if err != nil {
			return "", "", errf(http.StatusBadRequest, "bad_gs1", "bad percent-encoding in the query key %q", rawK)
		}
		if !resolverParams[k] {
			kept = append(kept, param)
			continue
		}
		if seen[k] {
			return "", "", errf(http.StatusBadRequest, "query_parameter", "%s is given twice; it takes one value", k)
		}
		seen[k] = true
		if k == "linkType" {
			if linkType, err = url.QueryUnescape(rawV); err != nil {
				return "", "", errf(http.StatusBadRequest, "bad_gs1", "bad percent-encoding in linkType %q", rawV)
			}
		}
	}
	return linkType, strings.Join(kept, "&"), nil
}

// withoutParties makes a verification's answer fit for a caller who is not
// signed in: it keeps the verdict and its codes, the product, the pack's
// lot, expiry, status and dates, and drops every organisation's GLN. The
// reasons models wrote name parties ("dispensed by ... at ..."), so each
// is written again from its verdict; a verdict added later without a
// sentence here gets a generic one rather than models'. The product and
// the recall are copied before they are changed: the verify index shares
// its rows between answers.
func withoutParties(resp *verifyResponse) {
	resp.Signature.KeyOwner = "" // the manufacturer, as a key's owner
	p := resp.Pack
	if p != nil {
		p.Holder, p.DecommissionedBy = "", ""
	}
	if resp.Product != nil {
		prod := *resp.Product
		prod.Manufacturer = ""
		resp.Product = &prod
	}
	if resp.Recall != nil {
		r := *resp.Recall
		r.RecalledBy = ""
		resp.Recall = &r
	}
	reasons := make([]models.Reason, len(resp.Reasons))
	for i, r := range resp.Reasons {
		reasons[i] = models.Reason{Verdict: r.Verdict, Message: anonymousReason(r.Verdict, p)}
		// A code signed with another organisation's key: the signature's
		// reason is the rule's sentence, which names both (verify).
		if r.Verdict == models.VerdictSignatureInvalid && resp.Signature.Reason == r.Message {
			resp.Signature.Reason = "the code is signed with a key that is not the product's manufacturer's"
		}
	}
	resp.Reasons = reasons
}

// anonymousReason is the sentence for a verdict that names no party; p is
// the pack (nil when the ledger has none), already without parties.
func anonymousReason(v models.Verdict, p *packView) string {
	var status, lot, expiry, since string
	if p != nil {
		status, lot, expiry = p.Status, p.Lot, p.Expiry
		if p.DecommissionedAt != nil {
			since = " on " + p.DecommissionedAt.UTC().Format(time.RFC3339)
		}
	}
	switch v {
	case models.VerdictAuthentic:
		return "the pack is active and matches the ledger"
	case models.VerdictUnknownProduct:
		return "the GTIN is not a registered product"
	case models.VerdictUnknownSerial:
		return "the serial number is not on the ledger"
	case models.VerdictSignatureInvalid:
		return "the code's signature (8030) does not verify"
	case models.VerdictSignatureMissing:
		return "the code carries no signature (8030), which this product's packs must"
	case models.VerdictLotMismatch:
		return "the scanned lot is not the ledger's (" + lot + ")"
	case models.VerdictExpiryMismatch:
		return "the scanned expiry is not the ledger's (" + expiry + ")"
	case models.VerdictDestroyedStolen:
		return "the pack was recorded " + status + since
	case models.VerdictRecalled:
		return "lot " + lot + " is recalled"
	case models.VerdictAlreadyDispensed:
		return "the pack was already dispensed" + since
	case models.VerdictInactive:
		return "the pack is " + status + since
	case models.VerdictExpired:
		return "the pack expired on " + expiry
	case models.VerdictNotInCustody:
		return "the pack is not in the verifier's custody"
	}
	return "the pack is suspect: " + string(v)
}

// fail answers an error as a page for a browser, as JSON otherwise.
func (h *resolverAPI) fail(c *gin.Context, err error) {
	if wantsHTML(c) && h.dash != nil {
		h.dash.fail(c, err)
		return
	}
	abortErr(c, err)
}

// wantsHTML reports whether the client prefers HTML (a browser).
func wantsHTML(c *gin.Context) bool {
	return c.NegotiateFormat(gin.MIMEJSON, gin.MIMEHTML) == gin.MIMEHTML &&
		strings.Contains(c.GetHeader("Accept"), "text/html")
}

// isVerificationLinkType recognises the GS1 link type in its spellings.
func isVerificationLinkType(s string) bool {
	if u, err := url.PathUnescape(s); err == nil {
		s = u
	}
	switch s {
	case "verificationService", "gs1:verificationService", "https://gs1.org/voc/verificationService", "https://ref.gs1.org/voc/verificationService":
		return true
	}
	return false
}

// productAnswer is what a link to a product or a lot (no serial) resolves
// to: the product and, for a lot, whether it is recalled. No pack is
// named, so there is no verdict and no alert.
type productAnswer struct {
	Product *models.Product `json:"product"`
	Lot     string          `json:"lot,omitempty"`
	// LotOnLedger says whether any pack of the lot was commissioned: a
	// lot nobody made is no better for not being recalled.
	LotOnLedger *bool          `json:"lot_on_ledger,omitempty"`
	Recall      *models.Recall `json:"recall,omitempty"`
	Note        string         `json:"note"`
}

// LotKnown reports whether the answer names a lot that is on the ledger.
func (a *productAnswer) LotKnown() bool { return a.LotOnLedger != nil && *a.LotOnLedger }

// product answers a GTIN or GTIN+lot link; to an anonymous caller it names
// no party (the manufacturer, who recalled the lot), as a pack's answer
// does not (withoutParties).
func (h *resolverAPI) product(c *gin.Context, es gs1.ElementString, anonymous bool) {
	gtin, _ := es.Get("01")
	lot, _ := es.Get("10")
	db, err := h.ledger.Read(c.Request.Context(), raftstore.Local)
	if err != nil {
		h.fail(c, storeErr(err))
		return
	}
	var prod models.Product
	if err := db.Where("gtin = ?", gtin).Limit(1).Find(&prod).Error; err != nil {
		h.fail(c, err)
		return
	}
	if prod.GTIN == "" {
		h.fail(c, errf(http.StatusNotFound, "unknown_product", "GTIN %s is not a registered product", gtin))
		return
	}
	if anonymous {
		prod.Manufacturer = ""
	}
	ans := productAnswer{Product: &prod, Lot: lot, Note: "this link names no pack; scan the pack's code (with its serial) to verify it"}
	if lot != "" {
		var r models.Recall
		if err := db.Where("gtin = ? AND lot = ?", gtin, lot).Limit(1).Find(&r).Error; err != nil {
			h.fail(c, err)
			return
		}
		if r.ID != 0 {
			if anonymous {
				r.RecalledBy = ""
			}
			ans.Recall = &r
		}
		onLedger, err := models.LotOnLedger(db, gtin, lot)
		if err != nil {
			h.fail(c, err)
			return
		}
		ans.LotOnLedger = &onLedger
	}
	if wantsHTML(c) && h.dash != nil {
		h.dash.render(c, http.StatusOK, "product", page{Title: prod.Name, Product: &ans})
		return
	}
	c.JSON(http.StatusOK, ans)
}

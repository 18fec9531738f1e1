package server

import (
	"net/http"
	"net/url"
	"strings"

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
// the status, never the holder, and raises no alert (it would let anyone
// flood regulators); a check with a token is a full verification.
type resolverAPI struct {
	ledger LifecycleLedger
	verify *verifyAPI
	dash   *Dashboard
}

// Register mounts the resolver under /01/. The session middleware lets a
// signed-in browser get the full answer.
func (h *resolverAPI) Register(r gin.IRouter) {
	opt := authenticate(h.ledger, false)
	if h.dash != nil {
		r.GET("/01/:gtin/*rest", h.dash.session, opt, h.resolve)
		return
	}
	r.GET("/01/:gtin/*rest", opt, h.resolve)
}

// resolve handles GET /01/{gtin}/...
func (h *resolverAPI) resolve(c *gin.Context) {
	q := c.Request.URL.Query()
	linkType := q.Get("linkType")
	for _, k := range []string{"linkType", "context", "reqGLN", "corrUUID"} {
		q.Del(k)
	}
	// Gin redirects /01/{gtin} to /01/{gtin}/ to reach the catch-all; a
	// Digital Link has no trailing slash.
	uri := "https://id.gs1.org" + strings.TrimSuffix(c.Request.URL.EscapedPath(), "/")
	if enc := q.Encode(); enc != "" {
		uri += "?" + enc
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
	if _, ok := es.Get("21"); !ok {
		h.product(c, es)
		return
	}
	cl, authErr := callerOf(c)
	resp, alert, err := h.verify.check(c.Request.Context(), cl, es.HRI(), "", true)
	if err != nil {
		h.fail(c, err)
		return
	}
	if authErr != nil {
		// Anonymous: no holder, no alert.
		if resp.Pack != nil {
			resp.Pack.Holder, resp.Pack.DecommissionedBy = "", ""
		}
	} else if alert != nil {
		res, err := proposeOne(c, h.ledger, cl, models.KindAlert, *alert)
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
	Recall  *models.Recall  `json:"recall,omitempty"`
	Note    string          `json:"note"`
}

// product answers a GTIN or GTIN+lot link.
func (h *resolverAPI) product(c *gin.Context, es gs1.ElementString) {
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
	ans := productAnswer{Product: &prod, Lot: lot, Note: "this link names no pack; scan the pack's code (with its serial) to verify it"}
	if lot != "" {
		var r models.Recall
		if err := db.Where("gtin = ? AND lot = ?", gtin, lot).Limit(1).Find(&r).Error; err != nil {
			h.fail(c, err)
			return
		}
		if r.ID != 0 {
			ans.Recall = &r
		}
	}
	if wantsHTML(c) && h.dash != nil {
		h.dash.render(c, http.StatusOK, "product", page{Title: prod.Name, Product: &ans})
		return
	}
	c.JSON(http.StatusOK, ans)
}

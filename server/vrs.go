package server

import (
	"net/http"
	"regexp"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/pedigree-ledger/pedigree/models"
	"github.com/pedigree-ledger/pedigree/models/gs1"
)

// The DSCSA Verification Router Service answer, GS1 Lightweight Messaging
// Standard for Verification of Product Identifiers: a requester (usually a
// wholesaler checking a saleable return) GETs the pack's Digital Link with
// linkType=verificationService, context, reqGLN and corrUUID, and gets
// verified true or false with a failure reason. The question is whether
// the manufacturer assigned the product identifier and what its status is
// (recalled, expired, ...), so the answer is the same whoever asks: which
// pharmacy holds the pack is EU FMD's check at the counter, not VRS's
// (checkVRS).

// vrsResponse is the Lightweight Messaging response body.
type vrsResponse struct {
	VerificationTimestamp string  `json:"verificationTimestamp"`
	ResponderGLN          string  `json:"responderGLN"`
	Data                  vrsData `json:"data"`
	CorrUUID              string  `json:"corrUUID"`
}

type vrsData struct {
	Verified                  bool   `json:"verified"`
	VerificationFailureReason string `json:"verificationFailureReason,omitempty"`
	AdditionalInfo            string `json:"additionalInfo,omitempty"`
}

var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// vrsAnswer answers a verification request. 401 without a token, 403 when
// reqGLN is not the caller's own GLN (a regulator or admin may ask for
// anyone), 404 when the GTIN is unknown, 400 when the request lacks what
// the standard requires (GTIN, serial, lot, expiry, reqGLN, corrUUID).
func vrsAnswer(c *gin.Context, v *verifyAPI, es gs1.ElementString) {
	cl, err := callerOf(c)
	if err != nil {
		abortErr(c, err)
		return
	}
	reqGLN, corr := c.Query("reqGLN"), c.Query("corrUUID")
	if !uuidPattern.MatchString(corr) {
		abortErr(c, errf(http.StatusBadRequest, "bad_request", "corrUUID must be a UUID"))
		return
	}
	if len(reqGLN) != 13 || !gs1.ValidCheckDigit(reqGLN) {
		abortErr(c, errf(http.StatusBadRequest, "bad_request", "reqGLN must be a 13-digit GLN"))
		return
	}
	if reqGLN != cl.Org && !cl.seesEverything() {
		abortErr(c, errf(http.StatusForbidden, "forbidden", "reqGLN %s is not the GLN of the credential (%s)", reqGLN, cl.Org))
		return
	}
	for _, ai := range []string{"01", "21", "10", "17"} {
		if _, ok := es.Get(ai); !ok {
			abortErr(c, errf(http.StatusBadRequest, "bad_request", "a verification request carries GTIN, serial, lot and expiry; (%s) is missing", ai))
			return
		}
	}
	resp, alert, err := v.checkElements(c.Request.Context(), cl, es, "", checkVRS)
	if err != nil {
		abortErr(c, err)
		return
	}
	if resp.Verdict == models.VerdictUnknownProduct {
		gtin, _ := es.Get("01")
		abortErr(c, errf(http.StatusNotFound, "unknown_gtin", "GTIN %s is not known to this responder", gtin))
		return
	}
	if alert != nil {
		if _, err := proposeAlert(c, v.ledger, cl, *alert); err != nil {
			abortErr(c, err)
			return
		}
	}
	responder := ""
	if resp.Product != nil {
		responder = resp.Product.Manufacturer
	}
	verified := resp.Verified
	out := vrsResponse{VerificationTimestamp: time.Now().UTC().Format(time.RFC3339Nano), ResponderGLN: responder,
		Data: vrsData{Verified: verified}, CorrUUID: corr}
	if !verified {
		out.Data.VerificationFailureReason, out.Data.AdditionalInfo = resp.FailureReason, resp.AdditionalInfo
	}
	c.JSON(http.StatusOK, out)
}

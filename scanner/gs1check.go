package scanner

import "strings"

// isGS1 says whether a decoded code carries GS1 data: a DataMatrix with
// FNC1 in first position, or a QR code holding a GS1 Digital Link.
func isGS1(r *Result) bool {
	switch r.Format {
	case "datamatrix":
		return r.Symbology == "]d2"
	case "qrcode":
		return strings.Contains(r.Text, "/01/")
	}
	return false
}

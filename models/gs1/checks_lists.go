package gs1

import (
	"strings"
	"sync"
)

// packageTypeCodes is the GS1 PackageTypeCode list (UN/ECE Recommendation 21
// codes and GS1 additions) used by AI (7041).
var packageTypeCodes = sync.OnceValue(func() map[string]bool {
	m := map[string]bool{}
	for _, c := range strings.Fields(`1A 1B 1D 1F 1G 1W 200 201 202 203 204 205 206 210 211 212 2C 3A 3H
		43 44 4A 4B 4C 4D 4F 4G 4H 5H 5L 5M 6H 6P 7A 7B 8 8A 8B 8C 9
		AA AB AC AD AF AG AH AI AJ AL AM AP APE AT AV
		B4 BB BC BD BE BF BG BGE BH BI BJ BK BL BM BME BN BO BP BQ BR BRI BS BT BU BV BW BX BY BZ
		CA CB CBL CC CCE CD CE CF CG CH CI CJ CK CL CM CN CO CP CQ CR CS CT CU CV CW CX CY CZ
		DA DB DC DG DH DI DJ DK DL DM DN DP DPE DR DS DT DU DV DW DX DY
		E1 E2 E3 EC ED EE EF EG EH EI EN FB FC FD FE FI FL FO FOB FP FPE FR FT FW FX
		GB GI GL GR GU GY GZ HA HB HC HG HN HR IA IB IC ID IE IF IG IH IK IL IN IZ
		JB JC JG JR JT JY KG KI LAB LE LG LT LU LV LZ MA MB MC ME MPE MR MS MT MW MX
		NA NE NF NG NS NT NU NV OA OB OC OD OE OF OK OPE OT OU
		P2 PA PAE PB PC PD PE PF PG PH PI PJ PK PL PLP PN PO POP PP PPE PR PT PU PUE PV PX PY PZ
		QA QB QC QD QF QG QH QJ QK QL QM QN QP QQ QR QS RB1 RB2 RB3 RCB RD RG RJ RK RL RO RT RZ
		S1 SA SB SC SD SE SEC SH SI SK SL SM SO SP SS ST STL SU SV SW SX SY SZ
		T1 TB TC TD TE TEV TG THE TI TK TL TN TO TR TRE TS TT TTE TU TV TW TWE TY TZ UC UN UUE
		VA VG VI VK VL VN VO VP VQ VR VS VY
		WA WB WC WD WF WG WH WJ WK WL WM WN WP WQ WR WRP WS WT WU WV WW WX WY WZ
		X11 X12 X15 X16 X17 X18 X19 X20 X3 XA XB XC XD XF XG XH XJ XK
		YA YB YC YD YF YG YH YJ YK YL YM YN YP YQ YR YS YT YV YW YX YY YZ
		ZA ZB ZC ZD ZF ZG ZH ZJ ZK ZL ZM ZN ZP ZQ ZR ZS ZT ZU ZV ZW ZX ZY ZZ`) {
		m[c] = true
	}
	return m
})

func checkPackageType(v string) string {
	if packageTypeCodes()[v] {
		return ""
	}
	return "not a GS1 package type code"
}

// vliField reads a variable-length indicator digit at v[*i] and then
// base+VLI digits, as the North American coupon fields are laid out.
// It returns false when the data runs out or the VLI exceeds maxVLI.
func vliField(v string, i *int, base, maxVLI int) bool {
	if *i >= len(v) || v[*i] < '0' || int(v[*i]-'0') > maxVLI {
		return false
	}
	n := base + int(v[*i]-'0')
	*i++
	if *i+n > len(v) {
		return false
	}
	*i += n
	return true
}

// checkCouponPosOffer checks AI (8112), the paperless coupon code: format
// code 0 or 1, funder company prefix (VLI 0-6, 6-12 digits), offer code (6
// digits), serial number (VLI 0-9, 6-15 digits), and nothing after.
func checkCouponPosOffer(v string) string {
	if !isDigits(v) {
		return "coupon data must be digits"
	}
	if v[0] != '0' && v[0] != '1' {
		return "coupon format code must be 0 or 1"
	}
	i := 1
	start := i
	if !vliField(v, &i, 6, 6) {
		return "bad or truncated coupon funder ID"
	}
	if r := checkGCP(v[start+1:i], 0); r != "" {
		return "coupon funder ID " + r
	}
	if i+6 > len(v) {
		return "truncated coupon offer code"
	}
	i += 6
	if !vliField(v, &i, 6, 9) {
		return "bad or truncated coupon serial number"
	}
	if i != len(v) {
		return "unexpected data after the coupon serial number"
	}
	return ""
}

// checkCouponCode checks AI (8110), the North American coupon code. Its
// mandatory fields are the primary company prefix (VLI 0-6), the offer code
// (6 digits), the save value (VLI 1-5), the primary purchase requirement
// (VLI 1-5), its code (0-4 or 9) and family code (3 digits). Optional fields
// follow, each at most once and in order, introduced by its number: 1 a
// second purchase, 2 a third purchase, 3 the expiration date, 4 the start
// date, 5 a serial number, 6 the retailer's company prefix or GLN, 9 the
// save value code and flags.
func checkCouponCode(v string) string {
	if !isDigits(v) {
		return "coupon data must be digits"
	}
	i := 0
	if !vliField(v, &i, 6, 6) {
		return "bad or truncated coupon company prefix"
	}
	if r := checkGCP(v[1:i], 0); r != "" {
		return "coupon company prefix " + r
	}
	if i+6 > len(v) {
		return "truncated coupon offer code"
	}
	i += 6
	if i >= len(v) || v[i] < '1' || v[i] > '5' || !vliField(v, &i, 0, 5) {
		return "bad or truncated coupon save value"
	}
	if r := couponPurchase(v, &i, "primary", false); r != "" {
		return r
	}
	var expiry, start string
	last := byte('0')
	for i < len(v) {
		field := v[i]
		if field <= last || field == '7' || field == '8' || field == '0' {
			return "unexpected data in the coupon's optional fields"
		}
		last = field
		i++
		switch field {
		case '1', '2':
			if field == '1' {
				if i >= len(v) || v[i] > '3' {
					return "bad or missing additional purchase rules code"
				}
				i++
			}
			if r := couponPurchase(v, &i, map[byte]string{'1': "second", '2': "third"}[field], true); r != "" {
				return r
			}
		case '3', '4':
			if i+6 > len(v) {
				return "truncated coupon date"
			}
			d := v[i : i+6]
			if checkYYMMDD(d, false) != "" {
				return "bad coupon date " + d
			}
			if field == '3' {
				expiry = d
			} else {
				start = d
			}
			i += 6
		case '5':
			if !vliField(v, &i, 6, 9) {
				return "bad or truncated coupon serial number"
			}
		case '6':
			if i >= len(v) || v[i] == '0' || !vliField(v, &i, 6, 7) {
				return "bad or truncated retailer company prefix or GLN"
			}
		case '9':
			if i+4 > len(v) {
				return "truncated save value code and flags"
			}
			if !strings.ContainsRune("01256", rune(v[i])) {
				return "bad save value code"
			}
			if v[i+1] > '2' {
				return "bad save-value-applies-to-item code"
			}
			if v[i+3] > '1' {
				return "bad don't-multiply flag"
			}
			i += 4
		}
	}
	if expiry != "" && start != "" && expiry < start {
		return "coupon expires before it starts"
	}
	return ""
}

// couponPurchase reads a purchase requirement (VLI 1-5), its code (0-4 or
// 9) and family code (3 digits) and, for additional purchases, the company
// prefix (VLI 0-6, or 9 for the primary one).
func couponPurchase(v string, i *int, which string, withGCP bool) string {
	if *i >= len(v) || v[*i] < '1' || v[*i] > '5' || !vliField(v, i, 0, 5) {
		return "bad or truncated " + which + " purchase requirement"
	}
	if *i >= len(v) || (v[*i] > '4' && v[*i] != '9') {
		return "bad or missing " + which + " purchase requirement code"
	}
	*i++
	if *i+3 > len(v) {
		return "truncated " + which + " purchase family code"
	}
	*i += 3
	if !withGCP {
		return ""
	}
	if *i < len(v) && v[*i] == '9' {
		*i++
		return ""
	}
	start := *i
	if !vliField(v, i, 6, 6) {
		return "bad or truncated " + which + " purchase company prefix"
	}
	if r := checkGCP(v[start+1:*i], 0); r != "" {
		return which + " purchase company prefix " + r
	}
	return ""
}

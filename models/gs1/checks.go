package gs1

import (
	"strconv"
	"strings"
	"sync"
)

// A check validates the content of one AI component and returns a reason
// when the content is wrong. The names are those used in the AI table.
type check func(v string) string

var checks = map[string]check{
	"csum":           checkCsum,
	"csumalpha":      checkCsumAlpha,
	"key":            func(v string) string { return checkGCP(v, 0) },
	"keyoff1":        func(v string) string { return checkGCP(v, 1) },
	"yymmd0":         func(v string) string { return checkYYMMDD(v, true) },
	"yymmdd":         func(v string) string { return checkYYMMDD(v, false) },
	"yyyymmdd":       checkYYYYMMDD,
	"hh":             func(v string) string { return checkRange(v, 0, 23, "hour") },
	"mi":             func(v string) string { return checkRange(v, 0, 59, "minute") },
	"ss":             func(v string) string { return checkRange(v, 0, 59, "second") },
	"hhmi":           checkHHMI,
	"iso3166":        func(v string) string { return inList(v, iso3166Numeric(), "not an ISO 3166 numeric country code") },
	"iso3166999":     checkISO3166or999,
	"iso3166alpha2":  func(v string) string { return inList(v, iso3166Alpha2(), "not an ISO 3166 alpha-2 country code") },
	"iso4217":        func(v string) string { return inList(v, iso4217Numeric(), "not an ISO 4217 numeric currency code") },
	"iso5218":        func(v string) string { return oneOf(v, "sex must be 0, 1, 2 or 9 (ISO/IEC 5218)", "0", "1", "2", "9") },
	"latitude":       func(v string) string { return checkMaxNumber(v, 1800000000, "latitude") },
	"longitude":      func(v string) string { return checkMaxNumber(v, 3600000000, "longitude") },
	"hyphen":         func(v string) string { return oneOf(v, "must be a hyphen", "-") },
	"yesno":          func(v string) string { return oneOf(v, "must be 0 or 1", "0", "1") },
	"zero":           func(v string) string { return oneOf(v, "must be 0", "0") },
	"winding":        func(v string) string { return oneOf(v, "winding direction must be 0, 1 or 9", "0", "1", "9") },
	"nonzero":        checkNonZero,
	"nozeroprefix":   checkNoZeroPrefix,
	"hasnondigit":    checkHasNonDigit,
	"pieceoftotal":   checkPieceOfTotal,
	"posinseqslash":  checkPosInSeqSlash,
	"mediatype":      checkMediaType,
	"importeridx":    checkImporterIndex,
	"pcenc":          checkPercentEncoding,
	"iban":           checkIBAN,
	"packagetype":    checkPackageType,
	"couponcode":     checkCouponCode,
	"couponposoffer": checkCouponPosOffer,
}

// cset82 holds the characters of GS1 CSET 82: the printable ASCII
// characters less space, #, $, @, [, \, ], ^, `, {, |, } and ~.
const cset82 = `!"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz`

// cset39 holds the characters of GS1 CSET 39.
const cset39 = `#-/0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ`

// cset64 holds the characters of GS1 CSET 64 (base64url) apart from the
// "=" padding, which may only end a value.
const cset64 = `-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz`

var charsetTables = func() (t [4][256]bool) {
	for i := '0'; i <= '9'; i++ {
		t[0][i] = true
	}
	for _, s := range []struct {
		idx int
		set string
	}{{1, cset82}, {2, cset39}, {3, cset64}} {
		for i := 0; i < len(s.set); i++ {
			t[s.idx][s.set[i]] = true
		}
	}
	return t
}()

// badCharAt returns the index of the first character of v outside cs, or -1.
func badCharAt(v string, cs Charset) int {
	var tab *[256]bool
	switch cs {
	case Numeric:
		tab = &charsetTables[0]
	case CSET82:
		tab = &charsetTables[1]
	case CSET39:
		tab = &charsetTables[2]
	case CSET64:
		tab = &charsetTables[3]
		// "=" padding: at most two, only at the end, and then only when the
		// whole value's length is a multiple of three (the Syntax
		// Engine's rule).
		trimmed := strings.TrimRight(v, "=")
		if pads := len(v) - len(trimmed); pads > 2 || (pads > 0 && len(v)%3 != 0) {
			return len(trimmed)
		}
		v = trimmed
	}
	for i := 0; i < len(v); i++ {
		if !tab[v[i]] {
			return i
		}
	}
	return -1
}

func charsetName(cs Charset) string {
	switch cs {
	case Numeric:
		return "digits"
	case CSET82:
		return "GS1 CSET 82"
	case CSET39:
		return "GS1 CSET 39"
	case CSET64:
		return "GS1 CSET 64 (base64url)"
	}
	return "unknown character set"
}

func checkCsum(v string) string {
	if !ValidCheckDigit(v) {
		return "bad check digit: want " + strconv.Itoa(CheckDigit(v[:len(v)-1]))
	}
	return ""
}

// checkGCP checks that v, from offset off, starts with something that can
// be a GS1 Company Prefix: at least four digits. Without the registry of
// prefixes that is all that can be known offline.
func checkGCP(v string, off int) string {
	if len(v) < off+4 {
		return "too short to start with a GS1 Company Prefix"
	}
	if !isDigits(v[off : off+4]) {
		return "does not start with a GS1 Company Prefix (four digits)"
	}
	return ""
}

// checkCsumAlpha checks the check character pair of an alphanumeric key
// (GMN, MUDI): the data characters' CSET 82 positions weighted by primes
// from the right, modulo 1021, split into two CSET 32 characters.
func checkCsumAlpha(v string) string {
	const cset32 = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
	if len(v) < 2 {
		return "too short for a check character pair"
	}
	data := v[:len(v)-2]
	if len(data) > len(primes) {
		return "too long for a check character pair"
	}
	sum := 0
	for i := 0; i < len(data); i++ {
		w := strings.IndexByte(cset82, data[i])
		if w < 0 {
			return "not in GS1 CSET 82"
		}
		sum += w * primes[len(data)-1-i]
	}
	sum %= 1021
	want := string([]byte{cset32[sum>>5], cset32[sum&31]})
	if strings.IndexByte(cset32, v[len(v)-2]) < 0 || strings.IndexByte(cset32, v[len(v)-1]) < 0 {
		return "check characters must be from GS1 CSET 32"
	}
	if v[len(v)-2:] != want {
		return "bad check character pair: want " + want
	}
	return ""
}

var primes = func() []int {
	var ps []int
	for n := 2; len(ps) < 97; n++ {
		prime := true
		for _, p := range ps {
			if p*p > n {
				break
			}
			if n%p == 0 {
				prime = false
				break
			}
		}
		if prime {
			ps = append(ps, n)
		}
	}
	return ps
}()

func atoi2(s string) int { return int(s[0]-'0')*10 + int(s[1]-'0') }

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// checkYYMMDD checks a GS1 date. The century is not known here; every
// two-digit year divisible by four is taken as a leap year, which is right
// for every year the GS1 century rule can yield until 2100.
func checkYYMMDD(v string, dayZeroOK bool) string {
	if len(v) != 6 || !isDigits(v) {
		return "a date must be six digits, YYMMDD"
	}
	yy, mm, dd := atoi2(v), atoi2(v[2:]), atoi2(v[4:])
	if mm < 1 || mm > 12 {
		return "month must be 01 to 12"
	}
	if dd == 0 && dayZeroOK {
		return ""
	}
	if dd < 1 || dd > daysIn(mm, 2000+yy) {
		return "no such day in that month"
	}
	return ""
}

func checkYYYYMMDD(v string) string {
	if len(v) != 8 || !isDigits(v) {
		return "a date must be eight digits, YYYYMMDD"
	}
	year, _ := strconv.Atoi(v[:4])
	mm, dd := atoi2(v[4:]), atoi2(v[6:])
	if mm < 1 || mm > 12 {
		return "month must be 01 to 12"
	}
	if dd < 1 || dd > daysIn(mm, year) {
		return "no such day in that month"
	}
	return ""
}

func checkHHMI(v string) string {
	if len(v) != 4 || !isDigits(v) {
		return "a time must be four digits, HHMM"
	}
	if atoi2(v) > 23 {
		return "hour must be 00 to 23"
	}
	if atoi2(v[2:]) > 59 {
		return "minute must be 00 to 59"
	}
	return ""
}

func checkRange(v string, lo, hi int, what string) string {
	n, err := strconv.Atoi(v)
	if err != nil || !isDigits(v) || n < lo || n > hi {
		return what + " out of range"
	}
	return ""
}

func checkMaxNumber(v string, max int64, what string) string {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n > max {
		return what + " out of range"
	}
	return ""
}

func oneOf(v, reason string, allowed ...string) string {
	for _, a := range allowed {
		if v == a {
			return ""
		}
	}
	return reason
}

func inList(v string, set map[string]bool, reason string) string {
	if set[v] {
		return ""
	}
	return reason
}

func checkISO3166or999(v string) string {
	if v == "999" || iso3166Numeric()[v] {
		return ""
	}
	return "not an ISO 3166 numeric country code or 999"
}

func checkNonZero(v string) string {
	if strings.Trim(v, "0") == "" {
		return "must not be zero"
	}
	return ""
}

func checkNoZeroPrefix(v string) string {
	if len(v) > 1 && v[0] == '0' {
		return "must not start with a zero"
	}
	return ""
}

func checkHasNonDigit(v string) string {
	if isDigits(v) {
		return "must hold at least one character that is not a digit"
	}
	return ""
}

func checkPieceOfTotal(v string) string {
	if len(v)%2 != 0 || len(v) == 0 || !isDigits(v) {
		return "piece and total must be digits of equal length"
	}
	piece, _ := strconv.Atoi(v[:len(v)/2])
	total, _ := strconv.Atoi(v[len(v)/2:])
	if piece == 0 || total == 0 {
		return "piece and total must not be zero"
	}
	if piece > total {
		return "piece number exceeds the total"
	}
	return ""
}

func checkPosInSeqSlash(v string) string {
	i := strings.IndexByte(v, '/')
	if i <= 0 || i == len(v)-1 || !isDigits(v[:i]) || !isDigits(v[i+1:]) {
		return "must be position/total, e.g. 1/2"
	}
	pos, _ := strconv.Atoi(v[:i])
	total, _ := strconv.Atoi(v[i+1:])
	if pos == 0 || total == 0 || pos > total {
		return "position must be from 1 to the total"
	}
	return ""
}

func checkMediaType(v string) string {
	n, err := strconv.Atoi(v)
	if err != nil || !((n >= 1 && n <= 10) || (n >= 80 && n <= 99)) {
		return "not an AIDC media type (01-10, 80-99)"
	}
	return ""
}

func checkImporterIndex(v string) string {
	if len(v) != 1 || strings.IndexByte("-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz", v[0]) < 0 {
		return "importer index must be one of - 0-9 A-Z _ a-z"
	}
	return ""
}

func checkPercentEncoding(v string) string {
	for i := 0; i < len(v); i++ {
		if v[i] != '%' {
			continue
		}
		if i+2 >= len(v) || !isHex(v[i+1]) || !isHex(v[i+2]) {
			return "bad percent-encoding at character " + strconv.Itoa(i+1)
		}
		i += 2
	}
	return ""
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// checkIBAN checks an ISO 13616 IBAN: country letters, check digits and an
// upper-case alphanumeric account number that together are 1 modulo 97.
func checkIBAN(v string) string {
	if len(v) < 5 {
		return "IBAN too short"
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case i < 2 && (c < 'A' || c > 'Z'):
			return "IBAN must start with a country code"
		case i >= 2 && i < 4 && (c < '0' || c > '9'):
			return "IBAN check digits must be digits"
		case !((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z')):
			return "IBAN holds only digits and upper-case letters"
		}
	}
	if !iso3166Alpha2()[v[:2]] {
		return "IBAN country is not an ISO 3166 alpha-2 code"
	}
	rearranged := v[4:] + v[:4]
	rem := 0
	for i := 0; i < len(rearranged); i++ {
		c := rearranged[i]
		if c >= 'A' {
			rem = (rem*100 + int(c-'A'+10)) % 97
		} else {
			rem = (rem*10 + int(c-'0')) % 97
		}
	}
	if rem != 1 {
		return "IBAN check digits are wrong"
	}
	return ""
}

func expandNumericCodes(list string) map[string]bool {
	m := map[string]bool{}
	for _, f := range strings.Fields(list) {
		lo, hi := f, f
		if i := strings.IndexByte(f, '-'); i >= 0 {
			lo, hi = f[:i], f[i+1:]
		}
		a, _ := strconv.Atoi(lo)
		b, _ := strconv.Atoi(hi)
		for n := a; n <= b; n++ {
			m[leftPad(strconv.Itoa(n), len(lo))] = true
		}
	}
	return m
}

func expandAlpha2Codes(list string) map[string]bool {
	m := map[string]bool{}
	idx := func(s string) int { return int(s[0]-'A')*26 + int(s[1]-'A') }
	for _, f := range strings.Fields(list) {
		lo, hi := f, f
		if i := strings.IndexByte(f, '-'); i >= 0 {
			lo, hi = f[:i], f[i+1:]
		}
		for n := idx(lo); n <= idx(hi); n++ {
			m[string([]byte{byte('A' + n/26), byte('A' + n%26)})] = true
		}
	}
	return m
}

func leftPad(s string, n int) string {
	for len(s) < n {
		s = "0" + s
	}
	return s
}

// The code lists below follow ISO 3166-1 and ISO 4217 as of 2025.
var (
	iso3166Numeric = sync.OnceValue(func() map[string]bool {
		return expandNumericCodes(`004 008 010 012 016 020 024 028 031 032 036 040 044 048 050-052 056 060
			064 068 070 072 074 076 084 086 090 092 096 100 104 108 112 116 120 124
			132 136 140 144 148 152 156 158 162 166 170 174 175 178 180 184 188 191
			192 196 203 204 208 212 214 218 222 226 231-234 238 239 242 246 248 250 254
			258 260 262 266 268 270 275 276 288 292 296 300 304 308 312 316
			320 324 328 332 334 336 340 344 348 352 356 360 364 368 372 376 380
			384 388 392 398 400 404 408 410 414 417 418 422 426 428 430 434 438 440 442 446
			450 454 458 462 466 470 474 478 480 484 492 496 498-500 504 508
			512 516 520 524 528 531 533-535 540 548 554 558 562 566 570 574
			578 580 581 583-586 591 598 600 604 608 612 616 620 624 626 630 634 638
			642 643 646 652 654 659 660 662 663 666 670 674 678 682 686 688 690 694 702 703
			704-706 710 716 724 728 729 732 740 744 748 752 756 760 762 764
			768 772 776 780 784 788 792 795 796 798 800 804 807 818 826 831
			832-834 840 850 854 858 860 862 876 882 887 894`)
	})
	iso4217Numeric = sync.OnceValue(func() map[string]bool {
		return expandNumericCodes(`008 012 032 036 044 048 050-052 060 064 068 072 084 090 096 104 108 116 124
			132 136 144 152 156 170 174 188 191 192 203 208 214 222 230 232 238 242 262 270 292
			320 324 328 332 340 344 348 352 356 360 364 368 376
			388 392 398 400 404 408 410 414 417 418 422 426 430 434 446
			454 458 462 480 484 496 498 504 512 516 524 532 533 548 554 558 566
			578 586 590 598 600 604 608 634 643 646 654 682 690 694 702
			704 706 710 728 748 752 756 760 764 776 780 784 788 800 807 818 826
			834 840 858 860 882 886 901 924 925 927-934 936 938 940 941 943 944 946-953 955-965
			967-973 975-981 984-986 990 994 997 999`)
	})
	iso3166Alpha2 = sync.OnceValue(func() map[string]bool {
		return expandAlpha2Codes(`AD-AG AI AL-AM AO AQ-AU AW-AX AZ-BB BD-BJ BL-BO BQ-BT BV-BW BY-CA CC-CD CF-CI CK-CO
			CR CU-CZ DE DJ DK DM DO DZ EC EE EG-EH ER-ET FI-FK FM FO FR GA-GB GD-GI GL-GN GP-GU GW GY
			HK HM-HN HR HT-HU ID-IE IL-IO IQ-IT JE JM JO-JP KE KG-KI KM-KN KP KR KW KY-KZ LA-LC LI LK
			LR-LV LY MA MC-MH MK-NA NC NE-NG NI NL NO-NP NR NU NZ OM PA PE-PH PK-PN PR-PT PW PY QA RE
			RO RS RU RW SA-SE SG-SO SR-ST SV SX-SZ TC-TD TF-TH TJ-TO TR TT TV-TW TZ UA UG UM US UY UZ
			VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW`)
	})
)

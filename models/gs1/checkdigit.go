package gs1

// CheckDigit returns the GS1 mod-10 check digit for digits, the data of a
// GTIN, GLN, SSCC or other GS1 key without its final check digit. Weights
// alternate 3, 1, 3, ... starting from the rightmost digit, so the same
// function serves keys of every length. It returns -1 if digits is empty or
// holds anything but ASCII digits.
func CheckDigit(digits string) int {
	if digits == "" {
		return -1
	}
	sum := 0
	weight := 3
	for i := len(digits) - 1; i >= 0; i-- {
		c := digits[i]
		if c < '0' || c > '9' {
			return -1
		}
		sum += int(c-'0') * weight
		weight = 4 - weight // 3 -> 1 -> 3
	}
	return (10 - sum%10) % 10
}

// ValidCheckDigit reports whether key, a complete GS1 key such as a GTIN-13
// or an SSCC, is all digits and ends in its correct mod-10 check digit.
func ValidCheckDigit(key string) bool {
	if len(key) < 2 {
		return false
	}
	last := key[len(key)-1]
	if last < '0' || last > '9' {
		return false
	}
	return CheckDigit(key[:len(key)-1]) == int(last-'0')
}

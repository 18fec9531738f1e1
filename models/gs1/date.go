package gs1

import (
	"time"
)

// ParseDate reads a GS1 date, YYMMDD, as carried by AIs such as (17)
// expiry. A day of 00 means the last day of the month. The century follows
// the GS1 General Specifications: a year more than 50 years ahead of ref's
// belongs to the previous century, one 50 or more years behind it to the
// next. Pass the time the date is being judged at as ref; inside the
// replicated state machine that is the command's time, never the clock.
func ParseDate(yymmdd string, ref time.Time) (time.Time, error) {
	if reason := checkYYMMDD(yymmdd, true); reason != "" {
		return time.Time{}, errorf("", yymmdd, "%s", reason)
	}
	yy, mm, dd := atoi2(yymmdd), atoi2(yymmdd[2:]), atoi2(yymmdd[4:])
	year := CenturyYear(yy, ref.Year())
	if dd == 0 {
		dd = daysIn(mm, year)
	}
	if dd > daysIn(mm, year) {
		return time.Time{}, errorf("", yymmdd, "no such day in that month")
	}
	return time.Date(year, time.Month(mm), dd, 0, 0, 0, 0, time.UTC), nil
}

// CenturyYear returns the four-digit year of a two-digit year yy judged in
// refYear, by the GS1 rule described at ParseDate.
func CenturyYear(yy, refYear int) int {
	century := refYear - refYear%100
	switch diff := yy - refYear%100; {
	case diff >= 51:
		return century - 100 + yy
	case diff <= -50:
		return century + 100 + yy
	default:
		return century + yy
	}
}

// ParseExpiry reads an AI (17) expiry date; see ParseDate. A pack is usable
// through the whole of the returned day.
func ParseExpiry(yymmdd string, ref time.Time) (time.Time, error) {
	t, err := ParseDate(yymmdd, ref)
	if err != nil {
		if e, ok := err.(*Error); ok {
			e.AI = "17"
		}
		return time.Time{}, err
	}
	return t, nil
}

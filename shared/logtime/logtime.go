// Package logtime parses the time values that arrive in cloud logs and alerts:
// Unix seconds, Unix milliseconds, and RFC 3339 / ISO 8601 strings.
package logtime

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/ndrtrace/ndrtrace/shared/decimal"
)

// msThreshold separates seconds from milliseconds: 10^11 seconds is the year
// 5138, 10^11 milliseconds is 1973.
const msThreshold = 100_000_000_000

// ErrTime is returned for a value that is none of the accepted forms, or
// one outside [0, MaxUnix].
var ErrTime = errors.New("unrecognised time")

// MaxUnix is the latest time Parse accepts (2106-02-07): the store keeps
// 32-bit seconds, and nothing this system reads can be later.
const MaxUnix = math.MaxUint32 - 1

// Earliest and MaxAhead bound the times a log record can carry (see
// InLog): none predates 2010, and none lies more than a day after the log's
// own time. A time outside them is a malformed record, not a mapping: a
// window reaching back to 1970 would be indexed a million times over.
const (
	Earliest = 1262304000 // 2010-01-01T00:00:00Z
	MaxAhead = 24 * 60 * 60
)

// InLog reports whether sec (Unix seconds) is a time a log record written at
// logTime (the log's own time, Unix seconds) can carry.
func InLog(sec, logTime int64) bool {
	return sec >= Earliest && sec <= logTime+MaxAhead
}

// layouts are tried in order for non-numeric values. Zoneless forms are UTC,
// which is how Alibaba Cloud logs write them.
var layouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999Z0700",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
}

// Parse reads s as Unix seconds (integer or decimal), Unix milliseconds (an
// integer above 10^11) or an RFC 3339 / ISO 8601 timestamp. Times before 1970
// or after MaxUnix are rejected: no log or alert of this system can carry
// one, and a number too large for the clock must not wrap into the past.
func Parse(s string) (time.Time, error) {
	t, err := parse(s)
	if err != nil || t.Unix() < 0 || t.Unix() > MaxUnix {
		return time.Time{}, ErrTime
	}
	return t, nil
}

// ParseUnix is Parse(s).Unix(), the whole seconds log records are kept in:
// the integer seconds or milliseconds logs write are read without building
// a time.Time, anything else by Parse.
func ParseUnix(s string) (int64, error) {
	if n, ok := decimal.Uint(s); ok {
		if n >= msThreshold {
			n /= 1000 // time.UnixMilli(n).Unix(), for n >= 0
		}
		if n > MaxUnix {
			return 0, ErrTime
		}
		return int64(n), nil
	}
	t, err := Parse(s)
	if err != nil {
		return 0, err
	}
	return t.Unix(), nil
}

func parse(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, ErrTime
	}
	if numeric(s) {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return FromUnix(n), nil
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			if f >= msThreshold*1000 {
				// Beyond any clock (and int64(f) would wrap): no time.
				return time.Time{}, ErrTime
			}
			if f >= msThreshold {
				return time.UnixMilli(int64(f)), nil
			}
			sec := int64(f)
			return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC(), nil
		}
	}
	if len(s) >= len("2006-01-02T15:04:05") {
		for _, l := range layouts {
			if t, err := time.Parse(l, s); err == nil {
				return t, nil
			}
		}
	}
	return time.Time{}, ErrTime
}

// numeric reports whether s is digits with at most one dot: only then are
// the number parsers tried (their errors allocate, and RFC 3339 strings,
// which start with digits too, are the common case in access logs).
func numeric(s string) bool {
	dots := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '.':
			dots++
		case c < '0' || c > '9':
			return false
		}
	}
	return dots <= 1
}

// FromUnix interprets a non-negative integer as seconds, or milliseconds
// above 10^11.
func FromUnix(n int64) time.Time {
	if n >= msThreshold {
		return time.UnixMilli(n).UTC()
	}
	return time.Unix(n, 0).UTC()
}

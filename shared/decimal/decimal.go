// Package decimal reads the plain decimal numbers log records are full of
// (ports, protocols, Unix times) without strconv's general machinery: the
// parsers' fast path, with strconv kept for everything else.
package decimal

// MaxDigits is the longest number Uint reads: 19 digits cannot overflow a
// uint64 (10^19 - 1 < 2^64).
const MaxDigits = 19

// Uint reads s as 1 to MaxDigits ASCII digits and nothing else (no sign,
// space or underscore); ok is false for any other s, which the caller hands
// to strconv for its rules and its error.
func Uint(s string) (n uint64, ok bool) {
	if len(s) == 0 || len(s) > MaxDigits {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		d := s[i] - '0'
		if d > 9 {
			return 0, false
		}
		n = n*10 + uint64(d)
	}
	return n, true
}

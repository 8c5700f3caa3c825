package decimal

import (
	"strconv"
	"strings"
	"testing"
)

func TestUint(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"0", 0, true},
		{"443", 443, true},
		{"00443", 443, true},
		{"65535", 65535, true},
		{"1738738800", 1738738800, true},
		{"9999999999999999999", 9999999999999999999, true},
		{"10000000000000000000", 0, false}, // 20 digits: strconv's to judge
		{"", 0, false},
		{" 443", 0, false},
		{"443 ", 0, false},
		{"+443", 0, false},
		{"-1", 0, false},
		{"4_43", 0, false},
		{"1.5", 0, false},
		{"12a", 0, false},
		{"٣", 0, false}, // a digit, but not an ASCII one
	}
	for _, tt := range tests {
		if n, ok := Uint(tt.in); n != tt.want || ok != tt.ok {
			t.Errorf("Uint(%q) = %d, %v; want %d, %v", tt.in, n, ok, tt.want, tt.ok)
		}
	}
}

// FuzzUint checks Uint against strconv: whatever it accepts, strconv reads
// as the same number, and it round-trips to s less its leading zeros;
// whatever it refuses is empty, too long, or holds a byte that is not a
// digit.
func FuzzUint(f *testing.F) {
	for _, s := range []string{"0", "443", "007", "18446744073709551615", "9999999999999999999", " 1", "1e3", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := Uint(s)
		if !ok {
			if len(s) > 0 && len(s) <= MaxDigits && strings.Trim(s, "0123456789") == "" {
				t.Fatalf("Uint(%q) refused plain digits", s)
			}
			return
		}
		if want, err := strconv.ParseUint(s, 10, 64); err != nil || want != n {
			t.Fatalf("Uint(%q) = %d; strconv: %d, %v", s, n, want, err)
		}
		trimmed := strings.TrimLeft(s, "0")
		if trimmed == "" {
			trimmed = "0"
		}
		if back := strconv.FormatUint(n, 10); back != trimmed {
			t.Fatalf("Uint(%q) = %d, which prints as %q", s, n, back)
		}
	})
}

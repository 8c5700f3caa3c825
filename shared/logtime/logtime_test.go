package logtime

import (
	"strconv"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	want := time.Date(2025, 2, 5, 14, 57, 10, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"1738767430", want, true},
		{"1738767430000", want, true},
		{"1738767430.5", want.Add(500 * time.Millisecond), true},
		{"2025-02-05T14:57:10Z", want, true},
		{"2025-02-05T22:57:10+08:00", want, true},
		{"2025-02-05T14:57:10.000Z", want, true},
		{"2025-02-05 14:57:10", want, true},
		{"2025-02-05T14:57:10", want, true},
		{"2025-02-05T22:57:10+0800", want, true},
		{"", time.Time{}, false},
		{"yesterday", time.Time{}, false},
		{"12e9", time.Time{}, false},
		{"2025-02-05", time.Time{}, false},
		{"-", time.Time{}, false},
		// Numbers beyond any clock are rejected, not wrapped into the past.
		{"99999999999999999999.5", time.Time{}, false},
		{"99999999999999999999", time.Time{}, false},
		{"9223372036854775807", time.Time{}, false},
		{"4294967295", time.Time{}, false},
		{"4294967294", time.Unix(4294967294, 0).UTC(), true},
		{"2200-01-01T00:00:00Z", time.Time{}, false},
		{"1969-12-31T23:59:59Z", time.Time{}, false},
		{"0", time.Unix(0, 0).UTC(), true}, // a clock value; InLog rejects it for logs
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if (err == nil) != tt.ok || (tt.ok && !got.Equal(tt.want)) {
			t.Errorf("Parse(%q) = %v, %v; want %v ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"1738767430", "1738767430000", "2025-02-05T14:57:10Z", "1.5", "", "2025-02-05 14:57:10", "99999999999999999999.5", "0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, err := Parse(s)
		if err != nil {
			return
		}
		// Whatever form was accepted, it is a time the store can keep, and
		// its whole seconds survive a round trip through the Unix-seconds
		// form.
		sec := tm.Unix()
		if sec < 0 || sec > MaxUnix {
			t.Fatalf("Parse(%q) = %v (%d): out of range", s, tm, sec)
		}
		back, err := Parse(strconv.FormatInt(sec, 10))
		if err != nil || back.Unix() != sec {
			t.Fatalf("Parse(%q) = %v; round trip of %d gave %v, %v", s, tm, sec, back, err)
		}
	})
}

// FuzzParseUnix checks the fast path against what it stands for:
// Parse(s).Unix(), errors included.
func FuzzParseUnix(f *testing.F) {
	for _, s := range []string{"1738767430", "1738767430999", "00001738767430", "4294967294", "4294967295", "99999999999",
		"100000000000", "4294967294999", "4294967295000", "9999999999999999999", "18446744073709551616", "1.5", " 1", "2025-02-05T14:57:10Z", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseUnix(s)
		tm, werr := Parse(s)
		if (err == nil) != (werr == nil) || err == nil && got != tm.Unix() {
			t.Fatalf("ParseUnix(%q) = %d, %v; Parse: %v (%d), %v", s, got, err, tm, tm.Unix(), werr)
		}
	})
}

func TestInLog(t *testing.T) {
	const logTime = 1738767430
	tests := []struct {
		sec  int64
		want bool
	}{
		{logTime, true},
		{Earliest, true},
		{Earliest - 1, false},
		{0, false},
		{logTime + MaxAhead, true},
		{logTime + MaxAhead + 1, false},
		{MaxUnix, false},
	}
	for _, tt := range tests {
		if got := InLog(tt.sec, logTime); got != tt.want {
			t.Errorf("InLog(%d, %d) = %v, want %v", tt.sec, logTime, got, tt.want)
		}
	}
}

func TestParseDoesNotAllocate(t *testing.T) {
	for _, s := range []string{"1738767430", "1738767430000", "2025-02-05T22:57:10+08:00"} {
		if n := testing.AllocsPerRun(100, func() { Parse(s) }); n != 0 {
			t.Errorf("Parse(%q) allocates %.0f times", s, n)
		}
	}
}

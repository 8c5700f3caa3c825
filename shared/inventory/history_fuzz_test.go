package inventory

import (
	"slices"
	"testing"
)

// FuzzStretches checks the address history's stored form: whatever a field
// holds, what decodes re-encodes to itself, a lookup at any time names one
// of the stretches' holders or none, and a scan applied to it keeps it
// well-formed (at most one open stretch, the last; open exactly when the
// address is held).
func FuzzStretches(f *testing.F) {
	f.Add("1700000000|1700000600|i-a|eni-a,1700000900|0|i-b|eni-b", int64(1700000700), "i-c", "eni-c", true)
	f.Add("1700000000|0|-|eni-a", int64(1699999999), "", "eni-a", false)
	f.Add("x|y|z", int64(0), "i-1", "eni-1", true)
	f.Fuzz(func(t *testing.T, v string, at int64, inst, eni string, held bool) {
		ss := decodeStretches(v)
		if again := decodeStretches(encodeStretches(ss)); !slices.Equal(again, ss) {
			t.Fatalf("%q: %+v re-encodes to %+v", v, ss, again)
		}
		if len(ss) > 0 {
			if h, ok, why := heldAt(ss, at); ok {
				if !slices.ContainsFunc(ss, func(s stretch) bool { return s.inst == h.Instance && s.eni == h.ENI }) {
					t.Fatalf("named %+v, not in %+v", h, ss)
				}
			} else if why == "" {
				t.Fatal("no holder and no reason")
			}
		}
		now := int64(1800000000)
		for _, s := range ss {
			now = max(now, s.from+1, s.to+1)
		}
		if !validHolder(Holder{Instance: inst, ENI: eni}) {
			held = false
		}
		next, _ := advance(slices.Clone(ss), Holder{Instance: inst, ENI: eni}, held, now, now-600)
		for i, s := range next {
			if s.to == 0 && i != len(next)-1 && (i >= len(ss) || ss[i].to != 0) {
				t.Fatalf("open stretch %d of %+v", i, next)
			}
		}
		if held && (len(next) == 0 || next[len(next)-1].to != 0) {
			t.Fatalf("held, but the last stretch is closed: %+v", next)
		}
		if again := decodeStretches(encodeStretches(next)); held && !slices.Equal(again, next) {
			t.Fatalf("after a scan: %+v re-encodes to %+v", next, again)
		}
	})
}

package store

import (
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"

	"github.com/ndrtrace/ndrtrace/shared/mapping"
	"github.com/ndrtrace/ndrtrace/shared/tuple"
)

// A batch's filter concerns every query that one of its mappings answers
// (no missed wake-up, whatever the tuples), and few of the others.
func TestWakeFilterNeverMissesAWrittenTuple(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	addr := func() netip.Addr {
		if r.IntN(4) == 0 {
			var a [16]byte
			for i := range a {
				a[i] = byte(r.Uint32())
			}
			return netip.AddrFrom16(a)
		}
		return netip.AddrFrom4([4]byte{byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())})
	}
	for _, n := range []int{1, 10, 100, 1000} {
		var f WakeFilter
		var ms []mapping.Mapping
		for range n {
			m := mapping.Mapping{Proto: tuple.Proto([]uint8{6, 17, 1}[r.IntN(3)]), Port: uint16(r.Uint32()),
				Peer: tuple.Endpoint{Addr: addr(), Port: uint16(r.Uint32())}}
			f.add(&m)
			ms = append(ms, m)
		}
		for _, m := range ms {
			// The query may not know the peer's port, and may give an IPv4
			// peer in its mapped IPv6 form.
			peer := m.Peer.Addr
			if peer.Is4() && r.IntN(2) == 0 {
				peer = netip.AddrFrom16(peer.As16())
			}
			q := Query{Proto: m.Proto, Port: m.Port, Peer: tuple.Endpoint{Addr: peer}}
			if !f.Concerns(&q) {
				t.Fatalf("%d tuples: the filter misses %+v", n, m)
			}
		}
		others := 0
		for range 10000 {
			q := Query{Proto: tuple.TCP, Port: uint16(r.Uint32()), Peer: tuple.Endpoint{Addr: addr()}}
			if f.Concerns(&q) {
				others++
			}
		}
		// The expected share is 1-(1-1/4096)^n: 22% at 1,000 tuples.
		if limit := 10000 * (n*2 + 8) / wakeBits; others > limit {
			t.Errorf("%d tuples: %d of 10,000 other queries concerned, want at most %d", n, others, limit)
		}
	}
	var nilFilter *WakeFilter
	if !nilFilter.Concerns(&Query{}) || nilFilter.Union(new(WakeFilter)) != nil {
		t.Fatal("a message without a filter must concern every query")
	}
}

// A wake message parses back into its egress and filter; anything else is
// an egress alone, concerning every tuple.
func FuzzParseWake(f *testing.F) {
	var full WakeFilter
	full.add(&mapping.Mapping{Proto: tuple.TCP, Port: 443, Peer: tuple.Endpoint{Addr: netip.MustParseAddr("1.2.3.4")}})
	f.Add(string(appendWake(nil, mapping.Egress{Addr: netip.MustParseAddr("47.100.1.85")}, &full)))
	f.Add(string(appendWake(nil, mapping.Egress{Scope: "vpc-1", Addr: netip.MustParseAddr("172.16.10.13")}, &full)))
	f.Add("47.100.1.85")
	f.Add("47.100.1.85 short")
	f.Fuzz(func(t *testing.T, msg string) {
		egress, w := ParseWake(msg)
		if w == nil {
			if egress != msg && !strings.HasPrefix(msg, egress+" ") {
				t.Fatalf("egress %q is not the message's head %q", egress, msg)
			}
			return
		}
		if got := egress + " " + string(w[:]); got != msg {
			t.Fatalf("round trip: %q != %q", got, msg)
		}
	})
}

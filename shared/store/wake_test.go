package store

import (
	"hash/fnv"
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

// tupleHashRef is TupleHash by its definition: the standard library's
// FNV-1a over protocol, port (big endian) and the peer's 16 bytes.
func tupleHashRef(proto tuple.Proto, port uint16, peer netip.Addr) uint64 {
	h := fnv.New64a()
	b := peer.As16()
	h.Write(append([]byte{byte(proto), byte(port >> 8), byte(port)}, b[:]...))
	return h.Sum64()
}

// FuzzTupleHash checks TupleHash's IPv4 shortcut against the definition,
// for IPv4 peers, their mapped forms and IPv6 ones: slots and wake bits
// hang on this value, so it must never move.
func FuzzTupleHash(f *testing.F) {
	f.Add(uint8(6), uint16(443), []byte{47, 100, 1, 85})
	f.Add(uint8(17), uint16(0), []byte{0, 0, 0, 0})
	f.Add(uint8(6), uint16(65535), []byte{0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1})
	f.Add(uint8(6), uint16(80), []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1})
	f.Fuzz(func(t *testing.T, proto uint8, port uint16, b []byte) {
		var peer netip.Addr
		switch len(b) {
		case 4:
			peer = netip.AddrFrom4([4]byte(b))
		case 16:
			peer = netip.AddrFrom16([16]byte(b))
		default:
			t.Skip()
		}
		if got, want := TupleHash(tuple.Proto(proto), port, peer), tupleHashRef(tuple.Proto(proto), port, peer); got != want {
			t.Fatalf("TupleHash(%d, %d, %s) = %#x, want %#x", proto, port, peer, got, want)
		}
		if peer.Is4() {
			mapped := netip.AddrFrom16(peer.As16())
			if TupleHash(tuple.Proto(proto), port, mapped) != TupleHash(tuple.Proto(proto), port, peer) {
				t.Fatalf("%s and %s hash apart", peer, mapped)
			}
		}
	})
}

func BenchmarkTupleHash(b *testing.B) {
	peers := []netip.Addr{netip.MustParseAddr("106.11.22.203"), netip.MustParseAddr("47.100.1.85"), netip.MustParseAddr("2001:db8::1")}
	var sink uint64
	for i := 0; b.Loop(); i++ {
		sink += TupleHash(tuple.TCP, uint16(i), peers[i%3])
	}
	_ = sink
}

package store

import (
	"math/rand/v2"
	"net/netip"
	"testing"

	"github.com/ndrtrace/ndrtrace/shared/mapping"
	"github.com/ndrtrace/ndrtrace/shared/tuple"
)

// BenchmarkScan is a lookup's inner loop: each query scans a slot of 192
// IPv4 NAT entries (a full slot below a bucket's top level) for the one of
// its tuple. The slots fit the cache, as the scans of one slot find it
// when they run slot by slot (Lookup).
func BenchmarkScan(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	peers := []netip.Addr{netip.MustParseAddr("106.11.22.203"), netip.MustParseAddr("47.110.22.157"), netip.MustParseAddr("140.205.1.9")}
	const slots, perSlot = 64, 192 // what a level receives per slot (layout.go)
	var raw [slots][]byte
	var probes [slots]probe
	for i := range raw {
		want := rng.IntN(perSlot)
		for k := range perSlot {
			m := mapping.Mapping{Kind: mapping.KindNAT, Proto: tuple.TCP, Port: uint16(1024 + rng.IntN(60000)),
				Peer:    tuple.Endpoint{Addr: peers[rng.IntN(len(peers))], Port: 443},
				Private: tuple.Endpoint{Addr: netip.AddrFrom4([4]byte{172, 16, 20, byte(rng.IntN(250))}), Port: uint16(rng.IntN(65536))},
				Start:   1738767000 + int64(rng.IntN(600))}
			m.End = m.Start + int64(rng.IntN(600))
			raw[i] = appendEntry(raw[i], &m)
			if k == want {
				probes[i] = newProbe(&Query{Proto: m.Proto, Port: m.Port, Peer: m.Peer})
			}
		}
	}
	found := 0
	b.ReportAllocs()
	for b.Loop() {
		for i := range raw {
			scanValid(raw[i], &probes[i], func([]byte, mapping.Mapping) { found++ })
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*slots*perSlot), "ns/entry")
	if found < b.N*slots {
		b.Fatalf("found %d entries in %d scans", found, b.N*slots)
	}
}

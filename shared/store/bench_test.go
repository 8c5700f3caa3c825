package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/ndrtrace/ndrtrace/shared/mapping"
	"github.com/ndrtrace/ndrtrace/shared/store"
	"github.com/ndrtrace/ndrtrace/shared/tuple"
)

// stream makes a busy gateway's sessions: four EIPs, random ports and peers,
// 20,000 new sessions a second, windows up to ten minutes.
type stream struct {
	rng  *rand.Rand
	next int64
}

var benchEIPs = []netip.Addr{netip.MustParseAddr("47.100.1.85"), netip.MustParseAddr("47.100.1.86"), netip.MustParseAddr("47.100.1.87"), netip.MustParseAddr("47.100.1.88")}

func (s *stream) fill(ms []mapping.Mapping) {
	for i := range ms {
		start := t0 + s.next/20000
		s.next++
		rng := s.rng
		ms[i] = mapping.Mapping{Kind: mapping.KindNAT, EgressID: "ngw-1", VPC: "vpc-1",
			Egress: mapping.Egress{Addr: benchEIPs[i%4]}, Proto: tuple.TCP, Port: uint16(1024 + rng.IntN(64000)),
			Peer:  tuple.Endpoint{Addr: netip.AddrFrom4([4]byte{byte(1 + rng.IntN(220)), byte(rng.IntN(256)), byte(rng.IntN(256)), byte(1 + rng.IntN(254))}), Port: 443},
			Start: start, End: start + int64(30+rng.IntN(570)),
			Private: tuple.Endpoint{Addr: netip.AddrFrom4([4]byte{172, 16, byte(rng.IntN(8)), byte(1 + rng.IntN(250))}), Port: uint16(30000 + rng.IntN(30000))}}
	}
}

func benchMappings(n int) []mapping.Mapping {
	ms := make([]mapping.Mapping, n)
	(&stream{rng: rand.New(rand.NewPCG(1, 2))}).fill(ms)
	return ms
}

// BenchmarkWrite writes a stream in batches of 65,536 (the ingest's size
// until 2026-12-02, kept so that figures compare across commits): the
// steady state of a gateway at 20k sessions/s.
const batch = 65536

func BenchmarkWrite(b *testing.B) {
	ctx := context.Background()
	rdb.FlushDB(ctx)
	s := store.New(rdb, time.Hour)
	src := &stream{rng: rand.New(rand.NewPCG(1, 2))}
	ms := make([]mapping.Mapping, batch)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		b.StopTimer()
		src.fill(ms)
		b.StartTimer()
		if err := s.Write(ctx, ms); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n*batch)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*batch), "ns/record")
}

func BenchmarkLookup(b *testing.B) {
	ctx := context.Background()
	rdb.FlushDB(ctx)
	s := store.New(rdb, time.Hour)
	ms := benchMappings(200_000)
	for i := 0; i < len(ms); i += 8192 {
		if err := s.Write(ctx, ms[i:min(i+8192, len(ms))]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		m := ms[(i*7919)%len(ms)]
		hits, err := s.Lookup(ctx, []store.Query{{Egress: []mapping.Egress{m.Egress}, Proto: m.Proto, Port: m.Port, Peer: m.Peer, At: m.Start + 1, Skew: 60}})
		if err != nil || len(hits[0]) == 0 {
			b.Fatal(fmt.Sprint("not found ", err))
		}
		i++
	}
}

// BenchmarkLookupBatch is one lookup of 10,000 queries over 300,000
// records of a stream (its buckets at level 5): the store's share of a
// batch of alerts.
func BenchmarkLookupBatch(b *testing.B) {
	ctx := context.Background()
	rdb.FlushDB(ctx)
	s := store.New(rdb, time.Hour)
	ms := benchMappings(300_000)
	for i := 0; i < len(ms); i += batch {
		if err := s.Write(ctx, ms[i:min(i+batch, len(ms))]); err != nil {
			b.Fatal(err)
		}
	}
	qs := make([]store.Query, 10_000)
	for i := range qs {
		m := ms[(i*7919)%len(ms)]
		qs[i] = store.Query{Egress: []mapping.Egress{m.Egress}, Proto: m.Proto, Port: m.Port, Peer: m.Peer, At: m.Start + 1, Skew: 60}
	}
	b.ReportAllocs()
	for b.Loop() {
		hits, err := s.Lookup(ctx, qs)
		if err != nil || len(hits[0]) == 0 {
			b.Fatal(fmt.Sprint("not found ", err))
		}
	}
}

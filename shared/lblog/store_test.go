package lblog

// Figures of LB mappings in the store: write throughput and Redis memory per
// mapping, against a real redis-server (infra/local/redisd). Run with
//
//	go test -run '^$' -bench 'StoreWrite' -benchmem ./shared/lblog/
//	LBLOG_MEASURE=1 go test -run TestRedisMemoryPerMapping -v ./shared/lblog/

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ndrtrace/ndrtrace/infra/local/redisd"
	"github.com/ndrtrace/ndrtrace/shared/ingest"
	"github.com/ndrtrace/ndrtrace/shared/mapping"
	"github.com/ndrtrace/ndrtrace/shared/store"
)

func startRedis(tb testing.TB) *redis.Client {
	tb.Helper()
	srv, err := redisd.Start(context.Background())
	if err != nil {
		tb.Skip(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	tb.Cleanup(func() { rdb.Close(); srv.Stop() })
	return rdb
}

// lbMappings parses n generated access-log records of a busy balancer:
// four VIPs (one IPv6) on 443 and 80, 50,000 recurring clients (5% IPv6),
// 32 backends, ten minutes of requests mostly under a second (1% up to two
// minutes), 2% retried once, 15% behind a proxy (X-Forwarded-For). ALB
// records carry no client_port, CLB records always do.
func lbMappings(tb testing.TB, kind mapping.Kind, n int) []mapping.Mapping {
	rng := rand.New(rand.NewPCG(uint64(kind), 7))
	vips := []string{"39.100.1.20", "39.100.1.21", "39.100.1.22"}
	topic, idKey, id := TopicALB, "app_lb_id", "alb-bp1benchmark01"
	if kind == mapping.KindCLB {
		topic, idKey, id = TopicCLB, "slbid", "lb-bp1benchmark01"
	}
	client := func(i int) string {
		if i%20 == 0 {
			return fmt.Sprintf("2408:8207:%x:%x::%x", i>>16, i>>8&0xff, i&0xff)
		}
		return fmt.Sprintf("%d.%d.%d.%d", 36+i%180, i>>16&0xff, i>>8&0xff, 1+i%254)
	}
	base := int64(1738767000)
	out := make([]mapping.Mapping, 0, n)
	for range n {
		c := rng.IntN(50_000)
		vip := vips[rng.IntN(len(vips))]
		if c%20 == 0 {
			vip = "2408:4005:3ff:a00::20"
		}
		vport := "443"
		if rng.IntN(5) == 0 {
			vport = "80"
		}
		backend := func() string { return fmt.Sprintf("192.168.%d.%d:8080", 1+rng.IntN(2), 10+rng.IntN(16)) }
		upstream := backend()
		if rng.IntN(50) == 0 {
			upstream = backend() + ", " + upstream
		}
		rt := strconv.FormatFloat(rng.ExpFloat64()*0.05, 'f', 3, 64)
		if rng.IntN(100) == 0 {
			rt = strconv.Itoa(10 + rng.IntN(110))
		}
		xff := "-"
		if rng.IntN(100) < 15 {
			xff = fmt.Sprintf("203.0.%d.%d, 10.0.0.1", rng.IntN(256), 1+rng.IntN(254))
		}
		fields := []mapping.Field{
			{Key: idKey, Value: id}, {Key: "client_ip", Value: client(c)}, {Key: "vip_addr", Value: vip},
			{Key: "slb_vport", Value: vport}, {Key: "upstream_addr", Value: upstream}, {Key: "request_time", Value: rt},
			{Key: "time", Value: time.Unix(base+rng.Int64N(600), 0).In(time.FixedZone("", 8*3600)).Format(time.RFC3339)},
			{Key: "http_x_forwarded_for", Value: xff}, {Key: "status", Value: "200"}, {Key: "request_uri", Value: "/"},
		}
		if kind == mapping.KindCLB {
			fields = append(fields, mapping.Field{Key: "client_port", Value: strconv.Itoa(1024 + rng.IntN(64000))})
		}
		m, r := Parse(fields, topic, base)
		if r != "" {
			tb.Fatalf("generated record rejected: %s: %v", r, fields)
		}
		out = append(out, m)
	}
	return out
}

// BenchmarkStoreWrite is ingest without SLS: parsed LB mappings written by
// store.Write in batches of ingest.BatchSize, pipelined as the function does.
func BenchmarkStoreWrite(b *testing.B) {
	ctx := context.Background()
	rdb := startRedis(b)
	for _, kind := range []mapping.Kind{mapping.KindALB, mapping.KindCLB} {
		b.Run(kind.String(), func(b *testing.B) {
			rdb.FlushDB(ctx)
			s := store.New(rdb, time.Hour)
			ms := lbMappings(b, kind, 1<<18)
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				off := (n * ingest.BatchSize) % len(ms)
				if off == 0 && n > 0 {
					// Time moves on: the next pass lands in later buckets,
					// as the next minutes of logs do, instead of piling
					// copies into the same slots.
					for i := range ms {
						ms[i].Start += 2 * store.BucketSeconds
						ms[i].End += 2 * store.BucketSeconds
					}
				}
				if err := s.Write(ctx, ms[off:off+ingest.BatchSize]); err != nil {
					b.Fatal(err)
				}
				n++
			}
			b.ReportMetric(float64(n*ingest.BatchSize)/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*ingest.BatchSize), "ns/record")
		})
	}
}

// TestRedisMemoryPerMapping writes 200,000 LB mappings to an empty Redis
// and reports used_memory's growth per mapping.
func TestRedisMemoryPerMapping(t *testing.T) {
	if os.Getenv("LBLOG_MEASURE") == "" {
		t.Skip("set LBLOG_MEASURE=1 to measure")
	}
	ctx := context.Background()
	rdb := startRedis(t)
	const n = 200_000
	for _, kind := range []mapping.Kind{mapping.KindALB, mapping.KindCLB} {
		ms := lbMappings(t, kind, n)
		rdb.FlushAll(ctx)
		before := usedMemory(t, rdb)
		s := store.New(rdb, time.Hour)
		start := time.Now()
		for i := 0; i < n; i += ingest.BatchSize {
			if err := s.Write(ctx, ms[i:min(i+ingest.BatchSize, n)]); err != nil {
				t.Fatal(err)
			}
		}
		took := time.Since(start)
		after := usedMemory(t, rdb)
		keys := rdb.DBSize(ctx).Val()
		t.Logf("%s: %d mappings, %d keys, used_memory +%d bytes = %.1f bytes/mapping; written in %s (%.0f mappings/s)",
			kind, n, keys, after-before, float64(after-before)/n, took.Round(time.Millisecond), n/took.Seconds())
		// Every mapping is still found.
		for i := 0; i < n; i += 997 {
			m := ms[i]
			hits, err := s.Lookup(ctx, []store.Query{{Egress: []mapping.Egress{m.Egress}, Proto: m.Proto, Port: m.Port,
				Peer: m.Peer, At: m.End, Portless: kind == mapping.KindALB}})
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, h := range hits[0] {
				found = found || h.Private == m.Private && h.Start == m.Start
			}
			if !found {
				t.Fatalf("mapping %d not found: %+v", i, m)
			}
		}
	}
}

func usedMemory(t *testing.T, rdb *redis.Client) int64 {
	info := rdb.Info(context.Background(), "memory").Val()
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no used_memory in INFO")
	return 0
}

// TestWorstCaseRecordRoundTrips writes the largest entry an access log can
// produce (IPv6 everywhere, no client port so the backend is in the key, a
// long retry list, X-Forwarded-For, a day-long window) through the store and
// reads it back: entries are length-prefixed with one byte and keep at most
// eight retried upstreams.
func TestWorstCaseRecordRoundTrips(t *testing.T) {
	ctx := context.Background()
	rdb := startRedis(t)
	var ups []string
	for i := range 12 {
		ups = append(ups, fmt.Sprintf("[2408:4002:ffff:ffff:ffff:ffff:ffff:%x]:65535", i))
	}
	fields := []mapping.Field{{Key: "app_lb_id", Value: "alb-" + strings.Repeat("x", 60)},
		{Key: "client_ip", Value: "2408:8207:ffff:ffff:ffff:ffff:ffff:ffff"}, {Key: "vip_addr", Value: "fd00:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
		{Key: "slb_vport", Value: "65535"}, {Key: "upstream_addr", Value: strings.Join(ups, ", ")},
		{Key: "time", Value: "2025-02-05T22:57:10.999+08:00"}, {Key: "request_time", Value: "99999"},
		{Key: "http_x_forwarded_for", Value: "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff, 10.0.0.1"}}
	m, r := Parse(fields, TopicALB, 1738767999)
	if r != "" {
		t.Fatal(r)
	}
	s := store.New(rdb, time.Hour)
	if err := s.Write(ctx, []mapping.Mapping{m}); err != nil {
		t.Fatal(err)
	}
	for _, at := range []int64{m.Start, m.End} {
		q := store.Query{Egress: []mapping.Egress{m.Egress}, Proto: m.Proto, Port: m.Port, Peer: m.Peer, At: at, Portless: true}
		q.Peer.Port = 443
		hits, err := s.Lookup(ctx, []store.Query{q})
		if err != nil {
			t.Fatal(err)
		}
		if len(hits[0]) != 1 {
			t.Fatalf("at %d: %d hits", at, len(hits[0]))
		}
		h := hits[0][0]
		if h.Private != m.Private || h.Client != m.Client || h.Start != m.Start || h.End != m.End || h.EgressID != m.EgressID ||
			len(h.Previous) != 8 || h.Previous[0] != m.Previous[0] || h.Kind != mapping.KindALB {
			t.Fatalf("read back %+v\nwrote %+v", h.Mapping, m)
		}
	}
}

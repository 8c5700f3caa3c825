package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ndrtrace/ndrtrace/infra/local/cloud"
	"github.com/ndrtrace/ndrtrace/infra/local/redisd"
	"github.com/ndrtrace/ndrtrace/shared/ingest"
	"github.com/ndrtrace/ndrtrace/shared/mapping"
	"github.com/ndrtrace/ndrtrace/shared/store"
	"github.com/ndrtrace/ndrtrace/shared/tuple"
)

// sessions is a busy NAT gateway's stream of mappings, mapping i computed
// from i alone (so that any of them can be looked up again without keeping
// them): four EIPs, NAT ports over the whole range, a million peers,
// 2,000 hosts, starts over the last ten minutes, windows up to ten minutes.
type sessions struct{ base int64 }

func newSessions() sessions { return sessions{base: time.Now().Unix() - 900} }

func mix(i int) uint64 {
	x := uint64(i)*0x9E3779B97F4A7C15 + 1
	x ^= x >> 31
	x *= 0xBF58476D1CE4E5B9
	return x ^ x>>29
}

func (s sessions) at(i int) mapping.Mapping {
	h := mix(i)
	start := s.base + int64(h%600)
	return mapping.Mapping{Kind: mapping.KindNAT, EgressID: "ngw-bp1load", VPC: "vpc-bp1load",
		Egress: mapping.Egress{Addr: netip.AddrFrom4([4]byte{47, 100, 1, byte(85 + i%4)})}, Proto: tuple.TCP,
		// Port and peer come from i itself: no two mappings share a tuple,
		// so each is found by exactly one query.
		Port:  uint16(1024 + (i/4)%64000),
		Peer:  tuple.Endpoint{Addr: netip.AddrFrom4([4]byte{byte(1 + (i/256000)%220), byte(h >> 8), byte(h >> 16), byte(1 + (h>>24)%254)}), Port: 443},
		Start: start, End: start + 30 + int64(h>>32)%570,
		Private: tuple.Endpoint{Addr: netip.AddrFrom4([4]byte{172, 16, byte((h >> 40) % 8), byte(1 + (h>>48)%250)}), Port: uint16(30000 + i%30000)}}
}

func (s sessions) batch(from, n int) []mapping.Mapping {
	ms := make([]mapping.Mapping, n)
	for j := range ms {
		ms[j] = s.at(from + j)
	}
	return ms
}

// missing counts the mappings from..to-1 (step apart) that lookups do not
// find at their own endpoint.
func (s sessions) missing(ctx context.Context, st *store.Store, from, to, step int) (lost, checked int, err error) {
	const chunk = 20000
	var qs []store.Query
	var want []tuple.Endpoint
	flush := func() error {
		hits, err := st.Lookup(ctx, qs)
		if err != nil {
			return err
		}
		for k, hs := range hits {
			found := false
			for _, h := range hs {
				found = found || h.Private == want[k]
			}
			if !found {
				lost++
			}
		}
		checked += len(qs)
		qs, want = qs[:0], want[:0]
		return nil
	}
	for i := from; i < to; i += step {
		m := s.at(i)
		qs = append(qs, store.Query{Egress: []mapping.Egress{m.Egress}, Proto: m.Proto, Port: m.Port, Peer: m.Peer, At: m.Start + 10, Skew: 60})
		want = append(want, m.Private)
		if len(qs) == chunk {
			if err := flush(); err != nil {
				return lost, checked, err
			}
		}
	}
	if len(qs) > 0 {
		err = flush()
	}
	return lost, checked, err
}

// ingestBatch is what nat-ingest writes at once (its batcher's size).
const ingestBatch = 65536

// memory is part 2: n live mappings written in pipelined batches, and
// what Redis holds for them.
func memory(ctx context.Context, srv *redisd.Server, n int, r *report) error {
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, PoolSize: 32})
	defer rdb.Close()
	if err := rdb.FlushAll(ctx).Err(); err != nil {
		return err
	}
	before, err := infoInt(ctx, rdb, "memory", "used_memory")
	if err != nil {
		return err
	}
	st := store.New(rdb, time.Hour)
	ss := newSessions()
	var writing time.Duration
	for from := 0; from < n; from += ingestBatch {
		b := ss.batch(from, min(ingestBatch, n-from))
		start := time.Now()
		if err := st.Write(ctx, b); err != nil {
			return err
		}
		writing += time.Since(start)
	}
	after, err := infoInt(ctx, rdb, "memory", "used_memory")
	if err != nil {
		return err
	}
	rss, _ := infoInt(ctx, rdb, "memory", "used_memory_rss")
	keys, _ := rdb.DBSize(ctx).Result()
	lost, checked, err := ss.missing(ctx, st, 0, n, 97)
	if err != nil {
		return err
	}
	if lost > 0 {
		return fmt.Errorf("%d of %d sampled mappings not found", lost, checked)
	}
	r.add("live mappings", float64(n), "mappings", fmt.Sprintf("4 EIPs, starts over 10 minutes; %d keys", keys))
	r.add("write rate, pipelined batches of 65,536", float64(n)/writing.Seconds(), "mappings/s", "store.Write, as nat-ingest batches them (no parsing)")
	r.add("redis used_memory at 2M mappings", float64(after)/(1<<20), "MiB", fmt.Sprintf("%.1f MiB before; used_memory_rss %.1f MiB", float64(before)/(1<<20), float64(rss)/(1<<20)))
	r.add("redis memory per live mapping", float64(after-before)/float64(n), "bytes", fmt.Sprintf("used_memory delta / mappings; %d sampled mappings all found", checked))
	return rdb.FlushAll(ctx).Err()
}

// fillUp is part 3: a Redis with maxmemory filled up, under noeviction and
// then volatile-ttl.
func fillUp(ctx context.Context, lc *cloud.Cloud, maxmemory string, r *report) error {
	acked, err := fillNoEviction(ctx, lc, maxmemory, r)
	if err != nil {
		return err
	}
	return fillVolatileTTL(ctx, maxmemory, acked, r)
}

// fill writes batches of the session stream until a write fails or limit
// mappings are written; it returns how many were acknowledged.
func fill(ctx context.Context, st *store.Store, ss sessions, limit int) (acked int, failed error) {
	const size = 16384
	for acked < limit {
		if err := st.Write(ctx, ss.batch(acked, size)); err != nil {
			return acked, err
		}
		acked += size
	}
	return acked, nil
}

func fillNoEviction(ctx context.Context, lc *cloud.Cloud, maxmemory string, r *report) (int, error) {
	srv, err := redisd.Start(ctx, "maxmemory "+maxmemory, "maxmemory-policy noeviction")
	if err != nil {
		return 0, err
	}
	defer srv.Stop()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	st := store.New(rdb, time.Hour)
	ss := newSessions()
	acked, failed := fill(ctx, st, ss, 100_000_000)
	if failed == nil || !strings.Contains(failed.Error(), "OOM") {
		return 0, fmt.Errorf("writing to a full Redis under noeviction: want an OOM error, got %v", failed)
	}
	used, _ := infoInt(ctx, rdb, "memory", "used_memory")
	evicted, _ := infoInt(ctx, rdb, "stats", "evicted_keys")
	lost, checked, err := ss.missing(ctx, st, 0, acked, 1)
	if err != nil {
		return 0, fmt.Errorf("lookups at maxmemory: %w", err)
	}
	r.add("noeviction: mappings acknowledged before the first refusal", float64(acked), "mappings", fmt.Sprintf("then: %.90s", failed))
	r.add("noeviction: used_memory at the refusal", float64(used)/(1<<20), "MiB", "maxmemory "+maxmemory)
	r.add("noeviction: evicted keys", float64(evicted), "keys", "")
	r.add("noeviction: acknowledged mappings not found", float64(lost), "mappings", fmt.Sprintf("all %d looked up while Redis is full", checked))
	if lost > 0 || evicted > 0 {
		return 0, fmt.Errorf("noeviction lost %d acknowledged mappings (%d keys evicted)", lost, evicted)
	}

	// The compiled nat-ingest, invoked by its SLS trigger on a range while
	// Redis is full: the invocation fails, so that the trigger retries the
	// range; once there is room, the retry writes it.
	const project, logstore = "load", "nat-sessions"
	lc.Logstore(project, logstore)
	now := time.Now()
	recs := make([]map[string]string, 1000)
	for i := range recs {
		recs[i] = map[string]string{
			"instance": "ngw-bp1load", "vpc_id": "vpc-bp1load", "protocol": "6",
			"pri_ip": fmt.Sprintf("172.17.%d.%d", i/250, 1+i%250), "pri_port": "40000",
			"nat_ip": "47.100.2.1", "nat_port": strconv.Itoa(2000 + i), "pub_ip": "110.242.68.66", "pub_port": "443",
			"bytes_from_vpc": "1000", "pkts_from_vpc": "10", "bytes_from_pub": "1000", "pkts_from_pub": "10",
			"start_time": strconv.FormatInt(now.Unix()-300, 10), "end_time": strconv.FormatInt(now.Unix()-60, 10),
		}
	}
	begin, end, err := lc.Put(project, logstore, "", now, recs)
	if err != nil {
		return 0, err
	}
	nat, err := lc.Function(ctx, "nat-ingest", map[string]string{"REDIS_URL": srv.URL()})
	if err != nil {
		return 0, err
	}
	event := cloud.TriggerEvent(project, logstore, begin, end)
	res, err := nat.Invoke(ctx, event)
	if err != nil {
		return 0, err
	}
	if res.Error == nil {
		return 0, fmt.Errorf("nat-ingest succeeded on a full Redis: %s", res.Payload)
	}
	r.add("noeviction: nat-ingest invocation on a full Redis", 1, "error", fmt.Sprintf("the trigger retries: %.90s", res.Error.Message))
	if err := rdb.ConfigSet(ctx, "maxmemory", "0").Err(); err != nil {
		return 0, err
	}
	if res, err = nat.Invoke(ctx, event); err != nil || res.Error != nil {
		return 0, errors.Join(fmt.Errorf("nat-ingest retry with room"), err, res.Error)
	}
	var sum ingest.Summary
	if err := json.Unmarshal(res.Payload, &sum); err != nil || sum.Mappings != len(recs) {
		return 0, fmt.Errorf("nat-ingest retry summary %s: %v", res.Payload, err)
	}
	qs := make([]store.Query, len(recs))
	for i := range qs {
		qs[i] = store.Query{Egress: []mapping.Egress{{Addr: netip.MustParseAddr("47.100.2.1")}}, Proto: tuple.TCP, Port: uint16(2000 + i),
			Peer: tuple.Endpoint{Addr: netip.MustParseAddr("110.242.68.66"), Port: 443}, At: now.Unix() - 200, Skew: 60}
	}
	hits, err := st.Lookup(ctx, qs)
	if err != nil {
		return 0, err
	}
	found := 0
	for _, h := range hits {
		if len(h) == 1 {
			found++
		}
	}
	r.add("noeviction: the retried range once there is room", float64(found), "mappings", fmt.Sprintf("of %d records found; summary %d mappings", len(recs), sum.Mappings))
	if lost, _, err = ss.missing(ctx, st, 0, acked, 1); err != nil || lost > 0 {
		return 0, errors.Join(fmt.Errorf("after the retry, %d acknowledged mappings are not found", lost), err)
	}
	if found != len(recs) {
		return 0, fmt.Errorf("the retried range: %d of %d records found", found, len(recs))
	}
	return acked, nil
}

// fillVolatileTTL writes three times what filled Redis under noeviction,
// then looks up the mappings acknowledged while Redis still had room.
func fillVolatileTTL(ctx context.Context, maxmemory string, capacity int, r *report) error {
	srv, err := redisd.Start(ctx, "maxmemory "+maxmemory, "maxmemory-policy volatile-ttl")
	if err != nil {
		return err
	}
	defer srv.Stop()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer rdb.Close()
	st := store.New(rdb, time.Hour)
	ss := newSessions()
	acked, failed := fill(ctx, st, ss, 3*capacity)
	evicted, _ := infoInt(ctx, rdb, "stats", "evicted_keys")
	lost, checked, err := ss.missing(ctx, st, 0, capacity, 1)
	if err != nil {
		return err
	}
	note := "no write failed"
	if failed != nil {
		note = fmt.Sprintf("a write failed: %.80s", failed)
	}
	r.add("volatile-ttl: mappings acknowledged", float64(acked), "mappings", note)
	r.add("volatile-ttl: evicted keys", float64(evicted), "keys", "")
	r.add("volatile-ttl: acknowledged mappings silently lost", float64(lost), "mappings", fmt.Sprintf("of the first %d (what noeviction kept)", checked))
	return nil
}

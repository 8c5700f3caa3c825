package store_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ndrtrace/ndrtrace/infra/local/redisd"
	"github.com/ndrtrace/ndrtrace/shared/mapping"
	"github.com/ndrtrace/ndrtrace/shared/store"
	"github.com/ndrtrace/ndrtrace/shared/tuple"
)

// Two hosts behind one EIP:port towards one peer in one aligned capture
// window log the same public tuple, start and end. Both are answers: the
// store must never keep one and drop the other (that would be a guess).
func TestSameTupleSameWindowKeepsBothHosts(t *testing.T) {
	ctx := context.Background()
	s := fresh(t)
	a, b := nat("172.16.20.8", 61001, t0, t0+600), nat("172.16.20.9", 61001, t0, t0+600)
	for _, batch := range [][]mapping.Mapping{{a, b}, {a}, {b}} { // one batch, then each again (a replay)
		if err := s.Write(ctx, batch); err != nil {
			t.Fatal(err)
		}
		hits, err := s.Lookup(ctx, []store.Query{query(61001, t0+300)})
		if err != nil {
			t.Fatal(err)
		}
		if got := privates(hits[0]); fmt.Sprint(got) != "[172.16.20.8:40000 172.16.20.9:40000]" {
			t.Fatalf("got %v, want both hosts", got)
		}
		if len(hits[0]) != 2 {
			t.Fatalf("replayed entries were not collapsed: %d hits", len(hits[0]))
		}
	}
}

// limitedClient returns a client of a user whose ACL lets through what
// rules allows ("+@all -append", "~ndr:c:*"), on the test server.
func limitedClient(t *testing.T, name string, rules ...string) *redis.Client {
	t.Helper()
	ctx := context.Background()
	args := []any{"ACL", "SETUSER", name, "reset", "on", ">pw", "&*"}
	for _, r := range rules {
		args = append(args, r)
	}
	if err := rdb.Do(ctx, args...).Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Do(context.Background(), "ACL", "DELUSER", name) })
	c := redis.NewClient(&redis.Options{Addr: rdb.Options().Addr, Username: name, Password: "pw", MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	return c
}

// A log group is marked ingested only once all its entries are in. Here the
// bucket counts go through and every APPEND is refused: the write fails,
// no mark exists, and the retry writes everything and marks it.
func TestMarkOnlyAfterEntriesAreAcknowledged(t *testing.T) {
	ctx := context.Background()
	fresh(t)
	mark, ok := store.GroupMark("ndr-logs", "nat-sessions", 0, "MTY0NjAwMDAwMDAwMDAwMA==")
	if !ok {
		t.Fatal("mark key refused")
	}
	batch := []mapping.Mapping{nat("172.16.0.1", 5000, t0, t0+600), nat("172.16.0.2", 5001, t0, t0+600)}

	broken := store.New(limitedClient(t, "noappend", "~*", "+@all", "-append"), time.Hour)
	err := broken.WriteMarked(ctx, batch, []string{mark})
	if err == nil || !strings.Contains(err.Error(), "NOPERM") {
		t.Fatalf("write with APPEND refused: err %v", err)
	}
	if n := rdb.Exists(ctx, mark).Val(); n != 0 {
		t.Fatal("the group was marked although its entries were not written")
	}
	seen, err := store.New(rdb, time.Hour).Ingested(ctx, []string{mark})
	if err != nil || seen[0] {
		t.Fatalf("Ingested says %v (%v) after a failed write", seen, err)
	}

	s := store.New(rdb, time.Hour)
	if err := s.WriteMarked(ctx, batch, []string{mark}); err != nil {
		t.Fatal(err)
	}
	if seen, _ := s.Ingested(ctx, []string{mark}); !seen[0] {
		t.Fatal("mark missing after the retry")
	}
	hits, err := s.Lookup(ctx, []store.Query{query(5000, t0+10), query(5001, t0+10)})
	if err != nil {
		t.Fatal(err)
	}
	if len(hits[0]) != 1 || len(hits[1]) != 1 {
		t.Fatalf("after the retry: %v", hits)
	}
}

// A lookup that cannot read a slot fails, even when an earlier read of the
// same pipeline found nothing (redis.Nil) and Exec reports only that one.
func TestLookupFailsWhenAnySlotReadFails(t *testing.T) {
	ctx := context.Background()
	s := fresh(t)
	other := mapping.Egress{Addr: peer.Addr} // a second egress; any address will do
	m := nat("172.16.0.1", 5000, t0, t0+600)
	m2 := m
	m2.Egress, m2.Port = other, 5999 // egress A holds a record, but not this tuple
	if err := s.Write(ctx, []mapping.Mapping{m, m2}); err != nil {
		t.Fatal(err)
	}
	// The user may read counts and metadata, and slots of the second egress
	// only: its (empty) slot answers nil, the first egress's slot fails.
	c := limitedClient(t, "partial", "+@all", "~ndr:c:*", "~ndr:e:*", "~ndr:m:"+other.Addr.String()+"/*")
	q := query(5000, t0+10)
	q.Egress = []mapping.Egress{other, {Addr: eip}}
	_, err := store.New(c, time.Hour).Lookup(ctx, []store.Query{q})
	if err == nil || !strings.Contains(err.Error(), "NOPERM") {
		t.Fatalf("lookup with an unreadable slot: err %v, want a failure", err)
	}
	// The same lookup with every read allowed finds the record.
	hits, err := s.Lookup(ctx, []store.Query{q})
	if err != nil || len(hits[0]) != 1 {
		t.Fatalf("hits %v, err %v", hits, err)
	}
}

// Every key the store writes carries a TTL, also when Redis loses keys this
// process renewed a moment ago (a restart without persistence, a failover).
func TestEveryKeyHasATTL(t *testing.T) {
	ctx := context.Background()
	s := fresh(t)
	mark, _ := store.GroupMark("ndr-logs", "nat-sessions", 1, "MTY0NjAwMDAwMDAwMDAwMQ==")
	ms := benchMappings(5000)
	long := nat("172.16.9.9", 7000, t0, t0+3600) // indexed under several buckets
	lb := mapping.Mapping{Kind: mapping.KindALB, EgressID: "alb-1", Egress: mapping.Egress{Scope: "alb-1", Addr: netip.MustParseAddr("192.168.0.10")},
		Proto: tuple.TCP, Port: 443, Peer: tuple.Endpoint{Addr: netip.MustParseAddr("203.0.113.7")}, Start: t0, End: t0 + 1,
		Private: tuple.Endpoint{Addr: netip.MustParseAddr("192.168.1.9"), Port: 8080}}
	write := func() {
		t.Helper()
		if err := s.WriteMarked(ctx, append(append(ms[:len(ms):len(ms)], long), lb), []string{mark}); err != nil {
			t.Fatal(err)
		}
	}
	check := func(when string) {
		t.Helper()
		iter := rdb.Scan(ctx, 0, "*", 1000).Iterator()
		n := 0
		for iter.Next(ctx) {
			n++
			if ttl := rdb.TTL(ctx, iter.Val()).Val(); ttl <= 0 {
				t.Fatalf("%s: key %s has no TTL (%v)", when, iter.Val(), ttl)
			}
		}
		if n == 0 {
			t.Fatalf("%s: no keys at all", when)
		}
	}
	write()
	check("first write")
	// Redis forgets everything; this store still thinks every expiry fresh.
	if err := rdb.FlushDB(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	write()
	check("after Redis lost its keys")
	// Some keys lost, others kept.
	var some []string
	iter := rdb.Scan(ctx, 0, "ndr:m:*", 1000).Iterator()
	for iter.Next(ctx) && len(some) < 50 {
		some = append(some, iter.Val())
	}
	rdb.Del(ctx, some...)
	write()
	check("after Redis lost some keys")
}

// The store survives its server restarting between two batches: what was
// acknowledged before stays, the write during the outage fails, and the
// retry completes the set.
func TestServerRestartBetweenBatches(t *testing.T) {
	ctx := context.Background()
	srv, err := redisd.Start(ctx, "appendonly yes", "appendfsync always")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	c := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1, DialTimeout: 500 * time.Millisecond})
	defer c.Close()
	s := store.New(c, time.Hour)
	ms := benchMappings(4000)
	first, second := ms[:2000], ms[2000:]
	m1, _ := store.GroupMark("ndr-logs", "nat-sessions", 0, "MQ==")
	m2, _ := store.GroupMark("ndr-logs", "nat-sessions", 0, "Mg==")
	if err := s.WriteMarked(ctx, first, []string{m1}); err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	if err := s.WriteMarked(ctx, second, []string{m2}); err == nil {
		t.Fatal("write to a stopped server succeeded")
	}
	if err := srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	seen, err := s.Ingested(ctx, []string{m1, m2})
	if err != nil || !seen[0] || seen[1] {
		t.Fatalf("marks after the restart: %v (%v), want [true false]", seen, err)
	}
	if err := s.WriteMarked(ctx, second, []string{m2}); err != nil {
		t.Fatal(err)
	}
	qs := make([]store.Query, len(ms))
	for i, m := range ms {
		qs[i] = store.Query{Egress: []mapping.Egress{m.Egress}, Proto: m.Proto, Port: m.Port, Peer: m.Peer, At: m.Start + 1, Skew: 60}
	}
	hits, err := s.Lookup(ctx, qs)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range ms {
		found := false
		for _, h := range hits[i] {
			found = found || h.Private == m.Private
		}
		if !found {
			t.Fatalf("record %d (%v) after the restart and retry: %v", i, m.Private, hits[i])
		}
	}
}

// ExecCmds splits commands into pipelines run side by side: every command
// still runs and is checked, and one that fails in any of them (here a GET
// of a hash, deep in the third pipeline) fails the whole.
func TestExecCmdsChecksEveryPipeline(t *testing.T) {
	ctx := context.Background()
	fresh(t)
	if err := rdb.HSet(ctx, "ndr:test:hash", "f", "v").Err(); err != nil {
		t.Fatal(err)
	}
	const n = 1500 // three pipelines of at most 512
	cmds := make([]redis.Cmder, n)
	for i := range cmds {
		cmds[i] = redis.NewIntCmd(ctx, "incr", fmt.Sprintf("ndr:test:%d", i))
	}
	if err := store.ExecCmds(ctx, rdb, cmds); err != nil {
		t.Fatal(err)
	}
	for i, c := range cmds {
		if v := c.(*redis.IntCmd).Val(); v != 1 {
			t.Fatalf("command %d: %d, want 1", i, v)
		}
	}
	cmds[1300] = redis.NewStringCmd(ctx, "get", "ndr:test:hash")
	err := store.ExecCmds(ctx, rdb, cmds)
	if err == nil || !strings.Contains(err.Error(), "WRONGTYPE") || !strings.Contains(err.Error(), "1 of 1500 commands failed") {
		t.Fatalf("a failed command in the third pipeline: %v", err)
	}
	if v := rdb.Get(ctx, "ndr:test:1499").Val(); v != "2" {
		t.Fatalf("the last command ran %s times, want 2", v)
	}
}

package store_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ndrtrace/ndrtrace/infra/local/redisd"
	"github.com/ndrtrace/ndrtrace/shared/mapping"
	"github.com/ndrtrace/ndrtrace/shared/store"
	"github.com/ndrtrace/ndrtrace/shared/tuple"
)

var rdb *redis.Client

func TestMain(m *testing.M) { redisd.TestMain(m, &rdb) }

func fresh(t *testing.T) *store.Store {
	t.Helper()
	if err := rdb.FlushDB(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	return store.New(rdb, time.Hour)
}

var (
	eip  = netip.MustParseAddr("47.100.1.85")
	peer = tuple.Endpoint{Addr: netip.MustParseAddr("106.11.22.203"), Port: 443}
	t0   = time.Date(2025, 2, 5, 14, 50, 0, 0, time.UTC).Unix()
)

func nat(priv string, natPort uint16, start, end int64) mapping.Mapping {
	return mapping.Mapping{
		Kind: mapping.KindNAT, EgressID: "ngw-1", VPC: "vpc-1",
		Egress: mapping.Egress{Addr: eip}, Proto: tuple.TCP, Port: natPort, Peer: peer,
		Start: start, End: end,
		Private: tuple.Endpoint{Addr: netip.MustParseAddr(priv), Port: 40000},
	}
}

func query(port uint16, at int64) store.Query {
	return store.Query{Egress: []mapping.Egress{{Addr: eip}}, Proto: tuple.TCP, Port: port, Peer: peer, At: at, Skew: 60}
}

func privates(hits []store.Hit) []string {
	set := map[string]bool{}
	for _, h := range hits {
		set[h.Private.String()] = true
	}
	var out []string
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestWriteLookup(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		write []mapping.Mapping
		q     store.Query
		want  []string
	}{
		{"exact", []mapping.Mapping{nat("172.16.0.1", 5000, t0, t0+600)}, query(5000, t0+300), []string{"172.16.0.1:40000"}},
		{"inside skew before start", []mapping.Mapping{nat("172.16.0.1", 5000, t0, t0+600)}, query(5000, t0-59), []string{"172.16.0.1:40000"}},
		{"outside skew", []mapping.Mapping{nat("172.16.0.1", 5000, t0, t0+600)}, query(5000, t0+661), nil},
		{"other port", []mapping.Mapping{nat("172.16.0.1", 5000, t0, t0+600)}, query(5001, t0+300), nil},
		{"port reuse resolves by time", []mapping.Mapping{
			nat("172.16.0.1", 5000, t0, t0+600), nat("172.16.0.2", 5000, t0+1800, t0+2400),
		}, query(5000, t0+2000), []string{"172.16.0.2:40000"}},
		{"overlapping hosts are both returned", []mapping.Mapping{
			nat("172.16.0.1", 5000, t0, t0+600), nat("172.16.0.2", 5000, t0+500, t0+1100),
		}, query(5000, t0+550), []string{"172.16.0.1:40000", "172.16.0.2:40000"}},
		{"long session found late in its window", []mapping.Mapping{nat("172.16.0.3", 5000, t0, t0+7200)}, query(5000, t0+7000), []string{"172.16.0.3:40000"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := fresh(t)
			if err := s.Write(ctx, tt.write); err != nil {
				t.Fatal(err)
			}
			hits, err := s.Lookup(ctx, []store.Query{tt.q})
			if err != nil {
				t.Fatal(err)
			}
			if got := privates(hits[0]); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for _, h := range hits[0] {
				if h.EgressID != "ngw-1" || h.VPC != "vpc-1" || h.Kind != mapping.KindNAT {
					t.Fatalf("metadata not joined: %+v", h.Mapping)
				}
			}
		})
	}
}

func TestReplayAnswersTheSame(t *testing.T) {
	ctx := context.Background()
	s := fresh(t)
	batch := []mapping.Mapping{nat("172.16.0.1", 5000, t0, t0+600), nat("172.16.0.2", 5000, t0+300, t0+900)}
	for range 3 { // the first write and two replays of the range
		if err := s.Write(ctx, batch); err != nil {
			t.Fatal(err)
		}
		hits, err := s.Lookup(ctx, []store.Query{query(5000, t0+400)})
		if err != nil {
			t.Fatal(err)
		}
		if len(hits[0]) != 2 || fmt.Sprint(privates(hits[0])) != "[172.16.0.1:40000 172.16.0.2:40000]" {
			t.Fatalf("hits %v", hits[0])
		}
	}
}

// entries counts entries across all slot strings (25 bytes each for the
// IPv4 NAT entries these tests write).
func entries(t *testing.T) int64 {
	ctx := context.Background()
	var n int64
	iter := rdb.Scan(ctx, 0, "ndr:m:*", 1000).Iterator()
	for iter.Next(ctx) {
		n += rdb.StrLen(ctx, iter.Val()).Val() / natEntryBytes
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

// natEntryBytes is the size of an IPv4 NAT entry: length prefix, 14 bytes of
// key (flags, proto, port, peer, peer port, start), 9 of value (flags,
// private ip:port, window as a 2-byte uvarint).
const natEntryBytes = 1 + 14 + 9

func TestManyRecordsStayCompactAndFindable(t *testing.T) {
	ctx := context.Background()
	s := fresh(t)
	const n = 20000
	batch := make([]mapping.Mapping, 0, 1000)
	for i := 0; i < n; i++ {
		m := nat(fmt.Sprintf("172.16.%d.%d", i/250, i%250+1), uint16(1024+i%60000), t0+int64(i%300), t0+int64(i%300)+600)
		m.Peer.Addr = netip.AddrFrom4([4]byte{106, 11, byte(i >> 8), byte(i)})
		batch = append(batch, m)
		if len(batch) == cap(batch) {
			if err := s.Write(ctx, batch); err != nil {
				t.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	// Slots stay small: a lookup reads whole slots. A level receives ~192
	// records per slot (at level 0, up to 256).
	iter := rdb.Scan(ctx, 0, "ndr:m:*", 1000).Iterator()
	keys := 0
	for iter.Next(ctx) {
		keys++
		if n := rdb.StrLen(ctx, iter.Val()).Val() / natEntryBytes; n > 384 {
			t.Fatalf("%s holds %d entries", iter.Val(), n)
		}
	}
	if got := entries(t); got != n {
		t.Fatalf("%d entries, want %d", got, n)
	}
	// And every record is found.
	qs := make([]store.Query, 0, n)
	for i := 0; i < n; i++ {
		q := query(uint16(1024+i%60000), t0+int64(i%300)+10)
		q.Peer.Addr = netip.AddrFrom4([4]byte{106, 11, byte(i >> 8), byte(i)})
		qs = append(qs, q)
	}
	hits, err := s.Lookup(ctx, qs)
	if err != nil {
		t.Fatal(err)
	}
	for i := range qs {
		want := fmt.Sprintf("172.16.%d.%d:40000", i/250, i%250+1)
		if got := privates(hits[i]); len(got) != 1 || got[0] != want {
			t.Fatalf("record %d: got %v, want %s", i, got, want)
		}
	}
	t.Logf("%d records in %d slots", n, keys)
}

func TestLoadBalancerEntries(t *testing.T) {
	ctx := context.Background()
	s := fresh(t)
	vip := netip.MustParseAddr("2001:db8::10")
	client := netip.MustParseAddr("2400:cb00::1")
	alb := func(backend string, at int64) mapping.Mapping {
		return mapping.Mapping{
			Kind: mapping.KindALB, EgressID: "alb-1", Egress: mapping.Egress{Addr: vip}, Proto: tuple.TCP, Port: 443,
			Peer: tuple.Endpoint{Addr: client}, Start: at - 1, End: at,
			Private:  tuple.Endpoint{Addr: netip.MustParseAddr(backend), Port: 8080},
			Previous: []tuple.Endpoint{{Addr: netip.MustParseAddr("192.168.0.9"), Port: 8080}},
			Client:   netip.MustParseAddr("203.0.113.7"),
		}
	}
	if err := s.Write(ctx, []mapping.Mapping{alb("192.168.0.1", t0), alb("192.168.0.2", t0)}); err != nil {
		t.Fatal(err)
	}
	q := store.Query{Egress: []mapping.Egress{{Addr: vip}}, Proto: tuple.TCP, Port: 443,
		Peer: tuple.Endpoint{Addr: client, Port: 51000}, At: t0, Skew: 5}
	hits, _ := s.Lookup(ctx, []store.Query{q})
	if len(hits[0]) != 0 {
		t.Fatalf("port-less records matched a query that did not allow them: %v", hits[0])
	}
	q.Portless = true
	hits, err := s.Lookup(ctx, []store.Query{q})
	if err != nil {
		t.Fatal(err)
	}
	if got := privates(hits[0]); fmt.Sprint(got) != "[192.168.0.1:8080 192.168.0.2:8080]" {
		t.Fatalf("got %v", got)
	}
	h := hits[0][0]
	if h.Kind != mapping.KindALB || h.EgressID != "alb-1" || h.Client.String() != "203.0.113.7" ||
		len(h.Previous) != 1 || h.Previous[0].String() != "192.168.0.9:8080" {
		t.Fatalf("entry not round-tripped: %+v", h.Mapping)
	}
}

func TestRedisDownIsAnError(t *testing.T) {
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialTimeout: 200 * time.Millisecond})
	s := store.New(dead, time.Hour)
	if err := s.Write(context.Background(), []mapping.Mapping{nat("172.16.0.1", 5000, t0, t0+600)}); err == nil {
		t.Fatal("write to a dead Redis succeeded")
	}
	if _, err := s.Lookup(context.Background(), []store.Query{query(5000, t0)}); err == nil {
		t.Fatal("lookup on a dead Redis succeeded")
	}
}

// An egress the address book does not list is still found when the store
// has its records (logs of an asset not onboarded yet); one without
// records costs its metadata read only, no bucket read.
func TestUnlistedEgress(t *testing.T) {
	ctx := context.Background()
	s := fresh(t)
	if err := s.Write(ctx, []mapping.Mapping{nat("172.16.20.21", 48155, t0, t0+600)}); err != nil {
		t.Fatal(err)
	}
	q := query(48155, t0+300)
	q.Unlisted = true
	hits, err := s.Lookup(ctx, []store.Query{q})
	if err != nil {
		t.Fatal(err)
	}
	if got := privates(hits[0]); len(got) != 1 || got[0] != "172.16.20.21:40000" {
		t.Fatalf("unlisted egress with records: got %v", got)
	}

	var qs []store.Query
	for i := range 100 {
		q := query(48155, t0+300)
		q.Egress = []mapping.Egress{{Addr: netip.AddrFrom4([4]byte{106, 12, 0, byte(i)})}}
		q.Unlisted = true
		qs = append(qs, q)
	}
	before := redisd.MustCalls(t, rdb, "get")
	if hits, err = s.Lookup(ctx, qs); err != nil {
		t.Fatal(err)
	}
	for i, h := range hits {
		if len(h) != 0 {
			t.Fatalf("query %d: %v for an egress without records", i, privates(h))
		}
	}
	if n := redisd.MustCalls(t, rdb, "get") - before; n != 0 {
		t.Fatalf("%d GETs for 100 unlisted egresses without records, want none", n)
	}
}

// A write reuses the working buffers of the writes before it: a small
// batch after a large one must store its own entries and nothing of the
// large one's, and a large one after it must again find all of its own.
func TestWritesAfterALargerWriteKeepOnlyTheirOwn(t *testing.T) {
	ctx := context.Background()
	s := fresh(t)
	big := func(from int64) []mapping.Mapping {
		ms := make([]mapping.Mapping, 20_000)
		for i := range ms {
			end := from + 600
			if i%50 == 0 {
				end = from + 3000 // copies into later buckets
			}
			ms[i] = nat(fmt.Sprintf("172.16.%d.%d", i/250, 1+i%250), uint16(1024+i), from, end)
		}
		return ms
	}
	later := t0 + 86_400
	small := []mapping.Mapping{nat("10.9.0.1", 60001, later, later+60), nat("10.9.0.2", 60002, later, later+60)}
	for step, batch := range [][]mapping.Mapping{big(t0), small, big(later + 7200)} {
		if err := s.Write(ctx, batch); err != nil {
			t.Fatalf("write %d: %v", step, err)
		}
	}
	check := func(what string, ms []mapping.Mapping, at int64, want func(m mapping.Mapping) string) {
		t.Helper()
		qs := make([]store.Query, len(ms))
		for i, m := range ms {
			qs[i] = query(m.Port, at)
		}
		hits, err := s.Lookup(ctx, qs)
		if err != nil {
			t.Fatal(err)
		}
		for i, m := range ms {
			if got := fmt.Sprint(privates(hits[i])); got != want(m) {
				t.Fatalf("%s, port %d: got %s, want %s", what, m.Port, got, want(m))
			}
		}
	}
	own := func(m mapping.Mapping) string { return fmt.Sprint([]string{m.Private.String()}) }
	none := func(mapping.Mapping) string { return "[]" }
	check("small batch at its time", small, later+30, own)
	check("first large batch at the small batch's time", big(t0), later+30, none)
	check("first large batch at its time", big(t0), t0+300, own)
	check("second large batch at its time", big(later+7200), later+7500, own)
}

// A level a bucket has moved past gets no more APPENDs: its slots are
// rewritten at their exact size (APPEND leaves them up to twice that),
// keeping their bytes, their expiry and every answer.
func TestLevelsMovedPastAreCompacted(t *testing.T) {
	ctx := context.Background()
	s := fresh(t)
	var all []mapping.Mapping
	write := func(n int) {
		t.Helper()
		batch := make([]mapping.Mapping, n)
		for i := range batch {
			k := len(all) + i
			batch[i] = nat(fmt.Sprintf("172.16.%d.%d", k/250, 1+k%250), uint16(2000+k), t0, t0+600)
		}
		if err := s.Write(ctx, batch); err != nil {
			t.Fatal(err)
		}
		all = append(all, batch...)
	}
	for range 6 { // level 0: one slot, appended six times
		write(10)
	}
	keys, err := rdb.Keys(ctx, "ndr:m:*/0.0").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("level-0 slot: %v %v", keys, err)
	}
	slot := keys[0]
	value, before := rdb.Get(ctx, slot).Val(), rdb.MemoryUsage(ctx, slot, 0).Val()

	write(300) // 360 in the bucket: level 2
	if got := rdb.Get(ctx, slot).Val(); got != value {
		t.Fatalf("the slot's bytes changed: %d bytes, want %d", len(got), len(value))
	}
	if after := rdb.MemoryUsage(ctx, slot, 0).Val(); after >= before {
		t.Errorf("the slot takes %d bytes, %d before: not rewritten at its size", after, before)
	}
	if ttl := rdb.PTTL(ctx, slot).Val(); ttl <= 0 {
		t.Errorf("the slot's expiry is gone (PTTL %v)", ttl)
	}
	qs := make([]store.Query, len(all))
	for i, m := range all {
		qs[i] = query(m.Port, t0+300)
	}
	hits, err := s.Lookup(ctx, qs)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range all {
		if got := privates(hits[i]); len(got) != 1 || got[0] != m.Private.String() {
			t.Fatalf("port %d: got %v, want %s", m.Port, got, m.Private)
		}
	}
}

// A batch answers every query exactly as the query alone does, hits and
// their order included: the scans of a batch run slot by slot, shared
// slots once for all their queries. The records span several levels and
// buckets, some are replayed after the bucket moved up a level (a
// byte-identical copy in another slot), some tuples have two hosts, and
// some queries are portless, repeated or find nothing.
func TestBatchAnswersAsEachAlone(t *testing.T) {
	ctx := context.Background()
	s := fresh(t)
	rng := rand.New(rand.NewPCG(5, 6))
	const n = 6000
	ms := make([]mapping.Mapping, 0, n)
	for i := range n {
		start := t0 + int64(rng.IntN(1800))
		m := nat(fmt.Sprintf("172.16.%d.%d", i/250, i%250+1), uint16(1024+rng.IntN(200)), start, start+int64(rng.IntN(900)))
		m.Peer.Addr = netip.AddrFrom4([4]byte{106, 11, 0, byte(rng.IntN(8))})
		if i%7 == 0 && i > 0 { // another host on the tuple of the record before
			prev := ms[len(ms)-1]
			m.Port, m.Peer, m.Start, m.End = prev.Port, prev.Peer, prev.Start, prev.End
		}
		ms = append(ms, m)
	}
	// Records logged without the peer's port (ALB), on tuples of NAT
	// records: a portless query finds both, in slots of two peer forms.
	for i := range n / 10 {
		m := ms[i*10]
		m.Kind, m.Peer.Port = mapping.KindALB, 0
		m.Private.Addr = netip.AddrFrom4([4]byte{192, 168, byte(i >> 8), byte(i)})
		ms = append(ms, m)
	}
	rng.Shuffle(len(ms), func(i, j int) { ms[i], ms[j] = ms[j], ms[i] })
	for i := 0; i < len(ms); i += 500 {
		if err := s.Write(ctx, ms[i:min(i+500, len(ms))]); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Write(ctx, ms[:300]); err != nil { // a replay, now at a higher level
		t.Fatal(err)
	}
	var qs []store.Query
	for i := range 1500 {
		m := ms[rng.IntN(len(ms))]
		q := query(m.Port, m.Start+int64(rng.IntN(int(m.End-m.Start)+1)))
		q.Peer = m.Peer
		switch i % 10 {
		case 1:
			q.Portless = true
		case 2:
			q.Port++ // mostly nothing
		case 3:
			q.Peer.Port = 0
			q.Portless = true
		}
		qs = append(qs, q)
		if i%13 == 0 {
			qs = append(qs, q)
		}
	}
	batch, err := s.Lookup(ctx, qs)
	if err != nil {
		t.Fatal(err)
	}
	found, many := 0, 0 // queries with hits, with more than one
	for i, q := range qs {
		alone, err := s.Lookup(ctx, []store.Query{q})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := fmt.Sprintf("%+v", batch[i]), fmt.Sprintf("%+v", alone[0]); got != want {
			t.Fatalf("query %d %+v:\nin the batch %s\nalone        %s", i, q, got, want)
		}
		if len(alone[0]) > 0 {
			found++
		}
		if len(alone[0]) > 1 {
			many++
		}
	}
	// The scenario must exercise what it claims.
	if found < len(qs)/2 || many == 0 {
		t.Fatalf("%d of %d queries found hits, %d more than one", found, len(qs), many)
	}
	var top int64
	for _, k := range rdb.Keys(ctx, "ndr:c:*").Val() {
		c, _ := rdb.Get(ctx, k).Int64()
		top = max(top, c)
	}
	if top <= 64*4 {
		t.Fatalf("the fullest bucket holds %d records: fewer levels than the test needs", top)
	}
}

// A slot with a corrupt tail (a write cut short, a stray APPEND) still
// answers with the entries before it; a slot corrupt from its start
// answers nothing. Neither fails the lookup, nor its other queries, whether
// one query scans the slot or several do.
func TestCorruptSlotTail(t *testing.T) {
	ctx := context.Background()
	s := fresh(t)
	if err := s.Write(ctx, []mapping.Mapping{nat("172.16.0.1", 5000, t0, t0+600), nat("172.16.0.2", 5000, t0, t0+600)}); err != nil {
		t.Fatal(err)
	}
	keys := rdb.Keys(ctx, "ndr:m:*").Val()
	if len(keys) != 1 {
		t.Fatalf("slots %v, want one", keys)
	}
	good, _ := rdb.Get(ctx, keys[0]).Result()
	qs := []store.Query{query(5000, t0+10), query(5000, t0+10)}
	// An entry whose length and key read but whose value does not: its
	// flags say a 16-byte private address where 4 follow.
	badValue := []byte(good[:1+int(good[0])])
	badValue[1+14] |= 1 << 2
	for _, c := range []struct {
		slot string
		want string
	}{
		{good + "\x05abc", "[172.16.0.1:40000 172.16.0.2:40000]"},
		{good + "\x00", "[172.16.0.1:40000 172.16.0.2:40000]"},
		{good[:len(good)-3], "[172.16.0.1:40000]"},
		{"\xff" + good, "[]"},
		{good + string(badValue), "[172.16.0.1:40000 172.16.0.2:40000]"},
		{string(badValue) + good, "[]"},
	} {
		if err := rdb.Set(ctx, keys[0], c.slot, 0).Err(); err != nil {
			t.Fatal(err)
		}
		// One query scans the slot alone; two scan it together (slotJoin).
		for _, batch := range [][]store.Query{qs[:1], qs} {
			hits, err := s.Lookup(ctx, batch)
			if err != nil {
				t.Fatalf("slot %q: %v", c.slot, err)
			}
			for i := range batch {
				if got := fmt.Sprint(privates(hits[i])); got != c.want {
					t.Errorf("slot %q, query %d of %d: %s, want %s", c.slot, i, len(batch), got, c.want)
				}
			}
		}
	}
}

// A write indexes its slots in an array for a group with a few entries per
// slot of its level, and in a map for a group with fewer (a small write
// into a bucket already wide): a batch can hold both kinds. Every record
// is found, in one entry, whichever way its write indexed it.
func TestSmallWritesIntoAWideBucket(t *testing.T) {
	ctx := context.Background()
	s := fresh(t)
	other := mapping.Egress{Addr: netip.MustParseAddr("47.100.1.86")}
	var all []mapping.Mapping
	write := func(ms []mapping.Mapping) {
		t.Helper()
		if err := s.Write(ctx, ms); err != nil {
			t.Fatal(err)
		}
		all = append(all, ms...)
	}
	rec := func(i int, e mapping.Egress) mapping.Mapping {
		m := nat(fmt.Sprintf("172.16.%d.%d", i/250, 1+i%250), uint16(1024+i), t0+int64(i%300), t0+int64(i%300)+600)
		m.Egress = e
		return m
	}
	// 5,000 records put the bucket at level 4 (256 slots).
	var ms []mapping.Mapping
	for i := range 5000 {
		ms = append(ms, rec(i, mapping.Egress{Addr: eip}))
	}
	write(ms)
	// Then batches of 3 records into it (3 entries for 256 slots: the map),
	// each with 40 records of a new egress's bucket (level 0: the array).
	for b := range 20 {
		ms = nil
		for k := range 3 {
			ms = append(ms, rec(5000+3*b+k, mapping.Egress{Addr: eip}))
		}
		for k := range 40 {
			ms = append(ms, rec(6000+40*b+k, other))
		}
		write(ms)
	}
	if got := entries(t); got != int64(len(all)) {
		t.Fatalf("%d entries, want %d", got, len(all))
	}
	hits := lookupEach(t, s, all)
	for i, m := range all {
		if got := fmt.Sprint(privates(hits[i])); got != fmt.Sprint([]string{m.Private.String()}) {
			t.Fatalf("record %d (%s port %d): got %s, want %s", i, m.Egress.Addr, m.Port, got, m.Private)
		}
	}
}

// A batch over many egresses and buckets (past what a write searches in
// order before it uses maps), shuffled, keeps every record under its own
// egress, bucket and metadata.
func TestBatchOfManyEgressesAndBuckets(t *testing.T) {
	ctx := context.Background()
	s := fresh(t)
	var ms []mapping.Mapping
	for e := range 40 {
		for b := range 30 {
			for k := range 3 {
				start := t0 + int64(b)*store.BucketSeconds
				m := nat(fmt.Sprintf("172.16.%d.%d", e, 3*b+k+1), uint16(2000+3*b+k), start, start+60)
				m.Egress = mapping.Egress{Addr: netip.AddrFrom4([4]byte{47, 100, 2, byte(e)})}
				m.EgressID = fmt.Sprintf("ngw-%d", e)
				ms = append(ms, m)
			}
		}
	}
	rand.New(rand.NewPCG(7, 8)).Shuffle(len(ms), func(i, j int) { ms[i], ms[j] = ms[j], ms[i] })
	if err := s.Write(ctx, ms); err != nil {
		t.Fatal(err)
	}
	hits := lookupEach(t, s, ms)
	for i, m := range ms {
		if len(hits[i]) != 1 || hits[i][0].Private != m.Private || hits[i][0].EgressID != m.EgressID {
			t.Fatalf("record %d (%s, port %d): hits %+v, want %s of %s", i, m.Egress.Addr, m.Port, hits[i], m.Private, m.EgressID)
		}
	}
	if n, z := len(rdb.Keys(ctx, "ndr:c:*").Val()), len(rdb.Keys(ctx, "ndr:c:*/z").Val()); n-z != 40*30 || z != 40*30 {
		t.Fatalf("%d bucket counts and %d /z counts, want %d of each", n-z, z, 40*30)
	}
}

// A bucket past level 6 (more than 1,048,576 records) has its top levels'
// slots indexed by the lookup in a map, not an array: its records are
// found all the same, in a batch and alone. The bucket's count starts past
// that mark, as if a million records were in it already, so that the
// records written go to level 7.
func TestLookupPastTheArrayLevels(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 100,000 records")
	}
	ctx := context.Background()
	s := fresh(t)
	if err := rdb.IncrBy(ctx, fmt.Sprintf("ndr:c:%s/%d", eip, t0/store.BucketSeconds), 1_100_000).Err(); err != nil {
		t.Fatal(err)
	}
	const n = 100_000
	ms := make([]mapping.Mapping, 0, 65536)
	rec := func(i int) mapping.Mapping {
		m := nat(fmt.Sprintf("172.16.%d.%d", (i/250)%250, 1+i%250), uint16(1024+i%60000), t0+int64(i%300), t0+int64(i%300)+600)
		m.Peer.Addr = netip.AddrFrom4([4]byte{106, byte(i >> 16), byte(i >> 8), byte(i)})
		return m
	}
	for i := range n {
		ms = append(ms, rec(i))
		if len(ms) == cap(ms) || i == n-1 {
			if err := s.Write(ctx, ms); err != nil {
				t.Fatal(err)
			}
			ms = ms[:0]
		}
	}
	if c, _ := rdb.Get(ctx, fmt.Sprintf("ndr:c:%s/%d", eip, t0/store.BucketSeconds)).Int64(); c <= 256<<12 {
		t.Fatalf("the bucket holds %d records: not past level 6", c)
	}
	if k := rdb.Keys(ctx, "ndr:m:*/7.*").Val(); len(k) == 0 {
		t.Fatal("no slot at level 7")
	}
	var qs []store.Query
	var want []string
	for i := 0; i < n; i += 97 {
		m := rec(i)
		q := query(m.Port, m.Start+10)
		q.Peer = m.Peer
		qs = append(qs, q)
		want = append(want, fmt.Sprint([]string{m.Private.String()}))
	}
	hits, err := s.Lookup(ctx, qs)
	if err != nil {
		t.Fatal(err)
	}
	for i := range qs {
		if got := fmt.Sprint(privates(hits[i])); got != want[i] {
			t.Fatalf("query %d: got %s, want %s", i, got, want[i])
		}
	}
	alone, err := s.Lookup(ctx, qs[:1])
	if err != nil || fmt.Sprint(privates(alone[0])) != want[0] {
		t.Fatalf("alone: %v %v, want %s", alone, err, want[0])
	}
}

// A query that accepts records without the peer's port (portless) reads
// the slots of that form only in buckets that may hold such records: not
// where every record was counted with its port by this store (the /z
// count), but as soon as one without it is written, or when the bucket's
// records were not all counted (an older writer's, a lost /z key).
func TestPortlessFormReadOnlyWhereNeeded(t *testing.T) {
	ctx := context.Background()
	q := query(5000, t0+10)
	q.Portless = true
	gets := func(s *store.Store, want string) int64 {
		t.Helper()
		rdb.ConfigResetStat(ctx)
		hits, err := s.Lookup(ctx, []store.Query{q})
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(privates(hits[0])); got != want {
			t.Fatalf("hits %s, want %s", got, want)
		}
		stats := rdb.Info(ctx, "commandstats").Val()
		var n int64
		if _, err := fmt.Sscanf(stats[strings.Index(stats, "cmdstat_get:"):], "cmdstat_get:calls=%d", &n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// 5,000 NAT records put the bucket at level 4: the two forms of the
	// query's peer fall in different slots at most levels.
	nats := func(s *store.Store) {
		t.Helper()
		ms := []mapping.Mapping{nat("172.16.0.1", 5000, t0, t0+600)}
		for i := range 4999 {
			ms = append(ms, nat(fmt.Sprintf("172.16.%d.%d", 1+i/250, 1+i%250), uint16(6000+i), t0, t0+600))
		}
		if err := s.Write(ctx, ms); err != nil {
			t.Fatal(err)
		}
	}
	s := fresh(t)
	nats(s)
	ported := gets(s, "[172.16.0.1:40000]")

	alb := nat("192.168.0.9", 5000, t0, t0+60)
	alb.Kind, alb.Peer.Port = mapping.KindALB, 0
	if err := s.Write(ctx, []mapping.Mapping{alb}); err != nil {
		t.Fatal(err)
	}
	both := gets(s, "[172.16.0.1:40000 192.168.0.9:40000]")
	if both <= ported {
		t.Fatalf("%d GETs with a portless record in the bucket, %d without: its slots were not read", both, ported)
	}

	// NAT records only, but the bucket's /z count lost: both forms are read.
	s = fresh(t)
	nats(s)
	for _, k := range rdb.Keys(ctx, "ndr:c:*/z").Val() {
		rdb.Del(ctx, k)
	}
	if n := gets(s, "[172.16.0.1:40000]"); n != both {
		t.Fatalf("%d GETs without the /z count, want %d (both forms)", n, both)
	}
	// Or a record counted by a writer that keeps no /z count.
	s = fresh(t)
	nats(s)
	for _, k := range rdb.Keys(ctx, "ndr:c:*").Val() {
		if !strings.HasSuffix(k, "/z") {
			rdb.IncrBy(ctx, k, 1)
		}
	}
	if n := gets(s, "[172.16.0.1:40000]"); n != both {
		t.Fatalf("%d GETs with a record the /z count missed, want %d (both forms)", n, both)
	}
}

// lookupEach looks every mapping's own tuple up under its egress, 10 s
// into its window, in one batch.
func lookupEach(t *testing.T, s *store.Store, ms []mapping.Mapping) [][]store.Hit {
	t.Helper()
	qs := make([]store.Query, len(ms))
	for i, m := range ms {
		qs[i] = query(m.Port, m.Start+10)
		qs[i].Egress = []mapping.Egress{m.Egress}
	}
	hits, err := s.Lookup(context.Background(), qs)
	if err != nil {
		t.Fatal(err)
	}
	return hits
}

// In a rolling upgrade, writers from before perSlot was 256 put a bucket's
// entries one level higher than newer writers do for the same count. Each
// finds what the other wrote: readers read up to the older level.
func TestOlderWritersEntriesAreFound(t *testing.T) {
	ctx := context.Background()
	newer := fresh(t)
	older := store.New(rdb, time.Hour)
	store.OlderWriter(older)
	const n = 3000 // older writers reach level 3 (>1,024 records), newer ones level 2
	ms := make([]mapping.Mapping, n)
	for i := range ms {
		ms[i] = nat(fmt.Sprintf("172.16.%d.%d", i/250, 1+i%250), uint16(1024+i), t0+int64(i%300), t0+int64(i%300)+600)
	}
	for i := 0; i < n; i += 500 {
		w := newer
		if i/500%2 == 1 {
			w = older
		}
		if err := w.Write(ctx, ms[i:i+500]); err != nil {
			t.Fatal(err)
		}
	}
	levels := map[string]bool{}
	for _, k := range rdb.Keys(ctx, "ndr:m:*").Val() {
		levels[k[strings.LastIndexByte(k, '/')+1:strings.LastIndexByte(k, '.')]] = true
	}
	if !levels["3"] || !levels["2"] {
		t.Fatalf("slot levels %v: want the older writers' level 3 and the newer ones' level 2", levels)
	}
	for _, s := range []*store.Store{newer, older} {
		for i, hits := range lookupEach(t, s, ms) {
			if got := privates(hits); len(got) != 1 || got[0] != ms[i].Private.String() {
				t.Fatalf("record %d (port %d): %v, want %s", i, ms[i].Port, got, ms[i].Private)
			}
		}
	}
}

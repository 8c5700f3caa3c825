// Package store keeps five-tuple mappings in Redis: compact, pipelined
// writes from ingest, batched lookups for trace. See layout.go for the keys.
package store

import (
	"context"
	"fmt"
	"time"
	"unsafe"

	"github.com/redis/go-redis/v9"

	"github.com/ndrtrace/ndrtrace/shared/mapping"
	"github.com/ndrtrace/ndrtrace/shared/tuple"
)

// Store reads and writes mappings. It is safe for concurrent use.
type Store struct {
	rdb redis.UniversalClient
	ttl time.Duration
}

// New returns a store over rdb whose mappings live ttl after their last write.
func New(rdb redis.UniversalClient, ttl time.Duration) *Store {
	if ttl <= 0 {
		ttl = time.Hour
	}
	return &Store{rdb: rdb, ttl: ttl}
}

// Client is the Redis client the store uses.
func (s *Store) Client() redis.UniversalClient { return s.rdb }

type groupKey struct {
	egress mapping.Egress
	bucket int64
}

type group struct {
	n     int64
	total *redis.IntCmd
	level int
}

type egressMeta struct {
	kind mapping.Kind
	id   string
	vpc  string
}

// copies calls fn for each bucket a mapping is indexed under: its start
// bucket, and every MaxSpan after for windows longer than MaxSpan.
func copies(m *mapping.Mapping, fn func(bucket int64)) {
	for t := m.Start; ; t += MaxSpan {
		fn(bucketOf(t))
		if m.End-t <= MaxSpan {
			return
		}
	}
}

// Write stores a batch of mappings in two pipelined round trips, however
// large the batch. Writing the same batch again leaves the same state (the
// hash fields are the same), though bucket counts grow, which at most moves
// later writes to a wider level.
func (s *Store) Write(ctx context.Context, ms []mapping.Mapping) error {
	if len(ms) == 0 {
		return nil
	}
	var kb []byte
	groups := make(map[groupKey]*group)
	metas := make(map[mapping.Egress]egressMeta)
	for i := range ms {
		m := &ms[i]
		copies(m, func(b int64) {
			g := groups[groupKey{m.Egress, b}]
			if g == nil {
				g = &group{}
				groups[groupKey{m.Egress, b}] = g
			}
			g.n++
		})
		if meta, ok := metas[m.Egress]; !ok || meta.id == "" && m.EgressID != "" || meta.vpc == "" && m.VPC != "" {
			metas[m.Egress] = egressMeta{kind: m.Kind, id: m.EgressID, vpc: m.VPC}
		}
	}

	// Round trip 1: claim room in each bucket; the totals pick the levels.
	pipe := s.rdb.Pipeline()
	for k, g := range groups {
		key := countKey(kb, k.egress, k.bucket)
		g.total = pipe.IncrBy(ctx, key, g.n)
		pipe.Expire(ctx, key, s.ttl)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("count %d buckets: %w", len(groups), err)
	}
	for _, g := range groups {
		g.level = levelFor(g.total.Val())
	}

	// Round trip 2: the entries, one HSET per slot key. Field and value
	// bytes go into one arena; the strings handed to go-redis point into it
	// (it is not touched again until the pipeline has run).
	arena := make([]byte, 0, len(ms)*40)
	type span struct{ off, n int }
	perKey := make(map[string][]span, len(groups))
	var order []string
	for i := range ms {
		m := &ms[i]
		fOff := len(arena)
		arena = appendField(arena, m)
		fLen := len(arena) - fOff
		arena = appendValue(arena, m)
		vLen := len(arena) - fOff - fLen
		copies(m, func(b int64) {
			g := groups[groupKey{m.Egress, b}]
			key := slotKey(kb, m.Egress, b, g.level, slotOf(m.Proto, m.Port, m.Peer, g.level))
			if _, ok := perKey[key]; !ok {
				order = append(order, key)
			}
			perKey[key] = append(perKey[key], span{fOff, fLen}, span{fOff + fLen, vLen})
		})
	}
	pipe = s.rdb.Pipeline()
	for _, key := range order {
		spans := perKey[key]
		args := make([]any, 0, 2+len(spans))
		args = append(args, "hset", key)
		for _, sp := range spans {
			args = append(args, unsafe.String(&arena[sp.off], sp.n))
		}
		pipe.Do(ctx, args...)
		pipe.Expire(ctx, key, s.ttl)
	}
	var wake []byte
	for e, meta := range metas {
		key := metaKey(kb, e)
		pipe.HSet(ctx, key, "kind", meta.kind.String(), "id", meta.id, "vpc", meta.vpc)
		pipe.Expire(ctx, key, s.ttl)
		wake = appendEgress(wake[:0], e)
		pipe.Publish(ctx, WakeChannel, string(wake))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("write %d mappings to %d keys: %w", len(ms), len(order), err)
	}
	return nil
}

// Query asks for the mappings of one public tuple at one time.
type Query struct {
	// Egress lists the addresses the egress side may be stored under: the
	// public address, and its private twins where the inventory knows them.
	Egress []mapping.Egress
	Proto  tuple.Proto
	Port   uint16         // the egress-side port
	Peer   tuple.Endpoint // the other side
	At     int64          // Unix seconds
	Skew   int64          // slack around each window, seconds
	// Portless also finds records logged without the peer's port (ALB).
	Portless bool
}

// Hit is a mapping found for a query, with its egress's metadata.
type Hit struct {
	mapping.Mapping
}

// Lookup answers many queries in two pipelined round trips: the bucket counts
// and egress metadata, then the slot hashes.
func (s *Store) Lookup(ctx context.Context, qs []Query) ([][]Hit, error) {
	var kb []byte
	counts := make(map[string]*redis.StringCmd)
	metas := make(map[mapping.Egress]*redis.MapStringStringCmd)
	pipe := s.rdb.Pipeline()
	for _, q := range qs {
		for _, e := range q.Egress {
			if _, ok := metas[e]; !ok {
				metas[e] = pipe.HGetAll(ctx, metaKey(kb, e))
			}
			for b := bucketOf(q.At - q.Skew - MaxSpan); b <= bucketOf(q.At+q.Skew); b++ {
				key := countKey(kb, e, b)
				if _, ok := counts[key]; !ok {
					counts[key] = pipe.Get(ctx, key)
				}
			}
		}
	}
	if len(counts) == 0 {
		return make([][]Hit, len(qs)), nil
	}
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return nil, fmt.Errorf("read bucket counts: %w", err)
	}

	slots := make(map[string]*redis.MapStringStringCmd)
	type probe struct {
		key    string
		egress mapping.Egress
	}
	probes := make([][]probe, len(qs))
	pipe = s.rdb.Pipeline()
	for i, q := range qs {
		for _, e := range q.Egress {
			for b := bucketOf(q.At - q.Skew - MaxSpan); b <= bucketOf(q.At+q.Skew); b++ {
				n, err := counts[countKey(kb, e, b)].Int64()
				if err != nil {
					continue // no records in this bucket
				}
				for level := 0; level <= levelFor(n); level++ {
					peers := []tuple.Endpoint{q.Peer}
					if q.Portless && q.Peer.Port != 0 {
						peers = append(peers, tuple.Endpoint{Addr: q.Peer.Addr})
					}
					for _, p := range peers {
						key := slotKey(kb, e, b, level, slotOf(q.Proto, q.Port, p, level))
						if _, ok := slots[key]; !ok {
							slots[key] = pipe.HGetAll(ctx, key)
						}
						probes[i] = append(probes[i], probe{key, e})
					}
				}
			}
		}
	}
	if len(slots) > 0 {
		if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
			return nil, fmt.Errorf("read %d slots: %w", len(slots), err)
		}
	}

	out := make([][]Hit, len(qs))
	for i, q := range qs {
		seen := make(map[string]bool)
		for _, p := range probes[i] {
			if seen[p.key] {
				continue
			}
			seen[p.key] = true
			for f, v := range slots[p.key].Val() {
				m, err := decodeEntry(f, v)
				if err != nil || !matches(&q, &m) {
					continue
				}
				m.Egress = p.egress
				meta := metas[p.egress].Val()
				if k := mapping.ParseKind(meta["kind"]); k != 0 && m.Kind == 0 {
					m.Kind = k
				}
				m.EgressID, m.VPC = meta["id"], meta["vpc"]
				out[i] = append(out[i], Hit{m})
			}
		}
	}
	return out, nil
}

// matches applies the matching rules: same protocol, ports and peer, and the
// time inside the window widened by the skew.
func matches(q *Query, m *mapping.Mapping) bool {
	if m.Proto != q.Proto || m.Port != q.Port || m.Peer.Addr != q.Peer.Addr {
		return false
	}
	if m.Peer.Port != q.Peer.Port && !(q.Portless && m.Peer.Port == 0) {
		return false
	}
	return m.Start-q.Skew <= q.At && q.At <= m.End+q.Skew
}

// EgressString renders an egress as keys and the wake channel do.
func EgressString(e mapping.Egress) string { return string(appendEgress(nil, e)) }

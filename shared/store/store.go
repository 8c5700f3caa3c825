// Package store keeps five-tuple mappings in Redis: compact, pipelined
// writes from ingest, batched lookups for trace. See layout.go for the keys.
package store

import (
	"context"
	"fmt"
	"strconv"
	"sync"
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
	// Keys are given ttl+refresh of life, and their expiry is renewed at
	// most every refresh: a mapping still lives at least ttl after its
	// write, at one EXPIRE per key per refresh instead of one per write.
	refresh time.Duration
	expires expiries
}

// New returns a store over rdb whose mappings live ttl after their last write.
func New(rdb redis.UniversalClient, ttl time.Duration) *Store {
	if ttl <= 0 {
		ttl = time.Hour
	}
	return &Store{rdb: rdb, ttl: ttl, refresh: max(ttl/8, time.Second), expires: expiries{last: map[slotID]time.Time{}}}
}

// expiries remembers when this process last renewed each key's expiry.
type expiries struct {
	mu        sync.Mutex
	last      map[slotID]time.Time
	lastPrune time.Time
}

// due reports whether a key's expiry must be renewed now, and records that
// it will be.
func (e *expiries) due(id slotID, now time.Time, refresh time.Duration) bool {
	if t, ok := e.last[id]; ok && now.Sub(t) < refresh {
		return false
	}
	e.last[id] = now
	return true
}

func (e *expiries) prune(now time.Time, refresh time.Duration) {
	if now.Sub(e.lastPrune) <= refresh {
		return
	}
	for k, t := range e.last {
		if now.Sub(t) >= refresh {
			delete(e.last, k)
		}
	}
	e.lastPrune = now
}

// forget drops keys whose renewal may not have reached Redis.
func (e *expiries) forget(ids []slotID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, id := range ids {
		delete(e.last, id)
	}
}

type groupKey struct {
	egress mapping.Egress
	bucket int64
}

type group struct {
	n     int64
	total *redis.IntCmd
	level int
}

// slotID names a key of the layout: a slot (level >= 0), a bucket's count
// (level countLevel) or an egress's metadata (level metaLevel).
type slotID struct {
	groupKey
	level int
	slot  uint32
}

const (
	countLevel = -1
	metaLevel  = -2
)

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
// large the batch: one APPEND per slot the batch touches. Larger batches
// touch each slot more than once and so send fewer commands per mapping.
func (s *Store) Write(ctx context.Context, ms []mapping.Mapping) error {
	return s.WriteMarked(ctx, ms, nil)
}

// WriteMarked is Write, and then records marks (see GroupMark) in the same
// pipeline, after the entries: a log group is marked ingested only once all
// its mappings are written.
func (s *Store) WriteMarked(ctx context.Context, ms []mapping.Mapping, marks []string) (err error) {
	if len(ms) == 0 {
		return s.mark(ctx, marks)
	}
	now := time.Now()
	life := s.ttl + s.refresh
	var renewed []slotID
	defer func() {
		if err != nil {
			s.expires.forget(renewed)
		}
	}()
	s.expires.mu.Lock()
	s.expires.prune(now, s.refresh)
	s.expires.mu.Unlock()
	// expire renews a key's expiry when due; called with expires.mu held.
	expire := func(pipe redis.Pipeliner, id slotID, key func() string) {
		if s.expires.due(id, now, s.refresh) {
			pipe.Expire(ctx, key(), life)
			renewed = append(renewed, id)
		}
	}

	var kb []byte
	groups := make(map[groupKey]*group)
	// first holds each mapping's start-bucket group; longer windows (rare)
	// look their other buckets up again below.
	first := make([]*group, len(ms))
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
			if first[i] == nil {
				first[i] = g
			}
		})
		if meta, ok := metas[m.Egress]; !ok || meta.id == "" && m.EgressID != "" || meta.vpc == "" && m.VPC != "" {
			metas[m.Egress] = egressMeta{kind: m.Kind, id: m.EgressID, vpc: m.VPC}
		}
	}

	// Round trip 1: claim room in each bucket; the totals pick the levels.
	pipe := s.rdb.Pipeline()
	s.expires.mu.Lock()
	for k, g := range groups {
		key := countKey(kb, k.egress, k.bucket)
		g.total = pipe.IncrBy(ctx, key, g.n)
		expire(pipe, slotID{k, countLevel, 0}, func() string { return key })
	}
	s.expires.mu.Unlock()
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("count %d buckets: %w", len(groups), err)
	}
	for _, g := range groups {
		g.level = levelFor(g.total.Val())
	}

	// Round trip 2: the entries, one APPEND per slot. Entries are encoded
	// once into one arena, then laid out slot by slot (a counting sort) so
	// that each slot's value is one contiguous run: no buffer per slot.
	// Slots are keyed by their group's pointer while batching: hashing a
	// pointer is cheaper than hashing the egress.
	type slotRef struct {
		g    *group
		slot uint32
	}
	type placed struct {
		slot     int32 // index into order
		off, len int32 // in enc
	}
	index := make(map[slotRef]int32, len(groups)*64)
	var order []slotRef
	var sizes []int32
	enc := make([]byte, 0, len(ms)*26)
	places := make([]placed, 0, len(ms))
	add := func(m *mapping.Mapping, g *group, off, n int32) {
		ref := slotRef{g, slotOf(m.Proto, m.Port, m.Peer, g.level)}
		i, ok := index[ref]
		if !ok {
			i = int32(len(order))
			index[ref] = i
			order = append(order, ref)
			sizes = append(sizes, 0)
		}
		sizes[i] += n
		places = append(places, placed{i, off, n})
	}
	for i := range ms {
		m := &ms[i]
		off := int32(len(enc))
		enc = appendEntry(enc, m)
		n := int32(len(enc)) - off
		add(m, first[i], off, n)
		if m.End-m.Start > MaxSpan {
			for t := m.Start + MaxSpan; ; t += MaxSpan {
				add(m, groups[groupKey{m.Egress, bucketOf(t)}], off, n)
				if m.End-t <= MaxSpan {
					break
				}
			}
		}
	}
	starts := make([]int32, len(order)+1)
	for i, n := range sizes {
		starts[i+1] = starts[i] + n
	}
	laid := make([]byte, starts[len(order)])
	fill := append([]int32(nil), starts[:len(order)]...)
	for _, p := range places {
		fill[p.slot] += int32(copy(laid[fill[p.slot]:], enc[p.off:p.off+p.len]))
	}
	keyOf := make(map[*group]groupKey, len(groups))
	for k, g := range groups {
		keyOf[g] = k
	}
	pipe = s.rdb.Pipeline()
	s.expires.mu.Lock()
	for i, ref := range order {
		id := slotID{keyOf[ref.g], ref.g.level, ref.slot}
		key := slotKey(kb, id.egress, id.bucket, id.level, id.slot)
		buf := laid[starts[i]:starts[i+1]]
		pipe.Append(ctx, key, unsafe.String(unsafe.SliceData(buf), len(buf)))
		expire(pipe, id, func() string { return key })
	}
	var wake []byte
	for e, meta := range metas {
		key := metaKey(kb, e)
		pipe.HSet(ctx, key, "kind", meta.kind.String(), "id", meta.id, "vpc", meta.vpc)
		expire(pipe, slotID{groupKey{egress: e}, metaLevel, 0}, func() string { return key })
		wake = appendEgress(wake[:0], e)
		pipe.Publish(ctx, WakeChannel, string(wake))
	}
	s.expires.mu.Unlock()
	for _, m := range marks {
		pipe.Set(ctx, m, "1", life)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("write %d mappings to %d slots: %w", len(ms), len(order), err)
	}
	return nil
}

// GroupMark is the key that marks one log group (by its cursor in a shard)
// as ingested, so that a replayed range skips it and leaves the state as it
// was. ok is false when a part is not of the form SLS gives it; the group is
// then simply not marked.
func GroupMark(project, logstore string, shard int, cursor string) (key string, ok bool) {
	if !slsName(project) || !slsName(logstore) || shard < 0 || !cursorChars(cursor) {
		return "", false
	}
	return "ndr:g:" + project + "/" + logstore + "/" + strconv.Itoa(shard) + "/" + cursor, true
}

// Ingested reports which marks exist, in one round trip.
func (s *Store) Ingested(ctx context.Context, marks []string) ([]bool, error) {
	out := make([]bool, len(marks))
	if len(marks) == 0 {
		return out, nil
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.IntCmd, len(marks))
	for i, m := range marks {
		cmds[i] = pipe.Exists(ctx, m)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("read %d log-group marks: %w", len(marks), err)
	}
	for i, c := range cmds {
		out[i] = c.Val() == 1
	}
	return out, nil
}

func (s *Store) mark(ctx context.Context, marks []string) error {
	if len(marks) == 0 {
		return nil
	}
	pipe := s.rdb.Pipeline()
	for _, m := range marks {
		pipe.Set(ctx, m, "1", s.ttl+s.refresh)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("mark %d log groups: %w", len(marks), err)
	}
	return nil
}

// slsName is an SLS project or logstore name: 2-63 of a-z, 0-9, '-', '_'.
func slsName(s string) bool {
	if len(s) < 2 || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// cursorChars is a cursor as SLS writes them: base64, at most 64 bytes.
func cursorChars(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=') {
			return false
		}
	}
	return true
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

	slots := make(map[string]*redis.StringCmd)
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
							slots[key] = pipe.Get(ctx, key)
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
			raw, err := slots[p.key].Bytes()
			if err != nil {
				continue // redis.Nil: the slot is empty
			}
			meta := metas[p.egress].Val()
			// A corrupt tail is skipped; what came before it still counts.
			_ = eachEntry(raw, func(key []byte, m mapping.Mapping) {
				if !matches(&q, &m) || seen[string(key)] {
					return
				}
				seen[string(key)] = true // replays append duplicates
				m.Egress = p.egress
				if k := mapping.ParseKind(meta["kind"]); k != 0 && m.Kind == 0 {
					m.Kind = k
				}
				m.EgressID, m.VPC = meta["id"], meta["vpc"]
				out[i] = append(out[i], Hit{m})
			})
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

// Package store keeps five-tuple mappings in Redis: compact, pipelined
// writes from ingest, batched lookups for trace. See layout.go for the keys.
package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

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
	// perSlot is the layout's; a test sets oldPerSlot to write as an older
	// ndrtrace did (OlderWriter).
	perSlot int64
}

// New returns a store over rdb whose mappings live ttl after their last write.
func New(rdb redis.UniversalClient, ttl time.Duration) *Store {
	if ttl <= 0 {
		ttl = time.Hour
	}
	return &Store{rdb: rdb, ttl: ttl, refresh: max(ttl/8, time.Second), expires: newExpiries(), perSlot: perSlot}
}

// expiries remembers which keys this process has renewed lately, by
// windows: each (egress, bucket, level) has a window of refresh, and a key
// is renewed at its first write in each window of its level. A key
// renewed at a is then renewed again by a+refresh at the latest, so it
// lives past every write by ttl (life is ttl+refresh). The keys of a
// level are bits of one set, found once per batch: a map holding every
// key written within a refresh (hundreds of thousands at a gateway's
// pace) cost a lookup per key, mostly cache misses (a fifth of
// BenchmarkWrite's CPU).
type expiries struct {
	mu        sync.Mutex
	levels    map[levelKey]*renewals
	lastPrune time.Time
}

// levelKey names a level of a bucket, or its count key (countLevel) or
// its egress's metadata key (metaLevel, bucket 0).
type levelKey struct {
	groupKey
	level int
}

// renewals are the keys of one level renewed in its current window.
type renewals struct {
	since int64    // Unix nanoseconds the window began
	bits  []uint64 // by slot
}

// renewal is a key's bit, as a write set it.
type renewal struct {
	r     *renewals
	since int64
	slot  uint32
}

func newExpiries() expiries {
	return expiries{levels: map[levelKey]*renewals{}}
}

// level returns the renewals of k's level; called with mu held.
func (e *expiries) level(k levelKey) *renewals {
	r := e.levels[k]
	if r == nil {
		r = &renewals{bits: make([]uint64, (width(k.level)+63)/64)}
		e.levels[k] = r
	}
	return r
}

// width is how many keys a level has: 4^level slots, or one.
func width(level int) int {
	if level < 0 {
		return 1
	}
	return 1 << (2 * level)
}

// due reports whether the key of slot must be renewed now, and records
// that it will be.
func (r *renewals) due(slot uint32, now time.Time, refresh time.Duration) (renewal, bool) {
	t := now.UnixNano()
	if time.Duration(t-r.since) >= refresh {
		clear(r.bits)
		r.since = t
	}
	w, bit := slot/64, uint64(1)<<(slot%64)
	if r.bits[w]&bit != 0 {
		return renewal{}, false
	}
	r.bits[w] |= bit
	return renewal{r, r.since, slot}, true
}

// prune drops the levels whose window is over: their next write renews
// them all anyway.
func (e *expiries) prune(now time.Time, refresh time.Duration) {
	if now.Sub(e.lastPrune) <= refresh {
		return
	}
	t := now.UnixNano()
	for k, r := range e.levels {
		if time.Duration(t-r.since) >= refresh {
			delete(e.levels, k)
		}
	}
	e.lastPrune = now
}

// reset forgets every renewal, so that the next writes renew every key.
func (e *expiries) reset() {
	e.mu.Lock()
	defer e.mu.Unlock()
	clear(e.levels)
}

// forget drops renewals that may not have reached Redis. One whose window
// has passed since, or whose level was pruned or reset, is already
// forgotten.
func (e *expiries) forget(rs []renewal) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, x := range rs {
		if x.r.since == x.since {
			x.r.bits[x.slot/64] &^= 1 << (x.slot % 64)
		}
	}
}

type groupKey struct {
	egress mapping.Egress
	bucket int64
}

type group struct {
	key   groupKey
	n     int64
	total *redis.IntCmd
	level int
	// dense indexes the group's slots (into the write's order, plus one)
	// when its level's slots are few against its entries: an array, not
	// layout's map, for most of a steady stream's groups.
	dense []int32
	// renewals are the expiries of the group's level (set by append).
	renewals *renewals
	zero     int64 // entries without a peer port (see zeroKey)
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
	zeroLevel  = -3 // the bucket's /z count
)

type egressMeta struct {
	kind            mapping.Kind
	id              string
	vpc             string
	account, region string // when the records name them (shipped logs)
}

// copies calls fn for each bucket a mapping is indexed under: its start
// bucket, and every MaxSpan after for windows longer than MaxSpan. Ingest
// bounds windows (an hour at most), so a mapping has a handful of copies.
func copies(m *mapping.Mapping, fn func(bucket int64)) {
	for t := m.Start; ; t += MaxSpan {
		fn(bucketOf(t))
		if m.End-t <= MaxSpan {
			return
		}
	}
}

// Write stores a batch of mappings in pipelined round trips, however large
// the batch: one APPEND per slot the batch touches. Larger batches touch
// each slot more than once and so send fewer commands per mapping.
func (s *Store) Write(ctx context.Context, ms []mapping.Mapping) error {
	return s.WriteMarked(ctx, ms, nil)
}

// WriteMarked is Write, then records marks (see GroupMark): a log group is
// marked ingested only once every one of its entries has been acknowledged,
// on whatever node it lives. It takes three round trips: claim room in the
// buckets, append the entries, then mark the groups (and wake waiting
// traces). A failure at any step returns an error and writes no mark, so
// the retried range writes the groups again.
func (s *Store) WriteMarked(ctx context.Context, ms []mapping.Mapping, marks []string) error {
	return s.WriteMarkedAfter(ctx, ms, marks, nil)
}

// WriteMarkedAfter is WriteMarked that calls before once the entries are
// written and, only if it returns nil, marks the groups: a writer with an
// earlier batch still in flight waits there for it, so that a mark never
// lands before every batch holding its group's records is in.
func (s *Store) WriteMarkedAfter(ctx context.Context, ms []mapping.Mapping, marks []string, before func() error) error {
	if len(ms) == 0 {
		if before != nil {
			if err := before(); err != nil {
				return err
			}
		}
		return s.finish(ctx, nil, nil, marks)
	}
	w := s.newWrite(ctx, ms)
	defer w.release()
	err := w.claim()
	if err == nil {
		w.layout()
		err = w.append()
	}
	if err != nil {
		s.expires.forget(w.renewed)
		return err
	}
	if before != nil {
		if err := before(); err != nil {
			return err
		}
	}
	if err := s.finish(ctx, w.unexpired, w.wakes, marks); err != nil {
		return err
	}
	// Compaction only saves memory: a failure leaves the slots as they
	// were, and the write stands.
	_ = s.compact(ctx, &w.kb, w.closed)
	return nil
}

// compactSlot rewrites a slot at its exact size, keeping its expiry. APPEND
// grows a string's buffer greedily (to twice what it needs): a slot of
// 1,100 bytes took ~1,780 in Redis, ~1,330 once rewritten.
const compactSlot = `
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local ttl = redis.call('PTTL', KEYS[1])
redis.call('SET', KEYS[1], v)
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1`

// compact rewrites the slots of levels their buckets have moved past. A
// bucket's level only rises with its count, so writes no longer append
// there; one still in flight elsewhere may, which costs the slot its new
// size again but nothing else (each rewrite is atomic). A level of 4^l
// slots is rewritten once per bucket, against the ~64·4^l APPENDs that
// filled it.
func (s *Store) compact(ctx context.Context, kb *[]byte, closed []slotID) error {
	var cmds []redis.Cmder
	for _, c := range closed {
		for slot := range uint32(1) << (2 * c.level) {
			key := slotKey(kb, c.egress, c.bucket, c.level, slot)
			// EVAL, not EVALSHA: a pipeline cannot retry a NOSCRIPT.
			cmds = append(cmds, redis.NewCmd(ctx, "eval", compactSlot, 1, key))
		}
	}
	return ExecCmds(ctx, s.rdb, cmds)
}

// write is one batch on its way to Redis.
type write struct {
	s   *Store
	ctx context.Context
	ms  []mapping.Mapping
	now time.Time
	kb  []byte

	groups map[groupKey]*group
	metas  map[mapping.Egress]egressMeta
	wakes  map[mapping.Egress]*WakeFilter
	*scratch

	renewed   []renewal // expiries renewed in this write
	closed    []slotID  // levels this write moved buckets past (slot 0 of each)
	unexpired []string  // keys Redis created but this write set no expiry on
}

type slotRef struct {
	g    *group
	slot uint32
}

// scratch is a write's working memory, kept for the next write: a batch's
// buffers are megabytes, and allocated afresh for every batch they were a
// tenth of nat-ingest's allocation (the SDK's pulls are most of the rest),
// each one zeroed or faulted in anew.
type scratch struct {
	// first holds each mapping's start-bucket group; longer windows (rare)
	// look their other buckets up again.
	first []*group
	// hashes holds each mapping's slot hash (slotHash), computed once for
	// its wake bit and the slots of its every copy.
	hashes []uint64
	dense  []int32 // the groups' dense indexes, one after the other
	// enc holds every entry once; laid holds them again slot by slot.
	enc    []byte
	order  []slotRef
	starts []int32
	laid   []byte
	sizes  []int32
	fill   []int32
	places []placed
	index  map[slotRef]int32
	room   int // slots index was made for
}

// placed is one entry (or copy) of a write: its slot's index in order and
// where its bytes are in enc.
type placed struct {
	slot     int32
	off, len int32
}

var scratches = sync.Pool{New: func() any { return new(scratch) }}

// release hands the write's scratch back once Redis is done with its
// buffers (APPEND's values are views of laid). Group pointers are dropped
// so that the pool pins no batch.
func (w *write) release() {
	sc := w.scratch
	clear(sc.first)
	clear(sc.index)
	clear(sc.order)
	sc.enc, sc.order = sc.enc[:0], sc.order[:0]
	w.scratch = nil
	scratches.Put(sc)
}

// grow returns b with length n, reusing its array when it is large enough;
// the contents are not cleared.
func grow[T any](b []T, n int) []T {
	if cap(b) < n {
		return make([]T, n)
	}
	return b[:n]
}

// newWrite groups a batch by egress and bucket and encodes its entries.
func (s *Store) newWrite(ctx context.Context, ms []mapping.Mapping) *write {
	w := &write{s: s, ctx: ctx, ms: ms, now: time.Now(),
		groups: make(map[groupKey]*group),
		metas:  make(map[mapping.Egress]egressMeta), wakes: make(map[mapping.Egress]*WakeFilter),
		scratch: scratches.Get().(*scratch)}
	w.first = grow(w.first, len(ms)) // cleared by release
	w.enc = slices.Grow(w.enc[:0], len(ms)*26)
	s.expires.mu.Lock()
	s.expires.prune(w.now, s.refresh)
	s.expires.mu.Unlock()
	w.hashes = grow(w.hashes, len(ms))
	// A batch holds a few egresses (a gateway's EIPs) and buckets: each
	// record finds its egress's state and group among those, and the maps
	// are written once per egress and group, not asked for every record.
	var (
		egs egressTable
		cur *egressWrite
	)
	for i := range ms {
		m := &ms[i]
		if cur == nil || cur.e != m.Egress {
			cur = egs.find(m.Egress)
		}
		th := TupleHash(m.Proto, m.Port, m.Peer.Addr)
		cur.wake.addHash(th)
		w.hashes[i] = slotHash(th, m.Peer.Port)
		copies(m, func(b int64) {
			g := cur.group(b, w)
			g.n++
			if m.Peer.Port == 0 {
				g.zero++
			}
			if w.first[i] == nil {
				w.first[i] = g
			}
		})
		if meta := &cur.meta; !cur.hasMeta || meta.id == "" && m.EgressID != "" || meta.vpc == "" && m.VPC != "" || meta.account == "" && m.Account != "" {
			*meta, cur.hasMeta = egressMeta{kind: m.Kind, id: m.EgressID, vpc: m.VPC, account: m.Account, region: m.Region}, true
		}
	}
	for _, e := range egs.list {
		w.wakes[e.e], w.metas[e.e] = e.wake, e.meta
	}
	return w
}

// egressWrite is what newWrite gathers for one egress of a batch.
type egressWrite struct {
	e       mapping.Egress
	wake    *WakeFilter
	meta    egressMeta
	hasMeta bool
	groups  []*group // the egress's, one per bucket: a batch spans a few
	last    *group   // the group found last
}

// egressTable finds an egress's state in a batch. A batch mostly holds a
// few egresses (a gateway's EIPs), searched in order: hashing an egress
// (an address and a string) for a map cost more. Past searchable, a map
// takes over, so that logs naming many addresses cost no more than that.
type egressTable struct {
	list  []*egressWrite
	index map[mapping.Egress]*egressWrite
}

// searchable is how many egresses, or one egress's buckets, a write
// searches in order before it uses a map.
const searchable = 16

func (t *egressTable) find(e mapping.Egress) *egressWrite {
	if t.index != nil {
		if s := t.index[e]; s != nil {
			return s
		}
	} else {
		for _, s := range t.list {
			if s.e == e {
				return s
			}
		}
	}
	s := &egressWrite{e: e, wake: new(WakeFilter)}
	t.list = append(t.list, s)
	if t.index == nil && len(t.list) > searchable {
		t.index = make(map[mapping.Egress]*egressWrite, 2*len(t.list))
		for _, s := range t.list {
			t.index[s.e] = s
		}
	} else if t.index != nil {
		t.index[e] = s
	}
	return s
}

// group returns the write's group of the egress's bucket b, adding it
// when new.
func (s *egressWrite) group(b int64, w *write) *group {
	if s.last != nil && s.last.key.bucket == b {
		return s.last
	}
	if len(s.groups) <= searchable {
		for _, g := range s.groups {
			if g.key.bucket == b {
				s.last = g
				return g
			}
		}
	} else if g := w.groups[groupKey{s.e, b}]; g != nil {
		s.last = g
		return g
	}
	g := &group{key: groupKey{s.e, b}}
	w.groups[g.key] = g
	s.groups = append(s.groups, g)
	s.last = g
	return g
}

// expire renews a key's expiry when this process has not done so lately;
// called with expires.mu held. It reports whether it did. r is the
// renewals of the key's level (expiries.level).
func (w *write) expire(pipe redis.Pipeliner, r *renewals, slot uint32, key string) bool {
	x, due := r.due(slot, w.now, w.s.refresh)
	if !due {
		return false
	}
	pipe.Expire(w.ctx, key, w.s.life())
	w.renewed = append(w.renewed, x)
	return true
}

// claim is round trip 1: it adds each group's count to its bucket's total,
// and the totals pick the levels the entries are appended at.
func (w *write) claim() error {
	pipe := w.s.rdb.Pipeline()
	type counted struct {
		key      string
		cmd      *redis.IntCmd
		n        int64 // what this write added
		expiring bool
	}
	var all []counted
	w.s.expires.mu.Lock()
	for k, g := range w.groups {
		key := countKey(&w.kb, k.egress, k.bucket)
		g.total = pipe.IncrBy(w.ctx, key, g.n)
		all = append(all, counted{key, g.total, g.n, w.expire(pipe, w.s.expires.level(levelKey{k, countLevel}), 0, key)})
		key = zeroKey(&w.kb, k.egress, k.bucket)
		z := zeroCount(g.n, g.zero)
		all = append(all, counted{key, pipe.IncrBy(w.ctx, key, z), z, w.expire(pipe, w.s.expires.level(levelKey{k, zeroLevel}), 0, key)})
	}
	w.s.expires.mu.Unlock()
	if err := w.s.execAll(w.ctx, pipe); err != nil {
		return fmt.Errorf("count %d buckets: %w", len(w.groups), err)
	}
	for _, g := range w.groups {
		g.level = w.s.levelFor(g.total.Val())
		if before := g.total.Val() - g.n; before > 0 && w.s.levelFor(before) < g.level {
			w.closed = append(w.closed, slotID{g.key, w.s.levelFor(before), 0})
		}
	}
	for _, c := range all {
		if c.cmd.Val() == c.n && !c.expiring {
			w.unexpired = append(w.unexpired, c.key) // Redis lost the key: see finish
		}
	}
	return nil
}

// layout assigns each entry (and each of its copies) to its slot at its
// bucket's level, and lays the entries out slot by slot (a counting sort),
// so that each slot's value is one contiguous run: no buffer per slot.
// Slots are keyed by their group's pointer: cheaper to hash than an egress.
func (w *write) layout() {
	// A group touches at most min(its entries, 4^level) slots. A group
	// with at most 4 entries per slot of its level (a steady stream's)
	// indexes them in an array; the others share a map, sized for them so
	// that it never grows (growing it was a tenth of a write's CPU).
	slots, dense := 0, 0
	for _, g := range w.groups {
		if width := int64(1) << (2 * g.level); width <= 4*g.n {
			dense += int(width)
		} else {
			slots += int(g.n)
		}
	}
	w.dense = grow(w.dense, dense)
	clear(w.dense)
	dense = 0
	for _, g := range w.groups {
		if width := 1 << (2 * g.level); int64(width) <= 4*g.n {
			g.dense, dense = w.dense[dense:dense+width:dense+width], dense+width
		}
	}
	if w.index == nil || w.room < slots {
		w.index, w.room = make(map[slotRef]int32, slots), slots
	}
	index := w.index
	sizes := slices.Grow(w.sizes[:0], min(len(w.ms), slots+dense))
	w.order = slices.Grow(w.order, min(len(w.ms), slots+dense))
	places := slices.Grow(w.places[:0], len(w.ms))
	add := func(g *group, h uint64, off, n int32) {
		slot := levelSlot(h, g.level)
		var i int32
		if g.dense != nil {
			i = g.dense[slot] - 1
			if i < 0 {
				i = int32(len(w.order))
				g.dense[slot] = i + 1
				w.order = append(w.order, slotRef{g, slot})
				sizes = append(sizes, 0)
			}
		} else {
			ref := slotRef{g, slot}
			var ok bool
			if i, ok = index[ref]; !ok {
				i = int32(len(w.order))
				index[ref] = i
				w.order = append(w.order, ref)
				sizes = append(sizes, 0)
			}
		}
		sizes[i] += n
		places = append(places, placed{i, off, n})
	}
	for i := range w.ms {
		m := &w.ms[i]
		off := int32(len(w.enc))
		w.enc = appendEntry(w.enc, m)
		n := int32(len(w.enc)) - off
		add(w.first[i], w.hashes[i], off, n)
		if m.End-m.Start > MaxSpan {
			for t := m.Start + MaxSpan; ; t += MaxSpan {
				add(w.groups[groupKey{m.Egress, bucketOf(t)}], w.hashes[i], off, n)
				if m.End-t <= MaxSpan {
					break
				}
			}
		}
	}
	w.starts = grow(w.starts, len(w.order)+1)
	w.starts[0] = 0
	for i, n := range sizes {
		w.starts[i+1] = w.starts[i] + n
	}
	// Every byte of laid is copied over below: no need to clear it.
	w.laid = grow(w.laid, int(w.starts[len(w.order)]))
	fill := append(w.fill[:0], w.starts[:len(w.order)]...)
	for _, p := range places {
		fill[p.slot] += int32(copy(w.laid[fill[p.slot]:], w.enc[p.off:p.off+p.len]))
	}
	w.sizes, w.places, w.fill = sizes, places, fill
}

// append is round trip 2: one APPEND per slot, and the egresses' metadata.
func (w *write) append() error {
	type sent struct {
		cmd      *redis.IntCmd
		key      string
		n        int64
		expiring bool
	}
	out := make([]sent, 0, len(w.order)+len(w.metas))
	pipe := w.s.rdb.Pipeline()
	w.s.expires.mu.Lock()
	for i, ref := range w.order {
		id := slotID{ref.g.key, ref.g.level, ref.slot}
		key := slotKey(&w.kb, id.egress, id.bucket, id.level, id.slot)
		buf := w.laid[w.starts[i]:w.starts[i+1]]
		cmd := pipe.Append(w.ctx, key, unsafe.String(unsafe.SliceData(buf), len(buf)))
		if ref.g.renewals == nil {
			ref.g.renewals = w.s.expires.level(levelKey{ref.g.key, ref.g.level})
		}
		out = append(out, sent{cmd, key, int64(len(buf)), w.expire(pipe, ref.g.renewals, id.slot, key)})
	}
	for e, meta := range w.metas {
		key := metaKey(&w.kb, e)
		fields := []any{"kind", meta.kind.String(), "id", meta.id, "vpc", meta.vpc}
		if meta.account != "" || meta.region != "" {
			fields = append(fields, "acct", meta.account, "region", meta.region)
		}
		cmd := pipe.HSet(w.ctx, key, fields...)
		// HSET counts the fields it created: all of them for a new key.
		out = append(out, sent{cmd, key, int64(len(fields) / 2), w.expire(pipe, w.s.expires.level(levelKey{groupKey{egress: e}, metaLevel}), 0, key)})
	}
	w.s.expires.mu.Unlock()
	if err := w.s.execAll(w.ctx, pipe); err != nil {
		return fmt.Errorf("write %d mappings to %d slots: %w", len(w.ms), len(w.order), err)
	}
	for _, o := range out {
		// A key whose expiry this process renewed lately, yet which Redis has
		// just created, was lost on the way (a restart without persistence,
		// a failover to a replica that lagged, an eviction): it gets its
		// expiry in the next round trip.
		if !o.expiring && o.cmd.Val() == o.n {
			w.unexpired = append(w.unexpired, o.key)
		}
	}
	return nil
}

// finish is the last round trip: expiries of keys Redis lost and re-created,
// the marks of the groups now fully written, and a wake-up for each egress.
func (s *Store) finish(ctx context.Context, unexpired []string, wakes map[mapping.Egress]*WakeFilter, marks []string) error {
	if len(unexpired)+len(wakes)+len(marks) == 0 {
		return nil
	}
	if len(unexpired) > 0 {
		// Redis lost keys this process thought renewed: renew them all again.
		s.expires.reset()
	}
	pipe := s.rdb.Pipeline()
	for _, key := range unexpired {
		pipe.Expire(ctx, key, s.life())
	}
	for _, m := range marks {
		pipe.Set(ctx, m, "1", s.life())
	}
	var wake []byte
	for e, f := range wakes {
		wake = appendWake(wake[:0], e, f)
		pipe.Publish(ctx, WakeChannel, string(wake))
	}
	if err := s.execAll(ctx, pipe); err != nil {
		return fmt.Errorf("mark %d log groups: %w", len(marks), err)
	}
	return nil
}

// life is how long a key lives after its expiry is renewed.
func (s *Store) life() time.Duration { return s.ttl + s.refresh }

// execAll is Exec on the store's client.
func (s *Store) execAll(ctx context.Context, pipe redis.Pipeliner) error {
	return Exec(ctx, s.rdb, pipe)
}

// maxPipe bounds the commands of one pipeline ExecCmds sends. A deep
// pipeline of reads makes Redis hold every reply at once (a 10,000-alert
// lookup: 17,000 slot reads, 18 MB of output buffer, freshly paged in) and
// the client read nothing until its last command is written: in pipelines
// of 512, two in flight, the same reads took a quarter of the time.
const maxPipe = 512

// ExecCmds runs cmds in pipelines of at most maxPipe commands, two in
// flight, and checks every command as Exec does.
func ExecCmds(ctx context.Context, rdb redis.UniversalClient, cmds []redis.Cmder) error {
	if len(cmds) == 0 {
		return nil
	}
	if len(cmds) <= maxPipe { // one pipeline: no goroutine to run it
		return checked(ctx, rdb, cmds, execPipeline(ctx, rdb, cmds))
	}
	return startCmds(ctx, rdb, cmds).wait()
}

// execPipeline sends cmds in one pipeline; their replies and errors are
// theirs (see checked).
func execPipeline(ctx context.Context, rdb redis.UniversalClient, cmds []redis.Cmder) error {
	pipe := rdb.Pipeline()
	for _, c := range cmds {
		_ = pipe.Process(ctx, c) // a pipeline only queues
	}
	_, err := pipe.Exec(ctx)
	return err
}

// pipelines are ExecCmds under way: a caller may use the replies of each
// pipeline as it completes, while Redis answers the next ones.
type pipelines struct {
	ready []chan struct{} // ready[i] is closed once pipeline i (cmds[i*maxPipe:]) has its replies
	done  chan struct{}
	err   error // set before done is closed
}

func startCmds(ctx context.Context, rdb redis.UniversalClient, cmds []redis.Cmder) *pipelines {
	p := &pipelines{ready: make([]chan struct{}, (len(cmds)+maxPipe-1)/maxPipe), done: make(chan struct{})}
	for i := range p.ready {
		p.ready[i] = make(chan struct{})
	}
	go func() {
		defer close(p.done)
		var g errgroup.Group
		g.SetLimit(2)
		for i := range p.ready {
			part := cmds[i*maxPipe : min((i+1)*maxPipe, len(cmds))]
			g.Go(func() error {
				defer close(p.ready[i])
				return execPipeline(ctx, rdb, part)
			})
		}
		p.err = checked(ctx, rdb, cmds, g.Wait())
	}()
	return p
}

// await waits for the replies of cmds[i].
func (p *pipelines) await(i int) { <-p.ready[i/maxPipe] }

// wait waits for every reply and checks them all.
func (p *pipelines) wait() error {
	<-p.done
	return p.err
}

// Exec runs a pipeline of rdb and checks every command, not only the first
// that failed (Exec's error): on a cluster, each node's share runs on its
// own, and any of them may fail. redis.Nil is an answer, not a failure.
// Every package that writes ndrtrace's state pipelines through it.
func Exec(ctx context.Context, rdb redis.UniversalClient, pipe redis.Pipeliner) error {
	cmds, err := pipe.Exec(ctx)
	return checked(ctx, rdb, cmds, err)
}

// checked is the outcome of cmds, run: the first command that failed, or
// the run's own error (err) when none did.
func checked(ctx context.Context, rdb redis.UniversalClient, cmds []redis.Cmder, err error) error {
	failed, first := 0, error(nil)
	for _, c := range cmds {
		if e := c.Err(); e != nil && e != redis.Nil {
			failed++
			if first == nil {
				first = e
			}
		}
	}
	if first == nil && err != nil && err != redis.Nil {
		failed, first = 1, err
	}
	if first == nil {
		return nil
	}
	Lost(ctx, rdb, first)
	return fmt.Errorf("%d of %d commands failed: %w", failed, len(cmds), first)
}

// Lost reacts to a failure that is not Redis's answer (a refused or broken
// connection): on a cluster, the node may be gone and its replica promoted,
// so the slot map is read again at once. go-redis would otherwise keep
// sending those slots to the dead node until its periodic reload (seen: 55
// s after a promotion), and every retried ingest and waiting trace with it.
func Lost(ctx context.Context, rdb redis.UniversalClient, err error) {
	cc, ok := rdb.(*redis.ClusterClient)
	if !ok || ctx.Err() != nil {
		return
	}
	var reply redis.Error
	if errors.As(err, &reply) && !strings.HasPrefix(reply.Error(), "CLUSTERDOWN") {
		return // Redis answered: the node is there
	}
	cc.ReloadState(ctx)
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
	if err := s.execAll(ctx, pipe); err != nil {
		return nil, fmt.Errorf("read %d log-group marks: %w", len(marks), err)
	}
	for i, c := range cmds {
		out[i] = c.Val() == 1
	}
	return out, nil
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
	// Unlisted says the address book does not list Egress[0] (nor has it
	// twins): most such addresses are the other side of an alert, with no
	// records. Their buckets are read only once their metadata shows the
	// store has records for them (logs of an asset not onboarded yet): the
	// answer is the same, and the common case skips a read per bucket.
	Unlisted bool
	Proto    tuple.Proto
	Port     uint16         // the egress-side port
	Peer     tuple.Endpoint // the other side
	At       int64          // Unix seconds
	Skew     int64          // slack around each window, seconds
	// Portless also finds records logged without the peer's port (ALB).
	Portless bool
}

// Hit is a mapping found for a query, with its egress's metadata.
type Hit struct {
	mapping.Mapping
}

// Lookup answers many queries in two rounds of pipelined reads: the
// egresses' metadata and bucket counts, then the slots the counts point to
// (a small round between them reads the counts of unlisted egresses that
// turn out to have records). Any command that fails fails the lookup: a
// slot that could not be read must not pass for an empty one.
func (s *Store) Lookup(ctx context.Context, qs []Query) ([][]Hit, error) {
	if len(qs) == 0 {
		return nil, nil
	}
	p := planLookup(qs)
	var kb []byte
	metas := make([]*redis.MapStringStringCmd, len(p.egresses))
	cmds := make([]redis.Cmder, 0, len(p.buckets)+len(p.egresses))
	for i, e := range p.egresses {
		metas[i] = redis.NewMapStringStringCmd(ctx, "hgetall", metaKey(&kb, e))
		cmds = append(cmds, metas[i])
	}
	var counts, zeros []*redis.StringCmd
	readCounts := func() {
		for i := len(counts); i < len(p.buckets); i++ {
			b := p.buckets[i]
			counts = append(counts, redis.NewStringCmd(ctx, "get", countKey(&kb, p.egresses[b.egress], b.bucket)))
			zeros = append(zeros, redis.NewStringCmd(ctx, "get", zeroKey(&kb, p.egresses[b.egress], b.bucket)))
			cmds = append(cmds, counts[i], zeros[i])
		}
	}
	readCounts()
	if err := ExecCmds(ctx, s.rdb, cmds); err != nil {
		return nil, fmt.Errorf("read %d bucket counts: %w", len(counts), err)
	}
	// Every write sets its egress's metadata, which lives at least as long
	// as the records: an unlisted egress without it has none.
	p.addUnlisted(qs, func(egress int32) bool { return len(metas[egress].Val()) > 0 })
	cmds = cmds[:0]
	readCounts()
	if err := ExecCmds(ctx, s.rdb, cmds); err != nil {
		return nil, fmt.Errorf("read the bucket counts of unlisted egresses: %w", err)
	}
	p.index()

	// Round 2: at every level up to each bucket's, the slot of each peer
	// form the query accepts. A slot shared by several queries is read once:
	// each bucket's slots read so far are indexed in an array for its
	// levels up to denseTop, in a map above (the bucket's queries are all
	// planned before the next bucket's, so both serve every bucket in turn).
	type wideSlot struct {
		level int
		slot  uint32
	}
	var (
		dense []int32 // by level, then slot: index into reads, plus one
		wide  = map[wideSlot]int32{}
	)
	// probes lists every (query, slot) scan, query by query in the order
	// the query's hits are reported; a query reads its slots bucket by
	// bucket, level by level.
	probes := make([]slotProbe, 0, 8*len(qs))
	reads := make([]*redis.StringCmd, 0, 2*len(qs))
	cmds = cmds[:0]
	for i, b := range p.buckets {
		n, err := counts[i].Int64()
		if err != nil {
			continue // redis.Nil: no records in this bucket
		}
		top := readTop(n)
		z, zerr := zeros[i].Int64()
		ported := onlyPorted(n, z, zerr == nil) // no record here lacks its peer port
		dense = grow(dense, levelStart(min(top, denseTop)+1))
		clear(dense)
		clear(wide)
		read := func(level int, slot uint32) int32 {
			r := int32(len(reads))
			reads = append(reads, redis.NewStringCmd(ctx, "get", slotKey(&kb, p.egresses[b.egress], b.bucket, level, slot)))
			cmds = append(cmds, reads[r])
			return r
		}
		for _, u := range p.usersOf(i) {
			q := &qs[u]
			from := len(probes)
			// The slot hash of each peer form, for every level. The form
			// without the port finds nothing where no record lacks it.
			peers := q.peers()
			if ported {
				peers = peers[:1]
			}
			th := TupleHash(q.Proto, q.Port, q.Peer.Addr)
			var hs [2]uint64
			for j, peer := range peers {
				hs[j] = slotHash(th, peer.Port)
			}
			for level := 0; level <= top; level++ {
				for j := range peers {
					slot := levelSlot(hs[j], level)
					var r int32
					if level <= denseTop {
						at := levelStart(level) + int(slot)
						if r = dense[at] - 1; r < 0 {
							r = read(level, slot)
							dense[at] = r + 1
						}
					} else {
						var ok bool
						if r, ok = wide[wideSlot{level, slot}]; !ok {
							r = read(level, slot)
							wide[wideSlot{level, slot}] = r
						}
					}
					// Two peer forms may share a slot: it is scanned once.
					pr := slotProbe{query: u, bucket: int32(i), slot: r}
					if !slices.Contains(probes[from:], pr) {
						probes = append(probes, pr)
					}
				}
			}
		}
	}
	// The scans below start on the first slots while Redis still answers
	// for the others: the reads go out in the order the scans want them.
	pending := startCmds(ctx, s.rdb, cmds)

	// Each egress's metadata is decoded once, not per hit.
	meta := make([]egressMeta, len(metas))
	for i, c := range metas {
		h := c.Val()
		meta[i] = egressMeta{kind: mapping.ParseKind(h["kind"]), id: h["id"], vpc: h["vpc"], account: h["acct"], region: h["region"]}
	}
	pbs := make([]probe, len(qs))
	for i := range qs {
		pbs[i] = newProbe(&qs[i])
	}
	// The scans run slot by slot, so that a slot's every scan finds it in
	// the cache: query by query, a batch's reads (18 MB for 10,000 alerts
	// over a million records) came from memory again for each query. The
	// hits are then put back in each query's own order.
	found := make([]foundEntry, 0, len(qs))
	var join slotJoin
	ordered := bySlot(probes, len(reads))
	for a := 0; a < len(ordered); {
		at := probes[ordered[a]].slot
		b := a + 1
		for b < len(ordered) && probes[ordered[b]].slot == at {
			b++
		}
		run := ordered[a:b] // the probes of slot at
		a = b
		// Each slot is checked once, before its scan (which then finds it
		// in the cache), however many queries read it. A corrupt tail is
		// skipped; what came before it still counts.
		pending.await(int(at))
		raw := reads[at].Val() // "" when the slot is empty (or its read failed: see below)
		slot := unsafe.Slice(unsafe.StringData(raw), len(raw))
		if len(run) < joinMin {
			k := run[0]
			q := &qs[probes[k].query]
			// Entries of other tuples are skipped undecoded.
			scanValid(slot[:validPrefix(slot)], &pbs[probes[k].query], func(entry []byte, m mapping.Mapping) {
				if matches(q, &m) {
					found = append(found, foundEntry{probe: k, entry: entry, m: m})
				}
			})
			continue
		}
		join.reset(len(run))
		for i, k := range run {
			if p := &pbs[probes[k].query]; p.mask != 0 { // a probe with mask 0 matches nothing
				join.add(int32(i), p.want)
			}
		}
		// The walk checks each entry as validPrefix does, and stops at the
		// first that is not well formed.
		for v := slot; len(v) > 0; {
			n := int(v[0])
			if n == 0 || len(v) < 1+n {
				break
			}
			e := v[1 : 1+n]
			v = v[1+n:]
			kl := keyLen(e[0])
			if kl >= len(e) || !validValue(e[kl:]) {
				break
			}
			field := e[:kl]
			for i := join.find(keyWord(field)); i >= 0; i = join.next[i] {
				k := run[i]
				if !pbs[probes[k].query].may(field) {
					continue
				}
				if m, err := decodeEntry(field, e[len(field):]); err == nil && matches(&qs[probes[k].query], &m) {
					found = append(found, foundEntry{probe: k, entry: e, m: m})
				}
			}
		}
	}
	// Any read that failed fails the lookup: a slot that could not be
	// read must not pass for an empty one.
	if err := pending.wait(); err != nil {
		return nil, fmt.Errorf("read %d slots: %w", len(reads), err)
	}
	out := make([][]Hit, len(qs))
	order := byQuery(found, probes, len(qs))
	for i, k := range order {
		f := &found[k]
		pr := &probes[f.probe]
		// Only a byte-identical entry is the same record again (a replay):
		// records that share everything but the private endpoint are two
		// hosts, and both are answers. A query's hits are a few at most,
		// and the last ones in order.
		dup := false
		for _, j := range slices.Backward(order[:i]) {
			g := &found[j]
			if probes[g.probe].query != pr.query {
				break
			}
			if dup = bytes.Equal(g.entry, f.entry); dup {
				break
			}
		}
		if dup {
			continue
		}
		m := f.m
		b := p.buckets[pr.bucket]
		m.Egress = p.egresses[b.egress]
		meta := &meta[b.egress]
		if meta.kind != 0 && m.Kind == 0 {
			m.Kind = meta.kind
		}
		m.EgressID, m.VPC = meta.id, meta.vpc
		m.Account, m.Region = meta.account, meta.region
		out[pr.query] = append(out[pr.query], Hit{m})
	}
	return out, nil
}

// denseTop is the highest level whose slots a lookup indexes in an array:
// levels 0-6 take 5,461 entries (22 KB) per bucket.
const denseTop = 6

// levelStart is where level's slots start in an array of every level's
// slots, level by level: 4^0 + ... + 4^(level-1).
func levelStart(level int) int { return (1<<(2*level) - 1) / 3 }

// slotProbe is one scan of a lookup: a query's scan of one slot read.
type slotProbe struct {
	query, bucket, slot int32 // indexes into the queries, the plan's buckets and the reads
}

// foundEntry is an entry a probe found that matches its query.
type foundEntry struct {
	probe int32 // index into the probes: their order is the hits' order
	entry []byte
	m     mapping.Mapping
}

// bySlot orders the probes' indexes slot by slot (a counting sort over
// the slots read), keeping each slot's probes in their order.
func bySlot(probes []slotProbe, slots int) []int32 {
	starts := make([]int32, slots+1)
	for _, pr := range probes {
		starts[pr.slot+1]++
	}
	for i := range slots {
		starts[i+1] += starts[i]
	}
	order := make([]int32, len(probes))
	for k, pr := range probes {
		order[starts[pr.slot]] = int32(k)
		starts[pr.slot]++
	}
	return order
}

// byQuery orders the indexes of found query by query (a counting sort),
// each query's hits in the order of their probes.
func byQuery(found []foundEntry, probes []slotProbe, queries int) []int32 {
	ends := make([]int32, queries+1)
	for _, f := range found {
		ends[probes[f.probe].query+1]++
	}
	for i := range queries {
		ends[i+1] += ends[i]
	}
	order := make([]int32, len(found))
	for k, f := range found {
		q := probes[f.probe].query
		order[ends[q]] = int32(k)
		ends[q]++
	}
	// A query's hits are a few: insertion sort by probe.
	for i := 1; i < len(order); i++ {
		for j := i; j > 0; j-- {
			a, b := &found[order[j-1]], &found[order[j]]
			if probes[a.probe].query != probes[b.probe].query || a.probe <= b.probe {
				break
			}
			order[j-1], order[j] = order[j], order[j-1]
		}
	}
	return order
}

// lookupPlan lists the egresses and buckets a batch of queries reads, each
// once, with the queries that read each bucket. The egresses an address
// book does not list (Query.Unlisted) get their buckets only once their
// metadata shows they have records (addUnlisted): most never do, and their
// buckets were most of a batch's plan.
type lookupPlan struct {
	egresses []mapping.Egress
	buckets  []planned
	byKey    map[bucketKey]int32 // index into buckets
	uses     []bucketUse
	last     []int32     // the last query to use each bucket
	unlisted []bucketUse // (egress, query) pairs for addUnlisted
	// users holds the queries of each bucket, bucket after bucket: those
	// of buckets[i] are users[starts[i]:starts[i+1]] (set by index). One
	// array for all: a slice per bucket was a fifth of a large lookup.
	users  []int32
	starts []int32
}

type planned struct {
	egress int32 // index into egresses
	bucket int64
}

type bucketKey struct {
	egress int32
	bucket int64
}

type bucketUse struct{ at, query int32 }

// usersOf are the indexes of the queries that read bucket i.
func (p *lookupPlan) usersOf(i int) []int32 { return p.users[p.starts[i]:p.starts[i+1]] }

// planLookup interns every query's egresses and plans the buckets of the
// listed ones.
func planLookup(qs []Query) *lookupPlan {
	p := &lookupPlan{byKey: make(map[bucketKey]int32)}
	egresses := make(map[mapping.Egress]int32)
	for i := range qs {
		q := &qs[i]
		for k, e := range q.Egress {
			ei, ok := egresses[e]
			if !ok {
				ei = int32(len(p.egresses))
				egresses[e] = ei
				p.egresses = append(p.egresses, e)
			}
			if k == 0 && q.Unlisted {
				p.unlisted = append(p.unlisted, bucketUse{ei, int32(i)})
				continue
			}
			p.add(q, int32(i), ei)
		}
	}
	return p
}

// addUnlisted plans the buckets of the unlisted egresses that have records
// (has).
func (p *lookupPlan) addUnlisted(qs []Query, has func(egress int32) bool) {
	for _, u := range p.unlisted {
		if has(u.at) {
			p.add(&qs[u.query], u.query, u.at)
		}
	}
}

// add plans the buckets query i's time can fall in under one egress: a
// record is indexed under its start bucket and every MaxSpan after, so a
// record covering At started at most MaxSpan before it.
func (p *lookupPlan) add(q *Query, i, egress int32) {
	for b := bucketOf(q.At - q.Skew - MaxSpan); b <= bucketOf(q.At+q.Skew); b++ {
		key := bucketKey{egress, b}
		at, ok := p.byKey[key]
		if !ok {
			at = int32(len(p.buckets))
			p.byKey[key] = at
			p.buckets = append(p.buckets, planned{egress: egress, bucket: b})
			p.last = append(p.last, i)
		} else if p.last[at] == i {
			continue // an egress listed twice is read once
		}
		p.last[at] = i
		p.uses = append(p.uses, bucketUse{at, i})
	}
}

// index lays the uses out bucket by bucket (a counting sort).
func (p *lookupPlan) index() {
	p.starts = make([]int32, len(p.buckets)+1)
	for _, u := range p.uses {
		p.starts[u.at+1]++
	}
	for i := range p.buckets {
		p.starts[i+1] += p.starts[i]
	}
	p.users = make([]int32, len(p.uses))
	fill := append([]int32(nil), p.starts[:len(p.buckets)]...)
	for _, u := range p.uses {
		p.users[fill[u.at]] = u.query
		fill[u.at]++
	}
}

// peers are the forms of the peer a query's records may be stored under.
func (q *Query) peers() []tuple.Endpoint {
	if q.Portless && q.Peer.Port != 0 {
		return []tuple.Endpoint{q.Peer, {Addr: q.Peer.Addr}}
	}
	return []tuple.Endpoint{q.Peer}
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

package pending

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ndrtrace/ndrtrace/shared/alert"
	"github.com/ndrtrace/ndrtrace/shared/fcenv"
	"github.com/ndrtrace/ndrtrace/shared/mapping"
	"github.com/ndrtrace/ndrtrace/shared/store"
)

// maxBuckets bounds the alert buckets one egress of a batch is checked in
// (a batch spanning days of records checks its newest maxBuckets).
const maxBuckets = 512

// Written is ingest's hook (ingest.Batcher.Written): after a batch is in
// Redis, it finds the open alerts the batch's records may explain and
// resolves those that now fit. When nothing is open where the batch wrote,
// that costs one pipelined round trip. Failures are logged and change no
// mapping: the alerts stay pending for a later record.
func (k *Keeper) Written(ctx context.Context, batch []mapping.Mapping) {
	if k == nil || len(batch) == 0 {
		return
	}
	skew := int64(k.Skew / time.Second)
	// Each record may explain alerts from its start less the skew to its
	// end plus the skew: the alert buckets it covers, per egress.
	spans := map[mapping.Egress]*span{}
	// of[i] is record i's span: the later passes over the batch need no
	// map lookup per record (egresses interleave in a batch).
	of := make([]*span, len(batch))
	var last *span
	for i := range batch {
		m := &batch[i]
		if last == nil || m.Egress != last.egress {
			if last = spans[m.Egress]; last == nil {
				last = &span{egress: m.Egress, key: store.EgressString(m.Egress), lo: (m.Start - skew) / store.BucketSeconds, hi: (m.End + skew) / store.BucketSeconds}
				spans[m.Egress] = last
			}
		}
		of[i] = last
		last.lo = min(last.lo, (m.Start-skew)/store.BucketSeconds)
		last.hi = max(last.hi, (m.End+skew)/store.BucketSeconds)
	}

	// Round trip 1: how many fingerprints are open in each of those
	// buckets, and which (the packed list).
	type probe struct {
		sp     *span
		b      int64
		n      *redis.IntCmd
		packed *redis.StringCmd
	}
	var probes []probe
	pipe := k.RDB.Pipeline()
	for _, sp := range spans {
		sp.lo = max(sp.lo, sp.hi-maxBuckets+1)
		for b := sp.lo; b <= sp.hi; b++ {
			key := indexKey(sp.key, b)
			probes = append(probes, probe{sp, b, pipe.HLen(ctx, key), pipe.Get(ctx, fpsKey(key))})
		}
	}
	if err := store.Exec(ctx, k.RDB, pipe); err != nil {
		fcenv.Logger(ctx).Error("pending alerts not checked; they stay pending", "err", err)
		return
	}
	open := 0
	for _, p := range probes {
		if n := p.n.Val(); n > 0 {
			if p.sp.open == nil {
				p.sp.open = map[int64]*index{}
			}
			ix := &index{key: indexKey(p.sp.key, p.b)}
			if packed := p.packed.Val(); int64(len(packed)/8) >= n {
				// Every field is listed (an index written before the
				// packed list existed is not): the batch's records are
				// matched against it, and only their handles read.
				ix.set = newFPSet(packed)
			}
			p.sp.open[p.b] = ix
			open++
		}
	}
	if open == 0 {
		return
	}
	k.resolve(ctx, k.openHandles(ctx, batch, of, spans, skew))
}

// span is what a batch wrote to one egress, and the indexes open there.
type span struct {
	egress mapping.Egress
	key    string
	lo, hi int64            // alert buckets the records may explain
	open   map[int64]*index // bucket -> its index, when not empty
}

// index is one open index a batch touches. Its packed list of
// fingerprints (set) tells which of the batch's tuples are open there:
// only those fields are read (HMGET). An index written before the list
// existed has none: it is read by all the batch's fingerprints.
type index struct {
	key string
	set *fpSet              // the packed list, when complete
	fps map[uint64]struct{} // asked by HMGET
}

// fpSet is a packed list of fingerprints as a bit set of about 64 bits
// per fingerprint: building it allocates once, and a test is a shift and
// a load. A false positive (~1.5%) only asks Redis for a field that is
// not there.
type fpSet struct {
	bits  []uint64
	shift uint
}

func newFPSet(packed string) *fpSet {
	n := max(len(packed)/8, 1)
	logBits := uint(6)
	for 1<<logBits < n*64 {
		logBits++
	}
	s := &fpSet{bits: make([]uint64, 1<<(logBits-6)), shift: 64 - logBits}
	for i := 0; i+8 <= len(packed); i += 8 {
		fp, _ := fpOf(packed[i : i+8])
		b := fp >> s.shift
		s.bits[b>>6] |= 1 << (b & 63)
	}
	return s
}

func (s *fpSet) has(fp uint64) bool {
	b := fp >> s.shift
	return s.bits[b>>6]&(1<<(b&63)) != 0
}

// openHandles is round trip 2: the alerts open under the fingerprints of
// the batch's records, in the buckets where something is open.
func (k *Keeper) openHandles(ctx context.Context, batch []mapping.Mapping, of []*span, spans map[mapping.Egress]*span, skew int64) []Handle {
	for i := range batch {
		m, sp := &batch[i], of[i]
		if sp.open == nil {
			continue
		}
		fp, have := uint64(0), false
		for b := (m.Start - skew) / store.BucketSeconds; b <= (m.End+skew)/store.BucketSeconds; b++ {
			ix := sp.open[b]
			if ix == nil {
				continue
			}
			if !have {
				fp, have = store.TupleHash(m.Proto, m.Port, m.Peer.Addr), true
			}
			if ix.set != nil && !ix.set.has(fp) {
				continue
			}
			if ix.fps == nil {
				ix.fps = map[uint64]struct{}{}
			}
			ix.fps[fp] = struct{}{}
		}
	}
	pipe := k.RDB.Pipeline()
	var reads []*redis.SliceCmd
	for _, sp := range spans {
		for _, ix := range sp.open {
			if len(ix.fps) == 0 {
				continue
			}
			fields := make([]string, 0, len(ix.fps))
			for fp := range ix.fps {
				fields = append(fields, fpField(fp))
			}
			reads = append(reads, pipe.HMGet(ctx, ix.key, fields...))
		}
	}
	if len(reads) == 0 {
		return nil // no record of the batch is a tuple open there
	}
	if err := store.Exec(ctx, k.RDB, pipe); err != nil {
		fcenv.Logger(ctx).Error("pending alerts not read; they stay pending", "err", err)
		return nil
	}
	var handles []Handle
	seen := map[Handle]bool{}
	for _, r := range reads {
		for _, v := range r.Val() {
			s, _ := v.(string)
			for i := 0; i+8 <= len(s); i += 8 {
				if h := Handle([]byte(s[i : i+8])); !seen[h] {
					seen[h] = true
					handles = append(handles, h)
				}
			}
		}
	}
	return handles
}

// claim takes an alert for resolution if its answer is still the one read:
// so two writers (or a replay) never both resolve it.
var claim = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[2]) then return 1 end
return 0`)

// commit stores the new answer (the entry keeps its life) and ends the claim.
var commit = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('SET', KEYS[1], ARGV[1], 'KEEPTTL')
end
redis.call('DEL', KEYS[2])
return 1`)

// resolve looks again at the open alerts of handles and emits a late result
// (or a correction) for each that the store now answers differently.
func (k *Keeper) resolve(ctx context.Context, handles []Handle) {
	if len(handles) == 0 {
		return
	}
	log := fcenv.Logger(ctx)
	now := k.now()
	pipe := k.RDB.Pipeline()
	cmds := make([]*redis.StringCmd, len(handles))
	for i, h := range handles {
		cmds[i] = pipe.Get(ctx, entryKey(h))
	}
	if err := store.Exec(ctx, k.RDB, pipe); err != nil {
		log.Error("pending alerts not read; they stay pending", "err", err)
		return
	}
	type open struct {
		h Handle
		e entry
	}
	var opens []open
	var alerts []*alert.Alert
	for i, c := range cmds {
		v, err := c.Result()
		if err != nil {
			continue // expired or resolved and gone
		}
		e, ok := decodeEntry(v)
		if !ok || e.until < now.Unix() || HandleOf(e.result.AlertID) != handles[i] {
			continue
		}
		if st := e.result.Status; st != alert.Untraced && !(st == alert.Traced && e.result.Supersedes == "") {
			continue
		}
		items, batch := alert.Decode(e.result.Alert)
		if batch || len(items) != 1 || items[0].Alert == nil {
			continue
		}
		opens = append(opens, open{handles[i], e})
		alerts = append(alerts, items[0].Alert)
	}
	if len(opens) == 0 {
		return
	}
	answers := k.Tracer.Once().Trace(ctx, alerts)

	type emit struct {
		open
		value  string
		result alert.Result
	}
	var emits []emit
	resolvedAt := now.UTC().Format(time.RFC3339)
	for i, o := range opens {
		old, got := o.e.result, answers[i]
		r := got
		r.AlertID, r.Alert, r.WaitedMS = old.AlertID, old.Alert, old.WaitedMS
		r.Late, r.ResolvedAt, r.PendingUntil = true, resolvedAt, ""
		until := int64(0)
		switch {
		case old.Status == alert.Untraced && got.Status == alert.Traced:
			until = o.e.until // open to corrections for the rest of the window
			r.Reason = joinReason("resolved late: the log record arrived after the answer", got.Reason)
		case old.Status == alert.Untraced && got.Status == alert.Ambiguous:
			r.Reason = joinReason("resolved late", got.Reason)
		case old.Status == alert.Traced && got.Status == alert.Ambiguous:
			r.Supersedes = alert.Traced
			r.Reason = joinReason("correction: a later record adds an endpoint to the traced answer", got.Reason)
		default:
			continue // nothing new: still no record, or the same answer
		}
		v, err := encodeEntry(until, &r)
		if err != nil {
			continue
		}
		emits = append(emits, emit{o, v, r})
	}
	if len(emits) == 0 {
		return
	}

	lease := k.Lease
	if lease <= 0 {
		lease = DefaultLease
	}
	pipe = k.RDB.Pipeline()
	claims := make([]*redis.Cmd, len(emits))
	for i, e := range emits {
		claims[i] = claim.Eval(ctx, pipe, []string{entryKey(e.h), lockKey(e.h)}, e.e.raw, strconv.FormatInt(lease.Milliseconds(), 10))
	}
	if err := store.Exec(ctx, k.RDB, pipe); err != nil {
		log.Error("late results not claimed; the alerts stay pending", "err", err)
		return
	}
	won := emits[:0]
	for i, e := range emits {
		if n, _ := claims[i].Int(); n == 1 {
			won = append(won, e)
		}
	}
	if len(won) == 0 {
		return
	}
	rs := make([]alert.Result, len(won))
	for i, e := range won {
		rs[i] = e.result
	}
	if k.Recorder != nil {
		if err := k.Recorder.Record(ctx, rs); err != nil {
			// Not recorded: release the claims, so the alerts stay pending
			// and a later record resolves them.
			log.Error("late results not recorded; the alerts stay pending", "results", len(rs), "err", err)
			pipe = k.RDB.Pipeline()
			for _, e := range won {
				pipe.Del(ctx, lockKey(e.h))
			}
			if err := store.Exec(ctx, k.RDB, pipe); err != nil {
				log.Error("claims not released; they lapse after their lease", "err", err)
			}
			return
		}
	}
	pipe = k.RDB.Pipeline()
	for _, e := range won {
		commit.Eval(ctx, pipe, []string{entryKey(e.h), lockKey(e.h)}, e.value)
	}
	if err := store.Exec(ctx, k.RDB, pipe); err != nil {
		// Recorded, but the entry still reads as before: the claims lapse
		// and a later record may resolve these again (a duplicate, never a
		// loss).
		log.Error("late results recorded but not committed", "results", len(rs), "err", err)
	}
	counts := map[string]int{}
	for _, r := range rs {
		if r.Supersedes != "" {
			counts["correction"]++
		} else {
			counts[string(r.Status)]++
		}
	}
	log.Info("late results", "results", len(rs), "kinds", counts)
	k.Callback.Post(ctx, rs)
}

func joinReason(a, b string) string {
	if b == "" {
		return a
	}
	return a + "; " + b
}

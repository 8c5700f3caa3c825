// Package pending is late resolution (DESIGN.md, "Late resolution"): an
// alert answered untraced stays pending for TRACE_LATE_WINDOW, and a traced
// answer stays open to corrections as long; the ingest invocation that
// writes a record explaining it records the late result (and POSTs it to
// CALLBACK_URL) before it returns. It also keeps every answer for lookup.
//
// Redis layout (see README, "Late results"):
//
//	ndr:la:{<h>}               string: "<open-until unix> <latest result JSON>", TTL window+Grace
//	ndr:lk:{<h>}               string: claim of a resolution in progress (lease)
//	ndr:li:<egress>/<bucket>   hash: tuple fingerprint -> handles (8 bytes each) of the alerts open there
//	ndr:lf:{ndr:li:<e>/<b>}    string: the hash's fingerprints, 8 bytes each, in the order added
//
// <h> is the handle of an alert id (8 bytes of its SHA-256, in hex); the
// entry holds the id, so a collision is detected, not believed. The index is
// keyed like the mapping store (store.EgressString, store.BucketSeconds) but
// by the alert's time, and a writer fans its records' windows out to the
// buckets they cover. It is only a prefilter: whether a record explains an
// alert is decided by the tracer's own lookup and resolution (trace.Tracer.Once).
package pending

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ndrtrace/ndrtrace/shared/alert"
	"github.com/ndrtrace/ndrtrace/shared/fcenv"
	"github.com/ndrtrace/ndrtrace/shared/results"
	"github.com/ndrtrace/ndrtrace/shared/store"
	"github.com/ndrtrace/ndrtrace/shared/trace"
)

// Grace is how long an answer stays readable by lookup after its window.
const Grace = 10 * time.Minute

// DefaultLease bounds a claim: a resolver that dies between claiming and
// committing leaves the alert pending again after it.
const DefaultLease = 2 * time.Minute

// Keeper keeps answers open and resolves them late. A nil Keeper is late
// resolution turned off (TRACE_LATE_WINDOW=0): every method is a no-op and
// lookup knows nothing.
type Keeper struct {
	RDB    redis.UniversalClient
	Window time.Duration // TRACE_LATE_WINDOW
	Skew   time.Duration // TIME_SKEW: the index must cover what the tracer would match
	// Tracer answers from the store as it is now (its Once is used); the
	// trace function passes its own, ingest one over the same store and
	// address book.
	Tracer   *trace.Tracer
	Recorder results.Recorder // nil: results are not recorded (no RESULTS_*)
	Callback *Callback        // nil: no CALLBACK_URL
	Lease    time.Duration    // default DefaultLease
	Now      func() time.Time
}

func (k *Keeper) now() time.Time {
	if k.Now != nil {
		return k.Now()
	}
	return time.Now()
}

// Handle is the compact name of an alert id in keys and the index.
type Handle [8]byte

// HandleOf hashes an alert id.
func HandleOf(id string) Handle {
	s := sha256.Sum256([]byte(id))
	return Handle(s[:8])
}

func (h Handle) String() string { return hex.EncodeToString(h[:]) }

// entryKey and lockKey share a hash tag, so that the claim script (which
// touches both) runs on a Redis Cluster.
func entryKey(h Handle) string { return "ndr:la:{" + h.String() + "}" }
func lockKey(h Handle) string  { return "ndr:lk:{" + h.String() + "}" }

// indexKey names the alerts open at an egress (as the store names it) in
// one time bucket of the alerts' times.
func indexKey(egress string, bucket int64) string {
	return "ndr:li:" + egress + "/" + strconv.FormatInt(bucket, 10)
}

// fpsKey names the packed list of an index's fingerprints: one GET tells a
// writer which tuples are open there, one allocation however many. Its
// hash tag is the index key, so both share a Redis Cluster slot (the
// index key has no tag: its slot is that of its whole name).
func fpsKey(index string) string { return "ndr:lf:{" + index + "}" }

// An index field is a fingerprint: store.TupleHash of what a record and an
// alert share of a tuple besides the egress (protocol, egress port, peer
// address; not the peer's port, which ALB records may lack), as 8
// big-endian bytes.
func fpField(fp uint64) string {
	var out [8]byte
	binary.BigEndian.PutUint64(out[:], fp)
	return string(out[:])
}

// fpOf reads an index field back; ok is false for a field that is not one.
func fpOf(field string) (fp uint64, ok bool) {
	if len(field) != 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64([]byte(field)), true
}

// entry is an alert's latest answer and how long it stays open (0: closed,
// kept for lookup only).
type entry struct {
	until  int64
	result alert.Result
	raw    string // the value as read, for the claim's compare
}

func encodeEntry(until int64, r *alert.Result) (string, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return "", err
	}
	return strconv.FormatInt(until, 10) + " " + string(b), nil
}

// resultJSON splits an entry's value.
func resultJSON(v string) (until int64, js string, ok bool) {
	sp := strings.IndexByte(v, ' ')
	if sp < 0 {
		return 0, "", false
	}
	until, err := strconv.ParseInt(v[:sp], 10, 64)
	if err != nil {
		return 0, "", false
	}
	return until, v[sp+1:], true
}

func decodeEntry(v string) (entry, bool) {
	until, js, ok := resultJSON(v)
	if !ok {
		return entry{}, false
	}
	e := entry{until: until, raw: v}
	if json.Unmarshal([]byte(js), &e.result) != nil {
		return entry{}, false
	}
	return e, true
}

// indexAdd appends a handle to a fingerprint's list, once, adds a new
// fingerprint to the packed list, and renews both keys' life. A script, so
// that concurrent traces do not lose each other's handles.
var indexAdd = redis.NewScript(`
local v = redis.call('HGET', KEYS[1], ARGV[1])
if v then
  for i = 1, #v, 8 do
    if string.sub(v, i, i + 7) == ARGV[2] then
      redis.call('EXPIRE', KEYS[1], ARGV[3])
      redis.call('EXPIRE', KEYS[2], ARGV[3])
      return 0
    end
  end
  v = v .. ARGV[2]
else
  v = ARGV[2]
  redis.call('APPEND', KEYS[2], ARGV[1])
end
redis.call('HSET', KEYS[1], ARGV[1], v)
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return 1`)

// Finish implements trace.Finisher: every answer is kept for lookup; an
// untraced one stays pending (and says until when), a traced one open to
// corrections, both indexed where a writer will look. When Redis cannot
// keep them the answers go out without pending_until: nothing promised is
// broken.
func (k *Keeper) Finish(ctx context.Context, finals []trace.Final) {
	if k == nil || len(finals) == 0 {
		return
	}
	now := k.now()
	until := now.Add(k.Window)
	life := k.Window + Grace
	indexLife := strconv.Itoa(int(life/time.Second) + store.BucketSeconds)
	pipe := k.RDB.Pipeline()
	var untraced []Handle
	var promised []*alert.Result
	for _, f := range finals {
		r := f.Result
		if r.AlertID == "" {
			continue
		}
		h := HandleOf(r.AlertID)
		open := (r.Status == alert.Untraced || r.Status == alert.Traced) && len(f.Queries) > 0
		var openUntil int64
		if open {
			openUntil = until.Unix()
			if r.Status == alert.Untraced {
				r.PendingUntil = until.UTC().Format(time.RFC3339)
				promised = append(promised, r)
				untraced = append(untraced, h)
			}
			k.index(ctx, pipe, h, f.Queries, indexLife)
		}
		v, err := encodeEntry(openUntil, r)
		if err != nil {
			continue
		}
		pipe.Set(ctx, entryKey(h), v, life)
	}
	if err := store.Exec(ctx, k.RDB, pipe); err != nil {
		fcenv.Logger(ctx).Error("answers not kept for late resolution and lookup", "alerts", len(finals), "err", err)
		for _, r := range promised {
			r.PendingUntil = ""
		}
		return
	}
	// A record may have landed between the tracer's last look and the
	// index above, and its ingest found nothing pending: look once more.
	if len(untraced) > 0 {
		k.resolve(ctx, untraced)
	}
}

// index adds an alert under every egress and fingerprint its lookups read.
func (k *Keeper) index(ctx context.Context, pipe redis.Pipeliner, h Handle, qs []store.Query, life string) {
	seen := map[string]bool{}
	for _, q := range qs {
		fp := fpField(store.TupleHash(q.Proto, q.Port, q.Peer.Addr))
		b := q.At / store.BucketSeconds
		for _, e := range q.Egress {
			key := indexKey(store.EgressString(e), b)
			if seen[key+fp] {
				continue
			}
			seen[key+fp] = true
			indexAdd.Eval(ctx, pipe, []string{key, fpsKey(key)}, fp, string(h[:]), life)
		}
	}
}

// Lookup answers {"lookup": [ids]}: each id's latest result, or status
// unknown, in the order asked.
func (k *Keeper) Lookup(ctx context.Context, ids []string) ([]json.RawMessage, error) {
	out := make([]json.RawMessage, len(ids))
	var cmds []*redis.StringCmd
	if k != nil && len(ids) > 0 {
		pipe := k.RDB.Pipeline()
		cmds = make([]*redis.StringCmd, len(ids))
		for i, id := range ids {
			cmds[i] = pipe.Get(ctx, entryKey(HandleOf(id)))
		}
		if err := store.Exec(ctx, k.RDB, pipe); err != nil {
			return nil, fmt.Errorf("read %d answers: %w", len(ids), err)
		}
	}
	for i, id := range ids {
		if cmds != nil {
			if v, err := cmds[i].Result(); err == nil {
				if _, js, ok := resultJSON(v); ok && idOf(js) == id {
					out[i] = json.RawMessage(js)
					continue
				}
			}
		}
		out[i], _ = json.Marshal(map[string]string{"alert_id": id, "status": "unknown"})
	}
	return out, nil
}

// idOf reads the alert_id of a result without decoding the rest.
func idOf(js string) string {
	var r struct {
		ID string `json:"alert_id"`
	}
	if json.Unmarshal([]byte(js), &r) != nil {
		return ""
	}
	return r.ID
}

package pending_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ndrtrace/ndrtrace/infra/local/redisd"
	"github.com/ndrtrace/ndrtrace/shared/alert"
	"github.com/ndrtrace/ndrtrace/shared/config"
	"github.com/ndrtrace/ndrtrace/shared/egress"
	"github.com/ndrtrace/ndrtrace/shared/mapping"
	"github.com/ndrtrace/ndrtrace/shared/pending"
	"github.com/ndrtrace/ndrtrace/shared/store"
	"github.com/ndrtrace/ndrtrace/shared/trace"
	"github.com/ndrtrace/ndrtrace/shared/tuple"
)

var rdb *redis.Client

func TestMain(m *testing.M) { redisd.TestMain(m, &rdb) }

const (
	eip    = "47.100.1.85"
	remote = "106.11.22.203"
)

var t0 = time.Now().Add(-5 * time.Minute).Truncate(time.Minute).Unix()

// recorder keeps what the keeper records; fail makes Record fail.
type recorder struct {
	mu   sync.Mutex
	rs   []alert.Result
	fail bool
}

func (r *recorder) Record(_ context.Context, rs []alert.Result) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		return errors.New("results logstore down")
	}
	r.rs = append(r.rs, rs...)
	return nil
}

func (r *recorder) take() []alert.Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.rs
	r.rs = nil
	return out
}

type fixture struct {
	st  *store.Store
	tr  *trace.Tracer
	k   *pending.Keeper
	rec *recorder
}

func setup(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	rdb.FlushDB(ctx)
	book, err := egress.ParseStatic(fmt.Sprintf(`[{"type":"nat","id":"ngw-1","vpc_id":"vpc-1","public_ip":%q,"account_id":"1234","region":"cn-hangzhou"}]`, eip))
	if err != nil {
		t.Fatal(err)
	}
	st := store.New(rdb, time.Hour)
	rec := &recorder{}
	tr := &trace.Tracer{Store: st, Book: book, Config: trace.Config{MaxWait: time.Millisecond, Skew: time.Minute}}
	k := &pending.Keeper{RDB: rdb, Window: 30 * time.Minute, Skew: time.Minute, Tracer: tr, Recorder: rec}
	t2 := *tr
	t2.Finish = k
	return &fixture{st: st, tr: &t2, k: k, rec: rec}
}

func rec(port uint16, pri string, start, end int64) mapping.Mapping {
	return mapping.Mapping{Kind: mapping.KindNAT, EgressID: "ngw-1", VPC: "vpc-1",
		Egress: mapping.Egress{Addr: netip.MustParseAddr(eip)}, Proto: tuple.TCP, Port: port,
		Peer:  tuple.Endpoint{Addr: netip.MustParseAddr(remote), Port: 443},
		Start: start, End: end, Private: tuple.Endpoint{Addr: netip.MustParseAddr(pri), Port: 47176}}
}

func alertOf(t *testing.T, id string, port uint16, at int64) *alert.Alert {
	t.Helper()
	body := fmt.Sprintf(`{"alert_id":%q,"time":%d,"protocol":"tcp","src_ip":%q,"src_port":%d,"dst_ip":%q,"dst_port":443}`, id, at, eip, port, remote)
	items, _ := alert.Decode([]byte(body))
	if items[0].Alert == nil {
		t.Fatalf("test alert invalid: %v", items[0].Invalid)
	}
	return items[0].Alert
}

// traceNow answers alerts with no wait; each untraced one becomes pending.
func (f *fixture) traceNow(t *testing.T, as ...*alert.Alert) []alert.Result {
	t.Helper()
	return f.tr.Trace(context.Background(), as)
}

func (f *fixture) write(t *testing.T, ms ...mapping.Mapping) {
	t.Helper()
	if err := f.st.Write(context.Background(), ms); err != nil {
		t.Fatal(err)
	}
	f.k.Written(context.Background(), ms)
}

func (f *fixture) lookup(t *testing.T, id string) alert.Result {
	t.Helper()
	raw, err := f.k.Lookup(context.Background(), []string{id})
	if err != nil {
		t.Fatal(err)
	}
	var r alert.Result
	if err := json.Unmarshal(raw[0], &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestUntracedIsResolvedOnceByTheRecordThatExplainsIt(t *testing.T) {
	f := setup(t)
	rs := f.traceNow(t, alertOf(t, "a1", 50001, t0+30), alertOf(t, "a2", 50002, t0+30))
	for _, r := range rs {
		if r.Status != alert.Untraced || r.PendingUntil == "" {
			t.Fatalf("%s: %s pending_until %q", r.AlertID, r.Status, r.PendingUntil)
		}
	}
	// A record of another tuple resolves nothing.
	f.write(t, rec(50003, "172.16.0.3", t0, t0+600))
	if got := f.rec.take(); len(got) != 0 {
		t.Fatalf("unrelated record resolved %+v", got)
	}
	f.write(t, rec(50001, "172.16.0.1", t0, t0+600))
	got := f.rec.take()
	if len(got) != 1 || got[0].AlertID != "a1" || got[0].Status != alert.Traced || !got[0].Late || got[0].ResolvedAt == "" ||
		got[0].Asset == nil || got[0].Asset.PrivateIP != "172.16.0.1" || !json.Valid(got[0].Alert) {
		t.Fatalf("late results %+v", got)
	}
	if r := f.lookup(t, "a1"); r.Status != alert.Traced || !r.Late {
		t.Fatalf("lookup a1: %+v", r)
	}
	if r := f.lookup(t, "a2"); r.Status != alert.Untraced || r.PendingUntil == "" {
		t.Fatalf("lookup a2: %+v", r)
	}
	if r := f.lookup(t, "nope"); r.Status != "unknown" || r.AlertID != "nope" {
		t.Fatalf("lookup unknown: %+v", r)
	}
	// A replay of the record emits nothing new.
	f.write(t, rec(50001, "172.16.0.1", t0, t0+600))
	if got := f.rec.take(); len(got) != 0 {
		t.Fatalf("replay emitted %+v", got)
	}
}

func TestCorrectionWhenALaterRecordAddsAnEndpoint(t *testing.T) {
	f := setup(t)
	f.write(t, rec(50010, "172.16.0.10", t0, t0+600))
	if rs := f.traceNow(t, alertOf(t, "c1", 50010, t0+30)); rs[0].Status != alert.Traced {
		t.Fatalf("first answer %+v", rs[0])
	}
	f.write(t, rec(50010, "172.16.0.11", t0+10, t0+600))
	got := f.rec.take()
	if len(got) != 1 || got[0].Status != alert.Ambiguous || got[0].Supersedes != alert.Traced || !got[0].Late {
		t.Fatalf("correction %+v", got)
	}
}

func TestFailedRecordingKeepsTheAlertPending(t *testing.T) {
	f := setup(t)
	f.traceNow(t, alertOf(t, "p1", 50020, t0+30))
	f.rec.fail = true
	f.write(t, rec(50020, "172.16.0.20", t0, t0+600))
	if r := f.lookup(t, "p1"); r.Status != alert.Untraced {
		t.Fatalf("after a failed recording: %+v", r)
	}
	f.rec.fail = false
	f.write(t, rec(50020, "172.16.0.20", t0, t0+600)) // a later ingest of the record
	if got := f.rec.take(); len(got) != 1 || got[0].AlertID != "p1" || got[0].Status != alert.Traced {
		t.Fatalf("after recovery: %+v", got)
	}
}

func TestClosedWindowResolvesNothing(t *testing.T) {
	f := setup(t)
	f.traceNow(t, alertOf(t, "w1", 50030, t0+30))
	f.k.Now = func() time.Time { return time.Now().Add(31 * time.Minute) }
	f.write(t, rec(50030, "172.16.0.30", t0, t0+600))
	if got := f.rec.take(); len(got) != 0 {
		t.Fatalf("resolved after the window: %+v", got)
	}
}

// An index is matched through its packed list of fingerprints; an index
// without one (written before the list existed) is read by all the batch's
// fingerprints: each way finds exactly the alerts the batch's records
// explain, among many pending on the same EIP, small batch or large.
func TestEveryIndexReadFindsTheSameAlerts(t *testing.T) {
	for _, tc := range []struct {
		batch  int
		packed bool
	}{{3, true}, {2000, true}, {3, false}, {2000, false}} {
		t.Run(fmt.Sprintf("%d records, packed list %v", tc.batch, tc.packed), func(t *testing.T) {
			batch := tc.batch
			f := setup(t)
			var as []*alert.Alert
			for i := range 500 {
				as = append(as, alertOf(t, fmt.Sprint("b", i), uint16(20000+i), t0+30))
			}
			f.traceNow(t, as...)
			if !tc.packed {
				keys, _ := rdb.Keys(context.Background(), "ndr:lf:*").Result()
				if len(keys) == 0 {
					t.Fatal("no packed list was written")
				}
				rdb.Del(context.Background(), keys...)
			}
			var ms []mapping.Mapping
			for i := range batch - 3 { // tuples no alert waits on
				ms = append(ms, rec(uint16(40000+i), "172.16.1.1", t0, t0+600))
			}
			// Three explaining records: alerts b7, b250, b499.
			for _, i := range []int{7, 250, 499} {
				ms = append(ms, rec(uint16(20000+i), fmt.Sprint("172.16.2.", i%250), t0, t0+600))
			}
			f.write(t, ms...)
			got := map[string]bool{}
			for _, r := range f.rec.take() {
				if r.Status != alert.Traced || !r.Late {
					t.Fatalf("%+v", r)
				}
				got[r.AlertID] = true
			}
			if len(got) != 3 || !got["b7"] || !got["b250"] || !got["b499"] {
				t.Fatalf("resolved %v, want b7, b250, b499", got)
			}
		})
	}
}

// Turned off (a nil Keeper, TRACE_LATE_WINDOW=0): nothing is kept, and
// lookup knows no id.
func TestNilKeeperIsOff(t *testing.T) {
	var k *pending.Keeper
	k.Finish(context.Background(), []trace.Final{{}})
	k.Written(context.Background(), []mapping.Mapping{rec(1, "172.16.0.1", t0, t0+1)})
	raw, err := k.Lookup(context.Background(), []string{"x"})
	if err != nil || len(raw) != 1 {
		t.Fatal(raw, err)
	}
	var r alert.Result
	if json.Unmarshal(raw[0], &r) != nil || r.Status != "unknown" {
		t.Fatalf("%s", raw[0])
	}
}

// On a Redis Cluster every script's keys share a slot (the claim's entry
// and lock, the index and its packed list): alerts become pending and are
// resolved as on a single server.
func TestOnARedisCluster(t *testing.T) {
	cc := redisd.TestCluster(t, 3)
	f := setup(t)
	f.st = store.New(cc, time.Hour)
	f.tr.Store, f.k.RDB = f.st, cc
	f.k.Tracer = &trace.Tracer{Store: f.st, Book: f.tr.Book, Config: f.tr.Config}
	var as []*alert.Alert
	for i := range 40 {
		as = append(as, alertOf(t, fmt.Sprint("k", i), uint16(30000+i), t0+30))
	}
	for _, r := range f.traceNow(t, as...) {
		if r.Status != alert.Untraced || r.PendingUntil == "" {
			t.Fatalf("%s: %s %q pending_until %q", r.AlertID, r.Status, r.Reason, r.PendingUntil)
		}
	}
	var ms []mapping.Mapping
	for i := range 40 {
		ms = append(ms, rec(uint16(30000+i), "172.16.3.1", t0, t0+600))
	}
	f.write(t, ms...)
	if got := f.rec.take(); len(got) != 40 {
		t.Fatalf("%d of 40 resolved on the cluster", len(got))
	}
}

// As the least-privilege Redis user (config.RedisACL) over TLS, late
// resolution works: its failures are only logged (they must not fail an
// ingest), so a command missing from the ACL would otherwise go unseen.
func TestAsTheLimitedRedisUser(t *testing.T) {
	ctx := context.Background()
	srv, err := redisd.StartSecure(ctx, redisd.Secure{User: "ndrtrace", Password: "pw-late", ACL: config.RedisACL()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	c, err := config.Load(func(k string) string {
		return map[string]string{"REDIS_URL": srv.URL(), "REDIS_CA_CERT": string(srv.CAPEM)}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	limited, err := c.Redis()
	if err != nil {
		t.Fatal(err)
	}
	defer limited.Close()
	f := setup(t)
	f.st = store.New(limited, time.Hour)
	f.tr.Store, f.k.RDB = f.st, limited
	f.k.Tracer = &trace.Tracer{Store: f.st, Book: f.tr.Book, Config: f.tr.Config}
	if r := f.traceNow(t, alertOf(t, "acl-1", 30500, t0+30))[0]; r.Status != alert.Untraced || r.PendingUntil == "" {
		t.Fatalf("%s %q pending_until %q", r.Status, r.Reason, r.PendingUntil)
	}
	f.write(t, rec(30500, "172.16.4.1", t0, t0+600))
	if got := f.rec.take(); len(got) != 1 || got[0].Status != alert.Traced {
		t.Fatalf("late results as the limited user: %+v", got)
	}
	if r := f.lookup(t, "acl-1"); r.Status != alert.Traced || !r.Late {
		t.Fatalf("lookup: %+v", r)
	}
}

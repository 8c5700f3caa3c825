package trace_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ndrtrace/ndrtrace/infra/local/redisd"
	"github.com/ndrtrace/ndrtrace/shared/alert"
	"github.com/ndrtrace/ndrtrace/shared/egress"
	"github.com/ndrtrace/ndrtrace/shared/mapping"
	"github.com/ndrtrace/ndrtrace/shared/store"
	"github.com/ndrtrace/ndrtrace/shared/trace"
	"github.com/ndrtrace/ndrtrace/shared/tuple"
)

var rdb *redis.Client

func TestMain(m *testing.M) { redisd.TestMain(m, &rdb) }

const (
	eip    = "47.100.1.85"
	eipPri = "172.16.10.13"
	remote = "106.11.22.203"
)

var t0 = time.Date(2025, 2, 5, 14, 50, 0, 0, time.UTC).Unix()

func rec(natIP, pri string, natPort uint16, start, end int64) mapping.Mapping {
	m := mapping.Mapping{Kind: mapping.KindNAT, EgressID: "ngw-1", VPC: "vpc-1",
		Egress: mapping.Egress{Addr: netip.MustParseAddr(natIP)}, Proto: tuple.TCP, Port: natPort,
		Peer:  tuple.Endpoint{Addr: netip.MustParseAddr(remote), Port: 443},
		Start: start, End: end, Private: tuple.Endpoint{Addr: netip.MustParseAddr(pri), Port: 47176}}
	if tuple.IsPrivate(m.Egress.Addr) {
		m.Egress.Scope = "vpc-1"
	}
	return m
}

func alertJSON(id string, src string, sport int, dst string, dport int, at int64) []byte {
	return []byte(fmt.Sprintf(`{"alert_id":%q,"time":%d,"protocol":"tcp","src_ip":%q,"src_port":%d,"dst_ip":%q,"dst_port":%d,"rule":"c2-beacon"}`,
		id, at, src, sport, dst, dport))
}

func decode(t *testing.T, body []byte) *alert.Alert {
	t.Helper()
	items, _ := alert.Decode(body)
	if items[0].Alert == nil {
		t.Fatalf("test alert invalid: %v", items[0].Invalid)
	}
	return items[0].Alert
}

func tracer(t *testing.T, maxWait time.Duration) (*trace.Tracer, *store.Store) {
	t.Helper()
	ctx := context.Background()
	rdb.FlushDB(ctx)
	st := store.New(rdb, time.Hour)
	book, err := egress.ParseStatic(fmt.Sprintf(`[{"type":"nat","id":"ngw-1","vpc_id":"vpc-1","public_ip":%q,"private_ip":%q,"account_id":"1234","region":"cn-hangzhou"}]`, "47.100.9.9", eipPri))
	if err != nil {
		t.Fatal(err)
	}
	w := trace.NewWaker(ctx, rdb)
	t.Cleanup(func() { w.Close() })
	return &trace.Tracer{Store: st, Book: book, Waker: w,
		Config: trace.Config{MaxWait: maxWait, Skew: time.Minute, MinBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}}, st
}

func TestTrace(t *testing.T) {
	tests := []struct {
		name    string
		records []mapping.Mapping
		alert   []byte
		status  alert.Status
		assets  []string
	}{
		{"exact match", []mapping.Mapping{rec(eip, "172.16.20.21", 48155, t0, t0+600)},
			alertJSON("a", eip, 48155, remote, 443, t0+430), alert.Traced, []string{"172.16.20.21"}},
		{"reversed orientation", []mapping.Mapping{rec(eip, "172.16.20.21", 48155, t0, t0+600)},
			alertJSON("a", remote, 443, eip, 48155, t0+430), alert.Traced, []string{"172.16.20.21"}},
		{"port reuse resolves by time", []mapping.Mapping{rec(eip, "172.16.20.21", 48155, t0, t0+600), rec(eip, "172.16.20.22", 48155, t0+1800, t0+2400)},
			alertJSON("a", eip, 48155, remote, 443, t0+2000), alert.Traced, []string{"172.16.20.22"}},
		{"overlapping hosts are ambiguous", []mapping.Mapping{rec(eip, "172.16.20.21", 48155, t0, t0+600), rec(eip, "172.16.20.22", 48155, t0+550, t0+1150)},
			alertJSON("a", eip, 48155, remote, 443, t0+580), alert.Ambiguous, []string{"172.16.20.21", "172.16.20.22"}},
		{"NAT mode private nat_ip through the address book", []mapping.Mapping{rec(eipPri, "172.16.20.23", 48155, t0, t0+600)},
			alertJSON("a", "47.100.9.9", 48155, remote, 443, t0+100), alert.Traced, []string{"172.16.20.23"}},
		{"same host in two records is traced", []mapping.Mapping{rec(eip, "172.16.20.21", 48155, t0, t0+600), rec(eip, "172.16.20.21", 48155, t0+600, t0+1200)},
			alertJSON("a", eip, 48155, remote, 443, t0+600), alert.Traced, []string{"172.16.20.21"}},
		{"no record: untraced", nil, alertJSON("a", eip, 48155, remote, 443, t0), alert.Untraced, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, st := tracer(t, 300*time.Millisecond)
			if err := st.Write(context.Background(), tt.records); err != nil {
				t.Fatal(err)
			}
			a := decode(t, tt.alert)
			r := tr.Trace(context.Background(), []*alert.Alert{a})[0]
			if r.Status != tt.status {
				t.Fatalf("status %s (%s), want %s", r.Status, r.Reason, tt.status)
			}
			var got []string
			if r.Asset != nil {
				got = append(got, r.Asset.PrivateIP)
			}
			for _, c := range r.Candidates {
				got = append(got, c.PrivateIP)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.assets) {
				t.Fatalf("assets %v, want %v", got, tt.assets)
			}
			if string(r.Alert) != string(tt.alert) || r.AlertID != "a" {
				t.Fatalf("alert not carried verbatim: %s", r.Alert)
			}
			if r.Status == alert.Traced {
				if r.Asset.VPCID != "vpc-1" || r.Egress == nil || r.Egress.Type != "nat" || r.Egress.ID != "ngw-1" {
					t.Fatalf("asset %+v egress %+v", r.Asset, r.Egress)
				}
			}
		})
	}
}

// The backoff is an hour here: only a wake-up can answer before the guard
// (30 s) cancels the trace. Without wake-ups the answer would come at the
// guard's last look, with waited_ms >= 30000.
func TestMappingLandingMidWait(t *testing.T) {
	tr, st := tracer(t, time.Hour)
	tr.Config.MinBackoff, tr.Config.MaxBackoff = time.Hour, time.Hour
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go func() {
		time.Sleep(300 * time.Millisecond)
		st.Write(context.Background(), []mapping.Mapping{rec(eip, "172.16.20.21", 48155, t0, t0+600)})
	}()
	r := tr.Trace(ctx, []*alert.Alert{decode(t, alertJSON("late", eip, 48155, remote, 443, t0+10))})[0]
	if r.Status != alert.Traced || r.Asset.PrivateIP != "172.16.20.21" {
		t.Fatalf("got %s %s", r.Status, r.Reason)
	}
	if r.WaitedMS < 250 || r.WaitedMS >= 30000 {
		t.Fatalf("waited_ms = %d: the record was written after 300ms, and only a wake-up answers before 30s", r.WaitedMS)
	}
}

// wakeUp starts a trace of alerts with hour-long backoff steps, writes
// batch once the first look is over, and stops the trace once the wake-up's
// look is done. It returns the results (the first alert is the one the
// batch answers; every other must stay untraced) and the GETs the wake-up
// issued.
func wakeUp(t *testing.T, tr *trace.Tracer, st *store.Store, alerts []*alert.Alert, batch []mapping.Mapping) ([]alert.Result, int64) {
	t.Helper()
	tr.Config.MinBackoff, tr.Config.MaxBackoff = time.Hour, time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan []alert.Result)
	go func() { done <- tr.Trace(ctx, alerts) }()
	time.Sleep(300 * time.Millisecond) // the first full look is over
	before := redisd.MustCalls(t, rdb, "get")
	if err := st.Write(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	// Wait for the concerned alert's answer to be looked up, then stop.
	deadline := time.Now().Add(20 * time.Second)
	for redisd.MustCalls(t, rdb, "get")-before < 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	woken := redisd.MustCalls(t, rdb, "get") - before
	cancel()
	rs := <-done
	for _, r := range rs[1:] {
		if r.Status != alert.Untraced {
			t.Fatalf("alert %s: %s %s", r.AlertID, r.Status, r.Reason)
		}
	}
	t.Logf("the wake-up issued %d GETs", woken)
	return rs, woken
}

// A wake-up looks up only the alerts whose egress was written: the other
// alerts of the batch are not looked up again until their backoff step.
func TestWakeUpLooksUpOnlyTheAlertsItConcerns(t *testing.T) {
	tr, st := tracer(t, time.Hour)
	alerts := []*alert.Alert{decode(t, alertJSON("a", eip, 48155, remote, 443, t0+10))}
	for i := range 50 { // on egresses nothing is written to
		alerts = append(alerts, decode(t, alertJSON(fmt.Sprint("o", i), fmt.Sprint("47.100.2.", i+1), 1000+i, remote, 443, t0+10)))
	}
	rs, woken := wakeUp(t, tr, st, alerts, []mapping.Mapping{rec(eip, "172.16.20.21", 48155, t0, t0+600)})
	if rs[0].Status != alert.Traced {
		t.Fatalf("woken alert: %s %s", rs[0].Status, rs[0].Reason)
	}
	// A look at all 51 alerts reads at least one count per alert and
	// orientation; the woken look reads only the one alert's buckets.
	if woken == 0 || woken > 20 {
		t.Fatalf("the wake-up issued %d GETs; a look at the whole batch issues hundreds", woken)
	}
}

// On a busy egress, a wake-up looks up only the alerts whose tuple the
// batch may hold: 50 other alerts waiting on the same EIP (other ports) are
// left to their backoff. Without the wake message's filter, the woken look
// reads all 51 alerts' buckets: hundreds of GETs.
func TestWakeUpOnASharedEgressLooksUpOnlyItsTuples(t *testing.T) {
	tr, st := tracer(t, time.Hour)
	// A busy EIP: its bucket holds thousands of other sessions, so that
	// each tuple has a slot of its own to read.
	var busy []mapping.Mapping
	for i := range 5000 {
		busy = append(busy, rec(eip, "172.16.30.1", uint16(1024+i), t0, t0+600))
	}
	if err := st.Write(context.Background(), busy); err != nil {
		t.Fatal(err)
	}
	var alerts []*alert.Alert
	for i := range 51 {
		alerts = append(alerts, decode(t, alertJSON(fmt.Sprint("a", i), eip, 40000+i, remote, 443, t0+10)))
	}
	// Another tuple of the EIP (no alert waits on it) and alert a0's.
	rs, woken := wakeUp(t, tr, st, alerts, []mapping.Mapping{rec(eip, "172.16.20.22", 39999, t0, t0+600), rec(eip, "172.16.20.21", 40000, t0, t0+600)})
	if rs[0].Status != alert.Traced || rs[0].Asset.PrivateIP != "172.16.20.21" {
		t.Fatalf("woken alert: %s %s %+v", rs[0].Status, rs[0].Reason, rs[0].Asset)
	}
	if woken == 0 || woken > 30 {
		t.Fatalf("the wake-up issued %d GETs; a look at all 51 alerts of the EIP issues hundreds", woken)
	}
}

func TestDeadlineBoundsTheWait(t *testing.T) {
	tr, _ := tracer(t, time.Hour)
	tr.Config.Reserve = 100 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
	defer cancel()
	r := tr.Trace(ctx, []*alert.Alert{decode(t, alertJSON("d", eip, 1, remote, 443, t0))})[0]
	// The wall is an hour; only the deadline can have ended the wait.
	if r.Status != alert.Untraced || r.WaitedMS > 10000 {
		t.Fatalf("got %s after %dms", r.Status, r.WaitedMS)
	}
}

// A trace cancelled while it waits answers untraced (with one last look
// that still finds what was written), never error.
func TestCancelledTraceAnswersUntraced(t *testing.T) {
	tr, st := tracer(t, time.Hour)
	tr.Waker = nil // the record below is found by the last look alone
	tr.Config.MinBackoff, tr.Config.MaxBackoff = time.Hour, time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		time.Sleep(200 * time.Millisecond)
		st.Write(context.Background(), []mapping.Mapping{rec(eip, "172.16.20.21", 48155, t0, t0+600)})
		cancel()
	}()
	rs := tr.Trace(ctx, []*alert.Alert{
		decode(t, alertJSON("found", eip, 48155, remote, 443, t0+10)),
		decode(t, alertJSON("missing", eip, 48156, remote, 443, t0+10)),
	})
	if rs[0].Status != alert.Traced || rs[1].Status != alert.Untraced {
		t.Fatalf("got %s (%s), %s (%s)", rs[0].Status, rs[0].Reason, rs[1].Status, rs[1].Reason)
	}
}

// A lookup that fails while the trace waits is retried at the next step:
// an outage shorter than the wall does not turn an answer into an error,
// and one that lasts to the wall answers error, not untraced.
func TestStoreOutageDuringTheWait(t *testing.T) {
	ctx := context.Background()
	tr, st := tracer(t, 3*time.Second)
	tr.Waker = nil
	if err := rdb.Do(ctx, "ACL", "SETUSER", "flaky", "reset", "on", ">pw", "~*", "&*", "+@all", "-get").Err(); err != nil {
		t.Fatal(err)
	}
	defer rdb.Do(ctx, "ACL", "DELUSER", "flaky")
	c := redis.NewClient(&redis.Options{Addr: rdb.Options().Addr, Username: "flaky", Password: "pw"})
	defer c.Close()
	tr.Store = store.New(c, time.Hour)
	if err := st.Write(ctx, []mapping.Mapping{rec(eip, "172.16.20.21", 48155, t0, t0+600)}); err != nil {
		t.Fatal(err)
	}
	// The outage lasts to the wall.
	r := tr.Trace(ctx, []*alert.Alert{decode(t, alertJSON("down", eip, 48155, remote, 443, t0+10))})[0]
	if r.Status != alert.Error || !strings.Contains(r.Reason, "NOPERM") {
		t.Fatalf("outage to the wall: got %s %q", r.Status, r.Reason)
	}
	// The outage ends half way.
	go func() {
		time.Sleep(500 * time.Millisecond)
		rdb.Do(ctx, "ACL", "SETUSER", "flaky", "+get")
	}()
	r = tr.Trace(ctx, []*alert.Alert{decode(t, alertJSON("back", eip, 48155, remote, 443, t0+10))})[0]
	if r.Status != alert.Traced || r.Asset.PrivateIP != "172.16.20.21" {
		t.Fatalf("after a short outage: got %s %q", r.Status, r.Reason)
	}
}

func TestRedisDownGivesErrorWithAlert(t *testing.T) {
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	tr := &trace.Tracer{Store: store.New(dead, time.Hour), Config: trace.Config{MaxWait: time.Second}}
	body := alertJSON("x", eip, 1, remote, 443, t0)
	r := tr.Trace(context.Background(), []*alert.Alert{decode(t, body)})[0]
	if r.Status != alert.Error || string(r.Alert) != string(body) {
		t.Fatalf("got %+v", r)
	}
	out, _ := json.Marshal(r)
	if !json.Valid(out) {
		t.Fatal("result not JSON")
	}
}

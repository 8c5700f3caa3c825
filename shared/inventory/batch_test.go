package inventory_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ndrtrace/ndrtrace/infra/local/redisd"
	"github.com/ndrtrace/ndrtrace/shared/alert"
	"github.com/ndrtrace/ndrtrace/shared/egress"
	"github.com/ndrtrace/ndrtrace/shared/inventory"
	"github.com/ndrtrace/ndrtrace/shared/mapping"
	"github.com/ndrtrace/ndrtrace/shared/store"
	"github.com/ndrtrace/ndrtrace/shared/trace"
	"github.com/ndrtrace/ndrtrace/shared/tuple"
)

// roundTrips counts the round trips to Redis that touch keys with a
// prefix: a pipeline counts once.
type roundTrips struct {
	mu    sync.Mutex
	count map[string]int
}

func (r *roundTrips) note(cmds []redis.Cmder) {
	seen := map[string]bool{}
	for _, c := range cmds {
		if args := c.Args(); len(args) > 1 {
			key, _ := args[1].(string)
			for _, p := range []string{"ndr:inv:ip:", "ndr:ah:", "ndr:eni:"} {
				if strings.HasPrefix(key, p) {
					seen[p] = true
				}
			}
		}
	}
	r.mu.Lock()
	for p := range seen {
		r.count[p]++
	}
	r.mu.Unlock()
}

func (r *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }
func (r *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, c redis.Cmder) error { r.note([]redis.Cmder{c}); return next(ctx, c) }
}
func (r *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cs []redis.Cmder) error { r.note(cs); return next(ctx, cs) }
}

// A batch traced as the function wires it reads the inventory of all its
// addresses in one round trip and names all its instances in another,
// however many alerts it holds.
func TestBatchReadsTheInventoryOnceAndNamesInOneRoundTrip(t *testing.T) {
	inv0 := fresh(t)
	mustReplace(t, inv0, natAsset())
	if err := inv0.MarkFilled(ctx, since); err != nil {
		t.Fatal(err)
	}
	counted := redis.NewClient(rdb.Options())
	defer counted.Close()
	rt := &roundTrips{count: map[string]int{}}
	counted.AddHook(rt)
	inv := inventory.New(counted)

	at := since.Add(time.Hour)
	hs := map[netip.Addr]inventory.Holder{}
	var ms []mapping.Mapping
	var alerts []*alert.Alert
	peers := []netip.Addr{remote, netip.MustParseAddr("106.11.22.204"), netip.MustParseAddr("106.11.22.205")}
	for i := range 300 {
		pri := netip.AddrFrom4([4]byte{172, 16, 20, byte(1 + i%50)})
		hs[pri] = inventory.Holder{Instance: fmt.Sprintf("i-%02d", 1+i%50), ENI: fmt.Sprintf("eni-%02d", 1+i%50)}
		peer := tuple.Endpoint{Addr: peers[i%len(peers)], Port: 443}
		port := uint16(20000 + i)
		ms = append(ms, mapping.Mapping{Kind: mapping.KindNAT, EgressID: "ngw-1", VPC: "vpc-1",
			Egress: mapping.Egress{Scope: "vpc-1", Addr: priNAT}, Proto: tuple.TCP, Port: port, Peer: peer,
			Start: at.Unix() - 60, End: at.Unix() + 60, Private: tuple.Endpoint{Addr: pri, Port: 40000}})
		alerts = append(alerts, &alert.Alert{ID: fmt.Sprint(i), Time: at, Raw: []byte(`{}`),
			Tuple: tuple.FiveTuple{Proto: tuple.TCP, Src: tuple.Endpoint{Addr: eipNAT, Port: port}, Dst: peer}})
	}
	if _, err := inv0.RecordHolders(ctx, since, map[string]map[netip.Addr]inventory.Holder{"vpc-1": hs}); err != nil {
		t.Fatal(err)
	}
	st := store.New(counted, time.Hour)
	if err := st.Write(ctx, ms); err != nil {
		t.Fatal(err)
	}
	tr := &trace.Tracer{Store: st, Book: inv.WithFallback(egress.Static{}), Coverage: inv,
		Assets: &inventory.Resolver{Inv: inv}, Config: trace.Config{MaxWait: time.Second, Skew: time.Minute}}
	rt.count = map[string]int{}
	rs := tr.Trace(ctx, alerts)
	for i, r := range rs {
		if r.Status != alert.Traced || r.Asset.InstanceID != fmt.Sprintf("i-%02d", 1+i%50) || r.Asset.AccountID != acct || r.Reason != "" {
			t.Fatalf("alert %d: %s %q %+v", i, r.Status, r.Reason, r.Asset)
		}
	}
	if rt.count["ndr:inv:ip:"] != 1 || rt.count["ndr:ah:"] != 1 {
		t.Fatalf("round trips: %v, want one for the inventory and one for naming", rt.count)
	}
}

// An inventory that stops answering (its Redis paused for 30 s) costs a
// batch its coverage, not its wall: the alerts come back as errors, with
// the alert, once the wait's deadline passes.
func TestStalledInventoryAnswersByTheWall(t *testing.T) {
	fresh(t)
	srv, err := redisd.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	stalled := redis.NewClient(&redis.Options{Addr: srv.Addr, ReadTimeout: time.Minute})
	defer stalled.Close()
	inv := inventory.New(stalled)
	mustReplace(t, inv, natAsset())
	if err := stalled.Do(ctx, "CLIENT", "PAUSE", "30000", "ALL").Err(); err != nil {
		t.Fatal(err)
	}
	tr := &trace.Tracer{Store: store.New(rdb, time.Hour), Book: inv.WithFallback(egress.Static{}), Coverage: inv,
		Assets: &inventory.Resolver{Inv: inv}, Config: trace.Config{MaxWait: time.Second, Skew: time.Minute}}
	a := &alert.Alert{ID: "stalled", Time: since.Add(time.Hour), Raw: []byte(`{"alert_id":"stalled"}`),
		Tuple: tuple.FiveTuple{Proto: tuple.TCP, Src: tuple.Endpoint{Addr: eipNAT, Port: 1}, Dst: tuple.Endpoint{Addr: remote, Port: 443}}}
	done := make(chan []alert.Result, 1)
	start := time.Now()
	go func() { done <- tr.Trace(ctx, []*alert.Alert{a}) }()
	select {
	case rs := <-done:
		if r := rs[0]; r.Status != alert.Error || !strings.Contains(r.Reason, "coverage check failed") || string(r.Alert) != string(a.Raw) {
			t.Fatalf("%+v", r)
		}
		t.Logf("answered after %s", time.Since(start))
	case <-time.After(10 * time.Second): // the pause lasts 30 s
		t.Fatal("the trace waited for the stalled inventory")
	}
}

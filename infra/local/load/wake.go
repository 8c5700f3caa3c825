package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ndrtrace/ndrtrace/infra/local/cloud"
	"github.com/ndrtrace/ndrtrace/infra/local/fcemu"
	"github.com/ndrtrace/ndrtrace/infra/local/redisd"
	"github.com/ndrtrace/ndrtrace/shared/alert"
	"github.com/ndrtrace/ndrtrace/shared/inventory"
	"github.com/ndrtrace/ndrtrace/shared/mapping"
	"github.com/ndrtrace/ndrtrace/shared/store"
	"github.com/ndrtrace/ndrtrace/shared/traceapi"
	"github.com/ndrtrace/ndrtrace/shared/tuple"
)

// waiting is one alert and the mapping that will answer it.
type waiting struct {
	body    string // the alert's JSON
	m       mapping.Mapping
	land    time.Duration // when its mapping lands, after the first may
	written struct{ start, acked time.Time }
}

// waitingAlerts makes n alerts on a NAT gateway's EIPs, each with its own
// NAT port and peer, at times in the last half hour, and their mappings.
func waitingAlerts(n, invocations, eips int, landing time.Duration) []*waiting {
	rng := rand.New(rand.NewPCG(3, 4))
	base := time.Now().Unix() - 1800
	out := make([]*waiting, n)
	for i := range out {
		// Alert i goes to invocation i%invocations: each invocation gets
		// alerts on every EIP.
		eip := netip.AddrFrom4([4]byte{47, 100, 1, byte(85 + (i/invocations)%eips)})
		peer := netip.AddrFrom4([4]byte{110, 242, byte(i >> 8), byte(i)})
		port := uint16(1024 + i)
		at := base + rng.Int64N(1200)
		out[i] = &waiting{
			body: fmt.Sprintf(`{"alert_id":"load-%d","time":%d,"protocol":"tcp","src_ip":%q,"src_port":%d,"dst_ip":%q,"dst_port":443}`,
				i, at, eip, port, peer),
			m: mapping.Mapping{Kind: mapping.KindNAT, EgressID: "ngw-bp1load", VPC: "vpc-bp1load",
				Egress: mapping.Egress{Addr: eip}, Proto: tuple.TCP, Port: port,
				Peer: tuple.Endpoint{Addr: peer, Port: 443}, Start: at - 60, End: at + 240,
				Private: tuple.Endpoint{Addr: netip.AddrFrom4([4]byte{172, 16, byte(i >> 8), byte(i)}), Port: 40000}},
			land: time.Duration(rng.Int64N(int64(landing))),
		}
	}
	return out
}

// invocation is one trace invocation and what came back.
type invocation struct {
	alerts             []int // indexes into the waiting alerts
	delivered, settled time.Time
	results            []alert.Result
	err                error
}

// wakeups runs part 1. The mappings are written with shared/store directly,
// one Write per mapping (the same WriteMarked path nat-ingest takes: APPEND,
// then the wake-up PUBLISH), rather than through nat-ingest invocations:
// only then is the moment each mapping is acknowledged known to the
// microsecond, where an ingest invocation would only say when its whole
// range was done. One mapping per write is also the most wake-ups per
// mapping ingest can cause.
func wakeups(ctx context.Context, lc *cloud.Cloud, srv *redisd.Server, o options, r *report) error {
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, PoolSize: 32})
	defer rdb.Close()
	st := store.New(rdb, time.Hour)
	ws := waitingAlerts(o.alerts, o.invocations, o.eips, o.landing)

	if err := onboarded(ctx, rdb, ws, o.eips); err != nil {
		return err
	}
	// One instance per invocation, as FC runs trace (instance concurrency 1).
	env := map[string]string{"TRACE_MAX_WAIT": o.maxWait.String()}
	timeout := func(f *fcemu.Function) { f.Timeout = o.maxWait + time.Minute }
	rts := make([]*fcemu.Runtime, o.invocations)
	for k := range rts {
		rt, err := lc.Function(ctx, "trace", env, timeout)
		if err != nil {
			return err
		}
		rts[k] = rt
	}
	idle, err := subscribers(ctx, rdb)
	if err != nil {
		return err
	}

	invs := make([]*invocation, o.invocations)
	var wg sync.WaitGroup
	for k := range invs {
		inv := &invocation{}
		var parts []string
		for i := k; i < len(ws); i += len(invs) {
			inv.alerts = append(inv.alerts, i)
			parts = append(parts, ws[i].body)
		}
		invs[k] = inv
		body := []byte(`{"alerts":[` + strings.Join(parts, ",") + `]}`)
		wg.Go(func() {
			res, err := rts[k].Invoke(ctx, body)
			inv.settled = time.Now()
			// Duration runs from the event's delivery to the function's
			// answer, so this is when the instance took the event.
			inv.delivered = inv.settled.Add(-res.Duration)
			if err == nil && res.Error != nil {
				err = res.Error
			}
			if err != nil {
				inv.err = err
				return
			}
			var b traceapi.Batch
			if err := json.Unmarshal(res.Payload, &b); err != nil {
				inv.err = fmt.Errorf("answer %.200s: %w", res.Payload, err)
				return
			}
			inv.results = b.Results
		})
	}

	// Every alert takes its first look (no mapping yet) and waits; then the
	// mappings land. Whether all of them were indeed waiting is checked
	// from the answers below.
	time.Sleep(3 * time.Second)
	if err := rdb.ConfigResetStat(ctx).Err(); err != nil {
		return err
	}
	cpu0, err := redisCPU(ctx, rdb)
	if err != nil {
		return err
	}
	var subs subSamples
	stopSampling := subs.sample(ctx, rdb)
	landStart := time.Now()
	err = land(ctx, st, ws)
	stopSampling()
	if err != nil {
		return err
	}
	landed := time.Since(landStart)
	wg.Wait()
	cpu1, _ := redisCPU(ctx, rdb)
	cmds, _ := commandCalls(ctx, rdb)

	// Every alert must be traced to its own private endpoint, and must
	// have been waiting when the first mapping landed.
	firstWrite := firstLanding(ws)
	var perInvocation []float64
	waitingAtOnce := 0
	for k, inv := range invs {
		if inv.err != nil {
			return fmt.Errorf("invocation %d: %w", k, inv.err)
		}
		if len(inv.results) != len(inv.alerts) {
			return fmt.Errorf("invocation %d: %d results for %d alerts", k, len(inv.results), len(inv.alerts))
		}
		if inv.delivered.Before(firstWrite) {
			waitingAtOnce += len(inv.alerts)
		}
		var last time.Time // the last of its mappings acknowledged
		for j, i := range inv.alerts {
			w, res := ws[i], inv.results[j]
			if err := tracedTo(res, i, w.m); err != nil {
				return err
			}
			if w.written.acked.After(last) {
				last = w.written.acked
			}
		}
		perInvocation = append(perInvocation, ms(inv.settled.Sub(last)))
	}

	p := sortedCopy(perInvocation)
	r.add("alerts waiting when the first mapping landed", float64(waitingAtOnce), "alerts", fmt.Sprintf("of %d; all %d traced to their own endpoint", len(ws), len(ws)))
	r.add("mappings landed", float64(len(ws)), "mappings", fmt.Sprintf("one store.Write each, at random over %s (took %s)", o.landing, landed.Round(time.Millisecond)))
	r.add("invocation: last mapping acknowledged -> answer, p50", quantile(p, 0.50), "ms", fmt.Sprintf("exact, as the caller sees it; %d invocations", len(p)))
	r.add("invocation: last mapping acknowledged -> answer, max", quantile(p, 1), "ms", "")
	r.add("ndr:wake subscriptions (PUBSUB NUMSUB) while waiting", float64(subs.maxNumsub), "subscribers", fmt.Sprintf("min %d; %d instances, %d alerts; %d before any invocation", subs.minNumsub, len(rts), len(ws), idle.numsub))
	r.add("clients subscribed (CLIENT LIST sub>0) while waiting", float64(subs.maxSubscribed), "clients", fmt.Sprintf("of up to %d connected", subs.maxClients))
	r.add("GETs while the mappings landed", float64(cmds["get"]), "commands", fmt.Sprintf("%.0f per landed mapping; HGETALL %d, APPEND %d, PUBLISH %d", float64(cmds["get"])/float64(len(ws)), cmds["hgetall"], cmds["append"], cmds["publish"]))
	r.add("redis-server CPU while the mappings landed", 100*(cpu1-cpu0)/time.Since(landStart).Seconds(), "% core", "")
	if subs.maxNumsub != int64(len(rts)) || subs.minNumsub != int64(len(rts)) {
		return fmt.Errorf("%d..%d subscriptions to %s for %d instances", subs.minNumsub, subs.maxNumsub, store.WakeChannel, len(rts))
	}
	return nil
}

// land writes each alert's mapping at its landing time, one store.Write
// each, and notes when it was sent and acknowledged.
func land(ctx context.Context, st *store.Store, ws []*waiting) error {
	order := slices.Clone(ws)
	slices.SortFunc(order, func(a, b *waiting) int { return int(a.land - b.land) })
	start := time.Now()
	for _, w := range order {
		if d := time.Until(start.Add(w.land)); d > 0 {
			time.Sleep(d)
		}
		w.written.start = time.Now()
		if err := st.Write(ctx, []mapping.Mapping{w.m}); err != nil {
			return fmt.Errorf("write a mapping: %w", err)
		}
		w.written.acked = time.Now()
	}
	return nil
}

func firstLanding(ws []*waiting) time.Time {
	first := ws[0].written.start
	for _, w := range ws {
		if w.written.start.Before(first) {
			first = w.written.start
		}
	}
	return first
}

// tracedTo checks that alert i was traced to its own private endpoint, and
// its instance named.
func tracedTo(res alert.Result, i int, m mapping.Mapping) error {
	want := m.Private.Addr.String()
	if res.AlertID != "load-"+strconv.Itoa(i) || res.Status != alert.Traced || res.Asset == nil || res.Asset.PrivateIP != want {
		return fmt.Errorf("alert load-%d: %s %s (want traced to %s)", i, res.Status, res.Reason, want)
	}
	if inst := fmt.Sprintf("i-bp1load%05d", i); res.Asset.InstanceID != inst {
		return fmt.Errorf("alert load-%d: instance %q, want %s (%s)", i, res.Asset.InstanceID, inst, res.Reason)
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// subSample is what Redis says of its subscribers at one moment.
type subSample struct {
	numsub, subscribed, clients int64
}

func subscribers(ctx context.Context, rdb *redis.Client) (subSample, error) {
	var s subSample
	n, err := rdb.PubSubNumSub(ctx, store.WakeChannel).Result()
	if err != nil {
		return s, fmt.Errorf("PUBSUB NUMSUB: %w", err)
	}
	s.numsub = n[store.WakeChannel]
	list, err := rdb.ClientList(ctx).Result()
	if err != nil {
		return s, fmt.Errorf("CLIENT LIST: %w", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(list), "\n") {
		s.clients++
		for _, f := range strings.Fields(line) {
			if v, ok := strings.CutPrefix(f, "sub="); ok && v != "0" {
				s.subscribed++
			}
		}
	}
	return s, nil
}

// subSamples keeps the extremes of subscriber counts sampled while the
// alerts wait.
type subSamples struct {
	mu                                  sync.Mutex
	minNumsub, maxNumsub, maxSubscribed int64
	maxClients                          int64
	samples                             int
}

func (s *subSamples) sample(ctx context.Context, rdb *redis.Client) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			if x, err := subscribers(ctx, rdb); err == nil {
				s.mu.Lock()
				if s.samples == 0 || x.numsub < s.minNumsub {
					s.minNumsub = x.numsub
				}
				s.maxNumsub = max(s.maxNumsub, x.numsub)
				s.maxSubscribed = max(s.maxSubscribed, x.subscribed)
				s.maxClients = max(s.maxClients, x.clients)
				s.samples++
				s.mu.Unlock()
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func() { cancel(); <-done }
}

// commandCalls reads INFO commandstats: calls per command since the last
// CONFIG RESETSTAT.
func commandCalls(ctx context.Context, rdb *redis.Client) (map[string]int64, error) {
	info, err := rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, line := range strings.Split(info, "\r\n") {
		name, rest, ok := strings.Cut(strings.TrimPrefix(line, "cmdstat_"), ":calls=")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(strings.SplitN(rest, ",", 2)[0], 10, 64)
		out[name] = n
	}
	return out, nil
}

// redisCPU is redis-server's CPU seconds so far (user + system).
func redisCPU(ctx context.Context, rdb *redis.Client) (float64, error) {
	var total float64
	for _, k := range []string{"used_cpu_sys", "used_cpu_user"} {
		v, err := infoField(ctx, rdb, "cpu", k)
		if err != nil {
			return 0, err
		}
		f, _ := strconv.ParseFloat(v, 64)
		total += f
	}
	return total, nil
}

// infoField is one field of an INFO section.
func infoField(ctx context.Context, rdb *redis.Client, section, field string) (string, error) {
	info, err := rdb.Info(ctx, section).Result()
	if err != nil {
		return "", fmt.Errorf("INFO %s: %w", section, err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return v, nil
		}
	}
	return "", fmt.Errorf("INFO %s has no %s", section, field)
}

func infoInt(ctx context.Context, rdb *redis.Client, section, field string) (int64, error) {
	v, err := infoField(ctx, rdb, section, field)
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(v, 10, 64)
}

// onboarded leaves the inventory as onboarding would for the alerts'
// gateway: its EIPs are a covered egress and every private address has its
// instance, so that naming after the wait costs one round trip, as in
// steady state, rather than an ECS call per unknown address.
func onboarded(ctx context.Context, rdb redis.UniversalClient, ws []*waiting, eips int) error {
	const account, region = "1234567890123456", "cn-hangzhou"
	inv := inventory.New(rdb)
	since := time.Now().Add(-2 * time.Hour)
	gw := inventory.Asset{Kind: mapping.KindNAT, ID: "ngw-bp1load", Account: account, Region: region,
		VPC: "vpc-bp1load", Mode: "MULTI_BINDED", Switches: inventory.All, Since: since, Logging: inventory.LogOn}
	for e := range eips {
		gw.Addrs = append(gw.Addrs, inventory.Addr{Public: netip.AddrFrom4([4]byte{47, 100, 1, byte(85 + e)})})
	}
	if err := inv.ReplaceRegion(ctx, account, region, []inventory.Asset{gw}); err != nil {
		return fmt.Errorf("inventory: %w", err)
	}
	holders := map[netip.Addr]inventory.Holder{}
	for i, w := range ws {
		holders[w.m.Private.Addr] = inventory.Holder{Instance: fmt.Sprintf("i-bp1load%05d", i), ENI: fmt.Sprintf("eni-bp1load%05d", i)}
	}
	if _, err := inv.RecordHolders(ctx, since, map[string]map[netip.Addr]inventory.Holder{"vpc-bp1load": holders}); err != nil {
		return fmt.Errorf("inventory: %w", err)
	}
	return inv.MarkFilled(ctx, since)
}

package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ndrtrace/ndrtrace/shared/alert"
	"github.com/ndrtrace/ndrtrace/shared/app"
	"github.com/ndrtrace/ndrtrace/shared/cloud"
	"github.com/ndrtrace/ndrtrace/shared/config"
	"github.com/ndrtrace/ndrtrace/shared/egress"
	"github.com/ndrtrace/ndrtrace/shared/inventory"
	"github.com/ndrtrace/ndrtrace/shared/mapping"
	"github.com/ndrtrace/ndrtrace/shared/store"
	"github.com/ndrtrace/ndrtrace/shared/trace"
	"github.com/ndrtrace/ndrtrace/shared/traceapi"
)

// alertFor builds the alert a detector would raise for a record's session.
func alertFor(g *generator, i int) []byte {
	f := map[string]string{}
	for _, kv := range g.records[i] {
		f[kv.Key] = kv.Value
	}
	start, _ := strconv.ParseInt(f["start_time"], 10, 64)
	return []byte(fmt.Sprintf(`{"alert_id":"bench-%d","time":%d,"protocol":"tcp","src_ip":%q,"src_port":%s,"dst_ip":%q,"dst_port":%s}`,
		i, start+10, f["nat_ip"], f["nat_port"], f["pub_ip"], f["pub_port"]))
}

func decoded(b []byte) *alert.Alert {
	items, _ := alert.Decode(b)
	return items[0].Alert
}

// tracer is the tracer exactly as the trace function wires it: the
// inventory as onboarding leaves it (the gateway and its EIPs, coverage
// from an hour before the records, and the holder of every private
// address) is its address book, coverage and instance namer.
func tracer(ctx context.Context, rdb *redis.Client, st *store.Store, g *generator) (*trace.Tracer, error) {
	if err := fillInventory(ctx, rdb, g); err != nil {
		return nil, err
	}
	return wired(rdb, st), nil
}

// wired is the tracer as the trace function wires it, over what is in
// Redis.
func wired(rdb *redis.Client, st *store.Store) *trace.Tracer {
	a := &app.App{Redis: rdb, Store: st, Book: egress.Static{},
		Config: config.Config{TraceMaxWait: time.Second, TimeSkew: time.Minute}}
	return traceapi.New(a, cloud.Config{}).Tracer
}

const (
	benchAccount = "1234567890123456"
	benchRegion  = "cn-hangzhou"
)

// fillInventory writes what an onboarding run would for the generator's
// gateway.
func fillInventory(ctx context.Context, rdb *redis.Client, g *generator) error {
	inv := inventory.New(rdb)
	since := time.Unix(g.base-3600, 0)
	gw := inventory.Asset{Kind: mapping.KindNAT, ID: "ngw-bp1bench", Account: benchAccount, Region: benchRegion,
		VPC: "vpc-bp1bench", Mode: "MULTI_BINDED", Switches: inventory.All, Since: since, Logging: inventory.LogOn}
	for _, e := range eips {
		gw.Addrs = append(gw.Addrs, inventory.Addr{Public: netip.MustParseAddr(e)})
	}
	if err := inv.ReplaceRegion(ctx, benchAccount, benchRegion, []inventory.Asset{gw}); err != nil {
		return err
	}
	holders := map[netip.Addr]inventory.Holder{}
	for _, r := range g.records {
		for _, kv := range r {
			if kv.Key == "pri_ip" {
				ip := netip.MustParseAddr(kv.Value)
				b := ip.As4()
				holders[ip] = inventory.Holder{Instance: fmt.Sprintf("i-bp1bench%d%03d", b[2], b[3]), ENI: fmt.Sprintf("eni-bp1bench%d%03d", b[2], b[3])}
			}
		}
	}
	if _, err := inv.RecordHolders(ctx, since, map[string]map[netip.Addr]inventory.Holder{"vpc-bp1bench": holders}); err != nil {
		return err
	}
	return inv.MarkFilled(ctx, since)
}

type latency struct{ p50, p99 float64 }

func percentiles(d []time.Duration) latency {
	slices.Sort(d)
	ms := func(q float64) float64 { return float64(d[int(q*float64(len(d)-1))].Microseconds()) / 1000 }
	return latency{ms(0.50), ms(0.99)}
}

// ensureWritten makes sure the generator's records are in the store.
func ensureWritten(ctx context.Context, rdb *redis.Client, g *generator) (*store.Store, error) {
	if _, err := ingestStoreOnly(ctx, rdb, g); err != nil {
		return nil, err
	}
	return store.New(rdb, time.Hour), nil
}

// traceLatency traces alerts whose mappings are present, one at a time, in
// process (the tracer as the function runs it, minus FC).
func traceLatency(ctx context.Context, rdb *redis.Client, g *generator) (latency, error) {
	st, err := ensureWritten(ctx, rdb, g)
	if err != nil {
		return latency{}, err
	}
	tr, err := tracer(ctx, rdb, st, g)
	if err != nil {
		return latency{}, err
	}
	const n = 5000
	var d []time.Duration
	for i := 0; i < n; i++ {
		a := decoded(alertFor(g, (i*7919)%len(g.records)))
		start := time.Now()
		r := tr.Trace(ctx, []*alert.Alert{a})[0]
		d = append(d, time.Since(start))
		if err := named(r); err != nil {
			return latency{}, err
		}
	}
	return percentiles(d), nil
}

// batchFigure is one batch of alerts traced in one call.
type batchFigure struct {
	Rate            float64 // alerts per wall second
	GoCPU, RedisCPU float64 // seconds
	PerCPU          float64 // alerts per second of the two processes' CPU together
	Faults          int64   // the trace process's minor page faults
	Runs            []float64
	RunFaults       []int64
}

// batchMedian traces three batches of n alerts in a row, as a warm trace
// instance answers one call after another, and keeps the median one. They
// run in a process of their own (batchChild), as the trace function does:
// this one holds a million generated records, whose garbage collection is
// not the function's.
func batchMedian(ctx context.Context, rdb *redis.Client, g *generator, n int) (batchFigure, error) {
	if err := fillInventory(ctx, rdb, g); err != nil {
		return batchFigure{}, err
	}
	self, err := os.Executable()
	if err != nil {
		return batchFigure{}, err
	}
	args := []string{"-batch-child", rdb.Options().Addr, "-records", strconv.Itoa(len(g.records)), "-alerts", strconv.Itoa(n)}
	if profile != "" && batchOnly {
		args = append(args, "-cpuprofile", profile)
	}
	cmd := exec.CommandContext(ctx, self, args...)
	if err := runAs(cmd, "trace"); err != nil {
		return batchFigure{}, err
	}
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return batchFigure{}, fmt.Errorf("batch figure: %w", err)
	}
	var f batchFigure
	if err := json.Unmarshal(out, &f); err != nil {
		return batchFigure{}, fmt.Errorf("batch figure: %w: %q", err, out)
	}
	return f, nil
}

// batchChild is the process batchMedian starts: it keeps only the alerts
// of the generated records, then traces three batches and prints the
// median one as JSON.
func batchChild(ctx context.Context, addr string, records, n int) error {
	rdb := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 32}) // as config.Redis sizes it
	defer rdb.Close()
	as := batchAlerts(newGenerator(records), n)
	tr := wired(rdb, store.New(rdb, time.Hour))
	if profile != "" { // the three batches
		f, err := os.Create(profile)
		if err != nil {
			return err
		}
		runtime.GC() // the generator's garbage is not the batches'
		pprof.StartCPUProfile(f)
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	var fs []batchFigure
	for range 3 {
		f, err := batchLookups(ctx, rdb, tr, as)
		if err != nil {
			return err
		}
		fs = append(fs, f)
	}
	m := slices.SortedFunc(slices.Values(fs), func(a, b batchFigure) int { return cmp.Compare(a.Rate, b.Rate) })[1]
	for _, f := range fs {
		m.Runs = append(m.Runs, f.Rate)
		m.RunFaults = append(m.RunFaults, f.Faults)
	}
	return json.NewEncoder(os.Stdout).Encode(m)
}

func (b batchFigure) report(r *report, n int) {
	runs := fmt.Sprintf("median of %.0f/%.0f/%.0f", b.Runs[0], b.Runs[1], b.Runs[2])
	r.add(fmt.Sprintf("lookups/s, one batch of %d alerts", n), b.Rate, "alerts/s",
		fmt.Sprintf("wall, %s; CPU: trace %.0f ms + redis-server %.0f ms = %.0f alerts per CPU-s; trace's minor page faults %d/%d/%d",
			runs, 1000*b.GoCPU, 1000*b.RedisCPU, b.PerCPU, b.RunFaults[0], b.RunFaults[1], b.RunFaults[2]))
	r.judge(fmt.Sprintf("one batch of %d alerts, inventory wired in", n), b.Rate, "alerts/s", ">= 50,000 alerts/s", b.Rate >= 50000,
		fmt.Sprintf("wall time, %s; %.0f alerts per CPU-s of trace + redis-server", runs, b.PerCPU))
}

// batchAlerts are the alerts of n records spread over the generated ones.
func batchAlerts(g *generator, n int) []*alert.Alert {
	as := make([]*alert.Alert, n)
	for i := range as {
		as[i] = decoded(alertFor(g, (i*104729)%len(g.records)))
	}
	return as
}

// batchLookups traces one batch of alerts in one call; the inventory and
// the mappings are in Redis already.
func batchLookups(ctx context.Context, rdb *redis.Client, tr *trace.Tracer, as []*alert.Alert) (batchFigure, error) {
	runtime.GC() // the last batch's garbage is not this one's
	redis0, self0 := redisCPU(ctx, rdb), selfUsage()
	start := time.Now()
	rs := tr.Trace(ctx, as)
	el := time.Since(start)
	used := selfUsage().minus(self0)
	f := batchFigure{Rate: float64(len(as)) / el.Seconds(), GoCPU: used.cpu, RedisCPU: redisCPU(ctx, rdb) - redis0, Faults: used.faults}
	f.PerCPU = float64(len(as)) / (f.GoCPU + f.RedisCPU)
	for _, r := range rs {
		if err := named(r); err != nil {
			return batchFigure{}, err
		}
	}
	return f, nil
}

// selfUsage is this process's CPU seconds (user + system) and minor page
// faults so far.
func selfUsage() usage {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return usage{cpu: time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds(), faults: ru.Minflt}
}

// named checks that a result found its endpoint and named its instance.
func named(r alert.Result) error {
	switch {
	case r.Status == alert.Traced && r.Asset.InstanceID != "":
		return nil
	case r.Status == alert.Ambiguous && len(r.Candidates) > 0 && r.Candidates[0].InstanceID != "":
		return nil
	}
	return fmt.Errorf("alert %s: %s %q %+v", r.AlertID, r.Status, r.Reason, r.Asset)
}

package main

import (
	"context"
	"fmt"
	"github.com/ndrtrace/ndrtrace/shared/app"
	"github.com/ndrtrace/ndrtrace/shared/cloud"
	"github.com/ndrtrace/ndrtrace/shared/config"
	"github.com/ndrtrace/ndrtrace/shared/egress"
	"github.com/ndrtrace/ndrtrace/shared/traceapi"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ndrtrace/ndrtrace/shared/alert"
	"github.com/ndrtrace/ndrtrace/shared/store"
	"github.com/ndrtrace/ndrtrace/shared/trace"
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

// tracer is the tracer exactly as the trace function wires it (inventory
// book, coverage and instance resolver included; the inventory is empty
// here, as before onboarding has run).
func tracer(rdb *redis.Client, st *store.Store) *trace.Tracer {
	a := &app.App{Redis: rdb, Store: st, Book: egress.Static{},
		Config: config.Config{TraceMaxWait: time.Second, TimeSkew: time.Minute}}
	return traceapi.New(a, cloud.Config{}).Tracer
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
	tr := tracer(rdb, st)
	const n = 5000
	var d []time.Duration
	for i := 0; i < n; i++ {
		a := decoded(alertFor(g, (i*7919)%len(g.records)))
		start := time.Now()
		r := tr.Trace(ctx, []*alert.Alert{a})[0]
		d = append(d, time.Since(start))
		if r.Status != alert.Traced && r.Status != alert.Ambiguous {
			return latency{}, fmt.Errorf("alert %s: %s %s", a.ID, r.Status, r.Reason)
		}
	}
	return percentiles(d), nil
}

// batchLookups traces one batch of alerts in one call.
func batchLookups(ctx context.Context, rdb *redis.Client, g *generator, n int) (float64, error) {
	tr := tracer(rdb, store.New(rdb, time.Hour)) // written by traceLatency
	as := make([]*alert.Alert, n)
	for i := range as {
		as[i] = decoded(alertFor(g, (i*104729)%len(g.records)))
	}
	start := time.Now()
	rs := tr.Trace(ctx, as)
	el := time.Since(start)
	for _, r := range rs {
		if r.Status != alert.Traced && r.Status != alert.Ambiguous {
			return 0, fmt.Errorf("alert %s: %s %s", r.AlertID, r.Status, r.Reason)
		}
	}
	return float64(n) / el.Seconds(), nil
}

package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ndrtrace/ndrtrace/infra/local/redisd"
	"github.com/ndrtrace/ndrtrace/shared/alert"
	"github.com/ndrtrace/ndrtrace/shared/ingest"
	"github.com/ndrtrace/ndrtrace/shared/mapping"
	"github.com/ndrtrace/ndrtrace/shared/natlog"
	"github.com/ndrtrace/ndrtrace/shared/pending"
	"github.com/ndrtrace/ndrtrace/shared/store"
	"github.com/ndrtrace/ndrtrace/shared/trace"
)

// lateFigures measures late resolution (DESIGN.md, "Late resolution") on a
// redis-server of its own: Redis memory per pending alert, ingest
// throughput (write + the post-batch hook) with 10,000 alerts pending on
// the same egresses and buckets against none, and how long after its
// batch is written a late result is committed. Results are not sent to
// SLS here (no Recorder): the figure is the Redis side.
func lateFigures(ctx context.Context, r *report, g *generator, nPending int) error {
	srv, err := redisd.Start(ctx)
	if err != nil {
		return err
	}
	defer srv.Stop()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, PoolSize: 32})
	defer rdb.Close()

	ms := make([]mapping.Mapping, 0, len(g.records))
	for _, f := range g.records {
		if m, rej := natlog.Parse(f, "", g.base+600); rej == "" {
			ms = append(ms, m)
		}
	}
	if len(ms) < 2*nPending {
		return fmt.Errorf("late: %d records, want at least %d", len(ms), 2*nPending)
	}
	st := store.New(rdb, time.Hour)
	tr := &trace.Tracer{Store: st, Config: trace.Config{MaxWait: time.Millisecond, Skew: time.Minute}}
	k := &pending.Keeper{RDB: rdb, Window: 30 * time.Minute, Skew: time.Minute, Tracer: tr}
	fresh := ms[nPending:] // records that explain no pending alert

	// ingestRate writes the records in ingest's batches, each followed by
	// the hook, as ingest.Batcher does.
	ingestRate := func() (float64, error) {
		start := time.Now()
		for i := 0; i < len(fresh); i += ingest.BatchSize {
			b := fresh[i:min(i+ingest.BatchSize, len(fresh))]
			if err := st.Write(ctx, b); err != nil {
				return 0, err
			}
			k.Written(ctx, b)
		}
		return float64(len(fresh)) / time.Since(start).Seconds(), nil
	}
	var none, with []float64
	for range 3 {
		rdb.FlushAll(ctx)
		v, err := ingestRate()
		if err != nil {
			return err
		}
		none = append(none, v)

		rdb.FlushAll(ctx)
		before, err := usedMemory(ctx, rdb)
		if err != nil {
			return err
		}
		if err := makePending(ctx, tr, k, g, nPending); err != nil {
			return err
		}
		after, err := usedMemory(ctx, rdb)
		if err != nil {
			return err
		}
		if len(with) == 0 {
			r.add(fmt.Sprintf("late: redis memory per pending alert (%d pending)", nPending), float64(after-before)/float64(nPending), "bytes", "entry with the original alert, and its index fields")
		}
		if v, err = ingestRate(); err != nil {
			return err
		}
		with = append(with, v)
	}
	n, w := median(none), median(with)
	r.add("late: ingest (write + hook), none pending", n, "records/s", fmt.Sprintf("median of %.0f/%.0f/%.0f", none[0], none[1], none[2]))
	r.add(fmt.Sprintf("late: ingest (write + hook), %d pending", nPending), w, "records/s",
		fmt.Sprintf("%.1f%% of none; median of %.0f/%.0f/%.0f", 100*w/n, with[0], with[1], with[2]))

	// The records that explain the pending alerts land, 100 per batch:
	// how long after its batch is written each late result is committed.
	var lat []time.Duration
	for i := 0; i < nPending; i += 100 {
		b := ms[i:min(i+100, nPending)]
		if err := st.Write(ctx, b); err != nil {
			return err
		}
		start := time.Now()
		k.Written(ctx, b)
		d := time.Since(start)
		for range b {
			lat = append(lat, d)
		}
	}
	ids := make([]string, nPending)
	for i := range ids {
		ids[i] = fmt.Sprintf("bench-%d", i)
	}
	rs, err := k.Lookup(ctx, ids)
	if err != nil {
		return err
	}
	late := 0
	for _, raw := range rs {
		if strings.Contains(string(raw), `"late":true`) {
			late++
		}
	}
	p := percentiles(lat)
	r.add("late: result committed after its batch is written, p50", p.p50, "ms", fmt.Sprintf("%d of %d pending resolved late; batches of 100", late, nPending))
	r.add("late: result committed after its batch is written, p99", p.p99, "ms", "before the ingest invocation returns")
	if late < nPending*9/10 {
		fmt.Fprintf(os.Stderr, "late: only %d of %d alerts resolved\n", late, nPending)
	}
	return nil
}

// makePending answers n alerts untraced (no record yet) through the tracer
// with late resolution: they become pending.
func makePending(ctx context.Context, tr *trace.Tracer, k *pending.Keeper, g *generator, n int) error {
	t := *tr
	t.Finish = k
	for i := 0; i < n; i += 1000 {
		var as []*alert.Alert
		for j := i; j < min(i+1000, n); j++ {
			as = append(as, decoded(alertFor(g, j)))
		}
		for _, res := range t.Trace(ctx, as) {
			if res.Status != alert.Untraced || res.PendingUntil == "" {
				return fmt.Errorf("late: alert %s answered %s (%s), not pending", res.AlertID, res.Status, res.Reason)
			}
		}
	}
	return nil
}

package main

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ndrtrace/ndrtrace/infra/local/redisd"
	"github.com/ndrtrace/ndrtrace/shared/store"
)

// BenchmarkBatchTrace is `make bench`'s batch figure alone: one batch of
// 10,000 alerts whose mappings are present, traced as the function wires
// the tracer, inventory filled (go test -run '^$' -bench BatchTrace
// ./infra/local/bench).
func BenchmarkBatchTrace(b *testing.B) {
	ctx := context.Background()
	srv, err := redisd.Start(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Stop()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, PoolSize: 32})
	defer rdb.Close()
	g := newGenerator(100_000)
	if _, err := ensureWritten(ctx, rdb, g); err != nil {
		b.Fatal(err)
	}
	tr, err := tracer(ctx, rdb, store.New(rdb, time.Hour), g)
	if err != nil {
		b.Fatal(err)
	}
	as := batchAlerts(g, 10_000)
	b.ResetTimer()
	var rates []float64
	for range b.N {
		f, err := batchLookups(ctx, rdb, tr, as)
		if err != nil {
			b.Fatal(err)
		}
		rates = append(rates, f.Rate)
	}
	b.ReportMetric(median(rates), "alerts/s")
}

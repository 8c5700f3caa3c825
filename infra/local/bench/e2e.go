package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ndrtrace/ndrtrace/infra/local/cloud"
	"github.com/ndrtrace/ndrtrace/infra/local/fcemu"
	"github.com/ndrtrace/ndrtrace/shared/alert"
)

type e2eFigures struct {
	// Records per second, medians of 3 rounds, and each round's.
	rawPull, sdkPull, product  float64
	rawRuns, sdkRuns, prodRuns []float64
	cpuPerRecord               float64 // µs of the functions' CPU per record, median
	cpuRuns                    []float64
	faultRuns                  []int64 // nat-ingest's minor page faults per round
	traceP50, traceP99         float64
}

// ingestEndToEnd loads the records into the SLS emulator (groups of 1,000
// over 4 shards, 20 trigger ranges) and, in 3 interleaved rounds, measures
// the SDK's raw pull ceiling and its decoding ceiling (in a process of their
// own, with nat-ingest's settings: pullRounds), and the compiled
// nat-ingest under the FC emulator ingesting every range (2 in flight); then
// times the compiled trace against what was ingested.
func ingestEndToEnd(ctx context.Context, redisURL string, rdb *redis.Client, g *generator) (e2eFigures, error) {
	lc, err := cloud.Start(ctx, cloud.Options{RedisURL: redisURL, BinDir: binDir})
	if err != nil {
		return e2eFigures{}, err
	}
	defer lc.Close()
	ranges, err := loadShards(lc, g)
	if err != nil {
		return e2eFigures{}, err
	}
	var fns []*fcemu.Runtime
	for range inFlight {
		nat, err := lc.Function(ctx, "nat-ingest", nil) // s.yaml's runtime settings
		if err != nil {
			return e2eFigures{}, err
		}
		fns = append(fns, nat)
	}
	pulls, err := startPullRounds(ctx, lc, ranges)
	if err != nil {
		return e2eFigures{}, err
	}
	defer pulls.stop()
	var f e2eFigures
	for range 3 {
		raw, err := pulls.run(true)
		if err != nil {
			return f, fmt.Errorf("raw pull: %w", err)
		}
		sdk, err := pulls.run(false)
		if err != nil {
			return f, fmt.Errorf("SDK pull: %w", err)
		}
		prod, used, err := productEndToEnd(ctx, rdb, fns, ranges)
		if err != nil {
			return f, err
		}
		f.rawRuns, f.sdkRuns, f.prodRuns = append(f.rawRuns, raw), append(f.sdkRuns, sdk), append(f.prodRuns, prod)
		f.cpuRuns = append(f.cpuRuns, 1e6*used.cpu/float64(len(g.records)))
		f.faultRuns = append(f.faultRuns, used.faults)
	}
	f.rawPull, f.sdkPull, f.product, f.cpuPerRecord = median(f.rawRuns), median(f.sdkRuns), median(f.prodRuns), median(f.cpuRuns)

	tr, err := lc.Function(ctx, "trace", map[string]string{"TRACE_MAX_WAIT": "1s"})
	if err != nil {
		return f, err
	}
	var d []time.Duration
	for i := 0; i < 1000; i++ {
		body := alertFor(g, (i*7919)%len(g.records))
		start := time.Now()
		res, err := tr.Invoke(ctx, body)
		d = append(d, time.Since(start))
		if err != nil || res.Error != nil {
			return f, fmt.Errorf("trace: %v %v", err, res.Error)
		}
		var r alert.Result
		if json.Unmarshal(res.Payload, &r); r.Status != alert.Traced && r.Status != alert.Ambiguous {
			return f, fmt.Errorf("trace %s: %s", body, res.Payload)
		}
	}
	l := percentiles(d)
	f.traceP50, f.traceP99 = l.p50, l.p99
	return f, nil
}

func (e *e2eFigures) report(r *report) {
	runs3 := func(v []float64) string { return fmt.Sprintf("median of %.0f/%.0f/%.0f", v[0], v[1], v[2]) }
	r.add("SLS raw pull ceiling (GetLogsBytesWithQuery)", e.rawPull, "records/s", runs3(e.rawRuns)+"; transport + decompression only")
	r.add("SLS SDK decode ceiling (PullLogsWithQuery)", e.sdkPull, "records/s", runs3(e.sdkRuns))
	r.add("ingest end to end (SLS pull + parse + write)", e.product, "records/s",
		fmt.Sprintf("%.2fx SDK decode, %.0f%% of raw pull; %s; compiled nat-ingest under FC emulator, %d ranges over %d shards, %d in flight",
			e.product/e.sdkPull, 100*e.product/e.rawPull, runs3(e.prodRuns), e2eShards*rangesPerShard, e2eShards, inFlight))
	r.add("ingest CPU per NAT record, end to end", e.cpuPerRecord, "µs",
		fmt.Sprintf("nat-ingest processes' user+system CPU / records; rounds %.2f/%.2f/%.2f µs with %d/%d/%d minor page faults",
			e.cpuRuns[0], e.cpuRuns[1], e.cpuRuns[2], e.faultRuns[0], e.faultRuns[1], e.faultRuns[2]))
	r.judge("ingest end to end / SDK decode ceiling", e.product/e.sdkPull, "x", ">= 1.0x", e.product >= e.sdkPull,
		fmt.Sprintf("%.0f vs %.0f records/s, medians of 3", e.product, e.sdkPull))
	r.judge("ingest end to end / raw pull ceiling", 100*e.product/e.rawPull, "%", ">= 50%", e.product >= 0.5*e.rawPull,
		fmt.Sprintf("%.0f vs %.0f records/s, medians of 3", e.product, e.rawPull))
	r.judge("nat-ingest CPU per NAT record, end to end", e.cpuPerRecord, "µs", "<= 2 µs", e.cpuPerRecord <= 2, "compiled nat-ingest under the FC emulator, median of 3")
	if e.traceP50 > 0 {
		r.add("trace p50, through the FC emulator", e.traceP50, "ms", "compiled trace binary")
		r.add("trace p99, through the FC emulator", e.traceP99, "ms", "")
	}
}

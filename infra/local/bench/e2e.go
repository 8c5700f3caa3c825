package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/ndrtrace/ndrtrace/infra/local/cloud"
	"github.com/ndrtrace/ndrtrace/shared/alert"
	"github.com/ndrtrace/ndrtrace/shared/ingest"
)

type e2eFigures struct {
	rate               float64
	traceP50, traceP99 float64
}

// ingestEndToEnd writes the records into the SLS emulator in log groups of
// 1,000 (what a busy producer sends), has the compiled nat-ingest pull and
// ingest the whole range in one invocation, then times the compiled trace.
func ingestEndToEnd(ctx context.Context, redisURL string, g *generator) (e2eFigures, error) {
	lc, err := cloud.Start(ctx, cloud.Options{RedisURL: redisURL})
	if err != nil {
		return e2eFigures{}, err
	}
	defer lc.Close()
	const project, ls = "bench", "nat-sessions"
	lc.Logstore(project, ls)
	var begin, end string
	for i := 0; i < len(g.records); i += 1000 {
		b, e, err := lc.Put(project, ls, "", time.Unix(g.base+600, 0), g.asMaps(i, min(i+1000, len(g.records))))
		if err != nil {
			return e2eFigures{}, err
		}
		if begin == "" {
			begin = b
		}
		end = e
	}
	nat, err := lc.Function(ctx, "nat-ingest", map[string]string{"GOGC": "400"})
	if err != nil {
		return e2eFigures{}, err
	}
	start := time.Now()
	res, err := nat.Invoke(ctx, cloud.TriggerEvent(project, ls, begin, end))
	el := time.Since(start)
	if err != nil || res.Error != nil {
		return e2eFigures{}, fmt.Errorf("nat-ingest: %v %v", err, res.Error)
	}
	var s ingest.Summary
	if err := json.Unmarshal(res.Payload, &s); err != nil || s.Mappings != len(g.records) {
		return e2eFigures{}, fmt.Errorf("nat-ingest summary %s: %v", res.Payload, err)
	}
	f := e2eFigures{rate: float64(s.Records) / el.Seconds()}

	tr, err := lc.Function(ctx, "trace", map[string]string{"TRACE_MAX_WAIT": "1s", "GOGC": "400"})
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

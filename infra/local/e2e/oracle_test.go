package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"

	"github.com/ndrtrace/ndrtrace/infra/local/cloud"
	"github.com/ndrtrace/ndrtrace/infra/local/faultnet"
	"github.com/ndrtrace/ndrtrace/infra/local/fcemu"
	"github.com/ndrtrace/ndrtrace/infra/local/oracle"
	"github.com/ndrtrace/ndrtrace/infra/local/redisd"
	"github.com/ndrtrace/ndrtrace/shared/alert"
	"github.com/ndrtrace/ndrtrace/shared/ingest"
)

// oracleSize is the short run of make test; ORACLE_SCALE multiplies it
// (make fuzz runs a long one), ORACLE_SEED replays a run.
func oracleSize(t *testing.T) (oracle.Size, uint64) {
	scale := 1
	if s := os.Getenv("ORACLE_SCALE"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("ORACLE_SCALE=%q: want a positive integer", s)
		}
		scale = n
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("ORACLE_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("ORACLE_SEED=%q: %v", s, err)
		}
		seed = n
	}
	return oracle.Size{Sessions: 1200 * scale, Requests: 500 * scale, Alerts: 2000 * scale, Shards: 4}, seed
}

// TestOracle compares the product's answers with the brute-force reference
// over a generated scenario. The records go through the real path: the SLS
// emulator, the compiled nat-ingest and lb-ingest under the FC emulator
// (shards concurrently, some ranges replayed, some cut half-way through a
// Redis write and retried), a real redis-server, and the compiled trace.
func TestOracle(t *testing.T) {
	size, seed := oracleSize(t)
	ctx := context.Background()
	// At least two hours before now: every record is in the past, and its
	// log time at most a few minutes after its window.
	base := time.Now().Add(-3 * time.Hour)
	sc := oracle.Generate(seed, size, base, time.Minute)
	t.Logf("oracle: seed %d (ORACLE_SEED=%d replays it): %d records, %d alerts", seed, seed, len(sc.Records), len(sc.Alerts))

	srv, err := redisd.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	cut, err := faultnet.Listen(srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer cut.Close()
	env := func(url string) map[string]string {
		return map[string]string{"REDIS_URL": url, "TRACE_MAX_WAIT": "1ms", "TIME_SKEW": "60s", "TRACE_LATE_WINDOW": "0"}
	}
	start := func(name, url string) *fcemu.Runtime {
		rt, err := lc.Function(ctx, name, env(url), func(f *fcemu.Function) { f.Timeout = 5 * time.Minute })
		if err != nil {
			t.Fatal(err)
		}
		return rt
	}
	nat, lb := start("nat-ingest", srv.URL()), start("lb-ingest", srv.URL())
	flakyNAT, flakyLB := start("nat-ingest", "redis://"+cut.Addr()+"/0"), start("lb-ingest", "redis://"+cut.Addr()+"/0")

	// The records, in log groups of 1 to 40 per shard, as SLS holds them.
	natLS, lbLS := uniq("oracle-nat"), uniq("oracle-lb")
	lc.SLS.CreateProject(project)
	lc.SLS.CreateLogstore(project, natLS, size.Shards, 7)
	lc.SLS.CreateLogstore(project, lbLS, size.Shards, 7)
	rng := rand.New(rand.NewPCG(seed, 7))
	type rangeOf struct {
		logstore   string
		shard      int
		begin, end string
	}
	var ranges []rangeOf
	for _, ls := range []string{natLS, lbLS} {
		for shard := range size.Shards {
			var groups []*sls.LogGroup
			var cur *sls.LogGroup
			for i := range sc.Records {
				r := &sc.Records[i]
				if r.Shard != shard || (r.Kind == "nat") != (ls == natLS) {
					continue
				}
				if cur == nil || len(cur.Logs) >= 40 || rng.IntN(20) == 0 || cur.GetTopic() != r.Topic {
					topic := r.Topic
					cur = &sls.LogGroup{Topic: &topic, Source: strPtr("10.0.0.1")}
					groups = append(groups, cur)
				}
				cur.Logs = append(cur.Logs, logOf(r))
			}
			// Trigger ranges of one to a few groups, in order.
			for i := 0; i < len(groups); {
				n := 1 + rng.IntN(6)
				var begin, end string
				for _, g := range groups[i:min(i+n, len(groups))] {
					b, e, err := lc.SLS.Append(project, ls, shard, g)
					if err != nil {
						t.Fatal(err)
					}
					if begin == "" {
						begin = b
					}
					end = e
				}
				ranges = append(ranges, rangeOf{ls, shard, begin, end})
				i += n
			}
		}
	}

	// Ingest: shards concurrently, each shard's ranges in order, as the
	// trigger hands them over. Some ranges are first cut half-way through a
	// Redis write (the invocation fails, the trigger retries), some replayed.
	var mu sync.Mutex
	var cuts, failed, replays int
	var wg sync.WaitGroup
	byShard := map[string][]rangeOf{}
	for _, r := range ranges {
		k := fmt.Sprint(r.logstore, r.shard)
		byShard[k] = append(byShard[k], r)
	}
	cutLock := sync.Mutex{} // one cut at a time: the proxy is shared
	for _, rs := range byShard {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seed, uint64(rs[0].shard)+uint64(len(rs[0].logstore))))
			for _, r := range rs {
				fn, flaky := nat, flakyNAT
				if r.logstore == lbLS {
					fn, flaky = lb, flakyLB
				}
				ev := cloud.ShardTriggerEvent(project, r.logstore, r.shard, r.begin, r.end)
				if rng.IntN(5) == 0 {
					cutLock.Lock()
					cut.CutAfter(int64(200 + rng.IntN(6000)))
					err := invokeErr(flaky, ev)
					wasCut := cut.Cut()
					cut.Heal()
					cutLock.Unlock()
					mu.Lock()
					if wasCut {
						cuts++
					}
					if err != nil {
						failed++
					}
					mu.Unlock()
				}
				if err := invokeErr(fn, ev); err != nil {
					t.Errorf("ingest of %s shard %d: %v", r.logstore, r.shard, err)
					return
				}
				if rng.IntN(6) == 0 {
					if err := invokeErr(fn, ev); err != nil {
						t.Errorf("replay of %s shard %d: %v", r.logstore, r.shard, err)
						return
					}
					mu.Lock()
					replays++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if cuts == 0 || failed == 0 {
		t.Fatalf("no write was cut half-way (%d cuts, %d failed invocations): the scenario is too small to test retries", cuts, failed)
	}
	t.Logf("oracle: %d trigger ranges over %d shards; %d cut mid-write (%d invocations failed and were retried), %d replayed",
		len(ranges), size.Shards, cuts, failed, replays)

	// Trace every alert in batches, and compare.
	tr := start("trace", srv.URL())
	counts := map[string]int{}
	diffs := 0
	const batch = 250
	for i := 0; i < len(sc.Alerts); i += batch {
		alerts := sc.Alerts[i:min(i+batch, len(sc.Alerts))]
		var body strings.Builder
		body.WriteString(`{"alerts":[`)
		for j, a := range alerts {
			if j > 0 {
				body.WriteByte(',')
			}
			body.Write(a.JSON())
		}
		body.WriteString(`]}`)
		res := invoke(t, tr, []byte(body.String()))
		if res.Error != nil {
			t.Fatalf("trace: %v", res.Error)
		}
		var out struct{ Results []alert.Result }
		if err := json.Unmarshal(res.Payload, &out); err != nil || len(out.Results) != len(alerts) {
			t.Fatalf("trace answered %d results for %d alerts (%v): %.300s", len(out.Results), len(alerts), err, res.Payload)
		}
		for j, a := range alerts {
			want, got := sc.Expect(a), answerOf(out.Results[j])
			counts[want.Status]++
			if got.String() != want.String() {
				diffs++
				if diffs <= 5 {
					t.Errorf("alert %s: product %q, rules %q (reason %q)\n%s", a.ID, got, want, out.Results[j].Reason, sc.Describe(a))
				}
			}
		}
	}
	if diffs > 0 {
		t.Fatalf("%d of %d answers differ from the rules (seed %d)", diffs, len(sc.Alerts), seed)
	}
	t.Logf("oracle: all %d answers equal the rules': %d traced, %d ambiguous, %d untraced", len(sc.Alerts), counts["traced"], counts["ambiguous"], counts["untraced"])
	if counts["traced"] == 0 || counts["ambiguous"] == 0 || counts["untraced"] == 0 {
		t.Fatalf("the scenario lacks a kind of answer: %v", counts)
	}
}

func strPtr(s string) *string { return &s }

func logOf(r *oracle.Record) *sls.Log {
	at := uint32(r.Time)
	l := &sls.Log{Time: &at}
	keys := make([]string, 0, len(r.Fields))
	for k := range r.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		l.Contents = append(l.Contents, &sls.LogContent{Key: strPtr(k), Value: strPtr(r.Fields[k])})
	}
	return l
}

// answerOf reduces a result to what the rules decide.
func answerOf(r alert.Result) oracle.Answer {
	out := oracle.Answer{Status: string(r.Status), Endpoints: []string{}}
	add := func(a alert.Asset) {
		out.Endpoints = append(out.Endpoints, fmt.Sprintf("%s:%d", a.PrivateIP, a.PrivatePort))
	}
	if r.Asset != nil {
		add(*r.Asset)
	}
	for _, c := range r.Candidates {
		add(c)
	}
	sort.Strings(out.Endpoints)
	return out
}

// invokeErr is invoke for goroutines: it reports instead of failing.
func invokeErr(rt *fcemu.Runtime, event []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := rt.Invoke(ctx, event)
	if err != nil {
		return err
	}
	if res.Error != nil {
		return fmt.Errorf("%s: %s", res.Error.Type, res.Error.Message)
	}
	var s ingest.Summary
	if err := json.Unmarshal(res.Payload, &s); err != nil {
		return fmt.Errorf("summary %.200s: %w", res.Payload, err)
	}
	return nil
}

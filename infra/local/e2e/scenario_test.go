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
	"github.com/ndrtrace/ndrtrace/infra/local/fcemu"
	"github.com/ndrtrace/ndrtrace/infra/local/oracle"
	"github.com/ndrtrace/ndrtrace/shared/alert"
	"github.com/ndrtrace/ndrtrace/shared/ingest"
)

// scenario is a generated oracle scenario put into the SLS emulator, ready
// to be ingested by the compiled functions and traced.
type scenario struct {
	t      *testing.T
	sc     *oracle.Scenario
	seed   uint64
	natLS  string
	lbLS   string
	ranges []triggerRange
}

// triggerRange is one SLS trigger invocation's range.
type triggerRange struct {
	logstore   string
	shard      int
	begin, end string
	groups     int
}

// Event is the trigger event of the range.
func (r triggerRange) Event() []byte {
	return cloud.ShardTriggerEvent(project, r.logstore, r.shard, r.begin, r.end)
}

// scale reads a positive multiplier from the environment (1 when unset).
func scale(t *testing.T, name string) int {
	s := os.Getenv(name)
	if s == "" {
		return 1
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return n
}

// seedOf is ORACLE_SEED when set (to replay a run), else a fresh seed.
func seedOf(t *testing.T) uint64 {
	if s := os.Getenv("ORACLE_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("ORACLE_SEED=%q: %v", s, err)
		}
		return n
	}
	return uint64(time.Now().UnixNano())
}

// newScenario generates a scenario and puts its records into two new
// logstores (NAT, and ALB+CLB) in log groups of 1 to maxGroup records,
// cut into trigger ranges of up to rangeGroups groups per shard.
func newScenario(t *testing.T, seed uint64, size oracle.Size, maxGroup, rangeGroups int) *scenario {
	t.Helper()
	// At least two hours before now: every record is in the past, and its
	// log time at most a few minutes after its window.
	sc := oracle.Generate(seed, size, time.Now().Add(-3*time.Hour), time.Minute)
	s := &scenario{t: t, sc: sc, seed: seed, natLS: uniq("oracle-nat"), lbLS: uniq("oracle-lb")}
	lc.SLS.CreateProject(project)
	lc.SLS.CreateLogstore(project, s.natLS, size.Shards, 7)
	lc.SLS.CreateLogstore(project, s.lbLS, size.Shards, 7)
	rng := rand.New(rand.NewPCG(seed, 7))
	for _, ls := range []string{s.natLS, s.lbLS} {
		for shard := range size.Shards {
			var groups []*sls.LogGroup
			var cur *sls.LogGroup
			for i := range sc.Records {
				r := &sc.Records[i]
				if r.Shard != shard || (r.Kind == "nat") != (ls == s.natLS) {
					continue
				}
				if cur == nil || len(cur.Logs) >= maxGroup || rng.IntN(20) == 0 || cur.GetTopic() != r.Topic {
					topic := r.Topic
					cur = &sls.LogGroup{Topic: &topic, Source: strPtr("10.0.0.1")}
					groups = append(groups, cur)
				}
				cur.Logs = append(cur.Logs, logOf(r))
			}
			for i := 0; i < len(groups); {
				n := 1 + rng.IntN(rangeGroups)
				rg := triggerRange{logstore: ls, shard: shard}
				for _, g := range groups[i:min(i+n, len(groups))] {
					b, e, err := lc.SLS.Append(project, ls, shard, g)
					if err != nil {
						t.Fatal(err)
					}
					if rg.begin == "" {
						rg.begin = b
					}
					rg.end = e
					rg.groups++
				}
				s.ranges = append(s.ranges, rg)
				i += n
			}
		}
	}
	return s
}

// functions are the compiled functions a scenario runs through.
type functions struct {
	nat, lb, trace *fcemu.Runtime
}

// startFunctions starts nat-ingest, lb-ingest and trace with env.
func startFunctions(t *testing.T, env map[string]string, timeout time.Duration) functions {
	t.Helper()
	start := func(name string) *fcemu.Runtime {
		e := map[string]string{"TRACE_MAX_WAIT": "1ms", "TIME_SKEW": "60s", "TRACE_LATE_WINDOW": "0"}
		for k, v := range env {
			e[k] = v
		}
		rt, err := lc.Function(context.Background(), name, e, func(f *fcemu.Function) { f.Timeout = timeout })
		if err != nil {
			t.Fatal(err)
		}
		return rt
	}
	return functions{nat: start("nat-ingest"), lb: start("lb-ingest"), trace: start("trace")}
}

// ingestFn picks the ingest function of a range.
func (s *scenario) ingestFn(f functions, r triggerRange) *fcemu.Runtime {
	if r.logstore == s.lbLS {
		return f.lb
	}
	return f.nat
}

// eachShard runs fn over each shard's ranges in order (as a trigger hands
// them over), the shards concurrently. It returns the first error.
func (s *scenario) eachShard(fn func(rng *rand.Rand, r triggerRange) error) error {
	byShard := map[string][]triggerRange{}
	var keys []string
	for _, r := range s.ranges {
		k := fmt.Sprint(r.logstore, "/", r.shard)
		if byShard[k] == nil {
			keys = append(keys, k)
		}
		byShard[k] = append(byShard[k], r)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for i, k := range keys {
		rs := byShard[k]
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(s.seed, uint64(i)))
			for _, r := range rs {
				if err := fn(rng, r); err != nil {
					mu.Lock()
					if first == nil {
						first = fmt.Errorf("%s shard %d: %w", r.logstore, r.shard, err)
					}
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}

// ingestAll ingests every range once with the given functions.
func (s *scenario) ingestAll(f functions) error {
	return s.eachShard(func(_ *rand.Rand, r triggerRange) error { return ingestErr(s.ingestFn(f, r), r.Event()) })
}

// verdict is the comparison of a scenario's answers with the rules'.
type verdict struct {
	alerts, diffs int
	counts        map[string]int
}

func (v verdict) String() string {
	return fmt.Sprintf("%d of %d answers equal the rules' (%d traced, %d ambiguous, %d untraced)",
		v.alerts-v.diffs, v.alerts, v.counts["traced"], v.counts["ambiguous"], v.counts["untraced"])
}

// check traces every alert (in batches of 250) with the compiled trace and
// compares each answer with the rules'; differences are reported.
func (s *scenario) check(tr *fcemu.Runtime, alerts []oracle.Alert) verdict {
	t := s.t
	t.Helper()
	v := verdict{alerts: len(alerts), counts: map[string]int{}}
	const batch = 250
	for i := 0; i < len(alerts); i += batch {
		part := alerts[i:min(i+batch, len(alerts))]
		var body strings.Builder
		body.WriteString(`{"alerts":[`)
		for j, a := range part {
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
		if err := json.Unmarshal(res.Payload, &out); err != nil || len(out.Results) != len(part) {
			t.Fatalf("trace answered %d results for %d alerts (%v): %.300s", len(out.Results), len(part), err, res.Payload)
		}
		for j, a := range part {
			want, got := s.sc.Expect(a), answerOf(out.Results[j])
			v.counts[want.Status]++
			if got.String() != want.String() {
				v.diffs++
				if v.diffs <= 5 {
					t.Errorf("alert %s: product %q, rules %q (reason %q)\n%s", a.ID, got, want, out.Results[j].Reason, s.sc.Describe(a))
				}
			}
		}
	}
	return v
}

// ingestErr invokes an ingest function and reports instead of failing, so
// that goroutines can use it.
func ingestErr(rt *fcemu.Runtime, event []byte) error {
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

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ndrtrace/ndrtrace/infra/local/cloud"
	"github.com/ndrtrace/ndrtrace/infra/local/fcemu"
	"github.com/ndrtrace/ndrtrace/infra/local/oracle"
	"github.com/ndrtrace/ndrtrace/infra/local/redisd"
	"github.com/ndrtrace/ndrtrace/shared/alert"
)

// The fault suite (make chaos; a short run in make test). Each case runs a
// generated scenario through the compiled functions while it injects one
// fault, then checks that every answer equals the rules' (as a clean run's
// do: TestOracle), and prints what it injected and what it checked.
// CHAOS_SCALE multiplies the scenarios.

func chaosScenario(t *testing.T, maxGroup, rangeGroups int) *scenario {
	n := scale(t, "CHAOS_SCALE")
	seed := seedOf(t)
	s := newScenario(t, seed, oracle.Size{Sessions: 400 * n, Requests: 150 * n, Alerts: 600 * n, Shards: 2}, maxGroup, rangeGroups)
	t.Logf("scenario: seed %d, %d records in %d trigger ranges, %d alerts", seed, len(s.sc.Records), len(s.ranges), len(s.sc.Alerts))
	return s
}

// report prints one case's outcome in the suite's format.
func report(t *testing.T, injected, checked string, v verdict) {
	t.Helper()
	result := "PASS"
	if v.diffs > 0 {
		result = "FAIL"
	}
	t.Logf("chaos: injected: %s\n  checked: %s\n  result: %s: %s", injected, checked, result, v)
	if v.diffs > 0 {
		t.Fatalf("%d answers differ from the rules after %s", v.diffs, injected)
	}
}

// retrying runs an ingest invocation as an SLS trigger does: a failed
// range is retried (after a pause) until it succeeds.
func retrying(rt *fcemu.Runtime, r triggerRange, failures *atomic.Int64) error {
	for attempt := 0; ; attempt++ {
		err := ingestErr(rt, r.Event())
		if err == nil {
			return nil
		}
		failures.Add(1)
		if attempt == 200 {
			return fmt.Errorf("still failing after %d attempts: %w", attempt, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestChaos(t *testing.T) {
	t.Run("redis killed mid-ingest", chaosRedisKilled)
	t.Run("cluster master failover", chaosClusterFailover)
	t.Run("sls errors mid-range", chaosSLSErrors)
	t.Run("deadline mid-range", chaosDeadline)
	t.Run("same range twice at once", chaosConcurrentRange)
	t.Run("results logstore failing", chaosResultsFailing)
	t.Run("clock skew", chaosClockSkew)
}

// redis-server is killed (SIGKILL) after a third of the ranges, while
// ranges are being written, and restarted from its AOF a second later.
func chaosRedisKilled(t *testing.T) {
	s := chaosScenario(t, 20, 4)
	srv, err := redisd.Start(context.Background(), "appendonly yes", "appendfsync always")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	fns := startFunctions(t, map[string]string{"REDIS_URL": srv.URL()}, time.Minute)
	var done, failures atomic.Int64
	var once sync.Once
	restarted := make(chan error, 1)
	err = s.eachShard(func(_ *rand.Rand, r triggerRange) error {
		if done.Add(1) == int64(len(s.ranges)/3) {
			once.Do(func() {
				srv.Kill()
				go func() {
					time.Sleep(5 * time.Second) // longer than go-redis's own retries
					restarted <- srv.Restart(context.Background())
				}()
			})
		}
		return retrying(s.ingestFn(fns, r), r, &failures)
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-restarted; err != nil {
		t.Fatal(err)
	}
	if failures.Load() == 0 {
		t.Fatal("no invocation failed: the kill hit no write")
	}
	v := s.check(fns.trace, s.sc.Alerts)
	report(t, fmt.Sprintf("redis-server SIGKILLed after %d of %d ranges, restarted from its AOF 5s later", len(s.ranges)/3, len(s.ranges)),
		fmt.Sprintf("%d failed invocations retried until they succeeded; every alert's answer", failures.Load()), v)
}

// In a Redis Cluster of three masters with a replica each, the master of
// the wake channel's slot is killed half-way through ingest, while traces
// wait for their mappings; its replica takes over. Ingest retries until
// the cluster answers again; the waiting traces keep waiting through the
// failover and answer from what has landed; afterwards every answer equals
// the rules'.
func chaosClusterFailover(t *testing.T) {
	ctx := context.Background()
	s := chaosScenario(t, 20, 4)
	cl, err := redisd.StartClusterWithReplicas(ctx, 3, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Stop()
	env := map[string]string{"REDIS_CLUSTER_ADDRS": strings.Join(cl.Addrs(), ",")}
	fns := startFunctions(t, env, time.Minute)
	waitEnv := map[string]string{"TRACE_MAX_WAIT": "90s"}
	for k, v := range env {
		waitEnv[k] = v
	}
	waiting := startFunctions(t, waitEnv, 3*time.Minute)

	// Traces of alerts the logs will explain, waiting before any record
	// is ingested.
	var expected []oracle.Alert
	for _, a := range s.sc.Alerts {
		if s.sc.Expect(a).Status != "untraced" && len(expected) < 200 {
			expected = append(expected, a)
		}
	}
	type batch struct {
		alerts  []oracle.Alert
		results []alert.Result
		err     error
	}
	batches := make(chan batch, 4)
	for i := 0; i < len(expected); i += 50 {
		part := expected[i:min(i+50, len(expected))]
		go func() {
			res, err := waiting.trace.Invoke(ctx, batchBody(part))
			b := batch{alerts: part, err: err}
			if err == nil && res.Error != nil {
				b.err = fmt.Errorf("%s", res.Error.Message)
			}
			if b.err == nil {
				var out struct{ Results []alert.Result }
				b.err = json.Unmarshal(res.Payload, &out)
				b.results = out.Results
			}
			batches <- b
		}()
	}
	time.Sleep(500 * time.Millisecond) // the traces are waiting

	// The first half of each shard's ranges, then the kill, then the rest.
	var first, rest []triggerRange
	seen := map[string]int{}
	perShard := map[string]int{}
	for _, r := range s.ranges {
		perShard[fmt.Sprint(r.logstore, r.shard)]++
	}
	for _, r := range s.ranges {
		k := fmt.Sprint(r.logstore, r.shard)
		if seen[k] < perShard[k]/2 {
			first = append(first, r)
		} else {
			rest = append(rest, r)
		}
		seen[k]++
	}
	var failures atomic.Int64
	phase := func(rs []triggerRange) {
		part := *s
		part.ranges = rs
		if err := part.eachShard(func(_ *rand.Rand, r triggerRange) error { return retrying(s.ingestFn(fns, r), r, &failures) }); err != nil {
			t.Fatal(err)
		}
	}
	phase(first)
	victim, err := cl.Master(ctx, "ndr:wake")
	if err != nil {
		t.Fatal(err)
	}
	if err := victim.WaitReplicated(ctx); err != nil {
		t.Fatal(err)
	}
	victim.Kill()
	phase(rest)

	wrong := 0
	for range (len(expected) + 49) / 50 {
		b := <-batches
		if b.err != nil || len(b.results) != len(b.alerts) {
			t.Fatalf("a waiting trace: %v (%d results for %d alerts)", b.err, len(b.results), len(b.alerts))
		}
		for i, a := range b.alerts {
			// A waiting trace answers with what has landed when it looks:
			// the endpoints it names all fit, and it names at least one.
			got, want := answerOf(b.results[i]), s.sc.Expect(a)
			ok := (got.Status == "traced" || got.Status == "ambiguous") && len(got.Endpoints) > 0
			for _, e := range got.Endpoints {
				ok = ok && slices.Contains(want.Endpoints, e)
			}
			if !ok {
				wrong++
				if wrong <= 3 {
					t.Errorf("waiting alert %s: %q (reason %q), rules %q", a.ID, got, b.results[i].Reason, want)
				}
			}
		}
	}
	if wrong > 0 {
		t.Fatalf("%d of %d waiting traces answered wrongly across the failover", wrong, len(expected))
	}
	// Every answer, from a trace instance with a 3 s wall (the untraced wait
	// it out; a lookup that meets a node mid-failover is retried).
	after := startFunctions(t, map[string]string{"REDIS_CLUSTER_ADDRS": env["REDIS_CLUSTER_ADDRS"], "TRACE_MAX_WAIT": "3s"}, time.Minute)
	v := s.check(after.trace, s.sc.Alerts)
	report(t, fmt.Sprintf("SIGKILL of the master %s (the wake channel's slot) after %d of %d ranges; its replica promoted after the 1 s node timeout", victim.Addr, len(first), len(s.ranges)),
		fmt.Sprintf("%d failed invocations retried until the cluster answered; %d traces waiting through the failover each named fitting endpoints; every alert's answer afterwards", failures.Load(), len(expected)), v)
}

// batchBody renders alerts as one batch.
func batchBody(alerts []oracle.Alert) []byte {
	var body bytes.Buffer
	body.WriteString(`{"alerts":[`)
	for i, a := range alerts {
		if i > 0 {
			body.WriteByte(',')
		}
		body.Write(a.JSON())
	}
	body.WriteString(`]}`)
	return body.Bytes()
}

// PullLogs answers 500, 502 and ReadQuotaExceed in the middle of ranges:
// a few failures are retried within the invocation; a long run of them
// fails it, and the trigger's retry finishes the range.
func chaosSLSErrors(t *testing.T) {
	s := chaosScenario(t, 1, 400) // one record a group: ranges of several pages
	srv, err := redisd.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	fns := startFunctions(t, map[string]string{"REDIS_URL": srv.URL()}, time.Minute)
	// A short timeout for the invocations that meet a failing service: the
	// SDK retries 5xx within a third of what is left, then gives up.
	brief := startFunctions(t, map[string]string{"REDIS_URL": srv.URL()}, 6*time.Second)
	faults := []struct {
		status int
		code   string
	}{{500, "InternalServerError"}, {502, "BadGateway"}, {403, "ReadQuotaExceed"}}
	var failures, short, long atomic.Int64
	var mu sync.Mutex // faults are armed per logstore: one range at a time
	err = s.eachShard(func(rng *rand.Rand, r triggerRange) error {
		mu.Lock()
		defer mu.Unlock()
		if r.groups <= 150 { // one page (100 groups): no middle to fail in
			return retrying(s.ingestFn(fns, r), r, &failures)
		}
		f := faults[rng.IntN(len(faults))]
		if (short.Load()+long.Load())%2 == 0 {
			lc.SLS.FailAfter(project, r.logstore, 1, 2, f.status, f.code) // two failures after the first pull
			short.Add(1)
		} else {
			lc.SLS.FailAfter(project, r.logstore, 1, 10000, f.status, f.code) // failing for good
			long.Add(1)
			if err := ingestErr(s.ingestFn(brief, r), r.Event()); err == nil {
				return fmt.Errorf("a range whose pulls all failed (%d %s) succeeded", f.status, f.code)
			}
			failures.Add(1)
		}
		lc.SLS.FailNext(project, r.logstore, 0, 0, "") // the service recovers
		return retrying(s.ingestFn(fns, r), r, &failures)
	})
	if err != nil {
		t.Fatal(err)
	}
	v := s.check(fns.trace, s.sc.Alerts)
	report(t, fmt.Sprintf("PullLogs 500 / 502 / 403 ReadQuotaExceed after the first pull: %d ranges with two failures, %d failing until the service recovered", short.Load(), long.Load()),
		fmt.Sprintf("failing ranges returned an error (%d invocations) and their retries finished them; every alert's answer", failures.Load()), v)
}

// In every long range, the second pull answers 30 s late while the
// invocation has 2 s: FC ends the invocation half-way through the range
// (after its first page of groups); the retry finishes it.
func chaosDeadline(t *testing.T) {
	s := chaosScenario(t, 1, 400) // one record a group: ranges of several pages
	srv, err := redisd.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	fns := startFunctions(t, map[string]string{"REDIS_URL": srv.URL()}, time.Minute)
	short := startFunctions(t, map[string]string{"REDIS_URL": srv.URL()}, 2*time.Second)
	var failures, cut atomic.Int64
	var mu sync.Mutex // faults are armed per logstore: one range at a time
	err = s.eachShard(func(rng *rand.Rand, r triggerRange) error {
		mu.Lock()
		defer mu.Unlock()
		if r.groups > 150 { // more than one page (100 groups)
			lc.SLS.DelayAfter(project, r.logstore, 1, 1, 30*time.Second)
			err := ingestErr(s.ingestFn(short, r), r.Event())
			lc.SLS.FailNext(project, r.logstore, 0, 0, "")
			if err == nil {
				return errors.New("an invocation outlived its deadline")
			}
			cut.Add(1)
		}
		return retrying(s.ingestFn(fns, r), r, &failures)
	})
	if err != nil {
		t.Fatal(err)
	}
	if cut.Load() == 0 {
		t.Fatal("no invocation reached its deadline")
	}
	v := s.check(fns.trace, s.sc.Alerts)
	report(t, fmt.Sprintf("%d invocations (2 s timeout) whose second pull answered 30 s late: ended by the FC emulator half-way", cut.Load()),
		"the retries (60 s timeout) finished each range; every alert's answer", v)
}

// Two instances ingest the same range at the same moment, for every range.
func chaosConcurrentRange(t *testing.T) {
	s := chaosScenario(t, 20, 4)
	srv, err := redisd.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	a := startFunctions(t, map[string]string{"REDIS_URL": srv.URL()}, time.Minute)
	b := startFunctions(t, map[string]string{"REDIS_URL": srv.URL()}, time.Minute)
	err = s.eachShard(func(_ *rand.Rand, r triggerRange) error {
		errs := make(chan error, 2)
		for _, f := range []functions{a, b} {
			go func() { errs <- ingestErr(s.ingestFn(f, r), r.Event()) }()
		}
		return errors.Join(<-errs, <-errs)
	})
	if err != nil {
		t.Fatal(err)
	}
	v := s.check(a.trace, s.sc.Alerts)
	report(t, fmt.Sprintf("each of %d ranges invoked on two function instances at once", len(s.ranges)), "every alert's answer", v)
}

// The results logstore fails every write: each result still comes back,
// with the original alert, the HTTP response says it was not recorded, and
// the function's log holds the results.
func chaosResultsFailing(t *testing.T) {
	s := chaosScenario(t, 20, 4)
	srv, err := redisd.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	resultsLS := uniq("results")
	lc.Logstore(project, resultsLS)
	fns := startFunctions(t, map[string]string{"REDIS_URL": srv.URL()}, time.Minute)
	if err := s.ingestAll(fns); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	tr, err := lc.Function(context.Background(), "trace", map[string]string{
		"REDIS_URL": srv.URL(), "TRACE_MAX_WAIT": "1ms", "TRACE_LATE_WINDOW": "0",
		"RESULTS_ENDPOINT": cloud.SLSEndpoint, "RESULTS_PROJECT": project, "RESULTS_LOGSTORE": resultsLS,
	}, func(f *fcemu.Function) {
		// A short timeout bounds the SDK's retries of each failing write
		// (a third of what is left), as it would on FC.
		f.Output, f.Timeout = &logs, 8*time.Second
	})
	if err != nil {
		t.Fatal(err)
	}
	lc.SLS.FailNext(project, resultsLS, 1<<30, 500, "InternalServerError")
	defer lc.SLS.FailNext(project, resultsLS, 0, 0, "")
	v := s.check(tr, s.sc.Alerts) // direct invocations: every result is returned

	// Over HTTP, the response says the results were not recorded.
	some := s.sc.Alerts[:20]
	res := invoke(t, tr, fcemu.HTTPEvent(fcemu.HTTPRequest{Method: http.MethodPost, Path: "/", Body: batchBody(some),
		Headers: map[string]string{"Content-Type": "application/json"}}))
	if res.Error != nil {
		t.Fatalf("trace over HTTP: %v", res.Error)
	}
	var resp struct {
		StatusCode int               `json:"statusCode"`
		Headers    map[string]string `json:"headers"`
		Body       string            `json:"body"`
	}
	if err := json.Unmarshal(res.Payload, &resp); err != nil {
		t.Fatalf("HTTP response %.300s: %v", res.Payload, err)
	}
	if resp.StatusCode != 200 || resp.Headers["X-Ndrtrace-Recorded"] != "false" {
		t.Fatalf("HTTP %d, headers %v: want 200 with X-Ndrtrace-Recorded: false", resp.StatusCode, resp.Headers)
	}
	var out struct{ Results []alert.Result }
	if err := json.Unmarshal([]byte(resp.Body), &out); err != nil || len(out.Results) != len(some) {
		t.Fatalf("HTTP body holds %d results for %d alerts (%v)", len(out.Results), len(some), err)
	}
	for i, r := range out.Results {
		if r.AlertID != some[i].ID || !json.Valid(r.Alert) || !strings.Contains(string(r.Alert), some[i].ID) {
			t.Fatalf("result %d lost its alert: %+v", i, r)
		}
	}
	// The function's log holds every alert of the unrecorded batch.
	logged := logs.String()
	for _, a := range some {
		if !strings.Contains(logged, a.ID) {
			t.Fatalf("alert %s is in neither the results logstore nor the function's log", a.ID)
		}
	}
	report(t, "PutLogs on the results logstore answering 500 for every write",
		fmt.Sprintf("every result returned with its alert; HTTP answered 200 with X-Ndrtrace-Recorded: false; the %d alerts of the HTTP batch in the function's log", len(some)), v)
}

// The detector's clock is off the logs' by up to TIME_SKEW either way: every
// alert about a logged session is still answered with its endpoint.
func chaosClockSkew(t *testing.T) {
	s := chaosScenario(t, 20, 4)
	srv, err := redisd.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	fns := startFunctions(t, map[string]string{"REDIS_URL": srv.URL()}, time.Minute)
	if err := s.ingestAll(fns); err != nil {
		t.Fatal(err)
	}
	alerts, truth := s.sc.SkewedAlerts(s.seed, len(s.sc.Alerts))
	v := s.check(fns.trace, alerts)
	// check compared each answer with the rules; the rules widen every
	// window by the skew, so each alert's own record is among its answers.
	for i, a := range alerts {
		if want := s.sc.Expect(a); !slices.Contains(want.Endpoints, truth[i]) {
			t.Fatalf("alert %s (%s): the rules miss its own record %s: %v", a.ID, a.Why, truth[i], want)
		}
	}
	report(t, fmt.Sprintf("%d alerts whose clock is off the logs' by a random offset within +-TIME_SKEW (60s)", len(alerts)),
		"every answer equals the rules' and names the alert's own session", v)
}

// syncBuffer is a bytes.Buffer safe for a function's concurrent output.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

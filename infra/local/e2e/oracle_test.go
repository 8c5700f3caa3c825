package e2e

import (
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/ndrtrace/ndrtrace/infra/local/faultnet"
	"github.com/ndrtrace/ndrtrace/infra/local/oracle"
	"github.com/ndrtrace/ndrtrace/infra/local/redisd"
)

// TestOracle compares the product's answers with the brute-force reference
// over a generated scenario. The records go through the real path: the SLS
// emulator, the compiled nat-ingest and lb-ingest under the FC emulator
// (shards concurrently, some ranges replayed, some cut half-way through a
// Redis write and retried), a real redis-server, and the compiled trace.
// ORACLE_SCALE multiplies the scenario (make fuzz runs a long one);
// ORACLE_SEED replays a run.
func TestOracle(t *testing.T) {
	n := scale(t, "ORACLE_SCALE")
	size := oracle.Size{Sessions: 1200 * n, Requests: 500 * n, Alerts: 2000 * n, Shards: 4}
	seed := seedOf(t)
	s := newScenario(t, seed, size, 40, 6)
	t.Logf("oracle: seed %d (ORACLE_SEED=%d replays it): %d records, %d alerts", seed, seed, len(s.sc.Records), len(s.sc.Alerts))

	srv, err := redisd.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	cut, err := faultnet.Listen(srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer cut.Close()
	fns := startFunctions(t, map[string]string{"REDIS_URL": srv.URL()}, 5*time.Minute)
	flaky := startFunctions(t, map[string]string{"REDIS_URL": "redis://" + cut.Addr() + "/0"}, 5*time.Minute)

	// Shards concurrently, each shard's ranges in order. A fifth of the
	// ranges are first cut half-way through a Redis write (the invocation
	// fails, the trigger retries), a sixth are replayed.
	var mu, cutLock sync.Mutex // one cut at a time: the proxy is shared
	var cuts, failed, replays int
	err = s.eachShard(func(rng *rand.Rand, r triggerRange) error {
		if rng.IntN(5) == 0 {
			cutLock.Lock()
			cut.CutAfter(int64(200 + rng.IntN(6000)))
			err := ingestErr(s.ingestFn(flaky, r), r.Event())
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
		if err := ingestErr(s.ingestFn(fns, r), r.Event()); err != nil {
			return err
		}
		if rng.IntN(6) == 0 {
			mu.Lock()
			replays++
			mu.Unlock()
			return ingestErr(s.ingestFn(fns, r), r.Event())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if cuts == 0 || failed == 0 {
		t.Fatalf("no write was cut half-way (%d cuts, %d failed invocations): the scenario is too small to test retries", cuts, failed)
	}
	t.Logf("oracle: %d trigger ranges over %d shards; %d cut mid-write (%d invocations failed and were retried), %d replayed",
		len(s.ranges), size.Shards, cuts, failed, replays)

	v := s.check(fns.trace, s.sc.Alerts)
	if v.diffs > 0 {
		t.Fatalf("%d of %d answers differ from the rules (seed %d)", v.diffs, v.alerts, seed)
	}
	t.Logf("oracle: %s", v)
	if v.counts["traced"] == 0 || v.counts["ambiguous"] == 0 || v.counts["untraced"] == 0 {
		t.Fatalf("the scenario lacks a kind of answer: %v", v.counts)
	}
}

// Command load is `make load`: ndrtrace under load on loopback, bounded in
// time and traffic, stopping by itself.
//
//  1. wake-ups: 2,000 alerts waiting at once across 20 invocations of the
//     compiled trace binary under the FC emulator (one instance each, as
//     FC runs them), their mappings landing at random times; per alert,
//     the delay from its mapping's acknowledgement to its answer, and the
//     Redis subscriptions (one per instance, not per alert);
//  2. memory: 2,000,000 live mappings written in pipelined batches, and the
//     Redis memory they take;
//  3. maxmemory: Redis filling up under noeviction (writes fail, the
//     compiled nat-ingest returns an error so that its trigger retries,
//     nothing acknowledged is lost) and under volatile-ttl (writes succeed,
//     acknowledged mappings silently disappear).
//
// It prints each figure, then all of them as JSON lines (as make bench does).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime/debug"
	"slices"
	"time"

	"github.com/ndrtrace/ndrtrace/infra/local/cloud"
	"github.com/ndrtrace/ndrtrace/infra/local/redisd"
)

type figure struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
	Note  string  `json:"note,omitempty"`
}

type report struct{ figures []figure }

func (r *report) add(name string, v float64, unit, note string) {
	r.figures = append(r.figures, figure{name, v, unit, note})
	fmt.Printf("  %-52s %12.1f %-9s %s\n", name, v, unit, note)
}

type options struct {
	alerts, invocations int
	eips                int
	landing, maxWait    time.Duration
	mappings            int
	maxmemory           string
	cpuprofile          string
}

func main() {
	var o options
	flag.IntVar(&o.alerts, "alerts", 2000, "alerts waiting at once")
	flag.IntVar(&o.invocations, "invocations", 20, "trace invocations (one instance each) sharing the alerts")
	flag.IntVar(&o.eips, "eips", 4, "EIPs the alerts' tuples use (1: one busy EIP, every write wakes every alert)")
	flag.DurationVar(&o.landing, "landing", 20*time.Second, "window over which the mappings land, at random times")
	flag.DurationVar(&o.maxWait, "max-wait", 60*time.Second, "TRACE_MAX_WAIT of the trace instances")
	flag.IntVar(&o.mappings, "mappings", 2_000_000, "live mappings for the memory figure")
	flag.StringVar(&o.maxmemory, "maxmemory", "8mb", "maxmemory of the Redis filled up in part 3")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of part 1b (this process: tracers and writer) here")
	limit := flag.Duration("limit", 8*time.Minute, "the run stops itself after this long")
	flag.Parse()
	debug.SetGCPercent(400) // as s.yaml sets for the functions
	ctx, cancel := context.WithTimeout(context.Background(), *limit)
	defer cancel()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	start := time.Now()
	srv, err := redisd.Start(ctx)
	if err != nil {
		return err
	}
	defer srv.Stop()
	fmt.Printf("ndrtrace load: redis-server on %s; building the functions\n", srv.Addr)
	lc, err := cloud.Start(ctx, cloud.Options{RedisURL: srv.URL()})
	if err != nil {
		return err
	}
	defer lc.Close()
	r := &report{}

	fmt.Printf("\n1a. wake-ups: %d alerts waiting at once in %d trace invocations (one instance each), %d EIPs, mappings landing at random over %s\n",
		o.alerts, o.invocations, o.eips, o.landing)
	if err := wakeups(ctx, lc, srv, o, r); err != nil {
		return fmt.Errorf("wake-ups: %w", err)
	}
	fmt.Printf("\n1b. the same with the %d tracers in process, to time each alert's answer exactly\n", o.invocations)
	if err := wakeupsExact(ctx, srv, o, r); err != nil {
		return fmt.Errorf("wake-ups in process: %w", err)
	}
	fmt.Printf("\n2. memory: %d live mappings written in pipelined batches\n", o.mappings)
	if err := memory(ctx, srv, o.mappings, r); err != nil {
		return fmt.Errorf("memory: %w", err)
	}
	fmt.Printf("\n3. maxmemory %s: filled through store.Write and the compiled nat-ingest\n", o.maxmemory)
	if err := fillUp(ctx, lc, o.maxmemory, r); err != nil {
		return fmt.Errorf("maxmemory: %w", err)
	}
	fmt.Printf("\ndone in %s\n\n", time.Since(start).Round(time.Second))

	enc := json.NewEncoder(os.Stdout)
	stamp := time.Now().UTC().Format(time.RFC3339)
	for _, f := range r.figures {
		enc.Encode(struct {
			figure
			At string `json:"at"`
		}{f, stamp})
	}
	return nil
}

// quantile of sorted values, nearest rank.
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func sortedCopy(v []float64) []float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s
}

// Command bench is `make bench`: the figures that decide whether ndrtrace is
// practical at a NAT gateway's peak, measured side by side with the Redis
// ceiling on this machine, in one run. It prints a table and the same figures
// as JSON lines (for comparing runs).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"runtime/debug"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ndrtrace/ndrtrace/infra/local/cloud"
	"github.com/ndrtrace/ndrtrace/infra/local/redisd"
)

type figure struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
	Note  string  `json:"note,omitempty"`
}

type report struct {
	figures []figure
	targets []target
}

// target is one of issue 13's goals, judged on this run's figures.
type target struct {
	Name  string  `json:"target"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"`
	Goal  string  `json:"goal"`
	Met   bool    `json:"met"`
	Note  string  `json:"note,omitempty"`
}

// judge records a target: met says whether value reached it.
func (r *report) judge(name string, v float64, unit, goal string, met bool, note string) {
	r.targets = append(r.targets, target{name, v, unit, goal, met, note})
}

func (r *report) add(name string, v float64, unit, note string) {
	r.figures = append(r.figures, figure{name, v, unit, note})
	fmt.Fprintf(os.Stderr, "  %-46s %14.1f %s %s\n", name, v, unit, note)
}

// short renders a figure with the digits that matter.
func short(v float64) string {
	if v >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// runAs gives cmd, a process of this bench that stands in for function fn,
// the Go runtime settings s.yaml gives fn (GOGC, GOMEMLIMIT, GODEBUG), as
// the local cloud gives the compiled functions.
func runAs(cmd *exec.Cmd, fn string) error {
	root, err := cloud.ModuleRoot()
	if err != nil {
		return err
	}
	settings, err := cloud.RuntimeEnv(root, fn)
	if err != nil {
		return err
	}
	cmd.Env = os.Environ()
	for k, v := range settings {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return nil
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	slices.Sort(s)
	return s[len(s)/2]
}

func main() {
	records := flag.Int("records", 1_000_000, "NAT records for the throughput and memory figures")
	naive := flag.Int("naive", 100_000, "records for the naive one-SET-per-record baseline")
	e2e := flag.Int("e2e", 1_000_000, "records for the end-to-end ingest figures")
	alerts := flag.Int("alerts", 10_000, "alerts in the batch-lookup figure")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the store-only figure (with -batch-only: of the three batches) here")
	flag.BoolVar(&batchOnly, "batch-only", false, "only the batch-of-alerts figure")
	flag.StringVar(&binDir, "bindir", "", "compiled functions as go build -o DIR/ ./functions/... lays them out; empty: build them from this tree")
	flag.IntVar(&latePending, "pending", 10_000, "pending alerts in the late-resolution figures")
	flag.BoolVar(&lateOnly, "late-only", false, "only the late-resolution figures")
	flag.BoolVar(&ingestOnly, "ingest-only", false, "only the SLS read figures: read + parse, the pull ceilings and ingest end to end")
	child := flag.String("batch-child", "", "internal: trace the batches of the batch figure against the redis-server at this address, print the median")
	storeChildAddr := flag.String("store-child", "", "internal: run a store-only round against the redis-server at this address for each line read, print each")
	pullChildMode := flag.Bool("pull-child", false, "internal: read a pull job, then run a pull ceiling round for each line read, print each")
	flag.Parse()
	profile = *cpuprofile
	if os.Getenv("GOGC") == "" {
		// As s.yaml sets GOGC=400 for the functions; the store and batch
		// rounds' processes get all of s.yaml's settings (runAs).
		debug.SetGCPercent(400)
	}
	ctx := context.Background()
	if *pullChildMode {
		if err := pullChild(); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if *storeChildAddr != "" {
		if err := storeChild(ctx, *storeChildAddr, *records); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if *child != "" {
		if err := batchChild(ctx, *child, *records, *alerts); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(ctx, *records, *naive, *e2e, *alerts); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// ingestOnly skips every figure but the SLS read ones (for comparing read
// paths quickly).
var ingestOnly bool

// batchOnly runs only the batch figure (for profiling it).
var batchOnly bool

// binDir holds the compiled functions the end-to-end figures run.
var binDir string

// lateOnly runs only the late-resolution figures, with latePending alerts.
var (
	lateOnly    bool
	latePending int
)

func run(ctx context.Context, records, naiveN, e2eN, alerts int) error {
	srv, err := redisd.Start(ctx)
	if err != nil {
		return err
	}
	defer srv.Stop()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, PoolSize: 32}) // as config.Redis sizes it
	defer rdb.Close()
	r := &report{}
	fmt.Fprintf(os.Stderr, "ndrtrace bench: redis-server on %s, %d records\n", srv.Addr, records)

	// Timings on a shared 2-core machine vary by tens of percent from run
	// to run, the ceiling's too: three rounds of (ceiling, store-only),
	// interleaved so both see the same conditions, and their medians.
	gen := newGenerator(records)
	if lateOnly {
		if err := lateFigures(ctx, r, gen, latePending); err != nil {
			return err
		}
		r.print()
		return nil
	}
	if batchOnly {
		if _, err := ensureWritten(ctx, rdb, gen); err != nil {
			return err
		}
		batch, err := batchMedian(ctx, rdb, gen, alerts)
		if err != nil {
			return err
		}
		batch.report(r, alerts)
		r.print()
		return nil
	}
	var ceilings, runs, busy []float64
	var rounds *storeRounds
	if !ingestOnly {
		if rounds, err = startStoreRounds(ctx, srv.Addr, records); err != nil {
			return err
		}
	}
	for range 3 {
		if ingestOnly {
			break
		}
		c, err := redisCeiling(ctx, srv.Addr)
		if err != nil {
			return err
		}
		v, err := rounds.run()
		if err != nil {
			return err
		}
		ceilings, runs, busy = append(ceilings, c), append(runs, v), append(busy, lastRedisCPU)
	}
	for _, raw := range []bool{true, false} {
		rp, err := readParse(gen, raw)
		if err != nil {
			return err
		}
		name := "read + parse, no Redis, one goroutine: raw walk"
		if !raw {
			name = "read + parse, no Redis, one goroutine: SDK decode"
		}
		r.add(name, rp.perCPU, "records/CPU-s", fmt.Sprintf("records per second of the goroutine's thread CPU (its own core); wall: %.0f records/s; %.2f allocations per record; median of 3", rp.wall, rp.allocs))
		if raw {
			r.judge("read + parse without Redis, one core", rp.perCPU, "records/s", ">= 1M/s, 0 allocs/record", rp.perCPU >= 1e6 && rp.allocs < 0.01,
				fmt.Sprintf("thread CPU time; %.2f allocs/record; wall %.0f/s", rp.allocs, rp.wall))
		}
	}
	if ingestOnly {
		e2e, err := ingestEndToEnd(ctx, srv.URL(), rdb, newGenerator(e2eN))
		if err != nil {
			return err
		}
		e2e.report(r)
		r.print()
		return nil
	}
	rounds.stop()
	ceiling, storeOnly := median(ceilings), median(runs)
	r.add("ceiling: redis-benchmark SET -P 64", ceiling, "ops/s", fmt.Sprintf("median of %.0f/%.0f/%.0f", ceilings[0], ceilings[1], ceilings[2]))
	r.add("ingest store-only (parse + write)", storeOnly, "records/s",
		fmt.Sprintf("%.0f%% of ceiling; median of %.0f/%.0f/%.0f; each round %.0f%%/%.0f%%/%.0f%% of its ceiling; redis-server busy %.0f%% of a core",
			100*storeOnly/ceiling, runs[0], runs[1], runs[2], 100*runs[0]/ceilings[0], 100*runs[1]/ceilings[1], 100*runs[2]/ceilings[2], 100*median(busy)))
	for i := range runs {
		ratio := runs[i] / ceilings[i]
		r.judge(fmt.Sprintf("store-only / redis-benchmark SET ceiling, round %d", i+1), 100*ratio, "%", ">= 50% in each of 3 rounds", ratio >= 0.5,
			fmt.Sprintf("%.0f records/s against %.0f SET/s", runs[i], ceilings[i]))
	}
	mem, err := memoryPerMapping(ctx, rdb, gen)
	if err != nil {
		return err
	}
	r.add("redis memory per live NAT mapping", mem.ours, "bytes", fmt.Sprintf("at %d mappings, %d keys", records, mem.keys))
	r.judge("redis memory per live NAT mapping", mem.ours, "B", "<= 40 B", mem.ours <= 40, fmt.Sprintf("%.3f B: used_memory delta at %d mappings", mem.ours, records))

	naive, err := naiveBaseline(ctx, rdb, gen, naiveN)
	if err != nil {
		return err
	}
	r.add("naive: SET key value EX ttl per record", naive, "records/s", fmt.Sprintf("ours is %.1fx", storeOnly/naive))
	naiveMem, err := naiveMemory(ctx, rdb, gen)
	if err != nil {
		return err
	}
	r.add("naive: redis memory per mapping", naiveMem, "bytes", fmt.Sprintf("at %d mappings", records))

	e2e, err := ingestEndToEnd(ctx, srv.URL(), rdb, newGenerator(e2eN))
	if err != nil {
		return err
	}
	e2e.report(r)

	lat, err := traceLatency(ctx, rdb, gen)
	if err != nil {
		return err
	}
	r.add("trace p50, mapping present, in process", lat.p50, "ms", "")
	r.add("trace p99, mapping present, in process", lat.p99, "ms", "")

	batch, err := batchMedian(ctx, rdb, gen, alerts)
	if err != nil {
		return err
	}
	batch.report(r, alerts)

	if err := lateFigures(ctx, r, gen, latePending); err != nil {
		return err
	}

	r.print()
	return nil
}

// print writes the table and the JSON lines.
func (r *report) print() {
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(os.Stdout)
	fmt.Fprintln(tw, "figure\tvalue\tunit\tnote\t")
	for _, f := range r.figures {
		fmt.Fprintf(tw, "%s\t%.1f\t%s\t%s\t\n", f.Name, f.Value, f.Unit, f.Note)
	}
	tw.Flush()
	if len(r.targets) > 0 {
		fmt.Println()
		tw = tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "target\tvalue\tgoal\tmet\tfrom\t")
		for _, t := range r.targets {
			met := "no"
			if t.Met {
				met = "yes"
			}
			fmt.Fprintf(tw, "%s\t%s %s\t%s\t%s\t%s\t\n", t.Name, short(t.Value), t.Unit, t.Goal, met, t.Note)
		}
		tw.Flush()
	}
	fmt.Println()
	enc := json.NewEncoder(os.Stdout)
	stamp := time.Now().UTC().Format(time.RFC3339)
	for _, f := range r.figures {
		enc.Encode(struct {
			figure
			At string `json:"at"`
		}{f, stamp})
	}
	for _, t := range r.targets {
		enc.Encode(struct {
			target
			At string `json:"at"`
		}{t, stamp})
	}
}

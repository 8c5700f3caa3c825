// Command run is `make run`: it starts the local cloud, replays a realistic
// day-in-the-life of a shared NAT gateway through the compiled functions, and
// prints what the traces found. Redis is embedded unless REDIS_URL is set.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/ndrtrace/ndrtrace/infra/local/cloud"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "run:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	start := time.Now()
	// make run builds the functions beside this runner in one go command.
	opts := cloud.Options{RedisURL: os.Getenv("REDIS_URL"), Redis: cloud.RedisEmbedded, BinDir: os.Getenv("NDRTRACE_BIN")}
	if os.Getenv("VERBOSE") != "" {
		opts.Output = os.Stderr
	}
	redisDesc := "embedded Redis (miniredis)"
	if opts.RedisURL != "" {
		redisDesc = "Redis at REDIS_URL"
	}
	fmt.Printf("ndrtrace local run: starting the local cloud (SLS emulator, OpenAPI emulator, FC runtime-API emulator, %s)...\n", redisDesc)
	lc, err := cloud.Start(ctx, opts)
	if err != nil {
		return err
	}
	defer lc.Close()
	fmt.Printf("local cloud up in %s\n", time.Since(start).Round(100*time.Millisecond))

	if _, err := runDemo(ctx, lc, os.Stdout, ".build", 500*time.Millisecond); err != nil {
		return err
	}
	fmt.Printf("\ndone in %s. Function logs: VERBOSE=1 make run.\n", time.Since(start).Round(100*time.Millisecond))
	return nil
}

// facts are what the stories found, for the test to check.
type facts struct {
	now    time.Time // onboarding
	t0     time.Time // the traces' first minute
	rows   []row
	inv    invFacts
	late   []lateRow
	member []row
}

// runDemo tells every story on a running local cloud, printing to out. The
// chart goes to chartDir; tick is the real time of one scenario minute
// while log delivery is replayed.
func runDemo(ctx context.Context, lc *cloud.Cloud, out io.Writer, chartDir string, tick time.Duration) (*facts, error) {
	d := newDemo(lc, out, chartDir, tick)
	defer d.close()
	f := facts{now: d.now, t0: d.t0}
	var err error
	steps := []struct {
		title string
		do    func() error
	}{
		{"1. Onboarding", func() error { return d.setup(ctx) }},
		{"2. Logs written to SLS and ingested", func() error {
			if err := d.ingestNAT(ctx); err != nil {
				return err
			}
			return d.ingestLB(ctx)
		}},
		{"3. Alerts traced", func() error {
			if f.rows, err = d.traceAlerts(ctx); err == nil {
				printTable(out, f.rows, false)
			}
			return err
		}},
		{"4. Surge investigation: who flooded that address around " + d.around().Format("15:04 on 2006-01-02") + " (CST, Asia/Shanghai)?", func() error {
			f.inv, err = d.investigate(ctx)
			return err
		}},
		{"5. Late results: log delivery replayed as it happens", func() error {
			f.late, err = d.replayLate(ctx)
			return err
		}},
		{"6. A member account's NAT gateway in another region", func() error {
			f.member, err = d.memberStory(ctx)
			return err
		}},
	}
	var took []string
	for _, s := range steps {
		fmt.Fprintf(out, "\n== %s ==\n\n", s.title)
		start := time.Now()
		if err := s.do(); err != nil {
			return nil, fmt.Errorf("%s: %w", s.title, err)
		}
		el := time.Since(start).Round(10 * time.Millisecond)
		fmt.Fprintf(out, "\n(took %s)\n", el)
		took = append(took, fmt.Sprintf("%s %s", s.title[:2], el))
	}
	fmt.Fprintf(out, "\ntime per part: %v\n", took)
	return &f, nil
}

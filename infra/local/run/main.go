// Command run is `make run`: it starts the local cloud, replays a realistic
// day-in-the-life of a shared NAT gateway through the compiled functions, and
// prints what the traces found. Redis is embedded unless REDIS_URL is set.
package main

import (
	"context"
	"fmt"
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
	fmt.Printf("ndrtrace local run: building the functions and starting the local cloud (SLS emulator, FC runtime-API emulator, %s)...\n", redisDesc)
	lc, err := cloud.Start(ctx, opts)
	if err != nil {
		return err
	}
	defer lc.Close()
	fmt.Printf("local cloud up in %s\n\n", time.Since(start).Round(100*time.Millisecond))

	d := newDemo(lc)
	if err := d.setup(ctx); err != nil {
		return err
	}
	if err := d.ingestNAT(ctx); err != nil {
		return err
	}
	if err := d.ingestLB(ctx); err != nil {
		return err
	}
	rows, err := d.traceAlerts(ctx)
	if err != nil {
		return err
	}
	printTable(os.Stdout, rows)
	fmt.Printf("\ndone in %s. Function logs: VERBOSE=1 make run.\n", time.Since(start).Round(100*time.Millisecond))
	return nil
}

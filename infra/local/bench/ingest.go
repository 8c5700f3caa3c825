package main

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ndrtrace/ndrtrace/infra/local/redisd"
	"github.com/ndrtrace/ndrtrace/shared/ingest"
	"github.com/ndrtrace/ndrtrace/shared/mapping"
	"github.com/ndrtrace/ndrtrace/shared/natlog"
	"github.com/ndrtrace/ndrtrace/shared/slslog"
	"github.com/ndrtrace/ndrtrace/shared/store"
)

// lastRedisCPU is the share of a core redis-server used during the last
// store-only run: near 1 means Redis, not ndrtrace, set the pace.
var lastRedisCPU float64

func redisCPU(ctx context.Context, rdb *redis.Client) float64 {
	info, _ := rdb.Info(ctx, "cpu").Result()
	var total float64
	for _, line := range strings.Split(info, "\n") {
		for _, k := range []string{"used_cpu_sys:", "used_cpu_user:"} {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), k); ok {
				f, _ := strconv.ParseFloat(v, 64)
				total += f
			}
		}
	}
	return total
}

// profile, when set, is where the first store-only run writes a CPU profile.
var profile string

// redisCeiling is redis-benchmark's pipelined SET rate against the server.
func redisCeiling(ctx context.Context, addr string) (float64, error) {
	server, err := redisd.Binary()
	if err != nil {
		return 0, err
	}
	bin := filepath.Join(filepath.Dir(server), "redis-benchmark")
	host, port, _ := strings.Cut(addr, ":")
	out, err := exec.CommandContext(ctx, bin, "-h", host, "-p", port, "-t", "set", "-P", "64", "-n", "2000000", "-q", "-c", "50").CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("redis-benchmark: %v: %s", err, out)
	}
	m := regexp.MustCompile(`SET: ([0-9.]+) requests per second`).FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("redis-benchmark output not understood: %s", out)
	}
	return strconv.ParseFloat(string(m[1]), 64)
}

// emptied deletes every key, as FLUSHALL does but without its purge:
// since Redis 6.2 FLUSHALL hands the allocator's freed pages back to the
// OS, and the next round faulted ~10k pages (40 MB) back in, at 15-35 µs
// each on this VM: a third of redis-server's CPU for the round, which a
// Redis at steady state (as in production, where expiring mappings free
// what new ones take) does not spend. DEL leaves the pages to jemalloc's
// decay (10 s), well beyond the next round's start.
func emptied(ctx context.Context, rdb *redis.Client) error {
	var cursor uint64
	for {
		keys, next, err := rdb.Scan(ctx, cursor, "*", 10_000).Result()
		if err != nil {
			return fmt.Errorf("empty redis: %w", err)
		}
		if len(keys) > 0 {
			if err := rdb.Del(ctx, keys...).Err(); err != nil {
				return fmt.Errorf("empty redis: %w", err)
			}
		}
		if cursor = next; cursor == 0 {
			return nil
		}
	}
}

// ingestStoreOnly parses and writes every record through the batcher
// nat-ingest uses (parsing one batch while the previous one is written),
// minus SLS.
func ingestStoreOnly(ctx context.Context, rdb *redis.Client, g *generator) (float64, error) {
	lg, _, err := g.rawGroup()
	if err != nil {
		return 0, err
	}
	return storeOnly(ctx, rdb, &lg, len(g.records))
}

// storeOnly is ingestStoreOnly over records already rendered as the log
// group SLS would send; n is how many it holds.
func storeOnly(ctx context.Context, rdb *redis.Client, lg *slslog.Group, n int) (float64, error) {
	if err := emptied(ctx, rdb); err != nil {
		return 0, err
	}
	b := &ingest.Batcher{Store: store.New(rdb, time.Hour), Parse: natlog.Parse}
	if profile != "" && !batchOnly {
		f, err := os.Create(profile)
		if err != nil {
			return 0, err
		}
		pprof.StartCPUProfile(f)
		defer func() { pprof.StopCPUProfile(); f.Close(); profile = "" }()
	}
	cpu0 := redisCPU(ctx, rdb)
	start := time.Now()
	if err := b.Add(ctx, lg); err != nil {
		return 0, err
	}
	if err := b.Flush(ctx); err != nil {
		return 0, err
	}
	el := time.Since(start)
	lastRedisCPU = (redisCPU(ctx, rdb) - cpu0) / el.Seconds()
	if s := b.Summary(); s.Mappings != n {
		return 0, fmt.Errorf("wrote %d of %d records: %v", s.Mappings, n, s.Rejected)
	}
	return float64(n) / el.Seconds(), nil
}

// storeRounds runs the store-only rounds in a process of its own, as
// nat-ingest runs: it holds the pulled log group and its batches, not the
// million generated records this one holds, whose garbage collection
// (marking ~15M strings) was a sixth of the store-only CPU. The process
// stays up between rounds, as a warm instance does.
type storeRounds struct{ *child }

type storeRound struct {
	Rate, RedisBusy float64
	Err             string
}

func startStoreRounds(ctx context.Context, addr string, records int) (*storeRounds, error) {
	args := []string{"-store-child", addr, "-records", strconv.Itoa(records)}
	if profile != "" {
		args = append(args, "-cpuprofile", profile) // the child profiles its first round
		profile = ""
	}
	c, err := startChild(ctx, "nat-ingest", args...)
	if err != nil {
		return nil, err
	}
	return &storeRounds{c}, nil
}

// run runs one round and returns its records per second.
func (s *storeRounds) run() (float64, error) {
	var r storeRound
	if err := s.ask([]byte("run"), &r); err != nil {
		return 0, fmt.Errorf("store-only round: %w", err)
	}
	if r.Err != "" {
		return 0, fmt.Errorf("store-only round: %s", r.Err)
	}
	lastRedisCPU = r.RedisBusy
	return r.Rate, nil
}

// storeChild is the process startStoreRounds starts: it renders the
// records once, lets the generator go, then runs a round for each line
// it reads and answers each with a JSON line.
func storeChild(ctx context.Context, addr string, records int) error {
	rdb := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 32}) // as config.Redis sizes it
	defer rdb.Close()
	lg, size, err := newGenerator(records).rawGroup()
	if err != nil {
		return err
	}
	// nat-ingest holds a page at a time, this process every record at once
	// (250 MB for a million): its heap cap (s.yaml's, see runAs) is raised
	// by that much, or the GC would run without pause under a cap below
	// what is live.
	if limit := debug.SetMemoryLimit(-1); limit != math.MaxInt64 {
		debug.SetMemoryLimit(limit + int64(size))
	}
	// Generating the records left ~1 GB of garbage, which an instance of
	// nat-ingest never had: collect it and hand its pages back.
	debug.FreeOSMemory()
	return serveLines(func([]byte) any {
		v, err := storeOnly(ctx, rdb, &lg, records)
		r := storeRound{Rate: v, RedisBusy: lastRedisCPU}
		if err != nil {
			r.Err = err.Error()
		}
		return r
	})
}

type memFigure struct {
	ours float64
	keys int64
}

func usedMemory(ctx context.Context, rdb *redis.Client) (int64, error) {
	info, err := rdb.Info(ctx, "memory").Result()
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "used_memory:"); ok {
			return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, fmt.Errorf("no used_memory in INFO memory")
}

// memoryPerMapping is the used_memory delta of writing every record, per
// record, in our layout.
func memoryPerMapping(ctx context.Context, rdb *redis.Client, g *generator) (memFigure, error) {
	rdb.FlushAll(ctx)
	before, err := usedMemory(ctx, rdb)
	if err != nil {
		return memFigure{}, err
	}
	if _, err := ingestStoreOnly(ctx, rdb, g); err != nil {
		return memFigure{}, err
	}
	after, err := usedMemory(ctx, rdb)
	if err != nil {
		return memFigure{}, err
	}
	keys, _ := rdb.DBSize(ctx).Result()
	return memFigure{ours: float64(after-before) / float64(len(g.records)), keys: keys}, nil
}

// naiveKey and naiveValue are the obvious layout: one string key per
// mapping, readable, with its own TTL.
func naiveKV(m *mapping.Mapping) (string, string) {
	return fmt.Sprintf("nat:%s:%d:%s:%d:%s:%d", m.Egress.Addr, m.Port, m.Peer.Addr, m.Peer.Port, m.Proto, m.Start),
		fmt.Sprintf("%s|%d|%s|%s", m.Private, m.End, m.VPC, m.EgressID)
}

// naiveBaseline writes one SET ... EX per record and waits for each reply.
func naiveBaseline(ctx context.Context, rdb *redis.Client, g *generator, n int) (float64, error) {
	rdb.FlushAll(ctx)
	n = min(n, len(g.records))
	start := time.Now()
	for _, rec := range g.records[:n] {
		m, _ := natlog.Parse(rec, "", g.base)
		k, v := naiveKV(&m)
		if err := rdb.Set(ctx, k, v, time.Hour).Err(); err != nil {
			return 0, err
		}
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// naiveMemory is the naive layout's memory per mapping (written pipelined:
// memory does not depend on how the keys arrived).
func naiveMemory(ctx context.Context, rdb *redis.Client, g *generator) (float64, error) {
	rdb.FlushAll(ctx)
	before, err := usedMemory(ctx, rdb)
	if err != nil {
		return 0, err
	}
	pipe := rdb.Pipeline()
	for i, rec := range g.records {
		m, _ := natlog.Parse(rec, "", g.base)
		k, v := naiveKV(&m)
		pipe.Set(ctx, k, v, time.Hour)
		if i%10000 == 9999 {
			if _, err := pipe.Exec(ctx); err != nil {
				return 0, err
			}
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, err
	}
	after, err := usedMemory(ctx, rdb)
	if err != nil {
		return 0, err
	}
	rdb.FlushAll(ctx)
	return float64(after-before) / float64(len(g.records)), nil
}

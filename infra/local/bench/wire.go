package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/redis/go-redis/v9"

	"github.com/ndrtrace/ndrtrace/infra/local/cloud"
	"github.com/ndrtrace/ndrtrace/infra/local/fcemu"
	"github.com/ndrtrace/ndrtrace/shared/ingest"
	"github.com/ndrtrace/ndrtrace/shared/mapping"
	"github.com/ndrtrace/ndrtrace/shared/natlog"
	"github.com/ndrtrace/ndrtrace/shared/slslog"
)

// The end-to-end ingest figures read the records as a gateway's logstore
// holds them: log groups of 1,000 records over 4 shards, cut into 20 trigger
// ranges, 2 of them in flight (what the issue measured).
const (
	e2eShards      = 4
	e2eGroupSize   = 1000
	rangesPerShard = 5
	inFlight       = 2
	e2eProject     = "bench"
	e2eLogstore    = "nat-sessions"
)

// triggerRange is one trigger invocation's cursor range.
type triggerRange struct {
	Shard      int
	Begin, End string
	Records    int
}

// loadShards writes the generator's records into the emulator's logstore
// and cuts each shard's groups into rangesPerShard ranges.
func loadShards(lc *cloud.Cloud, g *generator) ([]triggerRange, error) {
	lc.SLS.CreateProject(e2eProject)
	lc.SLS.CreateLogstore(e2eProject, e2eLogstore, e2eShards, 7)
	type cut struct {
		cursors []string // cursor before each group, then the end
		records []int
	}
	shards := make([]cut, e2eShards)
	t := uint32(g.base + 600)
	for i, n := 0, 0; i < len(g.records); i, n = i+e2eGroupSize, n+1 {
		recs := g.records[i:min(i+e2eGroupSize, len(g.records))]
		lg := &sls.LogGroup{Logs: make([]*sls.Log, len(recs))}
		for j, r := range recs {
			l := &sls.Log{Time: &t, Contents: make([]*sls.LogContent, len(r))}
			for k := range r {
				l.Contents[k] = &sls.LogContent{Key: &r[k].Key, Value: &r[k].Value}
			}
			lg.Logs[j] = l
		}
		sh := &shards[n%e2eShards]
		b, e, err := lc.SLS.Append(e2eProject, e2eLogstore, n%e2eShards, lg)
		if err != nil {
			return nil, err
		}
		if len(sh.cursors) == 0 {
			sh.cursors = append(sh.cursors, b)
		}
		sh.cursors = append(sh.cursors, e)
		sh.records = append(sh.records, len(recs))
	}
	var out []triggerRange
	for s, sh := range shards {
		groups := len(sh.records)
		for k := 0; k < rangesPerShard; k++ {
			from, to := groups*k/rangesPerShard, groups*(k+1)/rangesPerShard
			if from == to {
				continue
			}
			r := triggerRange{Shard: s, Begin: sh.cursors[from], End: sh.cursors[to]}
			for _, n := range sh.records[from:to] {
				r.Records += n
			}
			out = append(out, r)
		}
	}
	return out, nil
}

// eachRange runs fn over the ranges, inFlight at a time, and returns the
// wall time of the whole.
func eachRange(ranges []triggerRange, fn func(worker int, r triggerRange) error) (time.Duration, error) {
	start := time.Now()
	next := make(chan triggerRange)
	errs := make(chan error, inFlight)
	var wg sync.WaitGroup
	for w := range inFlight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range next {
				if err := fn(w, r); err != nil {
					errs <- err
					for range next {
					}
					return
				}
			}
		}()
	}
	for _, r := range ranges {
		next <- r
	}
	close(next)
	wg.Wait()
	close(errs)
	return time.Since(start), <-errs
}

// pullCeiling reads every range with the SDK, page by page as ingest does
// (slslog's page sizes, the next page pulled while the last is handed
// over), and does nothing with the records: raw, the bytes only
// (GetLogsBytesWithQuery: transport and decompression; slslog.Read also
// splits the page into its groups, a pass over each group's top-level
// fields); otherwise decoded into the SDK's structs (PullLogsWithQuery).
// Records per second. It runs in a pullRounds process, as nat-ingest runs.
func pullCeiling(client func() sls.ClientInterface, ranges []triggerRange, raw bool) (float64, error) {
	total := 0
	for _, r := range ranges {
		total += r.Records
	}
	read := slslog.ReadDecoded
	if raw {
		read = slslog.Read
	}
	var mu sync.Mutex
	groups := 0
	el, err := eachRange(ranges, func(_ int, r triggerRange) error {
		c := client()
		defer c.Close()
		n, err := read(context.Background(), c, slslog.Range{Project: e2eProject, Logstore: e2eLogstore, Shard: r.Shard, Begin: r.Begin, End: r.End},
			func([]slslog.Group) error { return nil })
		mu.Lock()
		groups += n
		mu.Unlock()
		return err
	})
	if err != nil {
		return 0, err
	}
	if groups*e2eGroupSize < total {
		return 0, fmt.Errorf("pulled %d groups, want %d records", groups, total)
	}
	return float64(total) / el.Seconds(), nil
}

// pullRounds runs the pull ceilings in a process of its own, with
// nat-ingest's settings, as the product's pulls run. In this process, which
// holds the generated records, most rounds of the same pulls ran at a
// quarter to a half of the pace they keep there: the ceilings were not
// ceilings, and the product looked closer to them than it is.
type pullRounds struct{ *child }

// pullJob is what a pull child is told first: how to reach the emulator,
// and the ranges.
type pullJob struct {
	Proxy  string
	Creds  fcemu.Credentials
	Ranges []triggerRange
}

type pullResult struct {
	Rate float64
	Err  string
}

func startPullRounds(ctx context.Context, lc *cloud.Cloud, ranges []triggerRange) (*pullRounds, error) {
	c, err := startChild(ctx, "nat-ingest", "-pull-child")
	if err != nil {
		return nil, err
	}
	b, _ := json.Marshal(pullJob{Proxy: lc.SLS.ProxyURL(), Creds: lc.Creds, Ranges: ranges})
	var ack pullResult
	if err := c.ask(b, &ack); err != nil || ack.Err != "" {
		c.stop()
		return nil, fmt.Errorf("pull child: %v %s", err, ack.Err)
	}
	return &pullRounds{c}, nil
}

// run pulls every range once, raw or decoded, and returns records per second.
func (p *pullRounds) run(raw bool) (float64, error) {
	req := "sdk"
	if raw {
		req = "raw"
	}
	var r pullResult
	if err := p.ask([]byte(req), &r); err != nil {
		return 0, fmt.Errorf("pull child: %w", err)
	}
	if r.Err != "" {
		return 0, fmt.Errorf("pull child: %s", r.Err)
	}
	return r.Rate, nil
}

// pullChild is the process startPullRounds starts: its first line is the
// job, each later one "raw" or "sdk", a round of pullCeiling.
func pullChild() error {
	var job pullJob
	return serveLines(func(line []byte) any {
		if job.Proxy == "" {
			if err := json.Unmarshal(line, &job); err != nil || job.Proxy == "" {
				return pullResult{Err: fmt.Sprintf("bad job: %v", err)}
			}
			return pullResult{}
		}
		rate, err := pullCeiling(func() sls.ClientInterface { return cloud.SLSClient(job.Proxy, job.Creds) }, job.Ranges, string(line) == "raw")
		if err != nil {
			return pullResult{Err: err.Error()}
		}
		return pullResult{Rate: rate}
	})
}

// productEndToEnd has the compiled nat-ingest, one instance per range in
// flight under the FC emulator, ingest every range into an empty Redis.
// It returns records per second and the functions' CPU seconds.
func productEndToEnd(ctx context.Context, rdb *redis.Client, fns []*fcemu.Runtime, ranges []triggerRange) (rate float64, used usage, err error) {
	if err := rdb.FlushAll(ctx).Err(); err != nil { // marks would skip a replayed range
		return 0, usage{}, err
	}
	total := 0
	for _, r := range ranges {
		total += r.Records
	}
	u0 := functionUsage("nat-ingest")
	el, err := eachRange(ranges, func(w int, r triggerRange) error {
		res, err := fns[w].Invoke(ctx, triggerEvent(r))
		if err != nil || res.Error != nil {
			return fmt.Errorf("nat-ingest: %v %v", err, res.Error)
		}
		var s ingest.Summary
		if err := json.Unmarshal(res.Payload, &s); err != nil || s.Mappings != r.Records {
			return fmt.Errorf("nat-ingest summary %s: %v", res.Payload, err)
		}
		return nil
	})
	if err != nil {
		return 0, usage{}, err
	}
	return float64(total) / el.Seconds(), functionUsage("nat-ingest").minus(u0), nil
}

func triggerEvent(r triggerRange) []byte {
	b, _ := json.Marshal(map[string]any{
		"parameter": map[string]any{},
		"source": map[string]any{"endpoint": cloud.SLSEndpoint, "projectName": e2eProject, "logstoreName": e2eLogstore,
			"shardId": r.Shard, "beginCursor": r.Begin, "endCursor": r.End},
		"jobName": "ndrtrace-bench", "taskId": "bench", "cursorTime": time.Now().Unix(),
	})
	return b
}

// usage is what processes have used so far: CPU seconds (user + system)
// and minor page faults. On the VMs make bench has run on, a page touched
// afresh cost 3-35 µs of CPU (it swings with the host), so the faults say
// how much of a round's CPU may have gone to a heap growing.
type usage struct {
	cpu    float64
	faults int64
}

func (u usage) minus(v usage) usage { return usage{u.cpu - v.cpu, u.faults - v.faults} }

// functionUsage is the usage so far of this process's children running the
// compiled function name (the FC emulator's instances), from /proc.
func functionUsage(name string) usage {
	self := strconv.Itoa(os.Getpid())
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var ticks float64
	var faults int64
	for _, d := range dirs {
		exe, err := os.Readlink(d + "/exe")
		if err != nil || !strings.Contains(exe, "/"+name+"/") && filepath.Base(exe) != name {
			continue
		}
		stat, err := os.ReadFile(d + "/stat")
		if err != nil {
			continue
		}
		// Fields after the command's closing parenthesis: state ppid ...
		// minflt is the 10th field of the line, utime the 14th, stime the
		// 15th.
		rest := string(stat[strings.LastIndexByte(string(stat), ')')+2:])
		f := strings.Fields(rest)
		if len(f) < 13 || f[1] != self {
			continue
		}
		minflt, _ := strconv.ParseInt(f[7], 10, 64)
		u, _ := strconv.ParseFloat(f[11], 64)
		s, _ := strconv.ParseFloat(f[12], 64)
		ticks += u + s
		faults += minflt
	}
	return usage{cpu: ticks / 100, faults: faults} // USER_HZ
}

// readParseFigure is read + parse of the records without Redis.
type readParseFigure struct {
	perCPU float64 // records per second of the reading thread's CPU time
	wall   float64 // records per wall second
	allocs float64 // heap allocations per record
}

// rusageThread is getrusage's RUSAGE_THREAD (Linux): the calling thread only.
const rusageThread = 1

// threadCPU is the calling thread's user+system CPU time.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(rusageThread, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// readParse is read + parse without Redis on one goroutine, locked to its
// thread: the records' LogGroupList bytes split into groups and every
// record parsed, by the raw walk or by the SDK's decoding. The rate per
// second of the thread's CPU time is what one core does, whatever else the
// machine runs; medians of 3.
func readParse(g *generator, raw bool) (readParseFigure, error) {
	t := uint32(g.base + 600)
	gl := &sls.LogGroupList{}
	for i := 0; i < len(g.records); i += e2eGroupSize {
		recs := g.records[i:min(i+e2eGroupSize, len(g.records))]
		lg := &sls.LogGroup{}
		for _, r := range recs {
			l := &sls.Log{Time: &t}
			for k := range r {
				l.Contents = append(l.Contents, &sls.LogContent{Key: &r[k].Key, Value: &r[k].Value})
			}
			lg.Logs = append(lg.Logs, l)
		}
		gl.LogGroups = append(gl.LogGroups, lg)
	}
	page, err := gl.Marshal()
	if err != nil {
		return readParseFigure{}, err
	}
	gl = nil
	fields := make([]mapping.Field, 0, 32)
	batch := make([]mapping.Mapping, 0, ingest.BatchSize)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var perCPU, wall, allocs []float64
	for range 3 {
		var ms0, ms1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&ms0)
		start, cpu0 := time.Now(), threadCPU()
		var groups []slslog.Group
		if raw {
			if groups, err = slslog.Groups(page, ""); err != nil {
				return readParseFigure{}, err
			}
		} else {
			dec, err := sls.LogsBytesDecode(page)
			if err != nil {
				return readParseFigure{}, err
			}
			for _, lg := range dec.LogGroups {
				groups = append(groups, slslog.FromSDK(lg))
			}
		}
		n := 0
		for i := range groups {
			logs := groups[i].Logs()
			for {
				f, lt, ok := logs.Next(fields)
				if !ok {
					break
				}
				fields = f
				if m, r := natlog.Parse(f, "", lt); r == "" {
					if batch = append(batch, m); len(batch) == cap(batch) {
						clear(batch)
						batch = batch[:0]
					}
					n++
				}
			}
		}
		cpu, el := threadCPU()-cpu0, time.Since(start)
		runtime.ReadMemStats(&ms1)
		if n != len(g.records) {
			return readParseFigure{}, fmt.Errorf("parsed %d of %d records", n, len(g.records))
		}
		perCPU = append(perCPU, float64(n)/cpu.Seconds())
		wall = append(wall, float64(n)/el.Seconds())
		allocs = append(allocs, float64(ms1.Mallocs-ms0.Mallocs)/float64(n))
	}
	return readParseFigure{median(perCPU), median(wall), median(allocs)}, nil
}

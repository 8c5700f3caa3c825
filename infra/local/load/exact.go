package main

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ndrtrace/ndrtrace/infra/local/redisd"
	"github.com/ndrtrace/ndrtrace/shared/alert"
	"github.com/ndrtrace/ndrtrace/shared/app"
	"github.com/ndrtrace/ndrtrace/shared/cloud"
	"github.com/ndrtrace/ndrtrace/shared/config"
	"github.com/ndrtrace/ndrtrace/shared/egress"
	"github.com/ndrtrace/ndrtrace/shared/store"
	"github.com/ndrtrace/ndrtrace/shared/trace"
	"github.com/ndrtrace/ndrtrace/shared/traceapi"
)

// slotReads notes, on one tracer's Redis client, when each pipeline of
// slot reads (a lookup's second and last round trip) began and ended.
type slotReads struct {
	mu    sync.Mutex
	spans []span
}

type span struct{ start, end time.Time }

func (s *slotReads) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (s *slotReads) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (s *slotReads) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		start := time.Now()
		err := next(ctx, cmds)
		if readsSlots(cmds) {
			end := time.Now()
			s.mu.Lock()
			s.spans = append(s.spans, span{start, end})
			s.mu.Unlock()
		}
		return err
	}
}

func readsSlots(cmds []redis.Cmder) bool {
	for _, c := range cmds {
		args := c.Args()
		key, _ := args[len(args)-1].(string)
		if c.Name() != "get" || !strings.HasPrefix(key, "ndr:m:") {
			return false
		}
	}
	return len(cmds) > 0
}

// answeredAt is when the look that began at from (to the millisecond)
// had read its slots: the first slot-read pipeline begun since. That is
// when the alert's answer was settled.
func (s *slotReads) answeredAt(from time.Time) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sp := range s.spans {
		if !sp.start.Before(from) {
			return sp.end, true
		}
	}
	return time.Time{}, false
}

// wakeupsExact is part 1 again with the tracers in this process, wired as
// the trace function wires them (traceapi.New: its own Redis client and
// Waker per instance), so that the moment each alert is answered is known:
// a batch invocation returns only when its last alert is answered, and
// waited_ms says when the answering look began (to the millisecond), not
// when it had its answer. Each tracer's client notes when its slot reads
// end; the first to begin after the look began settled the alert.
func wakeupsExact(ctx context.Context, srv *redisd.Server, o options, r *report) error {
	ws := waitingAlerts(o.alerts, o.invocations, o.eips, o.landing)
	cfg := config.Config{RedisURL: srv.URL(), TraceMaxWait: o.maxWait, TimeSkew: time.Minute}
	tracers := make([]*trace.Tracer, o.invocations)
	reads := make([]*slotReads, o.invocations)
	for k := range tracers {
		rdb, err := cfg.Redis()
		if err != nil {
			return err
		}
		defer rdb.Close()
		h := traceapi.New(&app.App{Config: cfg, Redis: rdb, Store: store.New(rdb, time.Hour), Book: egress.Static{}}, cloud.Config{})
		defer h.Tracer.Waker.Close()
		reads[k] = &slotReads{}
		rdb.AddHook(reads[k])
		tracers[k] = h.Tracer
	}
	writer, err := cfg.Redis()
	if err != nil {
		return err
	}
	defer writer.Close()
	if err := writer.FlushAll(ctx).Err(); err != nil { // part 1a's mappings
		return err
	}
	if err := onboarded(ctx, writer, ws, o.eips); err != nil {
		return err
	}

	results := make([][]alert.Result, len(tracers))
	called := make([]time.Time, len(tracers))
	var wg sync.WaitGroup
	for k, tr := range tracers {
		var batch []*alert.Alert
		for i := k; i < len(ws); i += len(tracers) {
			items, _ := alert.Decode([]byte(ws[i].body))
			if items[0].Invalid != nil {
				return fmt.Errorf("alert load-%d: %v", i, items[0].Invalid)
			}
			batch = append(batch, items[0].Alert)
		}
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, o.maxWait+time.Minute)
			defer cancel()
			called[k] = time.Now()
			results[k] = tr.Trace(ctx, batch)
		})
	}
	time.Sleep(3 * time.Second) // every alert takes its first look, and waits
	early := 0
	for _, r := range reads {
		r.mu.Lock()
		early += len(r.spans) // no slot holds anything yet: no slot read
		r.mu.Unlock()
	}
	if o.cpuprofile != "" {
		f, err := os.Create(o.cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	err = land(ctx, store.New(writer, time.Hour), ws)
	wg.Wait()
	if o.cpuprofile != "" {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return err
	}

	var fromAck, fromStart []float64
	for k, rs := range results {
		for j, res := range rs {
			i := k + j*len(tracers)
			if err := tracedTo(res, i, ws[i].m); err != nil {
				return err
			}
			at, ok := reads[k].answeredAt(called[k].Add(time.Duration(res.WaitedMS) * time.Millisecond))
			if !ok {
				return fmt.Errorf("alert load-%d: no slot read after its answering look began", i)
			}
			fromAck = append(fromAck, ms(at.Sub(ws[i].written.acked)))
			fromStart = append(fromStart, ms(at.Sub(ws[i].written.start)))
		}
	}
	a, s := sortedCopy(fromAck), sortedCopy(fromStart)
	r.add("in process: slot reads before any mapping landed", float64(early), "pipelines", fmt.Sprintf("none: all %d alerts were waiting", len(ws)))
	r.add("wake-up: mapping acknowledged -> answer, p50", quantile(a, 0.50), "ms", "exact, per alert; tracers as traceapi wires them")
	r.add("wake-up: mapping acknowledged -> answer, p99", quantile(a, 0.99), "ms", "target <= 50 ms")
	r.add("wake-up: mapping acknowledged -> answer, max", quantile(a, 1), "ms", "")
	r.add("wake-up: write sent -> answer, p99", quantile(s, 0.99), "ms", "including store.Write's 3 round trips")
	if early > 0 {
		return fmt.Errorf("%d slot reads before any mapping was written", early)
	}
	return nil
}

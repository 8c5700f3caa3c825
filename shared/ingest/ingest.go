// Package ingest is the SLS-trigger handler shared by nat-ingest and
// lb-ingest: pull the trigger's cursor range, parse each record into a
// mapping, write mappings to the store in pipelined batches, and report.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/aliyun/fc-runtime-go-sdk/events"

	"github.com/ndrtrace/ndrtrace/shared/fcenv"
	"github.com/ndrtrace/ndrtrace/shared/mapping"
	"github.com/ndrtrace/ndrtrace/shared/slslog"
	"github.com/ndrtrace/ndrtrace/shared/store"
)

// Parser turns one record into a mapping. topic is the log group's topic
// (the ALB and CLB logs tell themselves apart by it) and logTime the
// record's own time, for absent time fields.
type Parser func(fields []mapping.Field, topic string, logTime int64) (mapping.Mapping, mapping.Reject)

// Summary is what an invocation returns.
type Summary struct {
	Project   string `json:"project"`
	Logstore  string `json:"logstore"`
	Shard     int    `json:"shard"`
	LogGroups int    `json:"log_groups"`
	// Replayed counts the log groups (of LogGroups) skipped because an
	// earlier invocation ingested them: a retried or replayed range.
	Replayed   int            `json:"replayed_groups"`
	Records    int            `json:"records"`
	Mappings   int            `json:"mappings"`
	Rejected   map[string]int `json:"rejected"`
	DurationMS int64          `json:"duration_ms"`
}

// BatchSize is how many mappings are written per pipelined flush. Larger
// batches touch each Redis slot more than once and so send fewer commands
// per mapping. With 64 records per slot (the store's layout until
// 2026-12-02) a busy gateway's buckets reached level 6 (4,096 slots each),
// where a batch of 98,304 records over 4 buckets appended ~6 entries per
// command, against ~4 at 65,536: that cut Redis's CPU per million records
// by a third and raised store-only by a quarter. With 256 per slot the
// same buckets stop at level 5 and a command brings four times as many.
// 98,304
// mappings are ~24 MB of Go memory, two of them in flight.
//
// The size also moves Redis's memory per mapping, between 32 and 44 B in
// the bench (README, "Performance"): APPEND doubles a string's buffer when
// it grows, so how much of the slots being written is slack depends on how
// many entries each APPEND brings.
const BatchSize = 98304

// Batcher parses records and writes their mappings in batches, writing one
// batch while it parses the next. It is used once per range.
type Batcher struct {
	Store *store.Store
	Parse Parser
	// Range names the shard the groups come from, for the marks that make
	// a replayed range a no-op; zero: groups are not marked.
	Range slslog.Range
	// Written, when set, is called with each batch once it is in Redis
	// (late resolution). It handles its own failures.
	Written func(ctx context.Context, batch []mapping.Mapping)

	batch    []mapping.Mapping
	marks    []string // groups whose last record is in batch
	spare    []mapping.Mapping
	inflight []*flight // oldest first, at most maxInflight
	fields   []mapping.Field
	summary  Summary
}

// maxInflight is how many batches are written at once. With one, Redis
// waited while the writer encoded the next batch and the writer waited
// while Redis worked through the last one; with two they overlap.
const maxInflight = 2

// flight is a batch being written.
type flight struct {
	batch []mapping.Mapping
	done  chan struct{} // closed once the write (and its marks) is over
	err   error
}

// batches keeps written, cleared batches across the invocations of a warm
// instance: growing and zeroing two batches per invocation (~14 MB each
// then) cost more CPU than reading and parsing the records did.
var batches sync.Pool // of *[]mapping.Mapping, every element zero

func getBatch() []mapping.Mapping {
	if p, ok := batches.Get().(*[]mapping.Mapping); ok {
		return (*p)[:0]
	}
	return make([]mapping.Mapping, 0, BatchSize)
}

// release returns the batcher's batches to the pool; it is done with.
func (b *Batcher) release() {
	for _, batch := range [][]mapping.Mapping{b.batch, b.spare} {
		if cap(batch) == BatchSize {
			clear(batch) // drop references into the pulled pages
			batch = batch[:0]
			batches.Put(&batch)
		}
	}
	b.batch, b.spare = nil, nil
}

// AddPage adds a page of log groups, skipping those an earlier invocation
// marked ingested (one round trip for the page).
func (b *Batcher) AddPage(ctx context.Context, page []slslog.Group) error {
	keys := make([]string, len(page))
	var check []string
	for i := range page {
		if k, ok := store.GroupMark(b.Range.Project, b.Range.Logstore, b.Range.Shard, page[i].Cursor); ok && b.Range.Project != "" {
			keys[i] = k
			check = append(check, k)
		}
	}
	seen, err := b.Store.Ingested(ctx, check)
	if err != nil {
		return err
	}
	done := make(map[string]bool, len(check))
	for i, k := range check {
		done[k] = seen[i]
	}
	for i := range page {
		if keys[i] != "" && done[keys[i]] {
			b.summary.LogGroups++
			b.summary.Replayed++
			continue
		}
		if err := b.Add(ctx, &page[i]); err != nil {
			return err
		}
		if keys[i] != "" {
			// Marked with the batch holding its last record: written after
			// every earlier batch, so the mark means the whole group is in.
			b.marks = append(b.marks, keys[i])
		}
	}
	return nil
}

// Add parses every record of a log group, flushing when the batch is full.
// Neither reading nor parsing allocates per record: fields are views of the
// pulled bytes, and a mapping's strings too.
func (b *Batcher) Add(ctx context.Context, g *slslog.Group) error {
	b.summary.LogGroups++
	logs := g.Logs()
	for {
		fields, logTime, ok := logs.Next(b.fields)
		if !ok {
			break
		}
		b.fields = fields
		b.summary.Records++
		m, reject := b.Parse(fields, g.Topic, logTime)
		if reject != "" {
			if b.summary.Rejected == nil {
				b.summary.Rejected = map[string]int{}
			}
			b.summary.Rejected[string(reject)]++
			continue
		}
		if b.batch == nil {
			b.batch = getBatch()
		}
		b.batch = append(b.batch, m)
		if len(b.batch) >= BatchSize {
			if err := b.flushAsync(ctx); err != nil {
				return err
			}
		}
	}
	if err := logs.Err(); err != nil {
		return fmt.Errorf("read log group at cursor %q: %w", g.Cursor, err)
	}
	return nil
}

// flushAsync starts writing the batch and returns, once fewer than
// maxInflight writes are in flight. A batch's groups are marked only after
// every earlier batch is written and marked (WriteMarkedAfter), so a mark
// still means the whole group is in, and a failed batch leaves every later
// one unmarked.
func (b *Batcher) flushAsync(ctx context.Context) error {
	if len(b.inflight) == maxInflight {
		if err := b.collect(); err != nil {
			return err
		}
	}
	batch, marks := b.batch, b.marks
	b.batch, b.spare, b.marks = b.spare, nil, nil
	f := &flight{batch: batch, done: make(chan struct{})}
	var prev *flight
	if n := len(b.inflight); n > 0 {
		prev = b.inflight[n-1]
	}
	b.inflight = append(b.inflight, f)
	go func() {
		defer close(f.done)
		f.err = b.Store.WriteMarkedAfter(ctx, batch, marks, func() error {
			if prev == nil {
				return nil
			}
			<-prev.done
			if prev.err != nil {
				return fmt.Errorf("an earlier batch was not written: %w", prev.err)
			}
			return nil
		})
		if f.err == nil && b.Written != nil {
			b.Written(ctx, batch)
		}
	}()
	return nil
}

// collect waits for the oldest write in flight. On failure it waits for
// the others too: none is left running against the pulled pages.
func (b *Batcher) collect() error {
	f := b.inflight[0]
	<-f.done
	b.inflight = append(b.inflight[:0], b.inflight[1:]...)
	if f.err != nil {
		for _, o := range b.inflight {
			<-o.done
		}
		b.inflight = b.inflight[:0]
		return f.err
	}
	b.summary.Mappings += len(f.batch)
	clear(f.batch) // drop references into the pulled pages
	if b.spare == nil {
		b.spare = f.batch[:0]
	} else if cap(f.batch) == BatchSize {
		batch := f.batch[:0]
		batches.Put(&batch)
	}
	return nil
}

// wait collects every write in flight.
func (b *Batcher) wait() error {
	for len(b.inflight) > 0 {
		if err := b.collect(); err != nil {
			return err
		}
	}
	return nil
}

// Flush writes what is buffered and waits for every write to finish.
func (b *Batcher) Flush(ctx context.Context) error {
	if err := b.wait(); err != nil {
		return err
	}
	if len(b.batch) == 0 && len(b.marks) == 0 {
		return nil
	}
	if err := b.Store.WriteMarked(ctx, b.batch, b.marks); err != nil {
		return err
	}
	if b.Written != nil {
		b.Written(ctx, b.batch)
	}
	b.summary.Mappings += len(b.batch)
	clear(b.batch)
	b.batch, b.marks = b.batch[:0], nil
	return nil
}

// Summary returns the counts so far.
func (b *Batcher) Summary() Summary { return b.summary }

// Handler serves SLS trigger events.
type Handler struct {
	Store *store.Store
	Parse Parser
	// NewClient builds the SLS client for an invocation; nil means
	// slslog.NewClient with the invocation's STS credentials.
	NewClient func(ctx context.Context, endpoint string) (sls.ClientInterface, error)
	// Read reads the range; nil means slslog.Read (the SDK's raw call,
	// walked in place).
	Read slslog.Reader
	// Written is Batcher.Written: late resolution, when on.
	Written func(ctx context.Context, batch []mapping.Mapping)
}

// ErrBadEvent marks an event that is not an SLS trigger event; retrying it
// cannot help, but it is still an error so that it shows.
var ErrBadEvent = errors.New("not an SLS trigger event")

// Handle reads the event's range and writes its mappings. Any failure to
// read SLS or write Redis is returned so the trigger retries the range; log
// groups a previous attempt finished are marked and skipped, so a replay
// leaves the state as it was.
func (h *Handler) Handle(ctx context.Context, ev events.SlsEvent) (Summary, error) {
	start := time.Now()
	log := fcenv.Logger(ctx)
	r, endpoint, err := rangeOf(ev)
	if err != nil {
		return Summary{}, err
	}
	newClient := h.NewClient
	if newClient == nil {
		newClient = func(ctx context.Context, endpoint string) (sls.ClientInterface, error) {
			cred, err := fcenv.CredentialsFrom(ctx)
			if err != nil {
				return nil, err
			}
			return slslog.NewClient(endpoint, cred, slslog.RetryBudget(ctx)), nil
		}
	}
	client, err := newClient(ctx, endpoint)
	if err != nil {
		return Summary{}, fmt.Errorf("sls client for %s: %w", endpoint, err)
	}
	defer client.Close()

	b := &Batcher{Store: h.Store, Parse: h.Parse, Range: r, Written: h.Written}
	b.summary = Summary{Project: r.Project, Logstore: r.Logstore, Shard: r.Shard}
	read := h.Read
	if read == nil {
		read = slslog.Read
	}
	_, err = read(ctx, client, r, func(page []slslog.Group) error { return b.AddPage(ctx, page) })
	if err == nil {
		err = b.Flush(ctx)
	} else {
		b.wait() // the range is retried whole: a write still in flight is moot
	}
	b.release()
	s := b.Summary()
	s.DurationMS = time.Since(start).Milliseconds()
	if err != nil {
		log.Error("ingest failed; the trigger will retry the range", "range", r.String(), "records", s.Records, "err", err)
		return s, err
	}
	log.Info("ingested", "range", r.String(), "records", s.Records, "mappings", s.Mappings, "rejected", s.Rejected, "replayed_groups", s.Replayed, "ms", s.DurationMS)
	return s, nil
}

func rangeOf(ev events.SlsEvent) (slslog.Range, string, error) {
	src := ev.Source
	if src == nil || src.Endpoint == nil || src.ProjectName == nil || src.LogstoreName == nil ||
		src.ShardID == nil || src.BeginCursor == nil || src.EndCursor == nil {
		return slslog.Range{}, "", fmt.Errorf("%w: source.endpoint, projectName, logstoreName, shardId, beginCursor and endCursor are required", ErrBadEvent)
	}
	return slslog.Range{Project: *src.ProjectName, Logstore: *src.LogstoreName, Shard: *src.ShardID,
		Begin: *src.BeginCursor, End: *src.EndCursor}, *src.Endpoint, nil
}

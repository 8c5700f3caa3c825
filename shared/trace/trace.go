// Package trace answers alerts: for each public five-tuple it finds the
// private endpoint behind the shared egress, waiting for late logs with
// backoff and wake-ups up to a limit, and never loses the alert.
package trace

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ndrtrace/ndrtrace/shared/alert"
	"github.com/ndrtrace/ndrtrace/shared/egress"
	"github.com/ndrtrace/ndrtrace/shared/mapping"
	"github.com/ndrtrace/ndrtrace/shared/store"
	"github.com/ndrtrace/ndrtrace/shared/tuple"
)

// Config holds the timing of a trace.
type Config struct {
	MaxWait time.Duration // longest wait for a mapping (TRACE_MAX_WAIT)
	Skew    time.Duration // slack around windows (TIME_SKEW)
	// Reserve is kept back from the invocation deadline to record results.
	Reserve    time.Duration
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// NameGrace is how far past the wait's deadline naming instances may
	// run (default 500ms): with recording, the answer stays within a
	// second of the wall whatever the cloud does.
	NameGrace time.Duration
}

func (c *Config) defaults() {
	if c.MaxWait <= 0 {
		c.MaxWait = 90 * time.Second
	}
	if c.Skew < 0 {
		c.Skew = 0
	}
	if c.Reserve <= 0 {
		c.Reserve = 2 * time.Second
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = 200 * time.Millisecond
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 5 * time.Second
	}
	if c.NameGrace <= 0 {
		c.NameGrace = 500 * time.Millisecond
	}
}

// Assets names the ECS instances behind the private endpoints of a batch,
// all at once (the inventory's resolver). It fills each Naming's Asset in
// place (instance, ENI, and account and region where the egress did not
// say), and returns by ctx's deadline whatever fails underneath: what it
// cannot name keeps instance_id empty, with Why. Optional.
type Assets interface {
	Name(ctx context.Context, ns []Naming)
}

// Naming is one private endpoint to name.
type Naming struct {
	Asset *alert.Asset
	// At is the alert's time: the instance that held the address then,
	// not the one that holds it now.
	At time.Time
	// Why is set by Assets when the instance stays unnamed for a reason a
	// person should see.
	Why string
}

// Coverage decides whether an alert is in scope (the inventory). Optional:
// without it every address is traced from mappings alone.
type Coverage interface {
	Check(ctx context.Context, a *alert.Alert) (Verdict, error)
}

// Prefetcher is implemented by a Coverage or an address book that can read
// what a whole batch needs in one round trip: Prefetch reads it for every
// address of the batch's alerts and keeps it in the batch's memo
// (BatchMemo), where the per-alert Check and Lookup calls find it.
type Prefetcher interface {
	Prefetch(ctx context.Context, addrs []netip.Addr) error
}

// Verdict is what the inventory says of an alert before any wait.
type Verdict struct {
	// NotCovered, when set, is the reason the alert is answered not_covered
	// at once: its egress has the alert's category switched off, or its
	// coverage began after the alert's time.
	NotCovered string
	// Unknown means the inventory has been filled and knows neither address
	// of the alert as an egress: if the first look finds no mapping, the
	// answer is not_covered rather than a wait.
	Unknown bool
}

// Tracer traces alerts. It is safe for concurrent use.
type Tracer struct {
	Store    *store.Store
	Book     egress.Book
	Waker    *Waker
	Assets   Assets
	Coverage Coverage
	Config   Config
	// Finish, when set, sees every answer once final (late resolution).
	Finish Finisher
}

// side is one orientation of an alert: which end is the shared egress.
type side struct {
	public  tuple.Endpoint // the egress end, as the detector saw it
	entries []egress.Entry // what the address book knows of it
	query   store.Query
}

type pending struct {
	i        int
	a        *alert.Alert
	sides    []side
	unknown  bool // see Verdict.Unknown
	done     bool
	failed   error // the last lookup's failure, if it failed
	wakeKeys []string
}

// Wall is when a trace started at start stops waiting: Config.MaxWait
// after it, and never later than ctx's deadline less Config.Reserve. The
// answer, named and recorded, is due within a second of it.
func (t *Tracer) Wall(ctx context.Context, start time.Time) time.Time {
	cfg := t.Config
	cfg.defaults()
	wall := start.Add(cfg.MaxWait)
	if d, ok := ctx.Deadline(); ok && d.Add(-cfg.Reserve).Before(wall) {
		wall = d.Add(-cfg.Reserve)
	}
	return wall
}

// Trace answers every alert; results come in the order of the alerts. It
// waits at most Config.MaxWait, and never past ctx's deadline less Reserve.
func (t *Tracer) Trace(ctx context.Context, alerts []*alert.Alert) []alert.Result {
	cfg := t.Config
	cfg.defaults()
	start := time.Now()
	deadline := t.Wall(ctx, start)
	results := make([]alert.Result, len(alerts))
	ctx = context.WithValue(ctx, memoKey{}, &sync.Map{})
	plans := t.prepare(ctx, alerts, results, cfg, deadline)
	// Answers are final once named: late resolution sees them then.
	defer t.finish(ctx, alerts, results, plans, deadline.Add(finishGrace))
	// Instances are named once every answer is in, for the whole batch.
	defer func() { t.name(ctx, alerts, results, deadline, cfg) }()
	var waiting []*pending
	var wakeKeys []string
	for _, p := range plans {
		if p == nil {
			continue // answered already: not covered, or an error
		}
		waiting = append(waiting, p)
		wakeKeys = append(wakeKeys, p.egresses()...)
	}
	wake, stop := t.Waker.Listen(wakeKeys)
	defer stop()

	// Every alert is looked up at each backoff step (a full look); between
	// steps, a wake-up looks up only the alerts whose egresses were just
	// written, and the backoff goes on.
	backoff := cfg.MinBackoff
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	due, full := waiting, true
	for {
		look := ctx
		if ctx.Err() != nil {
			// Cancelled: one last look on a short leash of its own, so that
			// what is already written is still found.
			var cancel context.CancelFunc
			look, cancel = context.WithTimeout(context.WithoutCancel(ctx), lastLook)
			defer cancel()
		}
		t.look(look, due, results, time.Since(start).Milliseconds())
		waiting = unanswered(waiting)
		if len(waiting) == 0 {
			return results
		}
		remaining := time.Until(deadline)
		if remaining <= 0 || ctx.Err() != nil {
			if !full {
				due, full = waiting, true // everyone gets a last look
				continue
			}
			t.giveUp(waiting, results, start)
			return results
		}
		if full {
			timer.Reset(min(jitter(backoff), remaining))
			backoff = min(backoff*2, cfg.MaxBackoff)
		}
		due, full = next(ctx, timer, wake, waiting)
	}
}

// next waits for the next look: the backoff timer or cancellation (a full
// look), or a wake-up that concerns some of the waiting alerts.
func next(ctx context.Context, timer *time.Timer, wake *Wakeup, waiting []*pending) (due []*pending, full bool) {
	for {
		select {
		case <-timer.C:
			return waiting, true
		case <-ctx.Done():
			return waiting, true
		case <-wake.C:
			if due := concerned(waiting, wake.Take()); due != nil {
				return due, false
			}
		}
	}
}

// lastLook bounds the final lookup of a cancelled trace.
const lastLook = time.Second

// look looks the due alerts up once, answering those that fit (or are not
// covered). An alert whose lookup failed keeps waiting, with the failure
// kept: if no later look succeeds, it is answered error.
func (t *Tracer) look(ctx context.Context, due []*pending, results []alert.Result, waited int64) {
	n := 0
	for _, p := range due {
		n += len(p.sides)
	}
	qs := make([]store.Query, 0, n)
	for _, p := range due {
		for _, s := range p.sides {
			qs = append(qs, s.query)
		}
	}
	hits, err := t.Store.Lookup(ctx, qs)
	q := 0
	for _, p := range due {
		p.failed = err
		if err != nil {
			continue
		}
		r := &results[p.i]
		switch {
		case t.resolve(p, hits[q:q+len(p.sides)], r):
			r.WaitedMS, p.done = waited, true
		case p.unknown:
			r.Status, r.WaitedMS, p.done = alert.NotCovered, waited, true
			r.Reason = "neither address is an onboarded NAT gateway or load balancer"
		}
		q += len(p.sides)
	}
}

// giveUp answers what is still waiting at the wall: untraced, or error when
// its last lookup failed.
func (t *Tracer) giveUp(waiting []*pending, results []alert.Result, start time.Time) {
	waited := time.Since(start)
	for _, p := range waiting {
		r := &results[p.i]
		r.WaitedMS = waited.Milliseconds()
		if p.failed != nil {
			r.Status, r.Reason = alert.Error, "mapping store unavailable: "+p.failed.Error()
			continue
		}
		r.Status = alert.Untraced
		r.Reason = fmt.Sprintf("no log record for this tuple arrived within %s; the alert is kept as is", waited.Round(time.Second))
	}
}

// unanswered drops the alerts that have their answer, in place.
func unanswered(waiting []*pending) []*pending {
	next := waiting[:0]
	for _, p := range waiting {
		if !p.done {
			next = append(next, p)
		}
	}
	clear(waiting[len(next):])
	return next
}

// concerned picks the waiting alerts whose tuple may have been written to
// one of the written egresses. It returns nil when none.
func concerned(waiting []*pending, written map[string]*store.WakeFilter) []*pending {
	var out []*pending
	for _, p := range waiting {
		if p.concerned(written) {
			out = append(out, p)
		}
	}
	return out
}

func (p *pending) concerned(written map[string]*store.WakeFilter) bool {
	keys := p.egresses()
	k := 0
	for _, s := range p.sides {
		for range s.query.Egress {
			if f, ok := written[keys[k]]; ok && f.Concerns(&s.query) {
				return true
			}
			k++
		}
	}
	return false
}

// egresses are the wake keys of an alert's lookups, side by side, in the
// order of each side's query.Egress.
func (p *pending) egresses() []string {
	if p.wakeKeys == nil {
		for _, s := range p.sides {
			for _, e := range s.query.Egress {
				p.wakeKeys = append(p.wakeKeys, store.EgressString(e))
			}
		}
	}
	return p.wakeKeys
}

// name names the instances of every endpoint found, in one call for the
// batch, after the wait: it never delays an answer past the wait's
// deadline plus NameGrace (a cancelled trace too), and never changes one.
func (t *Tracer) name(ctx context.Context, alerts []*alert.Alert, results []alert.Result, deadline time.Time, cfg Config) {
	if t.Assets == nil {
		return
	}
	var ns []Naming
	var of []int // the result of each naming
	for i := range results {
		r := &results[i]
		switch {
		case r.Status == alert.Traced && r.Asset != nil:
			ns, of = append(ns, Naming{Asset: r.Asset, At: alerts[i].Time}), append(of, i)
		case r.Status == alert.Ambiguous:
			for k := range r.Candidates {
				ns, of = append(ns, Naming{Asset: &r.Candidates[k], At: alerts[i].Time}), append(of, i)
			}
		}
	}
	if len(ns) == 0 {
		return
	}
	end := time.Now()
	if deadline.After(end) {
		end = deadline
	}
	nctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), end.Add(cfg.NameGrace))
	t.Assets.Name(nctx, ns)
	cancel()
	for k, n := range ns {
		if n.Why == "" {
			continue
		}
		r := &results[of[k]]
		why := "instance not named: " + n.Why
		switch {
		case r.Reason == "":
			r.Reason = why
		case !strings.Contains(r.Reason, why):
			r.Reason += "; " + why
		}
	}
}

type memoKey struct{}

// BatchMemo is the memo of the batch being traced, or nil outside Trace.
// Address books and coverage keep what they read there, so that a batch
// reads each address once, however many of its alerts share it (and the
// coverage check and the book lookup of one alert read it once between
// them).
func BatchMemo(ctx context.Context) *sync.Map {
	m, _ := ctx.Value(memoKey{}).(*sync.Map)
	return m
}

// prepare checks coverage and plans the lookups of every alert. An alert
// answered at once gets its result and a nil plan. The inventory of the
// whole batch is read first, in one round trip (Prefetcher), so that the
// per-alert checks and lookups find everything in the batch's memo.
func (t *Tracer) prepare(ctx context.Context, alerts []*alert.Alert, results []alert.Result, cfg Config, deadline time.Time) []*pending {
	plans := make([]*pending, len(alerts))
	// Once the coverage store fails, the rest of the batch fails fast. A
	// store that does not answer by the wait's deadline (and a grace the
	// wall's second of slack allows: a short wall still leaves a round
	// trip) has failed.
	pctx, cancel := context.WithDeadline(ctx, deadline.Add(coverageGrace))
	defer cancel()
	failed := Within(pctx, func() error { return t.prefetch(pctx, alerts) })
	for i, a := range alerts {
		r := &results[i]
		*r = alert.Result{AlertID: a.ID, Alert: a.Raw}
		var v Verdict
		if t.Coverage != nil {
			err := failed
			if err == nil {
				if v, err = t.Coverage.Check(ctx, a); err != nil {
					failed = err
				}
			}
			if err != nil {
				r.Status, r.Reason = alert.Error, "coverage check failed: "+err.Error()
				continue
			}
			if v.NotCovered != "" {
				r.Status, r.Reason = alert.NotCovered, v.NotCovered
				continue
			}
		}
		p, err := t.plan(ctx, i, a, cfg)
		if err != nil {
			r.Status, r.Reason = alert.Error, err.Error()
			continue
		}
		p.unknown = v.Unknown
		plans[i] = p
	}
	return plans
}

// coverageGrace is how far past the wait's deadline the batch's inventory
// read may run: within the second the contract allows past the wall.
const coverageGrace = 500 * time.Millisecond

// prefetch reads the inventory of every address of the batch at once; it
// returns the coverage store's error, if that is what failed.
func (t *Tracer) prefetch(ctx context.Context, alerts []*alert.Alert) error {
	var ps []Prefetcher
	if p, ok := t.Coverage.(Prefetcher); ok {
		ps = append(ps, p)
	}
	if p, ok := t.Book.(Prefetcher); ok {
		ps = append(ps, p) // the same inventory again costs nothing: the memo has it
	}
	if len(ps) == 0 {
		return nil
	}
	seen := make(map[netip.Addr]bool, 2*len(alerts))
	addrs := make([]netip.Addr, 0, 2*len(alerts))
	for _, a := range alerts {
		for _, ad := range [2]netip.Addr{a.Tuple.Src.Addr.Unmap(), a.Tuple.Dst.Addr.Unmap()} {
			if !seen[ad] {
				seen[ad] = true
				addrs = append(addrs, ad)
			}
		}
	}
	for k, p := range ps {
		if err := p.Prefetch(ctx, addrs); err != nil {
			if k == 0 && t.Coverage != nil {
				return err
			}
			return nil // the book's lookups report it per alert
		}
	}
	return nil
}

// Within runs f and returns its error, or ctx's as soon as ctx ends, even
// if f is still running (it then finishes on its own). Redis clients only
// honour a context's deadline between commands, not on a stalled read: a
// wait that must hold a wall does not rest on them.
func Within(ctx context.Context, f func() error) error {
	if ctx.Done() == nil {
		return f()
	}
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("no answer in time: %w", ctx.Err())
	}
}

// jitter spreads retries of many concurrent traces over [d/2, d].
func jitter(d time.Duration) time.Duration {
	return d/2 + rand.N(d/2+1)
}

// plan builds the lookups of both orientations of an alert.
func (t *Tracer) plan(ctx context.Context, i int, a *alert.Alert, cfg Config) (*pending, error) {
	p := &pending{i: i, a: a}
	orientations := [2]struct{ public, peer tuple.Endpoint }{
		{a.Tuple.Dst, a.Tuple.Src}, // inbound to a VIP, or a reply to an EIP
		{a.Tuple.Src, a.Tuple.Dst}, // outbound from an EIP
	}
	// After prepare's prefetch, both lookups are answered from the batch's
	// memo.
	var known [2][]egress.Entry
	if t.Book != nil {
		for k, o := range orientations {
			var err error
			if known[k], err = t.Book.Lookup(ctx, o.public.Addr); err != nil {
				return nil, fmt.Errorf("address book lookup of %s: %w", o.public.Addr, err)
			}
		}
	}
	for k, o := range orientations {
		var entries []egress.Entry
		for _, e := range known[k] {
			if (a.AssetType == 0 || e.Kind == a.AssetType) && (a.AssetID == "" || e.ID == a.AssetID) {
				entries = append(entries, e)
			}
		}
		stored := []mapping.Egress{{Addr: o.public.Addr}}
		for _, e := range entries {
			stored = append(stored, e.StoredAs()[1:]...)
		}
		p.sides = append(p.sides, side{public: o.public, entries: entries, query: store.Query{
			Egress: stored, Unlisted: t.Book != nil && len(known[k]) == 0,
			Proto: a.Tuple.Proto, Port: o.public.Port, Peer: o.peer,
			At: a.Time.Unix(), Skew: int64(cfg.Skew / time.Second),
			Portless: a.Tuple.Proto == tuple.TCP && (a.AssetType == 0 || a.AssetType == mapping.KindALB),
		}})
	}
	return p, nil
}

// resolve fills r from the hits of both orientations; false when none fit.
func (t *Tracer) resolve(p *pending, hits [][]store.Hit, r *alert.Result) bool {
	type found struct {
		asset  alert.Asset
		egress alert.Egress
	}
	byEndpoint := map[string]*found{}
	var keys []string
	for si, s := range p.sides {
		for _, h := range hits[si] {
			if p.a.AssetType != 0 && h.Kind != p.a.AssetType || p.a.AssetID != "" && h.EgressID != "" && h.EgressID != p.a.AssetID {
				continue
			}
			entry := s.owner(h.Mapping)
			vpc := h.VPC
			if vpc == "" {
				vpc = entry.VPC
			}
			key := vpc + "|" + h.Private.String()
			if byEndpoint[key] != nil {
				continue
			}
			id := h.EgressID
			if id == "" {
				id = entry.ID
			}
			f := &found{
				asset: alert.Asset{PrivateIP: h.Private.Addr.String(), PrivatePort: h.Private.Port, VPCID: vpc,
					AccountID: orElse(h.Account, entry.Account), Region: orElse(h.Region, entry.Region), ForwardedFor: addrString(h.Client)},
				egress: alert.Egress{Type: h.Kind.String(), ID: id, PublicIP: s.public.Addr.String(), PublicPort: s.public.Port},
			}
			for _, prev := range h.Previous {
				f.asset.Retried = append(f.asset.Retried, prev.String())
			}
			byEndpoint[key] = f
			keys = append(keys, key)
		}
	}
	if len(keys) == 0 {
		return false
	}
	sort.Strings(keys)
	first := byEndpoint[keys[0]]
	r.Egress = &first.egress
	if len(keys) == 1 {
		r.Status, r.Asset = alert.Traced, &first.asset
		return true
	}
	r.Status = alert.Ambiguous
	r.Reason = fmt.Sprintf("%d private endpoints fit this tuple and time; see candidates", len(keys))
	for _, k := range keys {
		r.Candidates = append(r.Candidates, byEndpoint[k].asset)
	}
	return true
}

// owner finds the address-book entry of a hit's egress, if any.
func (s side) owner(m mapping.Mapping) egress.Entry {
	for _, e := range s.entries {
		if m.EgressID != "" && e.ID == m.EgressID {
			return e
		}
	}
	for _, e := range s.entries {
		for _, st := range e.StoredAs() {
			if st == m.Egress {
				return e
			}
		}
	}
	return egress.Entry{}
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// orElse is a, or b when a is empty: what a record says (shipped logs name
// their account and region) before what the address book says.
func orElse(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

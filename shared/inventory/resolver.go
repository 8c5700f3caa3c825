package inventory

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/errgroup"

	"github.com/ndrtrace/ndrtrace/shared/alert"
	"github.com/ndrtrace/ndrtrace/shared/cloud"
	"github.com/ndrtrace/ndrtrace/shared/fcenv"
	"github.com/ndrtrace/ndrtrace/shared/mapping"
	"github.com/ndrtrace/ndrtrace/shared/store"
	"github.com/ndrtrace/ndrtrace/shared/trace"
)

// Cache lifetimes of ENI lookups (the ECS fallback's answers).
const (
	DefaultHitTTL  = time.Hour
	DefaultMissTTL = 5 * time.Minute
)

// Defaults of the ECS fallback.
const (
	// DefaultBudget bounds the ECS fallback of one batch, all lookups
	// together: a slow or throttled ECS costs a trace its instance names,
	// never its answer or its wall.
	DefaultBudget = time.Second
	// DefaultParallel bounds the concurrent ECS lookups of one batch.
	DefaultParallel = 8
	// DefaultBreakerTTL is how long an account and region whose ECS failed
	// (an error, throttling, or no answer within the budget) is not asked.
	DefaultBreakerTTL = 30 * time.Second
)

// Finder finds the ENI holding a private IP in a VPC of an account and
// region (ECS DescribeNetworkInterfaces).
type Finder interface {
	FindENI(ctx context.Context, account, region, vpc, ip string) (cloud.ENI, bool, error)
}

// Resolver implements trace.Assets: it names the ECS instance and ENI that
// held a private endpoint's address at the alert's time, and the account
// and region it lives in, from the address history onboarding keeps (one
// pipelined read per batch). Addresses the history has never seen fall
// back to ECS, concurrently, within Budget, and not at all for an account
// and region that failed within BreakerTTL; those answers are cached in
// Redis (misses for less long).
type Resolver struct {
	Inv        *Inventory
	Finder     Finder        // nil: no fallback
	HitTTL     time.Duration // default DefaultHitTTL
	MissTTL    time.Duration // default DefaultMissTTL
	Budget     time.Duration // default DefaultBudget
	Parallel   int           // default DefaultParallel
	BreakerTTL time.Duration // default DefaultBreakerTTL

	mu     sync.Mutex
	broken map[string]breaker // "<account>/<region>" ->
}

type breaker struct {
	until time.Time
	why   string
}

// naming is one trace.Naming on its way: its parsed address and the keys
// it reads.
type naming struct {
	n   *trace.Naming
	ip  string // canonical
	at  int64
	job int // index of its ECS lookup, -1 for none
}

// Name implements trace.Assets. It returns by ctx's deadline whatever ECS
// does; what it cannot name keeps instance_id empty, and Why says why.
func (r *Resolver) Name(ctx context.Context, ns []trace.Naming) {
	var todo []naming
	for i := range ns {
		n := &ns[i]
		ip, err := netip.ParseAddr(n.Asset.PrivateIP)
		if err != nil || !mapping.ValidID(n.Asset.VPCID) {
			continue // nothing to name: no VPC, or not an address
		}
		todo = append(todo, naming{n: n, ip: ip.Unmap().String(), at: n.At.Unix(), job: -1})
	}
	if len(todo) == 0 {
		return
	}
	// One round trip: the history of every VPC for its addresses, the
	// cached ECS answers, and where each VPC lives.
	byVPC := map[string][]string{}
	cached := map[string]*redis.StringCmd{}
	where := map[string]*redis.StringCmd{}
	pipe := r.Inv.rdb.Pipeline()
	for _, t := range todo {
		vpc := t.n.Asset.VPCID
		if _, ok := byVPC[vpc]; !ok {
			byVPC[vpc] = []string{fieldScan}
			where[vpc] = pipe.Get(ctx, prefVPC+vpc)
		}
		if k := eniKey(vpc, t.ip); cached[k] == nil {
			cached[k] = pipe.Get(ctx, k)
			byVPC[vpc] = append(byVPC[vpc], t.ip)
		}
	}
	hist := map[string]*redis.SliceCmd{}
	for vpc, fields := range byVPC {
		hist[vpc] = pipe.HMGet(ctx, historyKey(vpc), fields...)
	}
	err := trace.Within(ctx, func() error {
		return store.Exec(ctx, r.Inv.rdb, pipe)
	})
	if err != nil {
		for _, t := range todo {
			t.n.Why = "reading the address history failed: " + err.Error()
		}
		return
	}
	history := make(map[string]map[string]string, len(hist))
	for vpc, c := range hist {
		history[vpc] = fieldValues(c)
	}
	var jobs []lookup
	jobOf := map[string]int{}
	for i := range todo {
		t := &todo[i]
		a := t.n.Asset
		if a.AccountID == "" || a.Region == "" {
			acct, region, ok := strings.Cut(where[a.VPCID].Val(), "|")
			if !ok {
				acct, region = fcenv.AccountID(ctx), fcenv.Region(ctx)
			}
			if a.AccountID == "" {
				a.AccountID = acct
			}
			if a.Region == "" {
				a.Region = region
			}
		}
		if v := history[a.VPCID][t.ip]; v != "" {
			if ss := decodeStretches(v); len(ss) > 0 {
				if h, ok, why := heldAt(ss, t.at); ok {
					a.InstanceID, a.ENIID = h.Instance, h.ENI
				} else {
					t.n.Why = why
				}
				continue
			}
		}
		// Never seen by onboarding: today's holder, from the cache or ECS.
		if v, err := cached[eniKey(a.VPCID, t.ip)].Result(); err == nil {
			fillENI(a, v)
			continue
		}
		if r.Finder == nil {
			continue
		}
		if !mapping.ValidID(a.Region) || !mapping.ValidID(a.AccountID) {
			t.n.Why = "no account or region known for " + a.VPCID
			continue
		}
		k := a.AccountID + "/" + a.Region + "/" + eniKey(a.VPCID, t.ip)
		j, ok := jobOf[k]
		if !ok {
			j = len(jobs)
			jobOf[k] = j
			jobs = append(jobs, lookup{account: a.AccountID, region: a.Region, vpc: a.VPCID, ip: t.ip})
		}
		t.job = j
	}
	if len(jobs) == 0 {
		return
	}
	r.fallback(ctx, jobs)
	pipe = r.Inv.rdb.Pipeline()
	for i := range jobs {
		if j := &jobs[i]; j.done {
			v, ttl := "-", r.missTTL()
			if j.found && mapping.ValidID(j.eni.ID) && (j.eni.InstanceID == "" || mapping.ValidID(j.eni.InstanceID)) {
				v, ttl = j.eni.InstanceID+"|"+j.eni.ID, r.hitTTL()
			}
			j.value = v
			pipe.Set(ctx, eniKey(j.vpc, j.ip), v, ttl)
		}
	}
	// The answers stand even if caching them fails (or stalls).
	_ = trace.Within(ctx, func() error { return store.Exec(ctx, r.Inv.rdb, pipe) })
	for _, t := range todo {
		if t.job < 0 {
			continue
		}
		switch j := jobs[t.job]; {
		case j.why != "":
			t.n.Why = j.why
		case j.value != "":
			fillENI(t.n.Asset, j.value)
		}
	}
}

// lookup is one ECS fallback lookup and its outcome.
type lookup struct {
	account, region, vpc, ip string

	done  bool // answered (found or not)
	eni   cloud.ENI
	found bool
	value string // what is cached: "<instance>|<eni>" or "-"
	why   string // why it gave no name
}

// fallback runs the lookups concurrently (at most Parallel at once) and
// returns when they are done or the budget (or ctx) ends, whichever comes
// first: a lookup still running then is abandoned, its context cancelled,
// and its account and region are not asked again for BreakerTTL.
func (r *Resolver) fallback(ctx context.Context, jobs []lookup) {
	budget := r.Budget
	if budget <= 0 {
		budget = DefaultBudget
	}
	fctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	now := time.Now()
	var run []int
	var params []lookup // what the goroutines read: jobs is written here
	for i := range jobs {
		if why, open := r.breaker(jobs[i].account, jobs[i].region, now); open {
			jobs[i].why = why
			continue
		}
		run = append(run, i)
		params = append(params, jobs[i])
	}
	type outcome struct {
		eni   cloud.ENI
		found bool
		err   error
	}
	var mu sync.Mutex
	out := make(map[int]outcome, len(run))
	closed := false // set once fallback stops waiting: late answers are dropped
	done := make(chan struct{})
	go func() {
		defer close(done)
		g := new(errgroup.Group)
		g.SetLimit(r.parallel())
		for k, i := range run {
			if fctx.Err() != nil {
				break
			}
			p := params[k]
			g.Go(func() error {
				var eni cloud.ENI
				var found bool
				err := errPaused
				// Once a lookup of an account and region failed, the rest
				// of the batch's lookups there are not made.
				if _, open := r.breaker(p.account, p.region, time.Now()); !open {
					eni, found, err = r.Finder.FindENI(fctx, p.account, p.region, p.vpc, p.ip)
				}
				mu.Lock()
				if !closed {
					out[i] = outcome{eni, found, err}
				}
				mu.Unlock()
				return nil
			})
		}
		_ = g.Wait()
	}()
	select {
	case <-done:
	case <-fctx.Done():
	}
	mu.Lock()
	closed = true
	mu.Unlock()
	for _, i := range run {
		j := &jobs[i]
		o, ok := out[i]
		switch {
		case !ok:
			j.why = fmt.Sprintf("ECS did not answer within %s in %s/%s", budget, j.account, j.region)
			r.trip(j.account, j.region, j.why)
		case o.err == errPaused:
			j.why, _ = r.breaker(j.account, j.region, now)
		case o.err != nil:
			j.why = "ECS lookup failed: " + o.err.Error()
			r.trip(j.account, j.region, j.why)
		default:
			j.done, j.eni, j.found = true, o.eni, o.found
		}
	}
}

var errPaused = errors.New("paused")

func (r *Resolver) parallel() int {
	if r.Parallel > 0 {
		return r.Parallel
	}
	return DefaultParallel
}

// breaker reports whether ECS of an account and region is paused after a
// failure, and why.
func (r *Resolver) breaker(account, region string, now time.Time) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, ok := r.broken[account+"/"+region]
	if !ok || !now.Before(b.until) {
		return "", false
	}
	return fmt.Sprintf("ECS lookups in %s/%s are paused until %s after a failure (%s)",
		account, region, b.until.UTC().Format(time.RFC3339), b.why), true
}

// trip pauses ECS lookups in an account and region for BreakerTTL.
func (r *Resolver) trip(account, region, why string) {
	ttl := r.BreakerTTL
	if ttl <= 0 {
		ttl = DefaultBreakerTTL
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.broken == nil {
		r.broken = map[string]breaker{}
	}
	r.broken[account+"/"+region] = breaker{until: time.Now().Add(ttl), why: why}
}

func eniKey(vpc, ip string) string { return prefENI + vpc + "/" + ip }

// fieldValues maps the fields of an HMGET to their values (absent ones
// left out).
func fieldValues(c *redis.SliceCmd) map[string]string {
	args := c.Args() // HMGET key field...
	vals := c.Val()
	out := make(map[string]string, len(vals))
	for i, v := range vals {
		f, _ := args[2+i].(string)
		if s, ok := v.(string); ok && f != "" {
			out[f] = s
		}
	}
	return out
}

func fillENI(a *alert.Asset, v string) {
	inst, eni, ok := strings.Cut(v, "|")
	if !ok {
		return // a cached miss
	}
	a.InstanceID, a.ENIID = inst, eni
}

func (r *Resolver) hitTTL() time.Duration {
	if r.HitTTL > 0 {
		return r.HitTTL
	}
	return DefaultHitTTL
}

func (r *Resolver) missTTL() time.Duration {
	if r.MissTTL > 0 {
		return r.MissTTL
	}
	return DefaultMissTTL
}

// CloudFinder is the production Finder: it signs with the invocation's
// credentials (fcenv.CredentialsFrom) and, for a member account, with the
// role the inventory recorded for it, assumed once and reused until shortly
// before it expires.
type CloudFinder struct {
	Inv    *Inventory
	Config cloud.Config

	mu    sync.Mutex
	base  *cloud.Client // shares one connection pool across invocations
	roles map[string]cloud.Credentials
}

// SessionName is the STS session name of assumed roles.
const SessionName = "ndrtrace"

// FindENI implements Finder.
func (f *CloudFinder) FindENI(ctx context.Context, account, region, vpc, ip string) (cloud.ENI, bool, error) {
	cl, err := f.ClientFor(ctx, account, "ndrtrace-trace")
	if err != nil {
		return cloud.ENI{}, false, err
	}
	return cl.FindENI(ctx, region, vpc, ip)
}

// ClientFor returns a cloud client acting in account: the invocation's own
// credentials, or the account's role (from the inventory) assumed with them.
func (f *CloudFinder) ClientFor(ctx context.Context, account, session string) (*cloud.Client, error) {
	fc, err := fcenv.CredentialsFrom(ctx)
	if err != nil {
		return nil, err
	}
	own := cloud.Credentials{AccessKeyID: fc.AccessKeyID, AccessKeySecret: fc.AccessKeySecret, SecurityToken: fc.SecurityToken}
	cl, err := f.client(own)
	if err != nil {
		return nil, err
	}
	role, known, err := f.Inv.Account(ctx, account)
	if err != nil {
		return nil, err
	}
	if !known || role == "" {
		return cl, nil
	}
	creds, err := f.assume(ctx, cl, role, session)
	if err != nil {
		return nil, err
	}
	return cl.WithCredentials(creds)
}

func (f *CloudFinder) client(own cloud.Credentials) (*cloud.Client, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.base == nil {
		cfg := f.Config
		if cfg.MaxAttempts <= 0 {
			// One attempt: within a trace's budget a retry cannot pay off;
			// the breaker and the cache deal with a failing ECS.
			cfg.MaxAttempts = 1
		}
		cl, err := cloud.New(own, cfg)
		if err != nil {
			return nil, err
		}
		f.base = cl
		return cl, nil
	}
	return f.base.WithCredentials(own)
}

// roleMargin is how long before expiry assumed credentials are renewed.
const roleMargin = 5 * time.Minute

func (f *CloudFinder) assume(ctx context.Context, cl *cloud.Client, role, session string) (cloud.Credentials, error) {
	f.mu.Lock()
	c, ok := f.roles[role]
	f.mu.Unlock()
	if ok && (c.Expiration.IsZero() || time.Until(c.Expiration) > roleMargin) {
		return c, nil
	}
	c, err := cl.AssumeRole(ctx, role, session, time.Hour)
	if err != nil {
		return cloud.Credentials{}, err
	}
	if c.Expiration.IsZero() {
		c.Expiration = time.Now().Add(15 * time.Minute)
	}
	f.mu.Lock()
	if f.roles == nil {
		f.roles = map[string]cloud.Credentials{}
	}
	f.roles[role] = c
	f.mu.Unlock()
	return c, nil
}

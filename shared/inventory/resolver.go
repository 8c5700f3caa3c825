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

	"github.com/ndrtrace/ndrtrace/shared/alert"
	"github.com/ndrtrace/ndrtrace/shared/cloud"
	"github.com/ndrtrace/ndrtrace/shared/fcenv"
	"github.com/ndrtrace/ndrtrace/shared/mapping"
)

// Cache lifetimes of ENI lookups.
const (
	DefaultHitTTL  = time.Hour
	DefaultMissTTL = 5 * time.Minute
)

// Finder finds the ENI holding a private IP in a VPC of an account and
// region (ECS DescribeNetworkInterfaces).
type Finder interface {
	FindENI(ctx context.Context, account, region, vpc, ip string) (cloud.ENI, bool, error)
}

// Resolver implements trace.Assets: it names the ECS instance and ENI behind
// a private endpoint, and the account and region it lives in, caching answers
// (and misses, for less long) in Redis.
type Resolver struct {
	Inv     *Inventory
	Finder  Finder
	HitTTL  time.Duration // default DefaultHitTTL
	MissTTL time.Duration // default DefaultMissTTL
	// Timeout bounds one cloud lookup (default DefaultLookupTimeout), so that
	// a slow or throttled ECS API costs a trace its instance name, not its
	// answer.
	Timeout time.Duration
}

// DefaultLookupTimeout bounds one ENI lookup.
const DefaultLookupTimeout = 5 * time.Second

// Resolve fills a.InstanceID, a.ENIID, a.AccountID and a.Region. The
// account and region are the egress's (set by the tracer from the address
// book); when absent they come from where the inventory saw the VPC, else
// from the function's own.
func (r *Resolver) Resolve(ctx context.Context, a *alert.Asset) error {
	ip, err := netip.ParseAddr(a.PrivateIP)
	if err != nil || !mapping.ValidID(a.VPCID) {
		return nil // nothing to name: no VPC, or not an address
	}
	if a.AccountID == "" || a.Region == "" {
		acct, region, ok, err := r.Inv.VPC(ctx, a.VPCID)
		if err != nil {
			return err
		}
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
	if !mapping.ValidID(a.Region) {
		return fmt.Errorf("no region known for %s", a.VPCID)
	}
	key := prefENI + a.VPCID + "/" + ip.Unmap().String()
	v, err := r.Inv.rdb.Get(ctx, key).Result()
	switch {
	case err == nil:
		fillENI(a, v)
		return nil
	case !errors.Is(err, redis.Nil):
		return err
	}
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = DefaultLookupTimeout
	}
	fctx, cancel := context.WithTimeout(ctx, timeout)
	eni, found, err := r.Finder.FindENI(fctx, a.AccountID, a.Region, a.VPCID, ip.Unmap().String())
	cancel()
	if err != nil {
		return err
	}
	v, ttl := "-", r.missTTL()
	if found && mapping.ValidID(eni.ID) && (eni.InstanceID == "" || mapping.ValidID(eni.InstanceID)) {
		v, ttl = eni.InstanceID+"|"+eni.ID, r.hitTTL()
	}
	// The answer stands even if caching it fails.
	_ = r.Inv.rdb.Set(ctx, key, v, ttl).Err()
	fillENI(a, v)
	return nil
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
		cl, err := cloud.New(own, f.Config)
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

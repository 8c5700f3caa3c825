// Package onboard is the scheduled job of the design card: in every
// configured account and region it discovers NAT gateways, ALBs and CLBs,
// onboards those that carry the tag (or are named in configuration) by
// switching their session or access logs into the right logstore (created
// with its retention and an index), and keeps the inventory in Redis fresh.
//
// A run is idempotent: what is already as it should be is only read. A dry
// run reads everything and writes nothing (no cloud, SLS or inventory
// writes), and reports what it would do. A failing account or region is
// reported and the others go on.
package onboard

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ndrtrace/ndrtrace/shared/cloud"
	"github.com/ndrtrace/ndrtrace/shared/fcenv"
	"github.com/ndrtrace/ndrtrace/shared/inventory"
	"github.com/ndrtrace/ndrtrace/shared/mapping"
	"github.com/ndrtrace/ndrtrace/shared/tuple"
)

// Cloud is what onboarding needs of the control plane; *cloud.Client
// implements it.
type Cloud interface {
	ListNATGateways(ctx context.Context, region string) ([]cloud.NATGateway, error)
	ListALBs(ctx context.Context, region string) ([]cloud.ALB, error)
	ListCLBs(ctx context.Context, region string) ([]cloud.CLB, error)
	EnableNATSessionLog(ctx context.Context, region, ngwID, logDestination string) error
	DisableNATSessionLog(ctx context.Context, region, ngwID string) error
	EnableALBAccessLog(ctx context.Context, region, id, project, logstore string) (jobID string, err error)
	EnableCLBAccessLog(ctx context.Context, region, id, project, logstore string) error
	ListENIs(ctx context.Context, region string) ([]cloud.ENI, error)
	DisableALBAccessLog(ctx context.Context, region, id string) (jobID string, err error)
	DisableCLBAccessLog(ctx context.Context, region, id string) error
	// Following changes until they take effect (settle.go).
	NATGatewayState(ctx context.Context, region, id string) (cloud.NATGateway, error)
	ALBJob(ctx context.Context, region, jobID string) (cloud.Job, bool, error)
	ALBAccessLog(ctx context.Context, region, id string) (cloud.AccessLog, string, error)
	CLBAccessLog(ctx context.Context, region, id string) (cloud.AccessLog, error)
	// The log-delivery roles (roles.go).
	RoleExists(ctx context.Context, name string) (bool, error)
	CreateServiceLinkedRole(ctx context.Context, service string) error
}

var _ Cloud = (*cloud.Client)(nil)

// Connector returns the clients acting in one account.
type Connector func(ctx context.Context, a Account) (Cloud, Logs, error)

// Runner runs onboarding.
type Runner struct {
	Config Config
	Inv    *inventory.Inventory
	// Connect reaches an account; nil: the invocation's credentials for the
	// own account, AssumeRole for members (CloudConnector).
	Connect Connector
	Now     func() time.Time
	// Parallel bounds how many accounts are worked on at once (default 4).
	Parallel int
}

// SessionName is the STS session name onboarding assumes member roles with.
const SessionName = "ndrtrace-onboard"

// CloudConnector connects with the invocation's credentials
// (fcenv.CredentialsFrom) and, for member accounts, the role assumed with
// them. It keeps one connection pool for all accounts.
func CloudConnector(cfg cloud.Config) Connector {
	var mu sync.Mutex
	var base *cloud.Client
	return func(ctx context.Context, a Account) (Cloud, Logs, error) {
		fc, err := fcenv.CredentialsFrom(ctx)
		if err != nil {
			return nil, nil, err
		}
		own := cloud.Credentials{AccessKeyID: fc.AccessKeyID, AccessKeySecret: fc.AccessKeySecret, SecurityToken: fc.SecurityToken}
		mu.Lock()
		var cl *cloud.Client
		if base == nil {
			if cl, err = cloud.New(own, cfg); err == nil {
				base = cl
			}
		} else {
			cl, err = base.WithCredentials(own)
		}
		mu.Unlock()
		if err != nil {
			return nil, nil, err
		}
		if a.Own() {
			return cl, &SLS{Creds: fc}, nil
		}
		creds, err := cl.AssumeRole(ctx, a.RoleARN, SessionName, time.Hour)
		if err != nil {
			return nil, nil, fmt.Errorf("assume %s: %w", a.RoleARN, err)
		}
		mc, err := cl.WithCredentials(creds)
		if err != nil {
			return nil, nil, err
		}
		return mc, &SLS{Creds: fcenv.Credentials{AccessKeyID: creds.AccessKeyID, AccessKeySecret: creds.AccessKeySecret, SecurityToken: creds.SecurityToken}}, nil
	}
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Run onboards every configured account and region.
func (r *Runner) Run(ctx context.Context, dryRun bool) (*Summary, error) {
	now := r.now
	start := now()
	at := start.Truncate(time.Second)
	sum := &Summary{DryRun: dryRun, StartedAt: at.UTC(), Results: []*RegionResult{}}
	accounts, err := r.Config.Resolve(fcenv.AccountID(ctx), fcenv.Region(ctx))
	if err != nil {
		return nil, err
	}
	connect := r.Connect
	if connect == nil {
		connect = CloudConnector(r.Config.Cloud)
	}
	cen := r.Config.centralFor(accounts, fcenv.AccountID(ctx), fcenv.Region(ctx))
	perAccount := make([][]*RegionResult, len(accounts))
	perRoles := make([][]RoleCheck, len(accounts))
	for i, a := range accounts {
		for _, reg := range a.Regions {
			perAccount[i] = append(perAccount[i], newRegionResult(a.ID, reg))
		}
	}
	par := r.Parallel
	if par <= 0 {
		par = 4
	}
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	for i, a := range accounts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			perRoles[i] = r.runAccount(ctx, connect, a, perAccount[i], cen, at, dryRun)
		}()
	}
	wg.Wait()
	sum.Roles = []RoleCheck{}
	for _, rs := range perRoles {
		sum.Roles = append(sum.Roles, rs...)
	}
	complete := true
	found := map[string]bool{}
	for _, rs := range perAccount {
		for _, res := range rs {
			sum.Results = append(sum.Results, res)
			complete = complete && res.Status == StatusOK
			for _, id := range res.Discovered {
				found[id] = true
			}
		}
	}
	if complete {
		for id := range r.Config.Assets {
			if !found[id] {
				sum.ConfiguredNotFound = append(sum.ConfiguredNotFound, id)
			}
		}
		slices.Sort(sum.ConfiguredNotFound)
	}
	if complete && !dryRun {
		if err := r.Inv.MarkFilled(ctx, at); err != nil {
			sum.DurationMS = time.Since(start).Milliseconds()
			return sum, fmt.Errorf("mark the inventory filled: %w", err)
		}
		sum.InventoryFilled = true
	}
	sum.DurationMS = now().Sub(start).Milliseconds()
	return sum, nil
}

func (r *Runner) runAccount(ctx context.Context, connect Connector, a Account, results []*RegionResult, cen central, at time.Time, dryRun bool) []RoleCheck {
	cl, logs, err := connect(ctx, a)
	if err == nil && !dryRun {
		if err = r.Inv.SetAccount(ctx, a.ID, a.RoleARN); err != nil {
			err = fmt.Errorf("inventory: %w", err)
		}
	}
	if err != nil {
		for _, res := range results {
			res.fail(err)
		}
		return nil
	}
	roles := newRoleChecker(cl, a.ID, dryRun)
	for i, region := range a.Regions {
		if err := ctx.Err(); err != nil {
			results[i].fail(err)
			continue
		}
		r.runRegion(ctx, a, cl, logs, roles, region, results[i], cen, at, dryRun)
	}
	return roles.checks
}

// candidate is one discovered egress on its way to a decision.
type candidate struct {
	asset       inventory.Asset // identity and addresses; the decision adds the rest
	tags        map[string]string
	internal    string // why it is not an Internet-facing egress; "" when it is
	unsupported string // why its logs cannot be enabled; "" when they can
	logging     bool   // logs are on
	target      string // where logs go (project/logstore or the NAT destination)
	want        string // the configured project/logstore
	ours        bool   // they go to the configured logstore
	// enable and disable make the change and return how to see it complete.
	enable  func(ctx context.Context) (check, error)
	disable func(ctx context.Context) (check, error) // nil when not supported
	what    string                                   // "session log" or "access log"
}

func (r *Runner) runRegion(ctx context.Context, a Account, cl Cloud, logs Logs, roles *roleChecker, region string, res *RegionResult,
	cen central, at time.Time, dryRun bool) {
	nats, err := cl.ListNATGateways(ctx, region)
	if err != nil {
		res.fail(err)
		return
	}
	albs, err := cl.ListALBs(ctx, region)
	if err != nil {
		res.fail(err)
		return
	}
	clbs, err := cl.ListCLBs(ctx, region)
	if err != nil {
		res.fail(err)
		return
	}
	// What the listings show logging was so by now: coverage of what is
	// first seen logging starts here.
	listed := toSecond(r.now())
	until := r.waitDeadline(ctx)
	prevList, err := r.Inv.RegionAssets(ctx, a.ID, region)
	if err != nil {
		res.fail(fmt.Errorf("read inventory: %w", err))
		return
	}
	prev := make(map[string]inventory.Asset, len(prevList))
	for _, p := range prevList {
		prev[p.Ref()] = p
	}

	project := a.ProjectFor(region)
	ensured := map[mapping.Kind]error{}
	ensure := func(k mapping.Kind) error {
		if err, done := ensured[k]; done {
			return err
		}
		// The roles its delivery writes with: a missing one is reported
		// (Summary.Roles), the asset is onboarded all the same.
		res.Actions = append(res.Actions, roles.need(ctx, k)...)
		d := Destination{Endpoint: a.EndpointFor(region), Project: project, Logstore: a.Logstore(k), TTL: r.Config.RetentionDays, Kind: k}
		actions, err := logs.Ensure(ctx, d, dryRun)
		res.Actions = append(res.Actions, actions...)
		ensured[k] = err
		return err
	}

	var next []inventory.Asset
	var changes []*inflight
	seen := map[string]bool{}
	for _, c := range r.candidates(a, cl, region, project, nats, albs, clbs) {
		res.Discovered = append(res.Discovered, c.asset.ID)
		if err := c.asset.Validate(); err != nil {
			res.Failed = append(res.Failed, Reasoned{c.asset.ID, err.Error()})
			continue
		}
		ref := c.asset.Ref()
		if seen[ref] {
			continue
		}
		seen[ref] = true
		p, hadPrev := prev[ref]
		if ch := r.decide(ctx, &c, p, hadPrev, ensure, res, listed, until, dryRun); ch != nil {
			ch.idx = len(next)
			changes = append(changes, ch)
		}
		next = append(next, c.asset)
	}
	r.settle(ctx, until, changes, next, res)
	for _, p := range prevList {
		if !seen[p.Ref()] {
			res.Removed = append(res.Removed, p.ID)
			res.Actions = append(res.Actions, fmt.Sprintf("drop %s %s from the inventory (no longer listed)", p.Kind, p.ID))
		}
	}
	if sh, ok := logs.(Shipper); ok && (a.ID != cen.account || region != cen.region) {
		r.ship(ctx, sh, cen, a, region, project, next, res, dryRun)
	}
	if dryRun {
		return
	}
	if err := r.Inv.ReplaceRegion(ctx, a.ID, region, next); err != nil {
		res.fail(fmt.Errorf("write inventory: %w", err))
		return
	}
	r.recordHolders(ctx, cl, region, res, at, dryRun)
}

// switchesFor reads the asset's switches: configuration first, then the tag.
func (r *Runner) switchesFor(c *candidate) (inventory.Switches, error) {
	if sw, ok := r.Config.Assets[c.asset.ID]; ok {
		return sw, nil
	}
	v, ok := c.tags[r.Config.TagKey]
	if !ok {
		return inventory.Switches{}, nil
	}
	sw, err := inventory.ParseSwitches(v)
	if err != nil {
		return inventory.Switches{}, fmt.Errorf("tag %s: %w", r.Config.TagKey, err)
	}
	return sw, nil
}

// decide works out an asset's state and switches, and makes the change it
// needs; a change made is returned, for settle to wait for.
func (r *Runner) decide(ctx context.Context, c *candidate, p inventory.Asset, hadPrev bool, ensure func(mapping.Kind) error,
	res *RegionResult, at, until time.Time, dryRun bool) (change *inflight) {
	id, kind := c.asset.ID, c.asset.Kind
	act := func(format string, args ...any) { res.Actions = append(res.Actions, fmt.Sprintf(format, args...)) }
	skip := func(reason string) { res.Skipped = append(res.Skipped, Reasoned{id, reason}) }
	failed := func(reason string) { res.Failed = append(res.Failed, Reasoned{id, reason}) }

	state := inventory.LogOff
	switch {
	case c.internal != "":
		state = inventory.LogInternal
	case c.unsupported != "":
		state = inventory.LogUnsupported
	case c.logging && c.ours:
		state = inventory.LogOn
	case c.logging:
		state = inventory.LogElsewhere
	}
	observed := state // before this run acts
	sw, swErr := r.switchesFor(c)
	if swErr != nil {
		skip(swErr.Error())
	}
	if sw.Any() {
		switch state {
		case inventory.LogInternal:
			skip(c.internal)
		case inventory.LogUnsupported:
			skip(c.unsupported)
		case inventory.LogElsewhere:
			skip(fmt.Sprintf("its %s already goes to %s, not to the configured %s; left unchanged", c.what, c.target, c.want))
		case inventory.LogOn:
			if err := ensure(kind); err != nil {
				failed("logging is on, but checking its logstore failed: " + err.Error())
			} else {
				res.AlreadyEnabled = append(res.AlreadyEnabled, id)
			}
		default:
			if err := ensure(kind); err != nil {
				failed("prepare the logstore: " + err.Error())
				break
			}
			act("enable %s of %s %s -> %s", c.what, kind, id, c.target)
			if dryRun {
				state = inventory.LogOn
				res.Enabled = append(res.Enabled, id)
				break
			}
			chk, err := start(ctx, until, c.enable)
			if err != nil {
				failed(err.Error())
				break
			}
			// Listed in Enabled, and logging, once settle sees it complete.
			state = inventory.LogOn
			change = &inflight{id: id, what: fmt.Sprintf("enable %s of %s %s", c.what, kind, id), enable: true, check: chk}
		}
		if hadPrev && p.Switches != sw {
			act("switches of %s %s: %q -> %q", kind, id, p.Switches.String(), sw.String())
		} else if !hadPrev || !p.Switches.Any() {
			act("switches of %s %s: %q", kind, id, sw.String())
		}
	} else if hadPrev && p.Switches.Any() {
		res.Untagged = append(res.Untagged, id)
		act("switch off traceability of %s %s (was %q)", kind, id, p.Switches.String())
		if r.Config.DisableOnUntag && state == inventory.LogOn {
			if c.disable == nil {
				skip(fmt.Sprintf("untagged: disabling the %s of a %s is not supported; it stays on", c.what, kind))
			} else {
				act("disable %s of %s %s", c.what, kind, id)
				if !dryRun {
					if chk, err := start(ctx, until, c.disable); err != nil {
						failed("disable on untag: " + err.Error())
					} else {
						// Not covered from the call on; listed in Disabled
						// once settle sees it complete.
						state = inventory.LogOff
						change = &inflight{id: id, what: fmt.Sprintf("disable %s of %s %s", c.what, kind, id), check: chk}
					}
				} else {
					state = inventory.LogOff
					res.Disabled = append(res.Disabled, id)
				}
			}
		}
	}

	c.asset.Switches = sw
	c.asset.Logging = state
	switch {
	case state != inventory.LogOn:
		c.asset.Since = time.Time{}
	case observed == inventory.LogOn && hadPrev && p.Logging == inventory.LogOn && !p.Since.IsZero():
		c.asset.Since = p.Since // logging has been on ever since
	default:
		// Enabled now, first seen logging now, or seen off in between (a
		// gap in coverage): coverage starts now.
		c.asset.Since = at
	}
	return change
}

func (r *Runner) candidates(a Account, cl Cloud, region, project string, nats []cloud.NATGateway, albs []cloud.ALB, clbs []cloud.CLB) []candidate {
	var out []candidate
	for _, g := range nats {
		ls := a.Logstore(mapping.KindNAT)
		dest := cloud.SLSDestination(region, a.ID, project, ls)
		c := candidate{
			asset: inventory.Asset{Kind: mapping.KindNAT, ID: g.ID, Account: a.ID, Region: region, VPC: g.VPCID, Mode: g.EipBindMode},
			tags:  g.Tags, logging: g.SessionLogEnabled, target: dest, want: project + "/" + ls, what: "session log",
		}
		if t, ok := cloud.ParseSLSDestination(g.LogDestination); ok {
			c.ours = t.Region == region && t.AccountID == a.ID && t.Project == project && t.Logstore == ls
			if !c.ours {
				c.target = g.LogDestination
			}
		}
		if strings.EqualFold(g.NetworkType, "intranet") {
			c.internal = "a VPC NAT gateway is not an Internet egress"
		}
		if !g.SessionLogSupported() {
			c.unsupported = "pay-by-specification NAT gateways cannot have session logs"
		}
		if c.internal == "" {
			for _, ip := range g.IPs {
				pub, err := tuple.ParseAddr(ip.EIP)
				if err != nil {
					continue
				}
				ad := inventory.Addr{Public: pub}
				if strings.EqualFold(g.EipBindMode, "NAT") {
					// In NAT mode the logs name the EIP by its private address.
					if priv, err := tuple.ParseAddr(ip.PrivateIP); err == nil {
						ad.Private = priv
					}
				}
				c.asset.Addrs = append(c.asset.Addrs, ad)
			}
		}
		id := g.ID
		c.enable = func(ctx context.Context) (check, error) {
			return natCheck(cl, region, id, dest, true), cl.EnableNATSessionLog(ctx, region, id, dest)
		}
		c.disable = func(ctx context.Context) (check, error) {
			return natCheck(cl, region, id, "", false), cl.DisableNATSessionLog(ctx, region, id)
		}
		out = append(out, c)
	}
	for _, lb := range albs {
		ls := a.Logstore(mapping.KindALB)
		c := lbCandidate(inventory.Asset{Kind: mapping.KindALB, ID: lb.ID, Account: a.ID, Region: region, VPC: lb.VPCID},
			lb.Tags, lb.AccessLog, project, ls)
		if !strings.EqualFold(lb.AddressType, "Internet") {
			c.internal = "an intranet ALB has no Internet-facing address"
		} else {
			for _, ad := range lb.Addresses {
				pub, err := tuple.ParseAddr(ad.Public)
				if err != nil {
					continue
				}
				x := inventory.Addr{Public: pub}
				if priv, err := tuple.ParseAddr(ad.Private); err == nil && priv != pub {
					x.Private = priv // the zone's private VIP, which access logs may name
				}
				c.asset.Addrs = append(c.asset.Addrs, x)
			}
		}
		id := lb.ID
		c.enable = func(ctx context.Context) (check, error) {
			job, err := cl.EnableALBAccessLog(ctx, region, id, project, ls)
			return albCheck(cl, region, id, job, cloud.AccessLog{Project: project, Logstore: ls}), err
		}
		c.disable = func(ctx context.Context) (check, error) {
			job, err := cl.DisableALBAccessLog(ctx, region, id)
			return albCheck(cl, region, id, job, cloud.AccessLog{}), err
		}
		out = append(out, c)
	}
	for _, lb := range clbs {
		ls := a.Logstore(mapping.KindCLB)
		c := lbCandidate(inventory.Asset{Kind: mapping.KindCLB, ID: lb.ID, Account: a.ID, Region: region, VPC: lb.VPCID},
			lb.Tags, lb.AccessLog, project, ls)
		if !strings.EqualFold(lb.AddressType, "internet") {
			c.internal = "an intranet CLB has no Internet-facing address"
		} else if pub, err := tuple.ParseAddr(lb.Address); err == nil {
			c.asset.Addrs = append(c.asset.Addrs, inventory.Addr{Public: pub})
		}
		id := lb.ID
		c.enable = func(ctx context.Context) (check, error) {
			return clbCheck(cl, region, id, cloud.AccessLog{Project: project, Logstore: ls}), cl.EnableCLBAccessLog(ctx, region, id, project, ls)
		}
		c.disable = func(ctx context.Context) (check, error) {
			return clbCheck(cl, region, id, cloud.AccessLog{}), cl.DisableCLBAccessLog(ctx, region, id)
		}
		out = append(out, c)
	}
	return out
}

// lbCandidate is what ALBs and CLBs share: access logs into project/ls,
// or already going elsewhere.
func lbCandidate(asset inventory.Asset, tags map[string]string, log cloud.AccessLog, project, ls string) candidate {
	c := candidate{
		asset: asset, tags: tags,
		logging: log.Enabled(), ours: log.Project == project && log.Logstore == ls,
		target: project + "/" + ls, want: project + "/" + ls, what: "access log",
	}
	if c.logging && !c.ours {
		c.target = log.Project + "/" + log.Logstore
	}
	return c
}

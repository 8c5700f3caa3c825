// Package inventory is the Redis-held picture of the shared egresses that
// onboarding found: which NAT gateways and load balancers exist in which
// account and region, their public addresses (and the private twins the logs
// name them by), whether each is onboarded for which category, and since when
// its logs flow. It is written by the onboard function and read by trace as
// its address book (egress.Book), its coverage oracle (trace.Coverage) and,
// with Resolver, the namer of ECS instances (trace.Assets).
//
// Layout. Every key is built from parsed values only: resource ids pass
// mapping.ValidID, addresses are netip.Addr rendered canonically.
//
//	ndr:inv:filled                 string  unix seconds of the last onboarding run that completed in every account and region
//	ndr:inv:acct:<account>         hash    role: the role ARN trace assumes for the account ("" = the function's own account)
//	ndr:inv:r:<account>:<region>   set     "<kind>:<id>" of every egress last listed in that account and region
//	ndr:inv:<kind>:<id>            hash    acct, region, vpc, mode, addrs, sw, since, log (see Asset)
//	ndr:inv:ip:<public address>    hash    "<kind>:<id>" -> "<private|->|<vpc|->|<acct>|<region>|<since>|<sw>|<log>"
//	ndr:inv:vpc:<vpc>              string  "<acct>|<region>": where a VPC lives, for naming instances
//	ndr:eni:<vpc>/<private ip>     string  "<instance>|<eni>" (TTL HitTTL) or "-" for a miss (TTL MissTTL)
//
// The per-address hash repeats the coverage of its egress so that a trace
// answers "is this address covered?" with one round trip for both addresses
// of an alert. The inventory is rewritten, region by region, by every
// onboarding run, and each key expires TTL after the run that last wrote it:
// a retired deployment, or a region onboarding no longer lists, leaves
// nothing behind for good (the ENI cache has its own, shorter TTLs).
package inventory

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ndrtrace/ndrtrace/shared/egress"
	"github.com/ndrtrace/ndrtrace/shared/mapping"
	"github.com/ndrtrace/ndrtrace/shared/store"
	"github.com/ndrtrace/ndrtrace/shared/trace"
)

// Key prefixes, in one place.
const (
	keyFilled  = "ndr:inv:filled"
	prefAcct   = "ndr:inv:acct:"
	prefRegion = "ndr:inv:r:"
	prefAsset  = "ndr:inv:"
	prefIP     = "ndr:inv:ip:"
	prefVPC    = "ndr:inv:vpc:"
	prefENI    = "ndr:eni:"
)

// TTL is how long an inventory key outlives the onboarding run that last
// wrote it. Onboarding runs every few minutes; a week rides out any outage
// of it (its failures are reported) without trace losing its address book.
const TTL = 7 * 24 * time.Hour

// Logging states of an asset (Asset.Logging).
const (
	LogOn          = "on"          // logs flow to the configured logstore
	LogOff         = "off"         // no logs
	LogElsewhere   = "elsewhere"   // logs flow, but to another project or logstore
	LogUnsupported = "unsupported" // logs cannot be enabled (pay-by-specification NAT gateway)
	LogInternal    = "internal"    // not an Internet-facing egress (VPC NAT gateway, intranet load balancer)
)

// Switches are the traceability switches of an egress.
type Switches struct {
	Attack        bool
	SensitiveData bool
}

// All is both switches on.
var All = Switches{Attack: true, SensitiveData: true}

// Any reports whether some switch is on (the egress is onboarded).
func (s Switches) Any() bool { return s.Attack || s.SensitiveData }

// On reports the switch of a category ("attack", the default, or
// "sensitive_data").
func (s Switches) On(category string) bool {
	if category == "sensitive_data" {
		return s.SensitiveData
	}
	return s.Attack
}

// String is the comma list onboarding reads from tags: "attack",
// "sensitive_data", "attack,sensitive_data", or "" for none.
func (s Switches) String() string {
	switch {
	case s.Attack && s.SensitiveData:
		return "attack,sensitive_data"
	case s.Attack:
		return "attack"
	case s.SensitiveData:
		return "sensitive_data"
	}
	return ""
}

// bits is the compact form stored per address: "as", "a", "s" or "-".
func (s Switches) bits() string {
	b := ""
	if s.Attack {
		b += "a"
	}
	if s.SensitiveData {
		b += "s"
	}
	if b == "" {
		return "-"
	}
	return b
}

func switchesFromBits(b string) Switches {
	return Switches{Attack: strings.Contains(b, "a"), SensitiveData: strings.Contains(b, "s")}
}

// ParseSwitches reads a switch list: "all" (or empty, or "true") for both,
// "none" (or "off", "false") for neither, else a comma list of "attack" and
// "sensitive_data" (also "sensitive-data"). Case and spaces do not matter.
func ParseSwitches(v string) (Switches, error) {
	v = strings.ToLower(strings.TrimSpace(v))
	switch v {
	case "", "all", "true", "on":
		return All, nil
	case "none", "off", "false":
		return Switches{}, nil
	}
	var s Switches
	for _, f := range strings.Split(v, ",") {
		switch strings.TrimSpace(f) {
		case "attack":
			s.Attack = true
		case "sensitive_data", "sensitive-data", "sensitive":
			s.SensitiveData = true
		case "":
		default:
			return Switches{}, fmt.Errorf("%q is not all, none or a comma list of attack and sensitive_data", v)
		}
	}
	if !s.Any() {
		return Switches{}, fmt.Errorf("%q names no switch", v)
	}
	return s, nil
}

// Addr is one address of an egress: the public one, and the private twin the
// logs use instead (NAT-mode EIP's private IP, ALB zone's private VIP), if any.
type Addr struct {
	Public  netip.Addr
	Private netip.Addr // invalid when the logs name the public address
}

// Asset is one egress as the inventory keeps it.
type Asset struct {
	Kind    mapping.Kind
	ID      string
	Account string
	Region  string
	VPC     string
	Mode    string // NAT gateways: EipBindMode ("NAT" or "MULTI_BINDED")
	Addrs   []Addr // Internet-facing addresses; none for internal egresses
	// Switches on means onboarded for that category.
	Switches Switches
	// Since is when the current stretch of logging began, as onboarding
	// observed it (the run that enabled logs, or the first run that saw them
	// on); zero when logs do not flow to the configured logstore.
	Since time.Time
	// Logging is LogOn, LogOff, LogElsewhere, LogUnsupported or LogInternal.
	Logging string
}

// Ref is "<kind>:<id>", the asset's name in sets and address hashes.
func (a Asset) Ref() string { return a.Kind.String() + ":" + a.ID }

// Validate checks everything that ends up in keys or in compact values.
func (a Asset) Validate() error {
	if a.Kind != mapping.KindNAT && a.Kind != mapping.KindALB && a.Kind != mapping.KindCLB {
		return fmt.Errorf("inventory: unknown kind %d", a.Kind)
	}
	for _, f := range []struct{ name, v string }{{"id", a.ID}, {"account", a.Account}, {"region", a.Region}} {
		if !mapping.ValidID(f.v) {
			return fmt.Errorf("inventory: %s %q is not a valid id", f.name, f.v)
		}
	}
	for _, f := range []struct{ name, v string }{{"vpc", a.VPC}, {"mode", a.Mode}, {"logging", a.Logging}} {
		if f.v != "" && !mapping.ValidID(f.v) {
			return fmt.Errorf("inventory: %s %q of %s is not a valid id", f.name, f.v, a.ID)
		}
	}
	for _, ad := range a.Addrs {
		if !ad.Public.IsValid() || ad.Public.Zone() != "" || ad.Private.Zone() != "" {
			return fmt.Errorf("inventory: bad address of %s", a.ID)
		}
	}
	return nil
}

// Inventory reads and writes the inventory in Redis. It is safe for
// concurrent use.
type Inventory struct {
	rdb redis.UniversalClient
}

// New returns an Inventory over rdb.
func New(rdb redis.UniversalClient) *Inventory { return &Inventory{rdb: rdb} }

func assetKey(ref string) string { return prefAsset + ref }

func ipKey(a netip.Addr) string {
	var b [64]byte // on the stack: the key is the only allocation
	return string(a.Unmap().AppendTo(append(b[:0], prefIP...)))
}

func regionKey(account, region string) string { return prefRegion + account + ":" + region }

// MarkFilled records that an onboarding run completed everywhere at t.
func (inv *Inventory) MarkFilled(ctx context.Context, t time.Time) error {
	return inv.rdb.Set(ctx, keyFilled, strconv.FormatInt(t.Unix(), 10), TTL).Err()
}

// Filled returns the time of the last complete onboarding run; ok is false
// while onboarding has never completed.
func (inv *Inventory) Filled(ctx context.Context) (t time.Time, ok bool, err error) {
	v, err := inv.rdb.Get(ctx, keyFilled).Result()
	if errors.Is(err, redis.Nil) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, err
	}
	return parseFilled(v)
}

func parseFilled(v string) (time.Time, bool, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("inventory: bad %s value %q", keyFilled, v)
	}
	return time.Unix(n, 0), true, nil
}

// SetAccount records how trace reaches an account: roleARN is the role to
// assume, "" for the function's own account.
func (inv *Inventory) SetAccount(ctx context.Context, account, roleARN string) error {
	if !mapping.ValidID(account) {
		return fmt.Errorf("inventory: account %q is not a valid id", account)
	}
	if roleARN != "" && !ValidRoleARN(roleARN) {
		return fmt.Errorf("inventory: %q is not a RAM role ARN", roleARN)
	}
	pipe := inv.rdb.TxPipeline()
	pipe.HSet(ctx, prefAcct+account, "role", roleARN)
	pipe.Expire(ctx, prefAcct+account, TTL)
	return store.Exec(ctx, inv.rdb, pipe)
}

// Account returns the role ARN recorded for account ("" for the own
// account); known is false when onboarding never managed it.
func (inv *Inventory) Account(ctx context.Context, account string) (roleARN string, known bool, err error) {
	if !mapping.ValidID(account) {
		return "", false, nil
	}
	v, err := inv.rdb.HGet(ctx, prefAcct+account, "role").Result()
	if errors.Is(err, redis.Nil) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	if v != "" && !ValidRoleARN(v) {
		return "", false, fmt.Errorf("inventory: bad role ARN stored for account %s", account)
	}
	return v, true, nil
}

// ValidRoleARN accepts acs:ram::<digits>:role/<name>.
func ValidRoleARN(s string) bool {
	rest, ok := strings.CutPrefix(s, "acs:ram::")
	if !ok {
		return false
	}
	uid, name, ok := strings.Cut(rest, ":role/")
	if !ok || uid == "" || name == "" || len(name) > 64 {
		return false
	}
	for _, c := range uid {
		if c < '0' || c > '9' {
			return false
		}
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// RoleAccount is the account id of a role ARN, "" when s is not one.
func RoleAccount(s string) string {
	if !ValidRoleARN(s) {
		return ""
	}
	uid, _, _ := strings.Cut(strings.TrimPrefix(s, "acs:ram::"), ":")
	return uid
}

// VPC returns the account and region a VPC was seen in.
func (inv *Inventory) VPC(ctx context.Context, vpc string) (account, region string, ok bool, err error) {
	if !mapping.ValidID(vpc) {
		return "", "", false, nil
	}
	v, err := inv.rdb.Get(ctx, prefVPC+vpc).Result()
	if errors.Is(err, redis.Nil) {
		return "", "", false, nil
	}
	if err != nil {
		return "", "", false, err
	}
	account, region, ok = strings.Cut(v, "|")
	if !ok || !mapping.ValidID(account) || !mapping.ValidID(region) {
		return "", "", false, nil
	}
	return account, region, true, nil
}

// RegionAssets returns the assets last recorded for an account and region.
func (inv *Inventory) RegionAssets(ctx context.Context, account, region string) ([]Asset, error) {
	if !mapping.ValidID(account) || !mapping.ValidID(region) {
		return nil, fmt.Errorf("inventory: bad account %q or region %q", account, region)
	}
	refs, err := inv.rdb.SMembers(ctx, regionKey(account, region)).Result()
	if err != nil {
		return nil, err
	}
	sort.Strings(refs)
	return inv.assets(ctx, refs)
}

// Asset returns one asset by kind and id.
func (inv *Inventory) Asset(ctx context.Context, kind mapping.Kind, id string) (Asset, bool, error) {
	if !mapping.ValidID(id) {
		return Asset{}, false, nil
	}
	as, err := inv.assets(ctx, []string{kind.String() + ":" + id})
	if err != nil || len(as) == 0 {
		return Asset{}, false, err
	}
	return as[0], true, nil
}

func (inv *Inventory) assets(ctx context.Context, refs []string) ([]Asset, error) {
	if len(refs) == 0 {
		return nil, nil
	}
	pipe := inv.rdb.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(refs))
	for i, r := range refs {
		cmds[i] = pipe.HGetAll(ctx, assetKey(r))
	}
	if err := store.Exec(ctx, inv.rdb, pipe); err != nil {
		return nil, err
	}
	var out []Asset
	for i, r := range refs {
		h := cmds[i].Val()
		if len(h) == 0 {
			continue
		}
		a, ok := decodeAsset(r, h)
		if ok {
			out = append(out, a)
		}
	}
	return out, nil
}

// ReplaceRegion makes next the inventory of one account and region: assets
// listed before but absent now are dropped with their addresses, addresses
// an asset no longer has are dropped, everything else is (re)written.
func (inv *Inventory) ReplaceRegion(ctx context.Context, account, region string, next []Asset) error {
	for _, a := range next {
		if err := a.Validate(); err != nil {
			return err
		}
		if a.Account != account || a.Region != region {
			return fmt.Errorf("inventory: %s belongs to %s/%s, not %s/%s", a.ID, a.Account, a.Region, account, region)
		}
	}
	prev, err := inv.RegionAssets(ctx, account, region)
	if err != nil {
		return err
	}
	prevByRef := make(map[string]Asset, len(prev))
	for _, a := range prev {
		prevByRef[a.Ref()] = a
	}
	nextRefs := make(map[string]bool, len(next))
	pipe := inv.rdb.Pipeline()
	for _, a := range next {
		ref := a.Ref()
		nextRefs[ref] = true
		keep := map[netip.Addr]bool{}
		for _, ad := range a.Addrs {
			keep[ad.Public.Unmap()] = true
			pipe.HSet(ctx, ipKey(ad.Public), ref, encodeEntry(a, ad))
			pipe.Expire(ctx, ipKey(ad.Public), TTL)
		}
		if old, ok := prevByRef[ref]; ok {
			for _, ad := range old.Addrs {
				if !keep[ad.Public.Unmap()] {
					pipe.HDel(ctx, ipKey(ad.Public), ref)
				}
			}
		}
		pipe.HSet(ctx, assetKey(ref), encodeAsset(a))
		pipe.Expire(ctx, assetKey(ref), TTL)
		if a.VPC != "" {
			pipe.Set(ctx, prefVPC+a.VPC, a.Account+"|"+a.Region, TTL)
		}
	}
	for ref, old := range prevByRef {
		if nextRefs[ref] {
			continue
		}
		for _, ad := range old.Addrs {
			pipe.HDel(ctx, ipKey(ad.Public), ref)
		}
		pipe.Del(ctx, assetKey(ref))
	}
	rk := regionKey(account, region)
	pipe.Del(ctx, rk)
	if len(nextRefs) > 0 {
		members := make([]any, 0, len(nextRefs))
		for ref := range nextRefs {
			members = append(members, ref)
		}
		pipe.SAdd(ctx, rk, members...)
		pipe.Expire(ctx, rk, TTL)
	}
	err = store.Exec(ctx, inv.rdb, pipe)
	return err
}

// encodeAsset is the asset hash.
func encodeAsset(a Asset) map[string]any {
	addrs := make([]string, 0, len(a.Addrs))
	for _, ad := range a.Addrs {
		s := ad.Public.Unmap().String()
		if ad.Private.IsValid() {
			s += "=" + ad.Private.Unmap().String()
		}
		addrs = append(addrs, s)
	}
	return map[string]any{
		"acct": a.Account, "region": a.Region, "vpc": a.VPC, "mode": a.Mode,
		"addrs": strings.Join(addrs, ","), "sw": a.Switches.bits(),
		"since": strconv.FormatInt(unixOrZero(a.Since), 10), "log": a.Logging,
	}
}

func decodeAsset(ref string, h map[string]string) (Asset, bool) {
	kind, id, ok := strings.Cut(ref, ":")
	if !ok {
		return Asset{}, false
	}
	a := Asset{
		Kind: mapping.ParseKind(kind), ID: id, Account: h["acct"], Region: h["region"], VPC: h["vpc"],
		Mode: h["mode"], Switches: switchesFromBits(h["sw"]), Since: timeOrZero(h["since"]), Logging: h["log"],
	}
	if v := h["addrs"]; v != "" {
		for _, s := range strings.Split(v, ",") {
			pub, priv, _ := strings.Cut(s, "=")
			ad := Addr{}
			var err error
			if ad.Public, err = netip.ParseAddr(pub); err != nil {
				continue
			}
			if priv != "" {
				if ad.Private, err = netip.ParseAddr(priv); err != nil {
					continue
				}
			}
			a.Addrs = append(a.Addrs, ad)
		}
	}
	return a, a.Kind != 0 && a.Validate() == nil
}

// encodeEntry is the value of an address hash field.
func encodeEntry(a Asset, ad Addr) string {
	priv := "-"
	if ad.Private.IsValid() {
		priv = ad.Private.Unmap().String()
	}
	vpc := a.VPC
	if vpc == "" {
		vpc = "-"
	}
	logging := a.Logging
	if logging == "" {
		logging = "-"
	}
	return strings.Join([]string{priv, vpc, a.Account, a.Region,
		strconv.FormatInt(unixOrZero(a.Since), 10), a.Switches.bits(), logging}, "|")
}

// entry is one decoded address hash field: an egress of the address with
// its coverage.
type entry struct {
	egress.Entry
	switches Switches
	since    time.Time
	logging  string
}

func decodeEntry(public netip.Addr, ref, v string) (entry, bool) {
	kind, id, ok := strings.Cut(ref, ":")
	f := strings.Split(v, "|")
	if !ok || len(f) != 7 || !mapping.ValidID(id) {
		return entry{}, false
	}
	e := entry{
		Entry: egress.Entry{Kind: mapping.ParseKind(kind), ID: id, PublicIP: public,
			Account: f[2], Region: f[3]},
		switches: switchesFromBits(f[5]), since: timeOrZero(f[4]), logging: f[6],
	}
	if e.Kind == 0 {
		return entry{}, false
	}
	if f[0] != "-" {
		p, err := netip.ParseAddr(f[0])
		if err != nil {
			return entry{}, false
		}
		e.PrivateIP = p
	}
	if f[1] != "-" {
		e.VPC = f[1]
	}
	if e.logging == "-" {
		e.logging = ""
	}
	return e, true
}

func decodeEntries(public netip.Addr, h map[string]string) []entry {
	refs := make([]string, 0, len(h))
	for r := range h {
		refs = append(refs, r)
	}
	sort.Strings(refs)
	out := make([]entry, 0, len(refs))
	for _, r := range refs {
		if e, ok := decodeEntry(public, r, h[r]); ok {
			out = append(out, e)
		}
	}
	return out
}

// Lookup implements egress.Book: the egresses owning a public address, with
// their private twins, account and region.
func (inv *Inventory) Lookup(ctx context.Context, public netip.Addr) ([]egress.Entry, error) {
	if !public.IsValid() {
		return nil, nil
	}
	public = public.Unmap()
	entries, _, err := inv.read(ctx, []netip.Addr{public}, false)
	if err != nil {
		return nil, err
	}
	es := entries[0]
	if len(es) == 0 {
		return nil, nil
	}
	out := make([]egress.Entry, len(es))
	for i, e := range es {
		out[i] = e.Entry
	}
	return out, nil
}

// WithFallback is a Book that asks the inventory first and, for addresses it
// does not know, fallback (the static EGRESS_ADDRESSES book). While
// onboarding has never run, that is every address.
func (inv *Inventory) WithFallback(fallback egress.Book) egress.Book {
	if fallback == nil {
		return inv
	}
	return chain{inv, fallback}
}

type chain []egress.Book

// Prefetch implements trace.Prefetcher for the books of the chain that can.
func (c chain) Prefetch(ctx context.Context, addrs []netip.Addr) error {
	for _, b := range c {
		if p, ok := b.(trace.Prefetcher); ok {
			if err := p.Prefetch(ctx, addrs); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c chain) Lookup(ctx context.Context, a netip.Addr) ([]egress.Entry, error) {
	for _, b := range c {
		es, err := b.Lookup(ctx, a)
		if err != nil || len(es) > 0 {
			return es, err
		}
	}
	return nil, nil
}

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

func timeOrZero(s string) time.Time {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}
	}
	return time.Unix(n, 0)
}

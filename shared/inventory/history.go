package inventory

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ndrtrace/ndrtrace/shared/mapping"
	"github.com/ndrtrace/ndrtrace/shared/store"
)

// Address history: which ENI (and ECS instance) held each private address
// of a VPC, and when, as onboarding observed it. Trace names the instance
// behind an endpoint from it at the alert's time, with one pipelined read
// for a whole batch and no cloud call.
//
//	ndr:ah:<vpc>   hash   "@" -> unix seconds of the last scan of the VPC's region
//	                      "<ip>" -> stretches, oldest first: "<from>|<to>|<instance or ->|<eni>" joined by ","
//
// A stretch is open (to 0) while its holder still held the address at the
// last scan. When a scan finds another holder, or none, the stretch closes
// at the last scan that saw it (to); the next one begins at the scan that
// saw the new holder, or at its ENI's creation when that is later than the
// close (the exact moment a primary address came to be). Between the two
// nobody knows, and trace says so rather than guess. Each key lives
// HistoryTTL after its last scan, and stretches closed longer ago than
// that are dropped.
const (
	prefHistory = "ndr:ah:"
	fieldScan   = "@"
)

// HistoryTTL is how long the address history of a VPC outlives its last
// scan, and how long a closed stretch is kept: longer than any alert that
// can still be traced (MAPPING_TTL, plus late resolution).
const HistoryTTL = 7 * 24 * time.Hour

// Holder is the holder of a private address: an ENI, and the ECS instance
// it is attached to ("" when detached or owned by a cloud service).
type Holder struct {
	Instance string
	ENI      string
	// Since, when not zero, is when the holder is known to have held the
	// address already (the creation of an instance's primary ENI, for its
	// primary address).
	Since time.Time
}

// validHolder is a holder whose ids can be stored ("-" stands for no
// instance).
func validHolder(h Holder) bool {
	return mapping.ValidID(h.ENI) && (h.Instance == "" || h.Instance != "-" && mapping.ValidID(h.Instance))
}

// stretch is one holder of an address over [from, to]; to 0 while open.
type stretch struct {
	from, to  int64
	inst, eni string
}

func historyKey(vpc string) string { return prefHistory + vpc }

func encodeStretches(ss []stretch) string {
	var b strings.Builder
	for i, s := range ss {
		if i > 0 {
			b.WriteByte(',')
		}
		inst := s.inst
		if inst == "" {
			inst = "-"
		}
		fmt.Fprintf(&b, "%d|%d|%s|%s", s.from, s.to, inst, s.eni)
	}
	return b.String()
}

// decodeStretches reads a field; a malformed stretch is dropped (the value
// is only ever written by RecordHolders, so this is corruption, not input).
func decodeStretches(v string) []stretch {
	var out []stretch
	for _, part := range strings.Split(v, ",") {
		f := strings.Split(part, "|")
		if len(f) != 4 {
			continue
		}
		from, err1 := strconv.ParseInt(f[0], 10, 64)
		to, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil || from <= 0 || to < 0 || !mapping.ValidID(f[3]) {
			continue
		}
		s := stretch{from: from, to: to, eni: f[3]}
		if f[2] != "-" {
			if !mapping.ValidID(f[2]) {
				continue
			}
			s.inst = f[2]
		}
		out = append(out, s)
	}
	return out
}

// RecordHolders records one scan, at time at, of the private addresses of
// some VPCs: byVPC[vpc][ip] is the holder of every address an ENI held in
// that VPC at the scan; an address of a scanned VPC that is absent no longer
// has a holder. VPCs absent from byVPC are left as they are. Reads and
// writes are one pipelined round trip each, whatever the number of VPCs.
// It returns the number of addresses whose holder changed.
func (inv *Inventory) RecordHolders(ctx context.Context, at time.Time, byVPC map[string]map[netip.Addr]Holder) (int, error) {
	vpcs := make([]string, 0, len(byVPC))
	for vpc, holders := range byVPC {
		if !mapping.ValidID(vpc) {
			return 0, fmt.Errorf("inventory: vpc %q is not a valid id", vpc)
		}
		for ip, h := range holders {
			if !ip.IsValid() || ip.Zone() != "" || !validHolder(h) {
				return 0, fmt.Errorf("inventory: bad holder %+v of %s in %s", h, ip, vpc)
			}
		}
		vpcs = append(vpcs, vpc)
	}
	if len(vpcs) == 0 {
		return 0, nil
	}
	slices.Sort(vpcs)
	pipe := inv.rdb.Pipeline()
	reads := make([]*redis.MapStringStringCmd, len(vpcs))
	for i, vpc := range vpcs {
		reads[i] = pipe.HGetAll(ctx, historyKey(vpc))
	}
	if err := store.Exec(ctx, inv.rdb, pipe); err != nil {
		return 0, fmt.Errorf("read the address history: %w", err)
	}
	now := at.Unix()
	horizon := at.Add(-HistoryTTL).Unix()
	changed := 0
	pipe = inv.rdb.Pipeline()
	for i, vpc := range vpcs {
		old := reads[i].Val()
		prev, _ := strconv.ParseInt(old[fieldScan], 10, 64)
		if prev <= 0 || prev > now {
			prev = now
		}
		holders := byVPC[vpc]
		set := map[string]any{fieldScan: strconv.FormatInt(now, 10)}
		var del []string
		seen := map[string]bool{}
		merge := func(field string, h Holder, held bool) {
			ss := decodeStretches(old[field])
			next, moved := advance(ss, h, held, now, prev)
			next = prune(next, horizon)
			if moved {
				changed++
			}
			switch {
			case len(next) == 0 && old[field] != "":
				del = append(del, field)
			case len(next) > 0 && (moved || len(next) != len(ss)):
				set[field] = encodeStretches(next)
			}
		}
		for ip, h := range holders {
			f := ip.Unmap().String()
			seen[f] = true
			merge(f, h, true)
		}
		for f := range old {
			if f != fieldScan && !seen[f] {
				merge(f, Holder{}, false)
			}
		}
		key := historyKey(vpc)
		pipe.HSet(ctx, key, set)
		if len(del) > 0 {
			pipe.HDel(ctx, key, del...)
		}
		pipe.Expire(ctx, key, HistoryTTL)
	}
	if err := store.Exec(ctx, inv.rdb, pipe); err != nil {
		return 0, fmt.Errorf("write the address history: %w", err)
	}
	return changed, nil
}

// advance applies one scan to an address's stretches: the holder at now
// (held false: none), the previous scan at prev. moved reports a change.
func advance(ss []stretch, h Holder, held bool, now, prev int64) (out []stretch, moved bool) {
	var last *stretch
	if n := len(ss); n > 0 && ss[n-1].to == 0 {
		last = &ss[n-1]
	}
	if held && last != nil && last.inst == h.Instance && last.eni == h.ENI {
		return ss, false // the same holder still
	}
	if !held && last == nil {
		return ss, false // free before, free now
	}
	closedAt := int64(0) // the end of what is known before the new holder
	if n := len(ss); n > 0 {
		closedAt = ss[n-1].to
	}
	if last != nil {
		last.to = prev // last seen at the previous scan
		closedAt = prev
		if closedAt < last.from {
			last.to, closedAt = last.from, last.from
		}
	}
	if held {
		from := now
		if since := h.Since.Unix(); !h.Since.IsZero() && since < now && since > closedAt {
			from = since
		}
		ss = append(ss, stretch{from: from, inst: h.Instance, eni: h.ENI})
	}
	return ss, true
}

// prune drops stretches closed before horizon.
func prune(ss []stretch, horizon int64) []stretch {
	out := ss[:0]
	for _, s := range ss {
		if s.to == 0 || s.to >= horizon {
			out = append(out, s)
		}
	}
	return out
}

// heldAt answers who held an address at t from its stretches: the holder,
// or ok false with why nobody can be named (gap is false when the address
// has no history at all, which makes it a miss for the ECS fallback).
func heldAt(ss []stretch, t int64) (h Holder, ok bool, why string) {
	i := -1
	for k, s := range ss {
		if s.from <= t {
			i = k
		}
	}
	if i < 0 {
		return Holder{}, false, fmt.Sprintf("the address history begins at %s, after the alert", unixRFC(ss[0].from))
	}
	s := ss[i]
	if s.to == 0 || t <= s.to {
		return Holder{Instance: s.inst, ENI: s.eni}, true, ""
	}
	if i+1 < len(ss) {
		return Holder{}, false, fmt.Sprintf("the address changed hands between %s and %s", unixRFC(s.to), unixRFC(ss[i+1].from))
	}
	return Holder{}, false, fmt.Sprintf("no instance has held the address since %s", unixRFC(s.to))
}

func unixRFC(n int64) string { return time.Unix(n, 0).UTC().Format(time.RFC3339) }

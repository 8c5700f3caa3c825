package inventory

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ndrtrace/ndrtrace/shared/alert"
	"github.com/ndrtrace/ndrtrace/shared/store"
	"github.com/ndrtrace/ndrtrace/shared/trace"
)

// Check implements trace.Coverage. An alert is covered when an address of
// it is a known egress whose switch for the alert's category is on and whose
// logs flowed from before the alert's time. It is not covered (NotCovered)
// when the known egresses of its addresses all fail that; it is Unknown when
// the inventory has been filled and knows neither address; and it is neither
// while no egress is known and onboarding never completed, so that traces
// work from mappings alone.
func (inv *Inventory) Check(ctx context.Context, a *alert.Alert) (trace.Verdict, error) {
	addrs := []netip.Addr{a.Tuple.Src.Addr.Unmap(), a.Tuple.Dst.Addr.Unmap()}
	entries, filled, err := inv.read(ctx, addrs, true)
	if err != nil {
		return trace.Verdict{}, err
	}
	var known []entry
	for i := range addrs {
		for _, e := range entries[i] {
			if (a.AssetType == 0 || e.Kind == a.AssetType) && (a.AssetID == "" || e.ID == a.AssetID) {
				known = append(known, e)
			}
		}
	}
	if len(known) == 0 {
		return trace.Verdict{Unknown: filled}, nil
	}
	category := string(a.Category)
	if category == "" {
		category = string(alert.Attack)
	}
	for _, e := range known {
		if e.switches.On(category) && !e.since.IsZero() && !a.Time.Before(e.since) {
			return trace.Verdict{}, nil
		}
	}
	return trace.Verdict{NotCovered: notCoveredReason(known[0], category, a.Time)}, nil
}

// Prefetch implements trace.Prefetcher: it reads the address hashes of
// every address of a batch, and whether the inventory has been filled, in
// one pipelined round trip, into the batch's memo, where the coverage
// checks and address-book lookups of its alerts find them.
func (inv *Inventory) Prefetch(ctx context.Context, addrs []netip.Addr) error {
	_, _, err := inv.read(ctx, addrs, true)
	return err
}

// batchEntries is the inventory's share of a traced batch's memo
// (trace.BatchMemo): the decoded entries of every address read, and whether
// the inventory has been filled. Keyed by address, not by Redis key: the
// per-alert checks look up ~4 addresses each, and building a key string and
// hashing it through a sync.Map for each was a fifth of a batch's CPU.
type batchEntries struct {
	mu         sync.RWMutex
	entries    map[netip.Addr][]entry
	filled     bool
	haveFilled bool
}

type batchEntriesKey struct{}

// entriesOf is the batch's entries in memo, made on first use; nil outside
// a batch.
func entriesOf(memo *sync.Map) *batchEntries {
	if memo == nil {
		return nil
	}
	if v, ok := memo.Load(batchEntriesKey{}); ok {
		return v.(*batchEntries)
	}
	v, _ := memo.LoadOrStore(batchEntriesKey{}, &batchEntries{entries: map[netip.Addr][]entry{}})
	return v.(*batchEntries)
}

// read returns the decoded entries of addrs and, when asked, whether the
// inventory has been filled, in one round trip; within a traced batch each
// is read once (trace.BatchMemo).
func (inv *Inventory) read(ctx context.Context, addrs []netip.Addr, wantFilled bool) (entries [][]entry, filled bool, err error) {
	memo := entriesOf(trace.BatchMemo(ctx))
	entries = make([][]entry, len(addrs))
	// Within a batch, most reads find everything in the memo: the pipeline
	// is made only when something is to be read.
	var pipe redis.Pipeliner
	queue := func() redis.Pipeliner {
		if pipe == nil {
			pipe = inv.rdb.Pipeline()
		}
		return pipe
	}
	var cmds []*redis.MapStringStringCmd
	var filledCmd *redis.StringCmd
	if memo != nil {
		memo.mu.RLock()
	}
	for i, ad := range addrs {
		ad = ad.Unmap()
		if memo != nil {
			if h, ok := memo.entries[ad]; ok {
				entries[i] = h
				continue
			}
		}
		if cmds == nil {
			cmds = make([]*redis.MapStringStringCmd, len(addrs))
		}
		cmds[i] = queue().HGetAll(ctx, ipKey(ad))
	}
	if wantFilled {
		if memo != nil && memo.haveFilled {
			filled = memo.filled
		} else {
			filledCmd = queue().Get(ctx, keyFilled)
		}
	}
	if memo != nil {
		memo.mu.RUnlock()
	}
	if pipe == nil {
		return entries, filled, nil
	}
	if err := store.Exec(ctx, inv.rdb, pipe); err != nil {
		return nil, false, err
	}
	if filledCmd != nil {
		if _, filled, err = parseFilledCmd(filledCmd); err != nil {
			return nil, false, err
		}
	}
	for i, c := range cmds {
		if c != nil {
			entries[i] = decodeEntries(addrs[i].Unmap(), c.Val())
		}
	}
	if memo != nil {
		memo.mu.Lock()
		for i, c := range cmds {
			if c != nil {
				memo.entries[addrs[i].Unmap()] = entries[i]
			}
		}
		if filledCmd != nil {
			memo.filled, memo.haveFilled = filled, true
		}
		memo.mu.Unlock()
	}
	return entries, filled, nil
}

func parseFilledCmd(c *redis.StringCmd) (time.Time, bool, error) {
	v, err := c.Result()
	if errors.Is(err, redis.Nil) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, err
	}
	return parseFilled(v)
}

// notCoveredReason says, for a person, why e does not cover an alert.
func notCoveredReason(e entry, category string, at time.Time) string {
	name := fmt.Sprintf("%s %s (%s)", e.Kind, e.ID, e.PublicIP)
	switch {
	case !e.switches.Any():
		return name + " is not onboarded for traffic traceability"
	case !e.switches.On(category):
		return fmt.Sprintf("%s has traceability for %s alerts switched off", name, category)
	case e.since.IsZero():
		switch e.logging {
		case LogUnsupported:
			return name + " cannot deliver session logs (pay-by-specification NAT gateway)"
		case LogElsewhere:
			return name + " delivers its logs to another logstore than the configured one"
		case LogInternal:
			return name + " is not an Internet-facing egress"
		}
		return name + " has no active logging yet"
	}
	return fmt.Sprintf("the alert (%s) predates the coverage of %s, which began at %s: historical sessions before enablement are not within the traceability scope",
		at.UTC().Format(time.RFC3339), name, e.since.UTC().Format(time.RFC3339))
}

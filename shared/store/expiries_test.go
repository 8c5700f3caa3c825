package store

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/ndrtrace/ndrtrace/shared/mapping"
)

func egressN(i int) mapping.Egress {
	return mapping.Egress{Addr: netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})}
}

// dueID is whether the key id names is due, as a write asks it.
func (e *expiries) dueID(id slotID, now time.Time, refresh time.Duration) bool {
	_, ok := e.level(levelKey{id.groupKey, id.level}).due(id.slot, now, refresh)
	return ok
}

// A key renewed within refresh is not due again; one of another egress,
// level, bucket or slot is; any is due once refresh has passed.
func TestExpiriesTellKeysApart(t *testing.T) {
	e := newExpiries()
	now := time.Unix(1738738800, 0)
	const refresh = time.Minute
	id := slotID{groupKey{egressN(1), 100}, 2, 7}
	if !e.dueID(id, now, refresh) {
		t.Fatal("a key never renewed is not due")
	}
	if e.dueID(id, now.Add(refresh-time.Second), refresh) {
		t.Fatal("a key renewed within refresh is due again")
	}
	for _, other := range []slotID{
		{groupKey{egressN(2), 100}, 2, 7},
		{groupKey{mapping.Egress{Addr: egressN(1).Addr, Scope: "vpc-1"}, 100}, 2, 7},
		{groupKey{egressN(1), 101}, 2, 7},
		{groupKey{egressN(1), 100}, 3, 7},
		{groupKey{egressN(1), 100}, countLevel, 0},
		{groupKey{egressN(1), 100}, 2, 8},
	} {
		if !e.dueID(other, now, refresh) {
			t.Errorf("%+v shares %+v's renewal", other, id)
		}
	}
	if !e.dueID(id, now.Add(refresh), refresh) {
		t.Fatal("a key renewed refresh ago is not due")
	}
}

// Over any sequence of writes, every write finds its key renewed less
// than refresh before it (so the key outlives it by ttl), and a key is
// renewed at most twice in any span of refresh (not at every write).
func TestExpiriesRenewWithinRefreshOfEveryWrite(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	const refresh = time.Minute
	e := newExpiries()
	r := e.level(levelKey{groupKey{egressN(1), 1}, 3}) // 64 slots
	last := map[uint32]time.Time{}
	renewals := map[uint32][]time.Time{}
	now := time.Unix(1738738800, 0)
	for range 200_000 {
		now = now.Add(time.Duration(rng.Int64N(int64(2 * time.Second))))
		slot := uint32(rng.IntN(64))
		if _, due := r.due(slot, now, refresh); due {
			last[slot] = now
			renewals[slot] = append(renewals[slot], now)
		}
		if a, ok := last[slot]; !ok || now.Sub(a) >= refresh {
			t.Fatalf("slot %d written at %v, renewed last at %v: past refresh", slot, now, a)
		}
	}
	for slot, ts := range renewals {
		for i := 2; i < len(ts); i++ {
			if ts[i].Sub(ts[i-2]) < refresh {
				t.Fatalf("slot %d renewed three times within refresh: %v %v %v", slot, ts[i-2], ts[i-1], ts[i])
			}
		}
	}
}

// A renewal forgotten (its write failed) is due again; forgetting one of
// a window since passed leaves the new window's renewal alone. Pruning
// drops levels whose window is over, and reset every level.
func TestExpiriesForgetPruneReset(t *testing.T) {
	e := newExpiries()
	now := time.Unix(1738738800, 0)
	const refresh = time.Minute
	r := e.level(levelKey{groupKey{egressN(1), 1}, 1})
	x, _ := r.due(2, now, refresh)
	e.forget([]renewal{x})
	if _, due := r.due(2, now, refresh); !due {
		t.Fatal("a forgotten renewal is not due again")
	}
	old, _ := r.due(3, now, refresh)
	later := now.Add(refresh)
	if _, due := r.due(3, later, refresh); !due {
		t.Fatal("not due in the next window")
	}
	e.forget([]renewal{old})
	if _, due := r.due(3, later, refresh); due {
		t.Fatal("forgetting a past window's renewal dropped the current one")
	}
	e.level(levelKey{groupKey{egressN(2), 1}, 0}).due(0, now, refresh)
	e.prune(later.Add(time.Second), refresh)
	if len(e.levels) != 1 || e.levels[levelKey{groupKey{egressN(1), 1}, 1}] == nil {
		t.Fatalf("after pruning: %d levels, want the one renewed at %v", len(e.levels), later)
	}
	e.reset()
	if len(e.levels) != 0 {
		t.Fatalf("after reset: %d levels", len(e.levels))
	}
}

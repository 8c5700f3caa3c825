package store

import (
	"net/netip"
	"testing"
	"time"

	"github.com/ndrtrace/ndrtrace/shared/mapping"
)

func egressN(i int) mapping.Egress {
	return mapping.Egress{Addr: netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})}
}

// A key renewed within refresh is not due again; one of another egress,
// level, bucket or slot is; any is due once refresh has passed.
func TestExpiriesTellKeysApart(t *testing.T) {
	e := newExpiries()
	now := time.Unix(1738738800, 0)
	const refresh = time.Minute
	id := slotID{groupKey{egressN(1), 100}, 2, 7}
	if !e.due(e.key(id), now, refresh) {
		t.Fatal("a key never renewed is not due")
	}
	if e.due(e.key(id), now.Add(refresh-time.Second), refresh) {
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
		if !e.due(e.key(other), now, refresh) {
			t.Errorf("%+v shares %+v's renewal", other, id)
		}
	}
	if !e.due(e.key(id), now.Add(refresh), refresh) {
		t.Fatal("a key renewed refresh ago is not due")
	}
}

// Numbering more egresses than maxEgresses forgets every renewal and starts
// over: no two egresses ever share a number while a renewal is remembered.
func TestExpiriesRenumberPastTheBound(t *testing.T) {
	e := newExpiries()
	now := time.Unix(1738738800, 0)
	first := slotID{groupKey{egressN(0), 1}, 0, 0}
	e.due(e.key(first), now, time.Hour)
	for i := 1; i < maxEgresses; i++ {
		e.key(slotID{groupKey{egressN(i), 1}, 0, 0})
	}
	if e.due(e.key(first), now, time.Hour) {
		t.Fatal("renewal forgotten before the bound")
	}
	next := slotID{groupKey{egressN(maxEgresses), 1}, 0, 0}
	if k := e.key(next); k.egress != 0 || len(e.last) != 0 {
		t.Fatalf("past the bound: number %d, %d renewals remembered; want 0 and none", k.egress, len(e.last))
	}
	if !e.due(e.key(first), now, time.Hour) {
		t.Fatal("after renumbering, the first egress's key is not due: it would share another's renewal")
	}
	// Pruning every renewal frees the numbers too.
	e.prune(now.Add(2*time.Hour), time.Hour)
	if len(e.last) != 0 || len(e.egresses) != 0 {
		t.Fatalf("after pruning everything: %d renewals, %d numbers", len(e.last), len(e.egresses))
	}
}

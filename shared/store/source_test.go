package store_test

import (
	"context"
	"testing"

	"github.com/ndrtrace/ndrtrace/shared/mapping"
	"github.com/ndrtrace/ndrtrace/shared/store"
)

// The account and region a shipped record names come back with its hits;
// an egress whose records name none has neither.
func TestLookupReturnsTheRecordsSource(t *testing.T) {
	s := fresh(t)
	ctx := context.Background()
	m := nat("172.16.20.21", 48155, t0, t0+600)
	m.Account, m.Region = "2000000000000002", "cn-shanghai"
	if err := s.Write(ctx, []mapping.Mapping{m}); err != nil {
		t.Fatal(err)
	}
	hits, err := s.Lookup(ctx, []store.Query{query(48155, t0+10)})
	if err != nil || len(hits[0]) != 1 {
		t.Fatalf("lookup: %v %v", hits, err)
	}
	if h := hits[0][0]; h.Account != "2000000000000002" || h.Region != "cn-shanghai" {
		t.Errorf("hit names account %q region %q", h.Account, h.Region)
	}

	native := nat("172.16.20.22", 48156, t0, t0+600)
	native.Egress.Addr = eip.Next()
	if err := s.Write(ctx, []mapping.Mapping{native}); err != nil {
		t.Fatal(err)
	}
	q := query(48156, t0+10)
	q.Egress[0].Addr = eip.Next()
	hits, err = s.Lookup(ctx, []store.Query{q})
	if err != nil || len(hits[0]) != 1 || hits[0][0].Account != "" || hits[0][0].Region != "" {
		t.Fatalf("native record: %+v %v", hits, err)
	}
}

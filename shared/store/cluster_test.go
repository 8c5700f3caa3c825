package store_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ndrtrace/ndrtrace/infra/local/redisd"
	"github.com/ndrtrace/ndrtrace/shared/mapping"
	"github.com/ndrtrace/ndrtrace/shared/store"
)

// The store runs unchanged on a Redis Cluster (Tair cluster): no command
// spans two keys, and go-redis splits each pipeline by node.
func TestRedisCluster(t *testing.T) {
	ctx := context.Background()
	cc := redisd.TestCluster(t, 3)
	s := store.New(cc, time.Hour)

	ms := benchMappings(20000)
	for i := 0; i < len(ms); i += 8192 {
		if err := s.Write(ctx, ms[i:min(i+8192, len(ms))]); err != nil {
			t.Fatal(err)
		}
	}
	// The data is spread over every node.
	var masters atomic.Int32 // ForEachMaster runs them side by side
	err := cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		masters.Add(1)
		if keys, err := n.DBSize(ctx).Result(); err != nil || keys == 0 {
			return fmt.Errorf("node %s holds %d keys (%v)", n.Options().Addr, keys, err)
		}
		return nil
	})
	if err != nil || masters.Load() != 3 {
		t.Fatalf("%d masters: %v", masters.Load(), err)
	}
	qs := make([]store.Query, len(ms))
	for i, m := range ms {
		qs[i] = store.Query{Egress: []mapping.Egress{m.Egress}, Proto: m.Proto, Port: m.Port, Peer: m.Peer, At: m.Start + 1, Skew: 60}
	}
	hits, err := s.Lookup(ctx, qs)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range ms {
		found := false
		for _, h := range hits[i] {
			found = found || h.Private == m.Private
		}
		if !found {
			t.Fatalf("mapping %d (%v) not found on the cluster: %s", i, m.Private, fmt.Sprint(hits[i]))
		}
	}
}

package store_test

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ndrtrace/ndrtrace/infra/local/redisd"
	"github.com/ndrtrace/ndrtrace/shared/mapping"
	"github.com/ndrtrace/ndrtrace/shared/store"
)

// When Redis reaches maxmemory, what it does is its maxmemory-policy's
// choice. ndrtrace needs noeviction: writes fail with an error (ingest
// returns it and the trigger retries the range) and every mapping already
// acknowledged stays found. An evicting policy, even volatile-ttl, silently
// drops acknowledged mappings while every write succeeds: traces then answer
// untraced for records that were ingested. Both are shown here, so that the
// recommendation in the README rests on a test.
func TestMaxmemory(t *testing.T) {
	const (
		batchSize = 2000
		// 200,000 entries are over 4.5 MiB of entry bytes alone: more than
		// twice what 2 MB can hold, whatever the policy does.
		maxBatches = 100
		// The first 90,000 entries alone (24 bytes each, the smallest NAT
		// entry) exceed 2 MiB: they cannot all be kept.
		overCapacity = 90_000
	)
	tests := []struct {
		policy       string
		writesRefuse bool // some write fails (else every write succeeds)
		keepsAll     bool // every acknowledged mapping is found
	}{
		{"noeviction", true, true},
		{"volatile-ttl", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.policy, func(t *testing.T) {
			ctx := context.Background()
			srv, err := redisd.Start(ctx, "maxmemory 2mb", "maxmemory-policy "+tc.policy)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(srv.Stop)
			c := redis.NewClient(&redis.Options{Addr: srv.Addr})
			t.Cleanup(func() { c.Close() })
			s := store.New(c, time.Hour)

			acked := 0 // mappings 0..acked-1 were acknowledged
			var refused error
			for b := 0; b < maxBatches; b++ {
				if err := s.Write(ctx, fullBatch(acked, batchSize)); err != nil {
					refused = err
					break
				}
				acked += batchSize
			}
			evicted := infoInt(t, c, "stats", "evicted_keys")
			t.Logf("%s: %d mappings acknowledged, write error: %v, evicted keys: %d", tc.policy, acked, refused, evicted)

			if !tc.writesRefuse {
				if refused != nil {
					t.Fatalf("a write failed: %v", refused)
				}
				if evicted == 0 {
					t.Fatal("no key was evicted, yet far more than maxmemory was written")
				}
				// The oldest mappings were acknowledged, and are gone.
				if lost := missing(t, s, 0, overCapacity); lost == 0 {
					t.Fatalf("all of the first %d mappings are found: more than 2 MB kept?", overCapacity)
				} else {
					t.Logf("%d of the first %d acknowledged mappings are silently gone", lost, overCapacity)
				}
				return
			}

			if refused == nil {
				t.Fatalf("%d mappings (far over 2 MB) written without an error", acked)
			}
			if !strings.Contains(refused.Error(), "OOM") {
				t.Fatalf("the write failed, but not because memory is full: %v", refused)
			}
			if acked == 0 {
				t.Fatal("the first batch was refused: the test shows nothing")
			}
			if evicted != 0 {
				t.Fatalf("%d keys evicted under noeviction", evicted)
			}
			// Every acknowledged mapping is still found: reads work at
			// maxmemory.
			if lost := missing(t, s, 0, acked); lost != 0 {
				t.Fatalf("%d of %d acknowledged mappings are not found", lost, acked)
			}
			// The trigger's retry fails the same way while Redis is full...
			failed := fullBatch(acked, batchSize)
			if err := s.Write(ctx, failed); err == nil {
				t.Fatal("a retry succeeded while Redis is still full")
			}
			// ...and succeeds once there is room (an operator raised
			// maxmemory, or mappings expired): the batch is then found.
			if err := c.ConfigSet(ctx, "maxmemory", "64mb").Err(); err != nil {
				t.Fatal(err)
			}
			if err := s.Write(ctx, failed); err != nil {
				t.Fatalf("retry with room: %v", err)
			}
			if lost := missing(t, s, 0, acked+batchSize); lost != 0 {
				t.Fatalf("after the retry, %d mappings are not found", lost)
			}
		})
	}
}

// fullBatch is mappings from..from+n-1 of a sequence in which every mapping
// has its own port and peer, so each is found by exactly one query.
func fullBatch(from, n int) []mapping.Mapping {
	ms := make([]mapping.Mapping, n)
	for j := range ms {
		i := from + j
		ms[j] = nat(privateOf(i), portOf(i), t0+int64(i%300), t0+int64(i%300)+600)
		ms[j].Peer.Addr = peerOf(i)
	}
	return ms
}

func portOf(i int) uint16 { return uint16(1024 + i%60000) }
func peerOf(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{106, byte(i >> 16), byte(i >> 8), byte(i)})
}
func privateOf(i int) string       { return fmt.Sprintf("172.%d.%d.%d", 16+(i>>16), byte(i>>8), byte(i)) }
func privateEndpoint(i int) string { return privateOf(i) + ":40000" }

// missing counts the mappings from..to-1 that a lookup does not find.
func missing(t *testing.T, s *store.Store, from, to int) int {
	t.Helper()
	const chunk = 20000
	lost := 0
	for lo := from; lo < to; lo += chunk {
		hi := min(lo+chunk, to)
		qs := make([]store.Query, 0, hi-lo)
		for i := lo; i < hi; i++ {
			q := query(portOf(i), t0+int64(i%300)+10)
			q.Peer.Addr = peerOf(i)
			qs = append(qs, q)
		}
		hits, err := s.Lookup(context.Background(), qs)
		if err != nil {
			t.Fatalf("lookup at maxmemory: %v", err)
		}
		for k, h := range hits {
			if got := privates(h); len(got) != 1 || got[0] != privateEndpoint(lo+k) {
				lost++
			}
		}
	}
	return lost
}

// infoInt reads one integer field of INFO section.
func infoInt(t *testing.T, c *redis.Client, section, field string) int64 {
	t.Helper()
	info, err := c.Info(context.Background(), section).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("INFO %s: %q", field, line)
			}
			return n
		}
	}
	t.Fatalf("INFO %s has no %s", section, field)
	return 0
}

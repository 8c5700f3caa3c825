package ingest_test

import (
	"context"
	"net/netip"
	"strconv"
	"testing"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/redis/go-redis/v9"

	"github.com/ndrtrace/ndrtrace/infra/local/redisd"
	"github.com/ndrtrace/ndrtrace/shared/ingest"
	"github.com/ndrtrace/ndrtrace/shared/mapping"
	"github.com/ndrtrace/ndrtrace/shared/natlog"
	"github.com/ndrtrace/ndrtrace/shared/slslog"
	"github.com/ndrtrace/ndrtrace/shared/store"
	"github.com/ndrtrace/ndrtrace/shared/tuple"
)

var rdb *redis.Client

func TestMain(m *testing.M) { redisd.TestMain(m, &rdb) }

// group builds a log group of n session records on consecutive NAT ports,
// every tenth without a nat_port.
func group(n int) *sls.LogGroup {
	lg := &sls.LogGroup{}
	t := uint32(1738738800)
	for i := 0; i < n; i++ {
		f := map[string]string{"instance": "ngw-1", "vpc_id": "vpc-1", "protocol": "6", "pri_ip": "172.16.0.1", "pri_port": "40000",
			"nat_ip": "47.100.1.85", "nat_port": strconv.Itoa(1024 + i%64000), "pub_ip": "106.11." + strconv.Itoa(i/64000) + ".1", "pub_port": "443",
			"start_time": "1738738200", "end_time": "1738738800"}
		if i%10 == 9 {
			delete(f, "nat_port")
		}
		l := &sls.Log{Time: &t}
		for k, v := range f {
			l.Contents = append(l.Contents, &sls.LogContent{Key: &k, Value: &v})
		}
		lg.Logs = append(lg.Logs, l)
	}
	return lg
}

func TestBatcherWritesEveryBatch(t *testing.T) {
	ctx := context.Background()
	rdb.FlushDB(ctx)
	st := store.New(rdb, time.Hour)
	b := &ingest.Batcher{Store: st, Parse: natlog.Parse}
	n := ingest.BatchSize*2 + 1000 // two full batches in flight, one partial
	g := raw(t, group(n))
	if err := b.Add(ctx, &g); err != nil {
		t.Fatal(err)
	}
	if err := b.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	s := b.Summary()
	if s.Records != n || s.Mappings != n-n/10 || s.Rejected["missing nat_port"] != n/10 || s.LogGroups != 1 {
		t.Fatalf("summary %+v", s)
	}
	// The last record of the first batch and of the partial one are found.
	for _, i := range []int{ingest.BatchSize - 2, n - 2} {
		q := store.Query{Proto: tuple.TCP, Port: uint16(1024 + i%64000), At: 1738738500, Skew: 60}
		q.Egress = []mapping.Egress{{Addr: mustAddr("47.100.1.85")}}
		q.Peer = tuple.Endpoint{Addr: mustAddr("106.11." + strconv.Itoa(i/64000) + ".1"), Port: 443}
		hits, err := st.Lookup(ctx, []store.Query{q})
		if err != nil || len(hits[0]) != 1 {
			t.Fatalf("record %d: %v %v", i, hits, err)
		}
	}
}

func TestBatcherReportsRedisFailure(t *testing.T) {
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	b := &ingest.Batcher{Store: store.New(dead, time.Hour), Parse: natlog.Parse}
	g := raw(t, group(ingest.BatchSize*2+10))
	err := b.Add(context.Background(), &g)
	if err == nil {
		err = b.Flush(context.Background())
	}
	if err == nil {
		t.Fatal("writing to a dead Redis succeeded")
	}
	if b.Summary().Mappings != 0 {
		t.Fatalf("mappings counted as written: %d", b.Summary().Mappings)
	}
}

// raw is lg as ingest reads it from SLS: LogGroupList bytes walked in place.
func raw(t *testing.T, lg *sls.LogGroup) slslog.Group {
	t.Helper()
	b, err := (&sls.LogGroupList{LogGroups: []*sls.LogGroup{lg}}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	gs, err := slslog.Groups(b, "")
	if err != nil || len(gs) != 1 {
		t.Fatalf("%d groups, %v", len(gs), err)
	}
	return gs[0]
}

func mustAddr(s string) netip.Addr {
	a, err := tuple.ParseAddr(s)
	if err != nil {
		panic(err)
	}
	return a
}

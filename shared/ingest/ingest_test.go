package ingest_test

import (
	"context"
	"net/netip"
	"strconv"
	"strings"
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

// Two batches are written at once, yet a group is marked ingested only
// once every batch before its mark's is in: when a batch fails, the groups
// marked with later batches stay unmarked (their range is retried), even
// though those later batches were written meanwhile.
func TestAFailedBatchLeavesLaterGroupsUnmarked(t *testing.T) {
	ctx := context.Background()
	rdb.FlushDB(ctx)
	// This user may not append to the slots of 47.100.1.86.
	if err := rdb.Do(ctx, "ACL", "SETUSER", "nob", "reset", "on", ">pw", "&*", "+@all",
		"%RW~ndr:c:*", "%RW~ndr:e:*", "%RW~ndr:g:*", "%RW~ndr:m:47.100.1.85/*", "%R~ndr:m:47.100.1.86/*").Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Do(context.Background(), "ACL", "DELUSER", "nob") })
	c := redis.NewClient(&redis.Options{Addr: rdb.Options().Addr, Username: "nob", Password: "pw", MaxRetries: -1})
	defer c.Close()

	r := slslog.Range{Project: "ndr-test", Logstore: "nat", Shard: 0}
	b := &ingest.Batcher{Store: store.New(c, time.Hour), Parse: natlog.Parse, Range: r}
	// One batch each: 47.100.1.85, then 47.100.1.86 (fails), then .85
	// again. A group is marked with the batch after its last record's.
	var page []slslog.Group
	for i, nat := range []string{"47.100.1.85", "47.100.1.86", "47.100.1.85"} {
		lg := group(ingest.BatchSize)
		for _, l := range lg.Logs {
			port, ip := "nat_port", strconv.Itoa(1024+i)
			l.Contents = append(l.Contents, &sls.LogContent{Key: &port, Value: &ip}) // every record parses: one batch each
			for _, kv := range l.Contents {
				if *kv.Key == "nat_ip" {
					v := nat
					kv.Value = &v
				}
			}
		}
		g := raw(t, lg)
		g.Cursor = "MTAw" + strconv.Itoa(i)
		page = append(page, g)
	}
	err := b.AddPage(ctx, page)
	if err == nil {
		err = b.Flush(ctx)
	}
	if err == nil || !strings.Contains(err.Error(), "NOPERM") {
		t.Fatalf("the second batch was not refused: %v", err)
	}
	for i, g := range page[1:] {
		key, _ := store.GroupMark(r.Project, r.Logstore, r.Shard, g.Cursor)
		if n := rdb.Exists(ctx, key).Val(); n != 0 {
			t.Fatalf("group %d is marked ingested, but its records are in a batch that failed", i+2)
		}
	}
}

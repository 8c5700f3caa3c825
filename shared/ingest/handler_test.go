package ingest_test

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/aliyun/fc-runtime-go-sdk/events"

	"github.com/ndrtrace/ndrtrace/infra/local/slsemu"
	"github.com/ndrtrace/ndrtrace/shared/ingest"
	"github.com/ndrtrace/ndrtrace/shared/natlog"
	"github.com/ndrtrace/ndrtrace/shared/store"
)

// slsRange starts an SLS emulator holding groups in one shard of ndr-logs/nat-sessions and
// returns a handler reading through it and the trigger event for the range.
func slsRange(t *testing.T, groups []*sls.LogGroup) (*ingest.Handler, events.SlsEvent) {
	t.Helper()
	srv := slsemu.New(slsemu.Options{})
	if err := srv.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	srv.CreateProject("ndr-logs")
	srv.CreateLogstore("ndr-logs", "nat-sessions", 1, 1)
	var begin, end string
	for i, lg := range groups {
		b, e, err := srv.Append("ndr-logs", "nat-sessions", 0, lg)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			begin = b
		}
		end = e
	}
	h := &ingest.Handler{Store: store.New(rdb, time.Hour), Parse: natlog.Parse,
		NewClient: func(context.Context, string) (sls.ClientInterface, error) {
			c := sls.CreateNormalInterfaceV2(srv.Endpoint(), sls.NewStaticCredentialsProvider("ak", "sk", ""))
			c.SetHTTPClient(srv.HTTPClient())
			c.SetRetryTimeout(5 * time.Second)
			return c, nil
		}}
	endpoint, project, logstore, shard := srv.Endpoint(), "ndr-logs", "nat-sessions", 0
	ev := events.SlsEvent{Source: &events.Source{Endpoint: &endpoint, ProjectName: &project, LogstoreName: &logstore,
		ShardID: &shard, BeginCursor: &begin, EndCursor: &end}}
	return h, ev
}

// natRecord is a session log record with the given fields over a base.
func natRecord(logTime uint32, over map[string]string) *sls.Log {
	f := map[string]string{"instance": "ngw-1", "vpc_id": "vpc-1", "protocol": "6", "pri_ip": "172.16.0.1", "pri_port": "40000",
		"nat_ip": "47.100.1.85", "nat_port": "1024", "pub_ip": "106.11.0.1", "pub_port": "443",
		"start_time": "1738738200", "end_time": "1738738800"}
	for k, v := range over {
		f[k] = v
	}
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	l := &sls.Log{Time: &logTime}
	for _, k := range keys {
		v := f[k]
		l.Contents = append(l.Contents, &sls.LogContent{Key: &k, Value: &v})
	}
	return l
}

// state is every mapping key Redis holds with its value, marks left out
// (they name the range's cursors, not its records).
func state(t *testing.T) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if strings.HasPrefix(k, "ndr:g:") {
			continue
		}
		v, err := rdb.Dump(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		out[k] = v
	}
	return out
}

// commands is how often Redis ran each data command since the last
// CONFIG RESETSTAT; connection set-up (HELLO, CLIENT) and INFO are left out,
// since pooling decides those.
func commands(t *testing.T) map[string]string {
	t.Helper()
	info, err := rdb.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(info, "\r\n") {
		name, rest, ok := strings.Cut(strings.TrimPrefix(line, "cmdstat_"), ":")
		if !ok || name == "info" || name == "hello" || strings.HasPrefix(name, "client") || name == "config|resetstat" {
			continue
		}
		calls, _, _ := strings.Cut(rest, ",")
		out[name] = calls
	}
	return out
}

// A record whose time no log can carry (start_time 0, a number past any
// clock, a window of hours) is skipped and counted, and costs nothing: the
// range writes the same state with the same Redis commands as without it.
// Before times were bounded, start_time 0 alone was indexed 1.4M times
// (once per store.MaxSpan since 1970) and the range never finished.
func TestPoisonRecordsAreSkippedAtNoCost(t *testing.T) {
	const groups, perGroup, logTime = 4, 500, 1738738800
	poison := []map[string]string{
		{"start_time": "0"},
		{"start_time": "99999999999999999999.5"},
		{"start_time": "1738731000"},                  // a window of 2h10m
		{"end_time": strconv.Itoa(logTime + 2*86400)}, // two days after its log
	}
	build := func(withPoison bool) []*sls.LogGroup {
		var out []*sls.LogGroup
		for g := 0; g < groups; g++ {
			lg := &sls.LogGroup{}
			for i := 0; i < perGroup; i++ {
				if withPoison && i%(perGroup/len(poison)) == 0 {
					lg.Logs = append(lg.Logs, natRecord(logTime, poison[i/(perGroup/len(poison))]))
				}
				n := g*perGroup + i
				lg.Logs = append(lg.Logs, natRecord(logTime, map[string]string{"nat_port": strconv.Itoa(1024 + n), "pri_port": strconv.Itoa(20000 + n)}))
			}
			out = append(out, lg)
		}
		return out
	}
	run := func(withPoison bool) (ingest.Summary, map[string]string, map[string]string) {
		ctx := context.Background()
		rdb.FlushDB(ctx)
		h, ev := slsRange(t, build(withPoison))
		if err := rdb.ConfigResetStat(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		s, err := h.Handle(ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		cmds := commands(t)
		return s, state(t), cmds
	}
	clean, cleanState, cleanCmds := run(false)
	dirty, dirtyState, dirtyCmds := run(true)

	if clean.Mappings != groups*perGroup || dirty.Mappings != groups*perGroup {
		t.Fatalf("mappings: clean %d, with poison %d; want %d", clean.Mappings, dirty.Mappings, groups*perGroup)
	}
	want := map[string]int{string(natlog.StartOutOfRange): groups, string(natlog.BadStartTime): groups,
		string(natlog.WindowTooLong): groups, string(natlog.EndOutOfRange): groups}
	if len(dirty.Rejected) != len(want) {
		t.Fatalf("rejected %v, want %v", dirty.Rejected, want)
	}
	for r, n := range want {
		if dirty.Rejected[r] != n {
			t.Fatalf("rejected %v, want %v", dirty.Rejected, want)
		}
	}
	if dirty.Records != clean.Records+groups*len(poison) {
		t.Fatalf("records: clean %d, with poison %d", clean.Records, dirty.Records)
	}
	if len(dirtyState) != len(cleanState) {
		t.Fatalf("with poison Redis holds %d keys, without %d", len(dirtyState), len(cleanState))
	}
	for k, v := range cleanState {
		if dirtyState[k] != v {
			t.Fatalf("key %q differs with poison records in the range", k)
		}
	}
	if fmt.Sprint(dirtyCmds) != fmt.Sprint(cleanCmds) {
		t.Fatalf("the range cost Redis commands %v with poison records, %v without", dirtyCmds, cleanCmds)
	}
	t.Logf("%d records, %d poison skipped %v; %d keys, Redis commands %v either way", dirty.Records, groups*len(poison), dirty.Rejected, len(dirtyState), dirtyCmds)
}

// BenchmarkHandle ingests 100,000 NAT records (100 groups) through the
// handler: SLS emulator in process, real redis-server. Its CPU profile
// (-cpuprofile) shows where an invocation's time goes.
func BenchmarkHandle(b *testing.B) {
	t := &testing.T{}
	var groups []*sls.LogGroup
	for g := 0; g < 100; g++ {
		lg := &sls.LogGroup{}
		for i := 0; i < 1000; i++ {
			n := g*1000 + i
			lg.Logs = append(lg.Logs, natRecord(1738738800, map[string]string{"nat_port": strconv.Itoa(1024 + n%64000),
				"pub_ip": "106.11." + strconv.Itoa(n%256) + "." + strconv.Itoa(1+n/256%254), "pri_port": strconv.Itoa(20000 + n%40000)}))
		}
		groups = append(groups, lg)
	}
	h, ev := slsRange(t, groups)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		rdb.FlushDB(ctx)
		b.StartTimer()
		if s, err := h.Handle(ctx, ev); err != nil || s.Mappings != 100_000 {
			b.Fatal(s, err)
		}
	}
	b.ReportMetric(float64(b.N*100_000)/b.Elapsed().Seconds(), "records/s")
}

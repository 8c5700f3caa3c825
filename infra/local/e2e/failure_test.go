package e2e

import (
	"sort"
	"strings"

	"context"
	"encoding/json"
	"github.com/redis/go-redis/v9"
	"testing"
	"time"

	"github.com/ndrtrace/ndrtrace/infra/local/fcemu"
	"github.com/ndrtrace/ndrtrace/shared/alert"
)

func TestSLSErrorFailsTheInvocationAndReplayIsHarmless(t *testing.T) {
	natFn, traceFn := natFunctions(t)
	ls := uniq("nat-retry")
	lc.Logstore(project, ls)
	const eip, remote = "47.100.2.1", "5.5.5.5"
	begin, end, err := lc.Put(project, ls, "", t0, []map[string]string{
		session(eip, 3000, "172.16.60.1", remote, t0, t0.Add(10*time.Minute)),
		session(eip, 3000, "172.16.60.2", remote, t0.Add(20*time.Minute), t0.Add(30*time.Minute))})
	if err != nil {
		t.Fatal(err)
	}
	lc.SLS.FailNext(project, ls, 1, 400, "InvalidCursor") // not retried by the SDK
	res := invoke(t, natFn, triggerEvent(ls, begin, end))
	if res.Error == nil {
		t.Fatal("an SLS error did not fail the invocation")
	}

	answers := func() []string {
		var out []string
		for _, at := range []time.Duration{5 * time.Minute, 25 * time.Minute} {
			r := traceDirect(t, traceFn, alertBody("replay", eip, 3000, remote, 443, t0.Add(at)))
			out = append(out, string(r.Status)+" "+r.Asset.PrivateIP)
		}
		return out
	}
	if s := ingestRange(t, natFn, ls, begin, end); s.Mappings != 2 || s.Replayed != 0 { // the trigger's retry
		t.Fatalf("retry summary %+v", s)
	}
	first, state := answers(), redisState(t)
	if s := ingestRange(t, natFn, ls, begin, end); s.Mappings != 0 || s.Replayed != 1 || s.LogGroups != 1 { // and a replay of the same range
		t.Fatalf("replay summary %+v", s)
	}
	if second := answers(); first[0] != "traced 172.16.60.1" || first[1] != "traced 172.16.60.2" || first[0] != second[0] || first[1] != second[1] {
		t.Fatalf("answers %v then %v", first, second)
	}
	if after := redisState(t); after != state {
		t.Fatal("replaying the range changed the mapping state")
	}
}

// redisState renders every mapping and count key with its value.
func redisState(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	opt, err := redis.ParseURL(lc.RedisURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	var keys []string
	for _, pattern := range []string{"ndr:m:*", "ndr:c:*"} {
		k, err := rdb.Keys(ctx, pattern).Result()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k...)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "=" + rdb.Get(ctx, k).Val() + "\n")
	}
	return b.String()
}

func TestIngestUsesTheInvocationCredentials(t *testing.T) {
	natFn, _ := natFunctions(t)
	ls := uniq("nat-creds")
	lc.Logstore(project, ls)
	begin, end, _ := lc.Put(project, ls, "", t0, []map[string]string{session("47.100.2.2", 1, "172.16.0.9", "1.1.1.1", t0, t0)})
	wrong := fcemu.Credentials{AccessKeyID: "STS.other", AccessKeySecret: "nope", SecurityToken: "other"}
	if res := invoke(t, natFn, triggerEvent(ls, begin, end), fcemu.WithCredentials(wrong)); res.Error == nil {
		t.Fatal("ingest succeeded with credentials the SLS emulator does not accept")
	}
	var sawRight bool
	before := len(lc.SLS.Requests())
	ingestRange(t, natFn, ls, begin, end)
	for _, r := range lc.SLS.Requests()[before:] {
		if r.AccessKeyID == lc.Creds.AccessKeyID && r.SecurityToken == lc.Creds.SecurityToken {
			sawRight = true
		}
	}
	if !sawRight {
		t.Fatal("no SLS request was signed with the invocation's STS credentials")
	}
}

func TestRedisDownGivesErrorResultsWithAlerts(t *testing.T) {
	rt, err := lc.Function(context.Background(), "trace", map[string]string{"REDIS_URL": "redis://127.0.0.1:1/0", "TRACE_MAX_WAIT": "2s"})
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"alerts":[` + string(alertBody("down-1", "47.1.1.1", 1, "2.2.2.2", 443, t0)) + `,` + string(alertBody("down-2", "47.1.1.1", 2, "2.2.2.2", 443, t0)) + `]}`)
	res := invoke(t, rt, body)
	var b struct{ Results []alert.Result }
	if err := json.Unmarshal(res.Payload, &b); err != nil || len(b.Results) != 2 {
		t.Fatalf("%s %v", res.Payload, err)
	}
	for i, r := range b.Results {
		if r.Status != alert.Error || r.Reason == "" || r.AlertID != []string{"down-1", "down-2"}[i] || len(r.Alert) == 0 {
			t.Fatalf("result %d: %+v", i, r)
		}
	}
}

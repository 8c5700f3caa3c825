package slsemu_test

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/gogo/protobuf/proto"

	"github.com/ndrtrace/ndrtrace/infra/local/slsemu"
)

// natIndex is a NAT session logstore's index: bytes long with doc_value,
// addresses text; "pri_port" is indexed without analytics.
func natIndex() sls.Index {
	return sls.Index{Keys: map[string]sls.IndexKey{
		"pub_ip":         {Type: "text", DocValue: true},
		"pri_ip":         {Type: "text", DocValue: true},
		"bytes_from_vpc": {Type: "long", DocValue: true},
		"bytes_from_pub": {Type: "long", DocValue: true},
		"pri_port":       {Type: "long"},
	}}
}

type natRec struct {
	at         time.Time
	pub, pri   string
	vpc, fromP int64
}

func putNAT(t *testing.T, c sls.ClientInterface, logstore string, recs []natRec) {
	t.Helper()
	lg := &sls.LogGroup{Topic: proto.String("nat")}
	for _, r := range recs {
		lg.Logs = append(lg.Logs, &sls.Log{Time: proto.Uint32(uint32(r.at.Unix())), Contents: []*sls.LogContent{
			{Key: proto.String("pub_ip"), Value: proto.String(r.pub)},
			{Key: proto.String("pri_ip"), Value: proto.String(r.pri)},
			{Key: proto.String("bytes_from_vpc"), Value: proto.String(strconv.FormatInt(r.vpc, 10))},
			{Key: proto.String("bytes_from_pub"), Value: proto.String(strconv.FormatInt(r.fromP, 10))},
			{Key: proto.String("pri_port"), Value: proto.String("40000")},
		}})
	}
	if err := c.PutLogs("p", logstore, lg); err != nil {
		t.Fatal(err)
	}
}

func getLogs(c sls.ClientInterface, logstore string, from, to time.Time, q string) (*sls.GetLogsV3Response, error) {
	return c.GetLogsV3("p", logstore, &sls.GetLogRequest{From: from.Unix(), To: to.Unix(), Query: q})
}

// TestGetLogsSeedQueries runs the two queries of the session-log
// investigation (seed: "Traffic tracing through session logs") verbatim
// through the real SDK and checks them against sums computed here.
func TestGetLogsSeedQueries(t *testing.T) {
	emu := startEmu(t, slsemu.Options{AccessKeyID: testAK, AccessKeySecret: testSecret, SecurityToken: testToken})
	emu.CreateProject("p")
	emu.CreateLogstore("p", "nat", 2, 7)
	c := newClient(t, emu, defaultClientConfig())
	if err := c.CreateIndex("p", "nat", natIndex()); err != nil {
		t.Fatal(err)
	}
	const dst = "47.110.22.157"
	t0 := time.Date(2025, 2, 5, 14, 50, 0, 0, time.UTC)
	var recs []natRec
	perMinute := map[int64]int64{}
	perHostMinute := map[string]int64{}
	for i := range 600 {
		at := t0.Add(time.Duration(i) * 2 * time.Second) // 20 minutes
		pri := fmt.Sprintf("172.16.20.%d", i%7)
		pub := dst
		if i%5 == 0 {
			pub = "106.11.22.203" // another destination: not counted
		}
		r := natRec{at, pub, pri, int64(100 + i), int64(i)}
		recs = append(recs, r)
		if pub == dst {
			m := at.Truncate(time.Minute).Unix()
			perMinute[m] += r.vpc
			perHostMinute[fmt.Sprintf("%d/%s", m, pri)] += r.vpc
		}
	}
	// Two PutLogs, so the records land on both shards.
	putNAT(t, c, "nat", recs[:300])
	putNAT(t, c, "nat", recs[300:])

	q1 := `* | select 
    sum(bytes_from_vpc) as total_bytes, /* Core field for analyzing the cause of the failure */
    date_trunc('minute', __time__) as ts_min /* Statistics by minute */
from 
    log 
where 
    pub_ip = '47.110.22.157' /* Filter by specific destination IP */
group by 
    ts_min`
	resp, err := getLogs(c, "nat", t0, t0.Add(time.Hour), q1)
	if err != nil {
		t.Fatal(err)
	}
	if !resp.IsComplete() || !resp.Meta.HasSQL || int(resp.Meta.Count) != len(perMinute) || len(resp.Logs) != len(perMinute) {
		t.Fatalf("meta %+v, %d rows; want %d minutes", resp.Meta, len(resp.Logs), len(perMinute))
	}
	for _, row := range resp.Logs {
		m, _ := strconv.ParseInt(row["ts_min"], 10, 64)
		if want := strconv.FormatInt(perMinute[m], 10); row["total_bytes"] != want {
			t.Errorf("minute %s: total_bytes %s, want %s", row["ts_min"], row["total_bytes"], want)
		}
	}

	q2 := `* | select pri_ip, sum(bytes_from_vpc) as total_bytes, date_trunc('minute', __time__) as ts_min
from log where pub_ip = '47.110.22.157' group by ts_min, pri_ip limit 1000`
	resp, err = getLogs(c, "nat", t0, t0.Add(time.Hour), q2)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Logs) != len(perHostMinute) {
		t.Fatalf("%d rows, want %d", len(resp.Logs), len(perHostMinute))
	}
	for _, row := range resp.Logs {
		key := row["ts_min"] + "/" + row["pri_ip"]
		if want := strconv.FormatInt(perHostMinute[key], 10); row["total_bytes"] != want {
			t.Errorf("%s: %s, want %s", key, row["total_bytes"], want)
		}
	}

	// The time range is [from, to): the first five minutes only.
	resp, err = getLogs(c, "nat", t0, t0.Add(5*time.Minute), "* | select count(1) as n, min(__time__) as lo, max(__time__) as hi")
	if err != nil {
		t.Fatal(err)
	}
	if row := resp.Logs[0]; row["n"] != "150" || row["lo"] != strconv.FormatInt(t0.Unix(), 10) || row["hi"] != strconv.FormatInt(t0.Add(5*time.Minute-2*time.Second).Unix(), 10) {
		t.Fatalf("range row %v", row)
	}
	// Without LIMIT an analytic statement returns 100 rows, as on SLS.
	resp, err = getLogs(c, "nat", t0, t0.Add(time.Hour), "* | select __time__, pri_ip")
	if err != nil || len(resp.Logs) != 100 {
		t.Fatalf("default limit: %d rows, %v", len(resp.Logs), err)
	}
	// Records added after a query are seen by the next one.
	putNAT(t, c, "nat", []natRec{{t0.Add(30 * time.Minute), dst, "172.16.20.99", 5, 0}})
	resp, err = getLogs(c, "nat", t0, t0.Add(time.Hour), "* | select sum(bytes_from_vpc) as b from log where pri_ip = '172.16.20.99'")
	if err != nil || resp.Logs[0]["b"] != "5" {
		t.Fatalf("appended record: %v, %v", resp.Logs, err)
	}
}

func TestGetLogsRefusals(t *testing.T) {
	emu := startEmu(t, slsemu.Options{})
	emu.CreateProject("p")
	emu.CreateLogstore("p", "noindex", 1, 7)
	emu.CreateLogstore("p", "nat", 1, 7)
	c := newClient(t, emu, defaultClientConfig())
	if err := c.CreateIndex("p", "nat", natIndex()); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2025, 2, 5, 14, 50, 0, 0, time.UTC)
	putNAT(t, c, "nat", []natRec{{t0, "1.2.3.4", "10.0.0.1", 1, 1}})
	putNAT(t, c, "noindex", []natRec{{t0, "1.2.3.4", "10.0.0.1", 1, 1}})
	t1 := t0.Add(time.Hour)

	_, err := getLogs(c, "noindex", t0, t1, "* | select count(1)")
	wantSLSError(t, err, "IndexConfigNotExist", 400)
	_, err = getLogs(c, "missing", t0, t1, "* | select count(1)")
	wantSLSError(t, err, "LogStoreNotExist", 404)
	for _, q := range []string{
		"*",                                            // no SQL: no full-text search here
		"pub_ip: 1.2.3.4 | select count(1)",            // a search other than *
		"* | select pri_port from log",                 // indexed without analytics
		"* | select 1; delete from records",            // one statement only
		"* | delete from records",                      // and only a SELECT
		"* | select nosuchfield from log",              // unknown field
		"* | select date_trunc('fortnight', __time__)", // unknown unit
	} {
		_, err := getLogs(c, "nat", t0, t1, q)
		wantSLSError(t, err, "ParameterInvalid", 400)
	}
	// Nothing was deleted.
	resp, err := getLogs(c, "nat", t0, t1, "* | select count(1) as n")
	if err != nil || resp.Logs[0]["n"] != "1" {
		t.Fatalf("after refusals: %v, %v", resp, err)
	}
	// An empty range answers no rows for a grouped query, and one row of
	// zero for a plain count.
	resp, err = getLogs(c, "nat", t1, t1.Add(time.Hour), "* | select count(1) as n, pub_ip group by pub_ip")
	if err != nil || len(resp.Logs) != 0 || !resp.IsComplete() {
		t.Fatalf("empty range: %+v, %v", resp, err)
	}
}

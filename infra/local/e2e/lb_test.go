package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ndrtrace/ndrtrace/infra/local/cloud"
	"github.com/ndrtrace/ndrtrace/infra/local/fcemu"
	"github.com/ndrtrace/ndrtrace/shared/alert"
	"github.com/ndrtrace/ndrtrace/shared/ingest"
	"github.com/ndrtrace/ndrtrace/shared/lblog"
)

// Address pairs of internet-facing ALBs whose access logs name a zone's
// private VIP: the detector sees public_ip, the log says private_ip.
const (
	lbVPC        = "vpc-lbe2e"
	sampleALBID  = "alb-bp1ndrsample01" // the ALB of events/lb-ingest/alb-records.json
	sampleALBPub = "39.100.1.21"
	sampleALBPri = "172.16.0.20"
	privALBID    = "alb-e2eprivvip"
	privALBPub   = "39.100.2.21"
	privALBPri   = "172.16.0.30"
)

var (
	lbOnce    sync.Once
	lbIngest  *fcemu.Runtime
	lbTraceFn *fcemu.Runtime
	lbErr     error
	cst       = time.FixedZone("CST", 8*3600) // the balancers log local time with its offset
)

// lbFunctions starts lb-ingest and a trace instance that knows the ALB
// address pairs.
func lbFunctions(t *testing.T) (*fcemu.Runtime, *fcemu.Runtime) {
	t.Helper()
	lbOnce.Do(func() {
		ctx := context.Background()
		if lbIngest, lbErr = lc.Function(ctx, "lb-ingest", nil); lbErr != nil {
			return
		}
		pair := `{"type":"alb","id":%q,"vpc_id":%q,"public_ip":%q,"private_ip":%q,"account_id":%q,"region":"cn-hangzhou"}`
		pairs := "[" + fmt.Sprintf(pair, sampleALBID, lbVPC, sampleALBPub, sampleALBPri, lc.Account) + "," +
			fmt.Sprintf(pair, privALBID, lbVPC, privALBPub, privALBPri, lc.Account) + "]"
		lbTraceFn, lbErr = lc.Function(ctx, "trace", map[string]string{"TRACE_MAX_WAIT": "3s", "EGRESS_ADDRESSES": pairs},
			func(f *fcemu.Function) { f.Timeout = 30 * time.Second })
	})
	if lbErr != nil {
		t.Fatal(lbErr)
	}
	return lbIngest, lbTraceFn
}

// lbReq is an access-log record as a balancer delivers it: kind "alb" names
// the balancer in app_lb_id, "clb" in slbid; an empty clientPort leaves
// client_port out (ALB).
func lbReq(kind, id, client, clientPort, vip string, vport int, upstream string, at time.Time, reqTime string) map[string]string {
	r := map[string]string{
		"client_ip": client, "vip_addr": vip, "slb_vport": strconv.Itoa(vport), "upstream_addr": upstream,
		"time": at.In(cst).Format(time.RFC3339), "request_time": reqTime,
		"host": "www.example.com", "request_method": "GET", "request_uri": "/", "status": "200",
		"upstream_status": "200", "http_x_forwarded_for": "-", "scheme": "https", "server_protocol": "HTTP/1.1",
	}
	if kind == "alb" {
		r["app_lb_id"] = id
	} else {
		r["slbid"] = id
	}
	if clientPort != "" {
		r["client_port"] = clientPort
	}
	return r
}

func lbAlert(id, src string, sport int, dst string, dport int, at time.Time, extra string) []byte {
	return []byte(fmt.Sprintf(`{"alert_id":%q,"time":%q,"protocol":"tcp","src_ip":%q,"src_port":%d,"dst_ip":%q,"dst_port":%d,"rule":"web-attack"%s}`,
		id, at.Format(time.RFC3339), src, sport, dst, dport, extra))
}

// putLB writes records into a fresh logstore as one log group with topic
// and returns the logstore and the range they occupy.
func putLB(t *testing.T, prefix, topic string, logTime time.Time, records []map[string]string) (ls, begin, end string) {
	t.Helper()
	ls = uniq(prefix)
	lc.Logstore(project, ls)
	begin, end, err := lc.Put(project, ls, topic, logTime, records)
	if err != nil {
		t.Fatal(err)
	}
	return ls, begin, end
}

// lbCase is one alert and what its result must say.
type lbCase struct {
	name    string
	body    []byte
	status  alert.Status
	want    []string // private endpoints: the asset, or the candidates
	egress  string   // "type/id/public_ip" of a traced or ambiguous result
	retried []string
	xff     string
	vpc     string
}

func runLBCases(t *testing.T, traceFn *fcemu.Runtime, cases []lbCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // the untraced ones each wait TRACE_MAX_WAIT
			r := traceDirect(t, traceFn, tc.body)
			if r.Status != tc.status {
				t.Fatalf("status %s (%s), want %s", r.Status, r.Reason, tc.status)
			}
			if string(r.Alert) != string(tc.body) {
				t.Fatalf("alert not verbatim: %s", r.Alert)
			}
			var got []string
			if r.Asset != nil {
				got = append(got, fmt.Sprintf("%s:%d", r.Asset.PrivateIP, r.Asset.PrivatePort))
			}
			for _, c := range r.Candidates {
				got = append(got, fmt.Sprintf("%s:%d", c.PrivateIP, c.PrivatePort))
			}
			sort.Strings(got)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("private endpoints %v, want %v", got, tc.want)
			}
			if tc.egress != "" {
				if r.Egress == nil || r.Egress.Type+"/"+r.Egress.ID+"/"+r.Egress.PublicIP != tc.egress {
					t.Fatalf("egress %+v, want %s", r.Egress, tc.egress)
				}
			}
			if r.Asset != nil {
				if fmt.Sprint(r.Asset.Retried) != fmt.Sprint(tc.retried) || r.Asset.ForwardedFor != tc.xff || r.Asset.VPCID != tc.vpc {
					t.Fatalf("asset %+v: want retried %v, forwarded_for %q, vpc %q", *r.Asset, tc.retried, tc.xff, tc.vpc)
				}
			}
		})
	}
}

// TestLBTrace ingests ALB and CLB access logs through lb-ingest and traces
// inbound alerts through trace, both the compiled binaries.
func TestLBTrace(t *testing.T) {
	ingestFn, traceFn := lbFunctions(t)
	at := t0.Add(7 * time.Minute)
	const (
		albVIP, albID = "39.100.5.1", "alb-e2e1"
		albVIP6       = "2408:4005:3ff:a00::51"
		clbVIP, clbID = "47.100.5.1", "lb-e2e1"
		clbVIP6       = "2408:4005:3ff:a00::52"
		client6ALB    = "2408:8207:1851:10e0::51"
		client6CLB    = "2408:8207:1851:10e0::61"
	)
	retried := lbReq("alb", albID, "47.96.5.4", "", albVIP, 443, "192.168.5.5:8080, 192.168.5.6:8080 : 192.168.5.7:9000", at, "0.5, 0.3")
	retried["http_x_forwarded_for"] = "198.51.100.77, 47.96.5.4"
	albRecords := []map[string]string{
		lbReq("alb", albID, "47.96.5.1", "", albVIP, 443, "192.168.5.1:8080", at, "0.010"),
		// One client, two backends within the skew: without a port, ambiguous.
		lbReq("alb", albID, "47.96.5.2", "", albVIP, 443, "192.168.5.1:8080", at, "0.010"),
		lbReq("alb", albID, "47.96.5.2", "", albVIP, 443, "192.168.5.2:8080", at.Add(20*time.Second), "0.010"),
		// The same with client ports: each request is its own tuple.
		lbReq("alb", albID, "47.96.5.3", "40001", albVIP, 443, "192.168.5.3:8080", at, "0.010"),
		lbReq("alb", albID, "47.96.5.3", "40002", albVIP, 443, "192.168.5.4:8080", at, "0.010"),
		retried,
		lbReq("alb", albID, client6ALB, "", albVIP6, 443, "192.168.5.8:8080", at, "0.002"),
		lbReq("alb", privALBID, "47.96.5.5", "", privALBPri, 443, "192.168.5.9:8080", at, "0.002"),
		lbReq("alb", albID, "47.96.5.6", "", albVIP, 443, "-", at, "0.000"),
		lbReq("alb", albID, "47.96.5.7", "", albVIP, 8443, "192.168.5.10:8080", at, "300.000"),
	}
	clbRecords := []map[string]string{
		lbReq("clb", clbID, "47.96.6.1", "51000", clbVIP, 80, "172.16.5.1:80", at, "0.100"),
		lbReq("clb", clbID, "47.96.6.1", "51001", clbVIP, 80, "172.16.5.2:80", at, "0.100"),
		lbReq("clb", clbID, client6CLB, "52000", clbVIP6, 80, "172.16.5.3:80", at, "0.100"),
		lbReq("clb", clbID, "47.96.6.2", "53000", clbVIP, 80, "172.16.5.4:80,172.16.5.5:80", at, "2.0,0.1"),
	}
	for _, src := range []struct {
		prefix, topic string
		records       []map[string]string
		rejected      map[string]int
	}{
		{"alb-access", lblog.TopicALB, albRecords, map[string]int{string(lblog.NoUpstream): 1}},
		{"clb-access", lblog.TopicCLB, clbRecords, nil},
	} {
		ls, begin, end := putLB(t, src.prefix, src.topic, at.Add(time.Minute), src.records)
		s := ingestRange(t, ingestFn, ls, begin, end)
		if s.Records != len(src.records) || s.Mappings != len(src.records)-len(src.rejected) || fmt.Sprint(s.Rejected) != fmt.Sprint(src.rejected) {
			t.Fatalf("%s summary %+v", ls, s)
		}
		// A replay of the range (the trigger retrying) skips the ingested
		// group: the answers below would show duplicates otherwise.
		if s := ingestRange(t, ingestFn, ls, begin, end); s.LogGroups != 1 || s.Replayed != 1 || s.Mappings != 0 {
			t.Fatalf("%s replay summary %+v", ls, s)
		}
	}

	albEgress, clbEgress := "alb/"+albID+"/"+albVIP, "clb/"+clbID+"/"+clbVIP
	runLBCases(t, traceFn, []lbCase{
		// CLB: full tuples, traced exactly.
		{name: "CLB full tuple", body: lbAlert("clb-1", "47.96.6.1", 51000, clbVIP, 80, at, ""), status: alert.Traced,
			want: []string{"172.16.5.1:80"}, egress: clbEgress},
		{name: "CLB same client, other port, other backend", body: lbAlert("clb-2", "47.96.6.1", 51001, clbVIP, 80, at, ""), status: alert.Traced,
			want: []string{"172.16.5.2:80"}, egress: clbEgress},
		{name: "CLB client port never logged is not guessed", body: lbAlert("clb-3", "47.96.6.1", 51002, clbVIP, 80, at, ""), status: alert.Untraced},
		{name: "CLB reply orientation", body: lbAlert("clb-4", clbVIP, 80, "47.96.6.1", 51000, at, ""), status: alert.Traced,
			want: []string{"172.16.5.1:80"}, egress: clbEgress},
		{name: "CLB IPv6 client", body: lbAlert("clb-5", client6CLB, 52000, clbVIP6, 80, at, ""), status: alert.Traced,
			want: []string{"172.16.5.3:80"}, egress: "clb/" + clbID + "/" + clbVIP6},
		{name: "CLB retries", body: lbAlert("clb-6", "47.96.6.2", 53000, clbVIP, 80, at.Add(-time.Second), ""), status: alert.Traced,
			want: []string{"172.16.5.5:80"}, egress: clbEgress, retried: []string{"172.16.5.4:80"}},

		// ALB without client ports: client, VIP:port and time.
		{name: "ALB without port, one backend", body: lbAlert("alb-1", "47.96.5.1", 60000, albVIP, 443, at, ""), status: alert.Traced,
			want: []string{"192.168.5.1:8080"}, egress: albEgress},
		{name: "ALB without port, reply orientation", body: lbAlert("alb-2", albVIP, 443, "47.96.5.1", 60000, at, ""), status: alert.Traced,
			want: []string{"192.168.5.1:8080"}, egress: albEgress},
		{name: "ALB without port, several backends", body: lbAlert("alb-3", "47.96.5.2", 60001, albVIP, 443, at.Add(10*time.Second), ""), status: alert.Ambiguous,
			want: []string{"192.168.5.1:8080", "192.168.5.2:8080"}},
		{name: "ALB with port, first request", body: lbAlert("alb-4", "47.96.5.3", 40001, albVIP, 443, at, ""), status: alert.Traced,
			want: []string{"192.168.5.3:8080"}, egress: albEgress},
		{name: "ALB with port, second request", body: lbAlert("alb-5", "47.96.5.3", 40002, albVIP, 443, at, ""), status: alert.Traced,
			want: []string{"192.168.5.4:8080"}, egress: albEgress},
		{name: "ALB retries and X-Forwarded-For", body: lbAlert("alb-6", "47.96.5.4", 60002, albVIP, 443, at, ""), status: alert.Traced,
			want: []string{"192.168.5.7:9000"}, egress: albEgress, retried: []string{"192.168.5.5:8080", "192.168.5.6:8080"}, xff: "198.51.100.77"},
		{name: "ALB IPv6 client", body: lbAlert("alb-7", client6ALB, 60003, albVIP6, 443, at, ""), status: alert.Traced,
			want: []string{"192.168.5.8:8080"}, egress: "alb/" + albID + "/" + albVIP6},
		{name: "ALB VIP known by its private address", body: lbAlert("alb-8", "47.96.5.5", 60004, privALBPub, 443, at, ""), status: alert.Traced,
			want: []string{"192.168.5.9:8080"}, egress: "alb/" + privALBID + "/" + privALBPub, vpc: lbVPC},
		{name: "ALB answered by the balancer is not mapped", body: lbAlert("alb-9", "47.96.5.6", 60005, albVIP, 443, at, ""), status: alert.Untraced},
		{name: "ALB long request traced from its start", body: lbAlert("alb-10", "47.96.5.7", 60006, albVIP, 8443, at.Add(-4*time.Minute), ""), status: alert.Traced,
			want: []string{"192.168.5.10:8080"}, egress: "alb/" + albID + "/" + albVIP},
		{name: "ALB outside the request window", body: lbAlert("alb-11", "47.96.5.1", 60000, albVIP, 443, at.Add(5*time.Minute), ""), status: alert.Untraced},

		// asset_type / asset_id narrow the search.
		{name: "asset_type alb", body: lbAlert("n-1", "47.96.5.1", 60000, albVIP, 443, at, `,"asset_type":"alb"`), status: alert.Traced,
			want: []string{"192.168.5.1:8080"}, egress: albEgress},
		{name: "asset_type and asset_id of the balancer", body: lbAlert("n-2", "47.96.5.1", 60000, albVIP, 443, at, `,"asset_type":"alb","asset_id":"`+albID+`"`), status: alert.Traced,
			want: []string{"192.168.5.1:8080"}, egress: albEgress},
		{name: "asset_type nat does not match an ALB mapping", body: lbAlert("n-3", "47.96.5.1", 60000, albVIP, 443, at, `,"asset_type":"nat"`), status: alert.Untraced},
		{name: "asset_type clb does not match an ALB mapping", body: lbAlert("n-4", "47.96.5.1", 60000, albVIP, 443, at, `,"asset_type":"clb"`), status: alert.Untraced},
		{name: "asset_id of another balancer", body: lbAlert("n-5", "47.96.5.1", 60000, albVIP, 443, at, `,"asset_id":"alb-other"`), status: alert.Untraced},
		{name: "asset_type clb on a CLB mapping", body: lbAlert("n-6", "47.96.6.1", 51000, clbVIP, 80, at, `,"asset_type":"clb","asset_id":"`+clbID+`"`), status: alert.Traced,
			want: []string{"172.16.5.1:80"}, egress: clbEgress},
		{name: "asset_type nat does not match a CLB mapping", body: lbAlert("n-7", "47.96.6.1", 51000, clbVIP, 80, at, `,"asset_type":"nat"`), status: alert.Untraced},
		{name: "asset_type alb on a private-VIP pair", body: lbAlert("n-8", "47.96.5.5", 60004, privALBPub, 443, at, `,"asset_type":"alb","asset_id":"`+privALBID+`"`), status: alert.Traced,
			want: []string{"192.168.5.9:8080"}, egress: "alb/" + privALBID + "/" + privALBPub, vpc: lbVPC},
	})
}

// TestLBLogLandsMidWait: a trace waiting for its mapping wakes when
// lb-ingest writes it, and another one times out with its alert kept.
func TestLBLogLandsMidWait(t *testing.T) {
	ingestFn, traceFn := lbFunctions(t)
	const vip, client = "39.100.7.1", "47.96.7.1"
	at := t0.Add(3 * time.Minute)
	done := make(chan alert.Result, 2)
	late := lbAlert("lb-late", client, 61000, vip, 443, at, "")
	never := lbAlert("lb-never", client, 61001, vip, 444, at, "")
	go func() { done <- traceDirect(t, traceFn, late) }()
	go func() { done <- traceDirect(t, traceFn, never) }()

	time.Sleep(700 * time.Millisecond) // both traces are waiting now
	ls, begin, end := putLB(t, "alb-late", lblog.TopicALB, at.Add(time.Minute), []map[string]string{
		lbReq("alb", "alb-e2elate", client, "", vip, 443, "192.168.7.1:8080", at, "0.050")})
	if s := ingestRange(t, ingestFn, ls, begin, end); s.Mappings != 1 {
		t.Fatalf("summary %+v", s)
	}
	for range 2 {
		r := <-done
		switch r.AlertID {
		case "lb-late":
			if r.Status != alert.Traced || r.Asset.PrivateIP != "192.168.7.1" || r.WaitedMS < 500 || r.Egress.ID != "alb-e2elate" {
				t.Fatalf("late: %s %+v %+v waited %dms", r.Status, r.Asset, r.Egress, r.WaitedMS)
			}
		case "lb-never":
			if r.Status != alert.Untraced || string(r.Alert) != string(never) || r.WaitedMS < 2500 {
				t.Fatalf("never: %s after %dms, alert %s", r.Status, r.WaitedMS, r.Alert)
			}
		default:
			t.Fatalf("unexpected result %+v", r)
		}
	}
}

// TestLBMalformedRecordsAreCounted: every bad record is skipped and counted
// by reason; the good ones of the same group are mapped. The group has no
// topic, so the id field (or a __topic__ key) tells ALB from CLB.
func TestLBMalformedRecordsAreCounted(t *testing.T) {
	ingestFn, traceFn := lbFunctions(t)
	const albVIP, clbVIP = "39.100.8.1", "47.100.8.1"
	at := t0.Add(2 * time.Minute)
	good := func(kind, client, port string) map[string]string {
		id := map[string]string{"alb": "alb-e2ebad", "clb": "lb-e2ebad"}[kind]
		vip := map[string]string{"alb": albVIP, "clb": clbVIP}[kind]
		return lbReq(kind, id, client, port, vip, 443, "192.168.8.1:8080", at, "0.010")
	}
	with := func(r map[string]string, kv ...string) map[string]string {
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "<absent>" {
				delete(r, kv[i])
			} else {
				r[kv[i]] = kv[i+1]
			}
		}
		return r
	}
	records := []map[string]string{
		good("alb", "47.96.8.1", ""),
		good("clb", "47.96.8.2", "50000"),
		with(good("alb", "47.96.8.3", ""), "slbid", "lb-e2ebad", "__topic__", lblog.TopicALB), // both ids: __topic__ decides
		with(good("alb", "47.96.8.4", ""), "slbid", "lb-e2ebad"),                              // both ids, no topic
		with(good("clb", "47.96.8.5", "50001"), "client_port", "<absent>"),
		with(good("alb", "47.96.8.6", ""), "time", "yesterday"),
		with(good("alb", "47.96.8.7", ""), "request_time", "fast"),
		with(good("alb", "47.96.8", "")),
		with(good("alb", "47.96.8.9", ""), "upstream_addr", "-"),
		with(good("alb", "47.96.8.10", ""), "upstream_addr", "backend-pool"),
		with(good("clb", "47.96.8.11", "50002"), "slbid", "lb e2e"),
		with(good("clb", "47.96.8.12", "50003"), "vip_addr", "<absent>"),
		{"garbage": "x"},
	}
	ls, begin, end := putLB(t, "lb-bad", "", at, records)
	s := ingestRange(t, ingestFn, ls, begin, end)
	want := map[string]int{
		string(lblog.BothIDs): 1, string(lblog.MissingClientPort): 1, string(lblog.BadTime): 1, string(lblog.BadRequestTime): 1,
		string(lblog.BadClientIP): 1, string(lblog.NoUpstream): 1, string(lblog.BadUpstream): 1, string(lblog.BadCLBID): 1,
		string(lblog.MissingVIP): 1, string(lblog.MissingID): 1,
	}
	if s.Records != len(records) || s.Mappings != 3 || fmt.Sprint(s.Rejected) != fmt.Sprint(want) {
		t.Fatalf("summary %+v", s)
	}
	// The good records of the group were told apart without a group topic.
	runLBCases(t, traceFn, []lbCase{
		{name: "ALB by app_lb_id", body: lbAlert("m-1", "47.96.8.1", 1000, albVIP, 443, at, ""), status: alert.Traced,
			want: []string{"192.168.8.1:8080"}, egress: "alb/alb-e2ebad/" + albVIP},
		{name: "CLB by slbid", body: lbAlert("m-2", "47.96.8.2", 50000, clbVIP, 443, at, ""), status: alert.Traced,
			want: []string{"192.168.8.1:8080"}, egress: "clb/lb-e2ebad/" + clbVIP},
		{name: "ALB by record __topic__", body: lbAlert("m-3", "47.96.8.3", 1000, albVIP, 443, at, ""), status: alert.Traced,
			want: []string{"192.168.8.1:8080"}, egress: "alb/alb-e2ebad/" + albVIP},
	})
}

// TestLBSampleEvents runs the samples of events/lb-ingest: the records are
// written to the SLS emulator under their log's topic, the sample trigger
// event (with this range's cursors) drives lb-ingest, and an alert for each
// sample request is traced.
func TestLBSampleEvents(t *testing.T) {
	ingestFn, traceFn := lbFunctions(t)
	root, err := cloud.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "events", "lb-ingest")
	at := func(clock string) time.Time { // the samples' times, 2025-02-05 in +08:00
		tm, err := time.ParseInLocation("2006-01-02 15:04:05", "2025-02-05 "+clock, cst)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	for _, src := range []struct {
		kind, topic string
		cases       []lbCase
	}{
		{"alb", lblog.TopicALB, []lbCase{
			{name: "plain request", body: lbAlert("s-alb-1", "47.96.12.34", 50001, "39.100.1.20", 443, at("22:57:10"), ""), status: alert.Traced,
				want: []string{"192.168.1.10:8080"}, egress: "alb/" + sampleALBID + "/39.100.1.20"},
			{name: "retried request", body: lbAlert("s-alb-2", "47.96.12.35", 50002, "39.100.1.20", 443, at("22:57:11"), ""), status: alert.Traced,
				want: []string{"192.168.1.12:8080"}, egress: "alb/" + sampleALBID + "/39.100.1.20", retried: []string{"192.168.1.11:8080"}},
			{name: "redirect answered by the ALB", body: lbAlert("s-alb-3", "47.96.12.36", 50003, "39.100.1.20", 80, at("22:57:12"), ""), status: alert.Untraced},
			{name: "behind a CDN", body: lbAlert("s-alb-4", "120.55.1.1", 50004, "39.100.1.20", 443, at("22:57:13"), ""), status: alert.Traced,
				want: []string{"192.168.1.13:8080"}, egress: "alb/" + sampleALBID + "/39.100.1.20", xff: "198.51.100.23"},
			{name: "IPv6 client", body: lbAlert("s-alb-5", "2408:8207:1851:10e0::1", 50005, "2408:4005:3ff:a00::20", 443, at("22:57:14"), ""), status: alert.Traced,
				want: []string{"192.168.1.10:8080"}, egress: "alb/" + sampleALBID + "/2408:4005:3ff:a00::20"},
			{name: "private VIP", body: lbAlert("s-alb-6", "47.96.12.37", 50006, sampleALBPub, 80, at("22:57:15"), ""), status: alert.Traced,
				want: []string{"192.168.1.14:8080"}, egress: "alb/" + sampleALBID + "/" + sampleALBPub, vpc: lbVPC},
		}},
		{"clb", lblog.TopicCLB, []lbCase{
			{name: "full tuple", body: lbAlert("s-clb-1", "47.96.22.1", 51234, "47.100.30.3", 80, at("22:57:20"), ""), status: alert.Traced,
				want: []string{"172.16.1.5:80"}, egress: "clb/lb-bp1ndrsample01/47.100.30.3"},
			{name: "another client port", body: lbAlert("s-clb-2", "47.96.22.1", 51235, "47.100.30.3", 80, at("22:57:20"), ""), status: alert.Untraced},
			{name: "retried request", body: lbAlert("s-clb-3", "47.100.30.3", 80, "47.96.22.2", 40022, at("22:57:19"), ""), status: alert.Traced,
				want: []string{"172.16.1.7:80"}, egress: "clb/lb-bp1ndrsample01/47.100.30.3", retried: []string{"172.16.1.6:80"}},
			{name: "behind a proxy", body: lbAlert("s-clb-4", "47.96.22.4", 55100, "47.100.30.3", 443, at("22:57:23"), ""), status: alert.Traced,
				want: []string{"172.16.1.5:443"}, egress: "clb/lb-bp1ndrsample01/47.100.30.3", xff: "203.0.113.50"},
			{name: "IPv6 client", body: lbAlert("s-clb-5", "2408:8207:1851:10e0::2", 60001, "2408:4005:3ff:a00::30", 80, at("22:57:24"), ""), status: alert.Traced,
				want: []string{"172.16.1.5:80"}, egress: "clb/lb-bp1ndrsample01/2408:4005:3ff:a00::30"},
		}},
	} {
		t.Run(src.kind, func(t *testing.T) {
			var records []map[string]string
			raw, err := os.ReadFile(filepath.Join(dir, src.kind+"-records.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(raw, &records); err != nil {
				t.Fatalf("%s-records.json: %v", src.kind, err)
			}
			ls, begin, end := putLB(t, src.kind+"-sample", src.topic, at("22:58:00"), records)

			raw, err = os.ReadFile(filepath.Join(dir, src.kind+"-trigger.json"))
			if err != nil {
				t.Fatal(err)
			}
			var ev map[string]any
			if err := json.Unmarshal(raw, &ev); err != nil {
				t.Fatalf("%s-trigger.json: %v", src.kind, err)
			}
			source := ev["source"].(map[string]any)
			if source["endpoint"] != cloud.SLSEndpoint || source["projectName"] != project {
				t.Fatalf("%s-trigger.json names %v/%v; the local cloud serves %s/%s", src.kind, source["endpoint"], source["projectName"], cloud.SLSEndpoint, project)
			}
			source["logstoreName"], source["beginCursor"], source["endCursor"] = ls, begin, end
			event, _ := json.Marshal(ev)
			res := invoke(t, ingestFn, event)
			if res.Error != nil {
				t.Fatalf("ingest failed: %v", res.Error)
			}
			var s ingest.Summary
			if err := json.Unmarshal(res.Payload, &s); err != nil {
				t.Fatalf("summary %s: %v", res.Payload, err)
			}
			want := map[string]int{string(lblog.NoUpstream): 1}
			if s.Records != len(records) || s.Mappings != len(records)-1 || fmt.Sprint(s.Rejected) != fmt.Sprint(want) || s.Logstore != ls {
				t.Fatalf("summary %+v", s)
			}
			runLBCases(t, traceFn, src.cases)
		})
	}
}

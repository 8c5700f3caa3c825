package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ndrtrace/ndrtrace/infra/local/cloud"
	"github.com/ndrtrace/ndrtrace/infra/local/fcemu"
	"github.com/ndrtrace/ndrtrace/shared/alert"
	"github.com/ndrtrace/ndrtrace/shared/traceapi"
	"github.com/ndrtrace/ndrtrace/shared/webhook"
)

const (
	secret     = "e2e-webhook-secret"
	resultsLS  = "trace-results"
	eipNATMode = "47.100.9.9"
	eipNATPri  = "172.16.10.13"
)

var (
	natOnce  sync.Once
	natFn    *fcemu.Runtime
	traceFn  *fcemu.Runtime
	setupErr error
	t0       = time.Date(2025, 2, 5, 14, 50, 0, 0, time.UTC)
)

func natFunctions(t *testing.T) (*fcemu.Runtime, *fcemu.Runtime) {
	t.Helper()
	natOnce.Do(func() {
		ctx := context.Background()
		lc.Logstore(project, resultsLS)
		natFn, setupErr = lc.Function(ctx, "nat-ingest", nil)
		if setupErr != nil {
			return
		}
		traceFn, setupErr = lc.Function(ctx, "trace", map[string]string{
			"TRACE_MAX_WAIT":   "3s",
			"WEBHOOK_SECRET":   secret,
			"RESULTS_ENDPOINT": cloud.SLSEndpoint, "RESULTS_PROJECT": project, "RESULTS_LOGSTORE": resultsLS,
			"EGRESS_ADDRESSES": fmt.Sprintf(`[{"type":"nat","id":"ngw-e2e","vpc_id":"vpc-e2e","public_ip":%q,"private_ip":%q,"account_id":"1234567890123456","region":"cn-hangzhou"}]`, eipNATMode, eipNATPri),
		}, func(f *fcemu.Function) { f.Timeout = 30 * time.Second })
	})
	if setupErr != nil {
		t.Fatal(setupErr)
	}
	return natFn, traceFn
}

// session is a NAT session record as the gateway delivers it.
func session(natIP string, natPort int, pri string, pub string, start, end time.Time) map[string]string {
	return map[string]string{
		"instance": "ngw-e2e", "vpc_id": "vpc-e2e", "protocol": "6",
		"pri_ip": pri, "pri_port": "47176", "nat_ip": natIP, "nat_port": strconv.Itoa(natPort),
		"pub_ip": pub, "pub_port": "443", "bytes_from_vpc": "417", "pkts_from_vpc": "6",
		"bytes_from_pub": "421", "pkts_from_pub": "4",
		"start_time": strconv.FormatInt(start.Unix(), 10), "end_time": strconv.FormatInt(end.Unix(), 10),
	}
}

func alertBody(id, src string, sport int, dst string, dport int, at time.Time) []byte {
	return []byte(fmt.Sprintf(`{"alert_id":%q,"time":%q,"protocol":"tcp","src_ip":%q,"src_port":%d,"dst_ip":%q,"dst_port":%d,"rule":"outbound-c2"}`,
		id, at.Format(time.RFC3339), src, sport, dst, dport))
}

func traceDirect(t *testing.T, rt *fcemu.Runtime, body []byte) alert.Result {
	t.Helper()
	res := invoke(t, rt, body)
	if res.Error != nil {
		t.Fatalf("trace failed: %v", res.Error)
	}
	var r alert.Result
	if err := json.Unmarshal(res.Payload, &r); err != nil {
		t.Fatalf("result %s: %v", res.Payload, err)
	}
	return r
}

func TestNATTrace(t *testing.T) {
	natFn, traceFn := natFunctions(t)
	ls := uniq("nat-sessions")
	lc.Logstore(project, ls)
	const eip, remote = "47.100.1.85", "106.11.22.203"
	records := []map[string]string{
		session(eip, 48155, "172.16.20.21", remote, t0, t0.Add(10*time.Minute)),
		// Port reuse: the same EIP port to the same peer, another host, later.
		session(eip, 48156, "172.16.20.30", remote, t0, t0.Add(10*time.Minute)),
		session(eip, 48156, "172.16.20.31", remote, t0.Add(30*time.Minute), t0.Add(40*time.Minute)),
		// Overlap: two hosts whose windows both fit.
		session(eip, 48157, "172.16.20.40", remote, t0, t0.Add(10*time.Minute)),
		session(eip, 48157, "172.16.20.41", remote, t0.Add(9*time.Minute), t0.Add(19*time.Minute)),
		// NAT mode: nat_ip is the EIP's private address.
		session(eipNATPri, 50001, "172.16.20.50", remote, t0, t0.Add(10*time.Minute)),
	}
	begin, end, err := lc.Put(project, ls, "", t0.Add(12*time.Minute), records)
	if err != nil {
		t.Fatal(err)
	}
	s := ingestRange(t, natFn, ls, begin, end)
	if s.Records != len(records) || s.Mappings != len(records) || len(s.Rejected) != 0 {
		t.Fatalf("summary %+v", s)
	}

	tests := []struct {
		name   string
		body   []byte
		status alert.Status
		want   []string
	}{
		{"exact match", alertBody("exact", eip, 48155, remote, 443, t0.Add(7*time.Minute)), alert.Traced, []string{"172.16.20.21"}},
		{"reversed orientation", alertBody("reversed", remote, 443, eip, 48155, t0.Add(7*time.Minute)), alert.Traced, []string{"172.16.20.21"}},
		{"port reuse, first host", alertBody("reuse-1", eip, 48156, remote, 443, t0.Add(5*time.Minute)), alert.Traced, []string{"172.16.20.30"}},
		{"port reuse, second host", alertBody("reuse-2", eip, 48156, remote, 443, t0.Add(35*time.Minute)), alert.Traced, []string{"172.16.20.31"}},
		{"overlapping hosts", alertBody("overlap", eip, 48157, remote, 443, t0.Add(9*time.Minute+30*time.Second)), alert.Ambiguous, []string{"172.16.20.40", "172.16.20.41"}},
		{"NAT-mode EIP translated", alertBody("natmode", eipNATMode, 50001, remote, 443, t0.Add(time.Minute)), alert.Traced, []string{"172.16.20.50"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := traceDirect(t, traceFn, tt.body)
			if r.Status != tt.status {
				t.Fatalf("status %s (%s), want %s", r.Status, r.Reason, tt.status)
			}
			var got []string
			if r.Asset != nil {
				got = append(got, r.Asset.PrivateIP)
				if r.Asset.VPCID != "vpc-e2e" || r.Egress.ID != "ngw-e2e" || r.Egress.Type != "nat" {
					t.Fatalf("asset %+v egress %+v", r.Asset, r.Egress)
				}
			}
			for _, c := range r.Candidates {
				got = append(got, c.PrivateIP)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("assets %v, want %v", got, tt.want)
			}
			if string(r.Alert) != string(tt.body) {
				t.Fatalf("alert not verbatim: %s", r.Alert)
			}
		})
	}
}

func TestMappingLandsMidWaitAndTimeout(t *testing.T) {
	natFn, traceFn := natFunctions(t)
	ls := uniq("nat-late")
	lc.Logstore(project, ls)
	const eip, remote = "47.100.1.86", "106.11.22.204"

	done := make(chan alert.Result, 2)
	late := alertBody("late", eip, 40000, remote, 443, t0.Add(time.Minute))
	never := alertBody("never", eip, 40001, remote, 443, t0.Add(time.Minute))
	go func() { done <- traceDirect(t, traceFn, late) }()
	go func() { done <- traceDirect(t, traceFn, never) }()

	time.Sleep(700 * time.Millisecond) // both traces are waiting now
	begin, end, err := lc.Put(project, ls, "", t0.Add(5*time.Minute), []map[string]string{
		session(eip, 40000, "172.16.30.1", remote, t0, t0.Add(10*time.Minute))})
	if err != nil {
		t.Fatal(err)
	}
	ingestRange(t, natFn, ls, begin, end)

	for range 2 {
		r := <-done
		switch r.AlertID {
		case "late":
			if r.Status != alert.Traced || r.Asset.PrivateIP != "172.16.30.1" || r.WaitedMS < 500 {
				t.Fatalf("late: %s %+v waited %dms", r.Status, r.Asset, r.WaitedMS)
			}
		case "never":
			if r.Status != alert.Untraced || string(r.Alert) != string(never) || r.WaitedMS < 2500 {
				t.Fatalf("never: %s after %dms, alert %s", r.Status, r.WaitedMS, r.Alert)
			}
		}
	}
}

func TestMalformedRecordsAreCounted(t *testing.T) {
	natFn, _ := natFunctions(t)
	ls := uniq("nat-bad")
	lc.Logstore(project, ls)
	good := session("47.100.1.87", 1, "172.16.0.1", "1.1.1.1", t0, t0.Add(time.Minute))
	noPort := session("47.100.1.87", 2, "172.16.0.1", "1.1.1.1", t0, t0.Add(time.Minute))
	delete(noPort, "nat_port")
	badTime := session("47.100.1.87", 3, "172.16.0.1", "1.1.1.1", t0, t0.Add(time.Minute))
	badTime["start_time"] = "yesterday"
	badIP := session("47.100.1.87", 4, "172.16.0.1", "1.1.1.1", t0, t0.Add(time.Minute))
	badIP["pub_ip"] = "1.1.1"
	begin, end, err := lc.Put(project, ls, "", t0, []map[string]string{good, noPort, badTime, badIP, {"garbage": "x"}})
	if err != nil {
		t.Fatal(err)
	}
	s := ingestRange(t, natFn, ls, begin, end)
	want := map[string]int{"missing nat_port": 1, "bad start_time": 1, "bad pub_ip": 1, "missing protocol": 1}
	if s.Records != 5 || s.Mappings != 1 || fmt.Sprint(s.Rejected) != fmt.Sprint(want) {
		t.Fatalf("summary %+v", s)
	}
}

func TestInvalidAlerts(t *testing.T) {
	_, traceFn := natFunctions(t)
	r := traceDirect(t, traceFn, []byte(`{"alert_id":"inv","time":"noon","protocol":"tcp","src_ip":"1.1.1.1","src_port":1,"dst_ip":"2.2.2.2","dst_port":2}`))
	if r.Status != alert.StatusInvalid || !strings.HasPrefix(r.Reason, "time") || r.AlertID != "inv" {
		t.Fatalf("got %+v", r)
	}
	r = traceDirect(t, traceFn, []byte(`not json at all`))
	if r.Status != alert.StatusInvalid || r.AlertID != "" || string(r.Alert) != `"not json at all"` {
		t.Fatalf("got %+v alert %s", r, r.Alert)
	}
}

func TestBatchKeepsOrder(t *testing.T) {
	natFn, traceFn := natFunctions(t)
	ls := uniq("nat-batch")
	lc.Logstore(project, ls)
	begin, end, _ := lc.Put(project, ls, "", t0, []map[string]string{
		session("47.100.1.88", 1000, "172.16.40.1", "8.8.8.8", t0, t0.Add(10*time.Minute)),
		session("47.100.1.88", 1001, "172.16.40.2", "8.8.8.8", t0, t0.Add(10*time.Minute))})
	ingestRange(t, natFn, ls, begin, end)
	body := fmt.Sprintf(`{"alerts":[%s,%s,{"alert_id":"bad"}]}`,
		alertBody("b1", "47.100.1.88", 1001, "8.8.8.8", 443, t0.Add(time.Minute)),
		alertBody("b2", "47.100.1.88", 1000, "8.8.8.8", 443, t0.Add(time.Minute)))
	res := invoke(t, traceFn, []byte(body))
	var b traceapi.Batch
	if err := json.Unmarshal(res.Payload, &b); err != nil || len(b.Results) != 3 {
		t.Fatalf("%s %v", res.Payload, err)
	}
	if b.Results[0].AlertID != "b1" || b.Results[0].Asset.PrivateIP != "172.16.40.2" ||
		b.Results[1].AlertID != "b2" || b.Results[1].Asset.PrivateIP != "172.16.40.1" ||
		b.Results[2].Status != alert.StatusInvalid || b.Results[2].AlertID != "bad" {
		t.Fatalf("results %+v", b.Results)
	}
}

func TestHTTPTrigger(t *testing.T) {
	natFn, traceFn := natFunctions(t)
	ls := uniq("nat-http")
	lc.Logstore(project, ls)
	begin, end, _ := lc.Put(project, ls, "", t0, []map[string]string{
		session("47.100.1.89", 2000, "172.16.50.1", "9.9.9.9", t0, t0.Add(10*time.Minute))})
	ingestRange(t, natFn, ls, begin, end)
	body := alertBody("h1", "47.100.1.89", 2000, "9.9.9.9", 443, t0.Add(time.Minute))
	now := time.Now().Unix()
	signedAt := func(ts int64) map[string]string {
		return map[string]string{"Content-Type": "application/json",
			"X-Ndrtrace-Timestamp": strconv.FormatInt(ts, 10), "X-Ndrtrace-Signature": webhook.Sign(secret, ts, body)}
	}
	signed := signedAt(now)

	tests := []struct {
		name    string
		headers map[string]string
		body    []byte
		base64  bool
		status  int
	}{
		{"signed", signed, body, false, 200},
		{"replayed", signed, body, false, 401},
		{"signed, base64 body", signedAt(now - 1), body, true, 200},
		{"unsigned", map[string]string{"Content-Type": "application/json"}, body, false, 401},
		{"tampered", signed, []byte(strings.Replace(string(body), "h1", "h2", 1)), false, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := fcemu.HTTPEvent(fcemu.HTTPRequest{Method: "POST", Path: "/alerts", Headers: tt.headers, Body: tt.body, Base64: tt.base64})
			res := invoke(t, traceFn, ev)
			resp, err := fcemu.DecodeHTTPResponse(res.Payload)
			if err != nil {
				t.Fatalf("%v: %s", err, res.Payload)
			}
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d: %s", resp.StatusCode, resp.Body)
			}
			if tt.status == 200 {
				var r alert.Result
				json.Unmarshal(resp.Body, &r)
				if r.Status != alert.Traced || r.Asset.PrivateIP != "172.16.50.1" {
					t.Fatalf("result %s", resp.Body)
				}
			}
		})
	}

	// A single invalid alert over HTTP is a 400 whose body is its result.
	bad := []byte(`{"alert_id":"h3","time":1738767430,"protocol":"tcp","src_ip":"1.1.1.1","dst_ip":"2.2.2.2","dst_port":2}`)
	ev := fcemu.HTTPEvent(fcemu.HTTPRequest{Method: "POST", Path: "/alerts", Body: bad, Headers: map[string]string{
		"X-Ndrtrace-Timestamp": strconv.FormatInt(now-2, 10), "X-Ndrtrace-Signature": webhook.Sign(secret, now-2, bad)}})
	resp, _ := fcemu.DecodeHTTPResponse(invoke(t, traceFn, ev).Payload)
	var r alert.Result
	json.Unmarshal(resp.Body, &r)
	if resp.StatusCode != 400 || r.Status != alert.StatusInvalid || !strings.HasPrefix(r.Reason, "src_port") {
		t.Fatalf("status %d body %s", resp.StatusCode, resp.Body)
	}
	// And an oversized body is a 413.
	big := make([]byte, webhook.MaxBody+10)
	ev = fcemu.HTTPEvent(fcemu.HTTPRequest{Method: "POST", Path: "/alerts", Body: []byte(base64.StdEncoding.EncodeToString(big))})
	resp, _ = fcemu.DecodeHTTPResponse(invoke(t, traceFn, ev).Payload)
	if resp.StatusCode != 413 {
		t.Fatalf("oversized: %d", resp.StatusCode)
	}
}

func TestResultsAreRecorded(t *testing.T) {
	_, traceFn := natFunctions(t)
	body := alertBody("recorded-1", "47.100.1.90", 1, "1.2.3.4", 443, t0)
	traceDirect(t, traceFn, []byte(`{"alert_id":"recorded-0","time":"x"}`))
	traceDirect(t, traceFn, body)
	found := map[string]string{}
	for _, lg := range lc.SLS.LogGroups(project, resultsLS) {
		for _, l := range lg.Logs {
			f := map[string]string{}
			for _, c := range l.Contents {
				f[c.GetKey()] = c.GetValue()
			}
			found[f["alert_id"]] = f["status"] + "|" + f["alert"]
		}
	}
	if found["recorded-1"] != "untraced|"+string(body) {
		t.Fatalf("recorded-1: %q", found["recorded-1"])
	}
	if !strings.HasPrefix(found["recorded-0"], "invalid|") {
		t.Fatalf("recorded-0: %q", found["recorded-0"])
	}
}

// A waiting trace is answered by the wake-up ingest publishes, not by
// polling: with backoff steps of an hour, the only looks before the wall
// (90 s) are the first one and wake-ups, so an answer well before the wall
// can only come from a wake-up. With wake-ups broken it comes at the
// wall's last look (waited_ms ~90,000).
func TestWaitingTraceIsWokenByIngest(t *testing.T) {
	natFn, _ := natFunctions(t)
	tr, err := lc.Function(context.Background(), "trace", map[string]string{"TRACE_MAX_WAIT": "90s",
		"TRACE_MIN_BACKOFF": "1h", "TRACE_MAX_BACKOFF": "1h", "TRACE_LATE_WINDOW": "0"},
		func(f *fcemu.Function) { f.Timeout = 150 * time.Second })
	if err != nil {
		t.Fatal(err)
	}
	ls := uniq("nat-wake")
	lc.Logstore(project, ls)
	const eip, remote = "47.100.1.88", "106.11.22.205"
	// An answer from the trace's first look means the record landed before
	// the trace began waiting (a slow start): that proves nothing, so try
	// again with another tuple.
	for attempt := range 3 {
		port := 41000 + attempt
		done := make(chan alert.Result, 1)
		go func() {
			done <- traceDirect(t, tr, alertBody(fmt.Sprint("woken-", attempt), eip, port, remote, 443, t0.Add(time.Minute)))
		}()
		time.Sleep(2 * time.Second) // the trace is waiting: its first look found nothing
		begin, end, err := lc.Put(project, ls, "", t0.Add(5*time.Minute), []map[string]string{
			session(eip, port, "172.16.31.1", remote, t0, t0.Add(10*time.Minute))})
		if err != nil {
			t.Fatal(err)
		}
		ingestRange(t, natFn, ls, begin, end)
		r := <-done
		t.Logf("attempt %d: %s after %d ms", attempt, r.Status, r.WaitedMS)
		if r.Status == alert.Traced && r.WaitedMS < 1000 {
			t.Logf("attempt %d: answered by the first look (%d ms): the trace started after the record landed", attempt, r.WaitedMS)
			continue
		}
		if r.Status != alert.Traced || r.Asset.PrivateIP != "172.16.31.1" || r.WaitedMS >= 30_000 {
			t.Fatalf("%s %+v after %d ms: want traced by a wake-up, long before the 90 s wall", r.Status, r.Asset, r.WaitedMS)
		}
		return
	}
	t.Fatal("no trace was waiting when its record landed, in 3 attempts")
}

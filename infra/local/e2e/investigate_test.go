package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"strconv"
	"strings"
	"testing"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/gogo/protobuf/proto"

	"github.com/ndrtrace/ndrtrace/infra/local/fcemu"
	"github.com/ndrtrace/ndrtrace/shared/investigate"
	"github.com/ndrtrace/ndrtrace/shared/mapping"
	"github.com/ndrtrace/ndrtrace/shared/onboard"
	"github.com/ndrtrace/ndrtrace/shared/webhook"
)

// invRec is one generated NAT session record.
type invRec struct {
	at                     time.Time
	nat, pri, vpc, pub     string
	port, fromVPC, fromPub int64
	account, region        string // member records only, as data transformation adds them
}

// investigateSetup writes generated records into a logstore indexed as
// onboard indexes NAT logstores and starts the compiled investigate on it.
func investigateSetup(t *testing.T, recs []invRec) *fcemu.Runtime {
	t.Helper()
	ls := uniq("nat-investigate")
	lc.Logstore(project, ls)
	cl := lc.Client()
	defer cl.Close()
	if err := cl.CreateIndex(project, ls, sls.Index{Keys: onboard.IndexKeys(mapping.KindNAT)}); err != nil {
		t.Fatal(err)
	}
	lg := &sls.LogGroup{}
	for _, r := range recs {
		kv := map[string]string{"instance": "ngw-e2e", "vpc_id": r.vpc, "protocol": "6", "pri_ip": r.pri, "pri_port": "40000",
			"nat_ip": r.nat, "nat_port": "50000", "pub_ip": r.pub, "pub_port": strconv.FormatInt(r.port, 10),
			"bytes_from_vpc": strconv.FormatInt(r.fromVPC, 10), "bytes_from_pub": strconv.FormatInt(r.fromPub, 10),
			"start_time": strconv.FormatInt(r.at.Add(-time.Minute).Unix(), 10), "end_time": strconv.FormatInt(r.at.Unix(), 10)}
		if r.account != "" {
			kv["account_id"], kv["region"] = r.account, r.region
		}
		l := &sls.Log{Time: proto.Uint32(uint32(r.at.Unix()))}
		for k, v := range kv {
			l.Contents = append(l.Contents, &sls.LogContent{Key: proto.String(k), Value: proto.String(v)})
		}
		lg.Logs = append(lg.Logs, l)
	}
	if _, _, err := lc.SLS.Append(project, ls, 0, lg); err != nil {
		t.Fatal(err)
	}
	rt, err := lc.Function(context.Background(), "investigate", map[string]string{
		"NAT_LOGS_ENDPOINT": "http://cn-hangzhou-intranet.log.aliyuncs.com", "NAT_LOGS_PROJECT": project, "NAT_LOGSTORES": ls,
		"WEBHOOK_SECRET": secret,
	}, func(f *fcemu.Function) { f.Timeout = 60 * time.Second })
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

// generated: 3 destinations, 12 hosts in two VPCs (hosts overlap across
// destinations), 25 minutes, a member account's records, two egresses.
func generated(t0 time.Time) []invRec {
	var recs []invRec
	dsts := []string{"47.110.22.157", "106.11.22.203", "140.205.60.46"}
	for i := range 1500 {
		r := invRec{
			at:  t0.Add(time.Duration(i) * time.Second), // 25 minutes
			nat: "47.100.1.85", pri: fmt.Sprintf("172.16.20.%d", i%12), vpc: "vpc-e2e",
			pub: dsts[i%3], port: int64(80 + 363*(i%2)), // 80 or 443
			fromVPC: int64(100 + (i*7919)%5000), fromPub: int64((i * 31) % 900),
		}
		if i%12 >= 9 { // a member account's hosts
			r.vpc, r.account, r.region = "vpc-member", "2000000000000002", "cn-shanghai"
		}
		if i%17 == 0 {
			r.nat = "47.100.1.86" // another egress
		}
		recs = append(recs, r)
	}
	return recs
}

type invWant struct {
	minutes map[string][3]int64
	hosts   map[string][2]int64 // private ip/vpc -> bytes, sessions
}

// sums computes the answer directly from the records.
func sums(recs []invRec, dst string, port int64, egress string, from, to time.Time) invWant {
	w := invWant{minutes: map[string][3]int64{}, hosts: map[string][2]int64{}}
	for _, r := range recs {
		if r.pub != dst || (port != 0 && r.port != port) || (egress != "" && r.nat != egress) || r.at.Before(from) || !r.at.Before(to) {
			continue
		}
		m := r.at.Truncate(time.Minute).UTC().Format(time.RFC3339)
		x := w.minutes[m]
		w.minutes[m] = [3]int64{x[0] + r.fromVPC, x[1] + r.fromPub, x[2] + 1}
		h := w.hosts[r.pri+"/"+r.vpc]
		w.hosts[r.pri+"/"+r.vpc] = [2]int64{h[0] + r.fromVPC, h[1] + 1}
	}
	return w
}

func investigateDirect(t *testing.T, rt *fcemu.Runtime, body string) (investigate.Result, investigate.ErrorAnswer) {
	t.Helper()
	res := invoke(t, rt, []byte(body))
	if res.Error != nil {
		t.Fatalf("investigate failed: %v", res.Error)
	}
	var out investigate.Result
	var bad investigate.ErrorAnswer
	if err := json.Unmarshal(res.Payload, &out); err != nil {
		t.Fatalf("answer %s: %v", res.Payload, err)
	}
	_ = json.Unmarshal(res.Payload, &bad)
	return out, bad
}

func TestInvestigate(t *testing.T) {
	t0 := time.Date(2025, 2, 5, 14, 45, 0, 0, time.UTC)
	recs := generated(t0)
	rt := investigateSetup(t, recs)
	from, to := t0.Add(3*time.Minute), t0.Add(21*time.Minute+30*time.Second)

	cases := []struct {
		name, dst string
		port      int64
		egress    string
		top       int
	}{
		{"destination and port", "47.110.22.157", 80, "", 12},
		{"destination via one egress", "106.11.22.203", 0, "47.100.1.85", 5},
		{"destination, port and egress", "140.205.60.46", 443, "47.100.1.86", 12},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := map[string]any{"dst_ip": tc.dst, "from": from.Format(time.RFC3339), "to": to.Unix(), "top": tc.top}
			if tc.port != 0 {
				req["dst_port"] = tc.port
			}
			if tc.egress != "" {
				req["egress_ip"] = tc.egress
			}
			body, _ := json.Marshal(req)
			got, bad := investigateDirect(t, rt, string(body))
			if bad.Status != "" {
				t.Fatalf("refused: %+v", bad)
			}
			want := sums(recs, tc.dst, tc.port, tc.egress, from, to)
			if len(got.Minutes) != len(want.minutes) || len(want.minutes) < 5 {
				t.Fatalf("%d minutes, want %d", len(got.Minutes), len(want.minutes))
			}
			var peak string
			var peakBytes int64
			for _, m := range got.Minutes {
				if w := want.minutes[m.Minute]; [3]int64{m.BytesFromVPC, m.BytesFromPub, m.Sessions} != w {
					t.Errorf("minute %s: %d/%d/%d, want %v", m.Minute, m.BytesFromVPC, m.BytesFromPub, m.Sessions, w)
				}
				if m.BytesFromVPC > peakBytes {
					peak, peakBytes = m.Minute, m.BytesFromVPC
				}
			}
			if got.PeakMinute != peak {
				t.Errorf("peak %s, want %s", got.PeakMinute, peak)
			}
			if len(got.Hosts) != min(tc.top, len(want.hosts)) {
				t.Fatalf("%d hosts, want %d", len(got.Hosts), min(tc.top, len(want.hosts)))
			}
			for i, h := range got.Hosts {
				w, ok := want.hosts[h.PrivateIP+"/"+h.VPCID]
				if !ok || h.BytesFromVPC != w[0] || h.Sessions != w[1] || h.PeakMinute == "" {
					t.Errorf("host %+v, want %v", h, w)
				}
				if i > 0 && h.BytesFromVPC > got.Hosts[i-1].BytesFromVPC {
					t.Errorf("hosts out of order at %d", i)
				}
				wantAcct, wantRegion := lc.Account, lc.Region
				if h.VPCID == "vpc-member" {
					wantAcct, wantRegion = "2000000000000002", "cn-shanghai"
				}
				if h.AccountID != wantAcct || h.Region != wantRegion {
					t.Errorf("host %s in %s: account %s region %s, want %s %s", h.PrivateIP, h.VPCID, h.AccountID, h.Region, wantAcct, wantRegion)
				}
			}
			// The top hosts are the heaviest.
			if tc.top < len(want.hosts) {
				var heavier int
				for _, w := range want.hosts {
					if w[0] > got.Hosts[len(got.Hosts)-1].BytesFromVPC {
						heavier++
					}
				}
				if heavier >= tc.top {
					t.Errorf("%d hosts outweigh the last of the top %d", heavier, tc.top)
				}
			}
			img, err := png.Decode(bytes.NewReader(got.Chart.PNG))
			if err != nil {
				t.Fatalf("chart: %v", err)
			}
			if b := img.Bounds(); b.Dx() != investigate.ChartWidth || b.Dy() != investigate.ChartHeight {
				t.Errorf("chart %v", b)
			}
		})
	}

	t.Run("empty range", func(t *testing.T) {
		got, bad := investigateDirect(t, rt, `{"dst_ip":"47.110.22.157","from":"2025-02-05T10:00:00Z","to":"2025-02-05T11:00:00Z"}`)
		if bad.Status != "" || len(got.Minutes) != 0 || len(got.Hosts) != 0 || got.PeakMinute != "" || got.Chart == nil {
			t.Fatalf("empty range: %+v %+v", got, bad)
		}
	})

	t.Run("refused", func(t *testing.T) {
		ok := `"dst_ip":"47.110.22.157","from":"2025-02-05T14:45:00Z","to":"2025-02-05T15:10:00Z"`
		for _, tc := range []struct{ body, field string }{
			{`{"dst_ip":"47.110.22.157","from":"2025-02-05T14:45:00Z","to":"2025-02-06T14:45:01Z"}`, "to"}, // over 24 h
			{`{"dst_ip":"47.110.22.157' or 1=1 --","from":"2025-02-05T14:45:00Z","to":"2025-02-05T15:10:00Z"}`, "dst_ip"},
			{`{"dst_ip":"fe80::1%' union select 1 --","from":"2025-02-05T14:45:00Z","to":"2025-02-05T15:10:00Z"}`, "dst_ip"},
			{`{` + ok + `,"dst_port":"80 or 1=1"}`, "dst_port"},
			{`{` + ok + `,"egress_ip":"47.100.1.85') or ('1'='1"}`, "egress_ip"},
			{`{` + ok + `,"top":"10; select 1"}`, "top"},
			{`{"dst_ip":"47.110.22.157","from":"1 or 1=1","to":"2025-02-05T15:10:00Z"}`, "from"},
			{`{"dst_ip":"47.110.22.157","from":"2025-02-05T14:45:00Z","to":"now() --"}`, "to"},
			{`{` + ok + `,"query":"* | select 1"}`, ""},
		} {
			_, bad := investigateDirect(t, rt, tc.body)
			if bad.Status != "invalid" || bad.Field != tc.field {
				t.Errorf("%s: %+v, want invalid naming %q", tc.body, bad, tc.field)
			}
		}
	})

	t.Run("HTTP", func(t *testing.T) {
		body := []byte(`{"dst_ip":"47.110.22.157","dst_port":80,"from":"2025-02-05T14:45:00Z","to":"2025-02-05T15:10:00Z"}`)
		ts := time.Now().Unix()
		headers := func(ts int64, accept string, body []byte) map[string]string {
			return map[string]string{"Content-Type": "application/json", "Accept": accept,
				"X-Ndrtrace-Timestamp": strconv.FormatInt(ts, 10), "X-Ndrtrace-Signature": webhook.Sign(secret, ts, body)}
		}
		call := func(h map[string]string, body []byte) fcemu.HTTPResponse {
			res := invoke(t, rt, fcemu.HTTPEvent(fcemu.HTTPRequest{Method: "POST", Path: "/", Headers: h, Body: body}))
			resp, err := fcemu.DecodeHTTPResponse(res.Payload)
			if err != nil {
				t.Fatal(err)
			}
			return resp
		}
		resp := call(headers(ts, "image/png", body), body)
		if resp.StatusCode != 200 || resp.Headers["Content-Type"] != "image/png" {
			t.Fatalf("PNG: %d %v %.200s", resp.StatusCode, resp.Headers, resp.Body)
		}
		img, err := png.Decode(bytes.NewReader(resp.Body))
		if err != nil || img.Bounds().Dx() != investigate.ChartWidth || img.Bounds().Dy() != investigate.ChartHeight {
			t.Fatalf("PNG body: %v", err)
		}
		resp = call(headers(ts-1, "application/json", body), body)
		var got investigate.Result
		if resp.StatusCode != 200 || json.Unmarshal(resp.Body, &got) != nil || len(got.Minutes) == 0 || got.Chart == nil || len(got.Chart.PNG) == 0 {
			t.Fatalf("JSON: %d %.300s", resp.StatusCode, resp.Body)
		}
		if r := call(headers(ts-1, "application/json", body), body); r.StatusCode != 401 {
			t.Errorf("replayed: %d", r.StatusCode)
		}
		if r := call(map[string]string{"Accept": "image/png"}, body); r.StatusCode != 401 {
			t.Errorf("unsigned: %d", r.StatusCode)
		}
		badBody := []byte(strings.Replace(string(body), "47.110.22.157", "47.110.22.157'--", 1))
		r := call(headers(ts-2, "image/png", badBody), badBody)
		if r.StatusCode != 400 || !strings.Contains(string(r.Body), "dst_ip") {
			t.Errorf("bad request: %d %s", r.StatusCode, r.Body)
		}
	})
}

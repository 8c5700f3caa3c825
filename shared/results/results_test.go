package results

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/fc-runtime-go-sdk/fccontext"

	"github.com/ndrtrace/ndrtrace/infra/local/slsemu"
	"github.com/ndrtrace/ndrtrace/shared/alert"
)

const (
	project, logstore = "ndr-logs", "trace-results"
	endpoint          = "cn-hangzhou.log.aliyuncs.com"
	ak, sk, token     = "STS.test", "test-secret", "test-token"
)

var emu *slsemu.Server

// TestMain starts an SLS emulator, which enforces the service's write
// limits, and routes the real SDK to it as the functions are locally.
func TestMain(m *testing.M) {
	emu = slsemu.StartAsProxy(slsemu.Options{AccessKeyID: ak, AccessKeySecret: sk, SecurityToken: token})
	emu.CreateProject(project)
	code := m.Run()
	emu.Close()
	os.Exit(code)
}

func recorder(t *testing.T) (*SLS, context.Context, string) {
	ls := fmt.Sprintf("%s-%d", logstore, time.Now().UnixNano())
	emu.CreateLogstore(project, ls, 1, 30)
	ctx := fccontext.NewContext(context.Background(), &fccontext.FcContext{
		Credentials: fccontext.Credentials{AccessKeyId: ak, AccessKeySecret: sk, SecurityToken: token}})
	return &SLS{Endpoint: endpoint, Project: project, Logstore: ls}, ctx, ls
}

// stored reads back the logstore: each log's fields, in write order.
func stored(ls string) (logs []map[string]string, groups int) {
	for _, lg := range emu.LogGroups(project, ls) {
		groups++
		for _, l := range lg.Logs {
			m := map[string]string{}
			for _, c := range l.Contents {
				m[c.GetKey()] = c.GetValue()
			}
			logs = append(logs, m)
		}
	}
	return logs, groups
}

// TestRecordSplitsToSLSLimits: the probe's 40,000-alert batch (5.9 MB in
// one PutLogs, which SLS refuses) is recorded whole, in order.
func TestRecordSplitsToSLSLimits(t *testing.T) {
	r, ctx, ls := recorder(t)
	rs := make([]alert.Result, 40_000)
	for i := range rs {
		id := fmt.Sprintf("a-%05d", i)
		rs[i] = alert.Result{AlertID: id, Status: alert.Untraced, WaitedMS: 90_000,
			Alert: json.RawMessage(fmt.Sprintf(`{"alert_id":%q,"time":"2026-11-21T14:57:10Z","protocol":"tcp","src_ip":"47.100.1.85","src_port":48155,"dst_ip":"106.11.22.203","dst_port":443,"rule":"outbound surge"}`, id))}
	}
	if err := r.Record(ctx, rs); err != nil {
		t.Fatal(err)
	}
	logs, groups := stored(ls)
	if len(logs) != len(rs) {
		t.Fatalf("%d logs stored, want %d", len(logs), len(rs))
	}
	if groups < (len(rs)+MaxGroupLogs-1)/MaxGroupLogs {
		t.Fatalf("%d groups: more logs per group than SLS accepts", groups)
	}
	// Each id once, in order.
	for i, l := range logs {
		if l["alert_id"] != rs[i].AlertID || l["alert"] != string(rs[i].Alert) {
			t.Fatalf("log %d: %v", i, l)
		}
	}
}

// TestRecordSplitsAnOversizedAlert: a body refused whole (not JSON) can be
// megabytes; it is kept in parts that put back together give it exactly.
func TestRecordSplitsAnOversizedAlert(t *testing.T) {
	r, ctx, ls := recorder(t)
	body := strings.Repeat("é not json ", 300_000) // 3.6 MB, two-byte characters to cut between
	raw, _ := json.Marshal(body)
	rs := []alert.Result{
		{AlertID: "before", Status: alert.Traced, Alert: json.RawMessage(`{"alert_id":"before"}`)},
		{Status: alert.StatusInvalid, Reason: "body: not a JSON object", Alert: raw},
		{AlertID: "after", Status: alert.Traced, Alert: json.RawMessage(`{"alert_id":"after"}`)},
	}
	if err := r.Record(ctx, rs); err != nil {
		t.Fatal(err)
	}
	logs, _ := stored(ls)
	var joined strings.Builder
	parts := 0
	for _, l := range logs {
		if p := l["alert_part"]; p != "" {
			parts++
			if !strings.HasPrefix(p, fmt.Sprint(parts, "/")) || l["status"] != "invalid" {
				t.Fatalf("part %d: %v", parts, l["alert_part"])
			}
			joined.WriteString(l["alert"])
		}
	}
	if parts < 2 || joined.String() != string(raw) {
		t.Fatalf("%d parts, joined %d bytes, want %d", parts, joined.Len(), len(raw))
	}
	if len(logs) != parts+2 {
		t.Fatalf("%d logs", len(logs))
	}
}

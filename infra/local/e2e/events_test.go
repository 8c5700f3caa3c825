package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/ndrtrace/ndrtrace/infra/local/cloud"
	"github.com/ndrtrace/ndrtrace/infra/local/fcemu"
	"github.com/ndrtrace/ndrtrace/shared/alert"
	"github.com/ndrtrace/ndrtrace/shared/ingest"
	"github.com/ndrtrace/ndrtrace/shared/traceapi"
	"github.com/ndrtrace/ndrtrace/shared/webhook"
)

// The sample events in events/ are what a newcomer sends first: they must
// work as they are, with only the parts that name live state (cursors,
// signature timestamp) filled in.

func sample(t *testing.T, path string) []byte {
	t.Helper()
	root, err := cloud.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "events", path))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSampleEvents(t *testing.T) {
	ctx := context.Background()
	nat, err := lc.Function(ctx, "nat-ingest", nil)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := lc.Function(ctx, "trace", map[string]string{
		"TRACE_MAX_WAIT": "1s", "WEBHOOK_SECRET": secret,
		"EGRESS_ADDRESSES": `[{"type":"nat","id":"ngw-bp1demo0nat","vpc_id":"vpc-bp1demo0vpc","public_ip":"47.100.1.86","private_ip":"172.16.10.13"}]`,
	})
	if err != nil {
		t.Fatal(err)
	}

	// nat-ingest: the sample records through the sample trigger event.
	var records []map[string]string
	if err := json.Unmarshal(sample(t, "nat-ingest/records.json"), &records); err != nil {
		t.Fatal(err)
	}
	var ev map[string]any
	if err := json.Unmarshal(sample(t, "nat-ingest/sls-trigger.json"), &ev); err != nil {
		t.Fatal(err)
	}
	src := ev["source"].(map[string]any)
	ls := uniq(src["logstoreName"].(string))
	lc.Logstore(src["projectName"].(string), ls)
	begin, end, err := lc.Put(src["projectName"].(string), ls, "", time.Unix(1738738900, 0), records)
	if err != nil {
		t.Fatal(err)
	}
	src["logstoreName"], src["beginCursor"], src["endCursor"] = ls, begin, end
	body, _ := json.Marshal(ev)
	res := invoke(t, nat, body)
	var s ingest.Summary
	if res.Error != nil || json.Unmarshal(res.Payload, &s) != nil {
		t.Fatalf("nat-ingest: %v %s", res.Error, res.Payload)
	}
	if s.Records != 3 || s.Mappings != 2 || s.Rejected["missing pri_port"] != 1 {
		t.Fatalf("summary %+v", s)
	}

	// trace: one alert, directly.
	r := traceDirect(t, tr, sample(t, "trace/alert.json"))
	if r.Status != alert.Traced || r.Asset.PrivateIP != "172.16.20.21" || r.Asset.PrivatePort != 47176 {
		t.Fatalf("alert.json: %+v", r)
	}

	// trace: the batch (TCP traced, UDP to a NAT-mode EIP traced, one invalid).
	res = invoke(t, tr, sample(t, "trace/batch.json"))
	var b traceapi.Batch
	if err := json.Unmarshal(res.Payload, &b); err != nil || len(b.Results) != 3 {
		t.Fatalf("batch.json: %s", res.Payload)
	}
	if b.Results[0].Status != alert.Traced || b.Results[1].Status != alert.Traced || b.Results[1].Asset.PrivateIP != "172.16.20.22" ||
		b.Results[2].Status != alert.StatusInvalid {
		t.Fatalf("batch.json results: %+v", b.Results)
	}

	// trace: the HTTP request, signed now.
	var raw map[string]any
	json.Unmarshal(sample(t, "trace/http-request.json"), &raw)
	alertBody, err := base64.StdEncoding.DecodeString(raw["body"].(string))
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Now().Unix()
	headers := raw["headers"].(map[string]any)
	headers["X-Ndrtrace-Timestamp"] = strconv.FormatInt(ts, 10)
	headers["X-Ndrtrace-Signature"] = webhook.Sign(secret, ts, alertBody)
	body, _ = json.Marshal(raw)
	resp, err := fcemu.DecodeHTTPResponse(invoke(t, tr, body).Payload)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("http-request.json: %v %d %s", err, resp.StatusCode, resp.Body)
	}
	json.Unmarshal(resp.Body, &r)
	if r.Status != alert.Traced || r.Asset.PrivateIP != "172.16.20.21" {
		t.Fatalf("http-request.json result: %s", resp.Body)
	}
}

package traceapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/fc-runtime-go-sdk/events"
	"github.com/aliyun/fc-runtime-go-sdk/fccontext"
	"github.com/redis/go-redis/v9"

	"github.com/ndrtrace/ndrtrace/infra/local/redisd"
	"github.com/ndrtrace/ndrtrace/infra/local/slsemu"
	"github.com/ndrtrace/ndrtrace/shared/alert"
	"github.com/ndrtrace/ndrtrace/shared/egress"
	"github.com/ndrtrace/ndrtrace/shared/results"
	"github.com/ndrtrace/ndrtrace/shared/store"
	"github.com/ndrtrace/ndrtrace/shared/trace"
	"github.com/ndrtrace/ndrtrace/shared/webhook"
)

var (
	rdb *redis.Client
	emu *slsemu.Server
)

// TestMain starts the package's redis-server and an SLS emulator that the
// real SDK reaches as its HTTP proxy, as the functions do locally.
func TestMain(m *testing.M) {
	emu = slsemu.StartAsProxy(slsemu.Options{AccessKeyID: ak, AccessKeySecret: sk, SecurityToken: token})
	emu.CreateProject(project)
	redisd.TestMain(m, &rdb)
}

const (
	secret        = "test-webhook-secret"
	project       = "ndr-logs"
	slsEndpoint   = "cn-hangzhou.log.aliyuncs.com"
	ak, sk, token = "STS.test", "test-secret", "test-token"
)

var resultLS string

// setup wires a handler as traceapi.New does, against the package's
// redis-server and a fresh results logstore.
func setup(t *testing.T) (*Handler, *slsemu.Server, context.Context) {
	t.Helper()
	ctx := context.Background()
	rdb.FlushDB(ctx)
	resultLS = fmt.Sprintf("results-%d", time.Now().UnixNano())
	emu.CreateLogstore(project, resultLS, 2, 30)
	book, err := egress.ParseStatic("")
	if err != nil {
		t.Fatal(err)
	}
	w := trace.NewWaker(ctx, rdb)
	t.Cleanup(func() { w.Close() })
	h := &Handler{
		Tracer:   &trace.Tracer{Store: store.New(rdb, time.Hour), Book: book, Waker: w, Config: trace.Config{MaxWait: 10 * time.Millisecond, Skew: time.Minute}},
		Recorder: &results.SLS{Endpoint: slsEndpoint, Project: project, Logstore: resultLS},
		Secret:   secret,
		Replays:  &webhook.Replays{Redis: rdb},
	}
	ctx = fccontext.NewContext(ctx, &fccontext.FcContext{RequestID: "req-1",
		Credentials: fccontext.Credentials{AccessKeyId: ak, AccessKeySecret: sk, SecurityToken: token}})
	return h, emu, ctx
}

func alertJSON(id string) string {
	return fmt.Sprintf(`{"alert_id":%q,"time":%d,"protocol":"tcp","src_ip":"47.100.1.85","src_port":40000,"dst_ip":"106.11.22.203","dst_port":443}`, id, time.Now().Unix()-60)
}

func httpEvent(t *testing.T, body string, headers map[string]string) []byte {
	t.Helper()
	ev, err := json.Marshal(map[string]any{"version": "v1", "rawPath": "/", "body": body, "isBase64Encoded": false, "headers": headers,
		"queryParameters": map[string]string{},
		"requestContext":  map[string]any{"requestId": "1-abc", "http": map[string]any{"method": "POST", "path": "/"}}})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func signed(t *testing.T, body string, ts int64) []byte {
	return httpEvent(t, body, map[string]string{"X-Ndrtrace-Timestamp": strconv.FormatInt(ts, 10), "X-Ndrtrace-Signature": webhook.Sign(secret, ts, []byte(body))})
}

func call(t *testing.T, h *Handler, ctx context.Context, payload []byte) events.HTTPTriggerResponse {
	t.Helper()
	out, err := h.Handle(ctx, payload)
	if err != nil {
		t.Fatal(err)
	}
	resp, ok := out.(events.HTTPTriggerResponse)
	if !ok {
		t.Fatalf("not an HTTP response: %T %s", out, out)
	}
	return resp
}

// recorded lists the alert ids in the results logstore, in order.
func recorded(emu *slsemu.Server) []string {
	var ids []string
	for _, lg := range emu.LogGroups(project, resultLS) {
		for _, l := range lg.Logs {
			for _, c := range l.Contents {
				if c.GetKey() == "alert_id" {
					ids = append(ids, c.GetValue())
				}
			}
		}
	}
	return ids
}

func TestReplayedRequestIsRefused(t *testing.T) {
	h, emu, ctx := setup(t)
	body := alertJSON("replay-1")
	ts := time.Now().Unix()
	if r := call(t, h, ctx, signed(t, body, ts)); r.StatusCode != http.StatusOK {
		t.Fatalf("first request: %d %s", r.StatusCode, r.Body)
	}
	r := call(t, h, ctx, signed(t, body, ts))
	if r.StatusCode != http.StatusUnauthorized || !strings.Contains(r.Body, "already received") {
		t.Fatalf("replay: %d %s", r.StatusCode, r.Body)
	}
	// The signature is remembered under a key of its parsed bytes, until
	// its timestamp leaves the window.
	sig := webhook.Sign(secret, ts, []byte(body))
	ttl := rdb.TTL(ctx, "ndr:wh:"+strings.TrimPrefix(sig, "sha256=")).Val()
	if ttl <= 0 || ttl > webhook.MaxClockSkew+time.Second {
		t.Fatalf("replay key TTL %v", ttl)
	}
	// Upper-case hex is the same signature: refused too.
	upper := httpEvent(t, body, map[string]string{"X-Ndrtrace-Timestamp": strconv.FormatInt(ts, 10), "X-Ndrtrace-Signature": "sha256=" + strings.ToUpper(strings.TrimPrefix(sig, "sha256="))})
	if r := call(t, h, ctx, upper); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("replay in upper case: %d %s", r.StatusCode, r.Body)
	}
	// The same alert signed again, with a new timestamp, is a new request.
	if r := call(t, h, ctx, signed(t, body, ts-1)); r.StatusCode != http.StatusOK {
		t.Fatalf("re-signed request: %d %s", r.StatusCode, r.Body)
	}
	if got := recorded(emu); len(got) != 2 {
		t.Fatalf("recorded %v, want the two accepted requests", got)
	}
}

func TestAlertLookingLikeAnEventIsTraced(t *testing.T) {
	h, emu, ctx := setup(t)
	// A direct invocation of an alert that carries requestContext,
	// version and rawPath of its own (the webhook secret is set).
	body := strings.TrimSuffix(alertJSON("looks-like-http"), "}") + `,"version":"v1","rawPath":"/api/login","requestContext":{"http":{"method":"POST"},"requestId":"x"}}`
	out, err := h.Handle(ctx, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	var res alert.Result
	if err := json.Unmarshal(out.(json.RawMessage), &res); err != nil {
		t.Fatal(err)
	}
	if res.AlertID != "looks-like-http" || res.Status == alert.StatusInvalid || string(res.Alert) != body {
		t.Fatalf("result %+v", res)
	}
	if got := recorded(emu); len(got) != 1 || got[0] != "looks-like-http" {
		t.Fatalf("recorded %v", got)
	}
}

func TestBadRequests(t *testing.T) {
	h, emu, ctx := setup(t)
	ts := time.Now().Unix()
	tests := []struct {
		name    string
		payload []byte
		status  int
		reason  string
	}{
		{"conflicting signature headers", httpEvent(t, `{}`, map[string]string{"X-Ndrtrace-Timestamp": strconv.FormatInt(ts, 10), "X-Ndrtrace-Signature": webhook.Sign(secret, ts, []byte(`{}`)), "x-ndrtrace-signature": "sha256=00"}), http.StatusBadRequest, "different values"},
		{"timestamp abc", httpEvent(t, `{}`, map[string]string{"X-Ndrtrace-Timestamp": "abc", "X-Ndrtrace-Signature": webhook.Sign(secret, ts, []byte(`{}`))}), http.StatusUnauthorized, "not Unix seconds"},
		{"null body", signed(t, `null`, ts), http.StatusBadRequest, "body: not a JSON object"},
		{"duplicate alerts key", signed(t, `{"alerts":[`+alertJSON("a")+`],"alerts":[`+alertJSON("b")+`]}`, ts), http.StatusBadRequest, `alerts: duplicate key`},
		{"nested too deep", signed(t, `{"alerts":`+strings.Repeat("[", 100)+strings.Repeat("]", 100)+`}`, ts), http.StatusBadRequest, "nested deeper than 32"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := 0; i < 10; i++ { // the same answer every time
				r := call(t, h, ctx, tt.payload)
				if r.StatusCode != tt.status || !strings.Contains(r.Body, tt.reason) {
					t.Fatalf("try %d: %d %s", i, r.StatusCode, r.Body)
				}
				if tt.status == http.StatusUnauthorized || tt.name == "conflicting signature headers" {
					continue
				}
				// Signed bad bodies are answered once; the replays are refused.
				break
			}
		})
	}
	// The duplicate-key batch is kept whole in its result.
	for _, lg := range emu.LogGroups(project, resultLS) {
		for _, l := range lg.Logs {
			for _, c := range l.Contents {
				if c.GetKey() == "alert" && strings.Contains(c.GetValue(), `"alerts":[`) && !strings.Contains(c.GetValue(), `"alert_id":"a"`) {
					t.Fatalf("the first of the duplicate batches was lost: %s", c.GetValue())
				}
			}
		}
	}
}

func TestOversizedBatch(t *testing.T) {
	h, emu, ctx := setup(t)
	var b strings.Builder
	b.WriteString(`{"alerts":[`)
	for i := 0; i <= alert.MaxBatch; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(alertJSON(fmt.Sprint("big-", i)))
	}
	b.WriteString(`]}`)
	body := b.String()
	r := call(t, h, ctx, signed(t, body, time.Now().Unix()))
	if r.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(r.Body, strconv.Itoa(alert.MaxBatch)) {
		t.Fatalf("HTTP: %d %.200s", r.StatusCode, r.Body)
	}
	if got := recorded(emu); len(got) != 0 {
		t.Fatalf("a refused request was recorded: %d results", len(got))
	}
	// A direct invocation has no status: every alert comes back invalid
	// and is recorded, within SLS's write limits.
	out, err := h.Handle(ctx, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	var batch Batch
	if err := json.Unmarshal(out.(json.RawMessage), &batch); err != nil || len(batch.Results) != alert.MaxBatch+1 {
		t.Fatalf("direct: %v %d results", err, len(batch.Results))
	}
	if batch.Results[7].Status != alert.StatusInvalid || !strings.Contains(batch.Results[7].Reason, "alerts:") {
		t.Fatalf("direct result %+v", batch.Results[7])
	}
	if got := recorded(emu); len(got) != alert.MaxBatch+1 {
		t.Fatalf("recorded %d results, want %d", len(got), alert.MaxBatch+1)
	}
}

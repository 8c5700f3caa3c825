package fcemu_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ndrtrace/ndrtrace/infra/local/fcemu"
)

func TestHTTPEventRoundTrip(t *testing.T) {
	t.Parallel()
	rt := start(t, fcemu.Function{})
	binary := []byte{0x00, 0xff, 0xfe, 'x', 0x80}
	tests := []struct {
		name string
		req  fcemu.HTTPRequest
	}{
		{name: "get with query", req: fcemu.HTTPRequest{Path: "/items", Query: map[string]string{"a": "1,2", "b": "x"},
			Headers: map[string]string{"User-Agent": "curl/8", "X-In": "v"}, SourceIP: "10.0.0.9"}},
		{name: "post text", req: fcemu.HTTPRequest{Method: "post", Path: "/hook", Body: []byte(`{"k":"v"} ünïcode`)}},
		{name: "post binary base64", req: fcemu.HTTPRequest{Method: http.MethodPut, Path: "/bin", Body: binary, Base64: true}},
		{name: "empty body defaults", req: fcemu.HTTPRequest{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := rt.Invoke(testCtx(t), fcemu.HTTPEvent(tc.req))
			if err != nil || res.Error != nil {
				t.Fatalf("Invoke: %v / %v", err, res.Error)
			}
			resp, err := fcemu.DecodeHTTPResponse(res.Payload)
			if err != nil {
				t.Fatalf("DecodeHTTPResponse: %v", err)
			}
			if resp.StatusCode != 201 {
				t.Errorf("status = %d, want 201", resp.StatusCode)
			}
			if !bytes.Equal(resp.Body, tc.req.Body) {
				t.Errorf("body = %q, want %q", resp.Body, tc.req.Body)
			}
			wantMethod := strings.ToUpper(tc.req.Method)
			if wantMethod == "" {
				wantMethod = http.MethodGet
			}
			wantPath := tc.req.Path
			if wantPath == "" {
				wantPath = "/"
			}
			wantIP := tc.req.SourceIP
			if wantIP == "" {
				wantIP = "127.0.0.1"
			}
			h := resp.Headers
			if h["X-Method"] != wantMethod || h["X-Path"] != wantPath || h["X-Source-Ip"] != wantIP ||
				h["X-User-Agent"] != tc.req.Headers["User-Agent"] || h["X-Header-In"] != tc.req.Headers["X-In"] {
				t.Errorf("echoed headers = %v", h)
			}
			var q map[string]string
			if err := json.Unmarshal([]byte(h["X-Query"]), &q); err != nil || len(q) != len(tc.req.Query) || q["a"] != tc.req.Query["a"] {
				t.Errorf("echoed query = %s, want %v", h["X-Query"], tc.req.Query)
			}
		})
	}
}

func TestHTTPEventShape(t *testing.T) {
	t.Parallel()
	at := time.Date(2023, 9, 5, 6, 41, 11, 895e6, time.UTC)
	ev := fcemu.HTTPEvent(fcemu.HTTPRequest{
		Path: "/example", Headers: map[string]string{"host": "abc.cn-hangzhou.fcapp.run"},
		RequestID: "req-1", AccountID: "42", Time: at, Body: []byte("hi"),
	})
	var got map[string]any
	if err := json.Unmarshal(ev, &got); err != nil {
		t.Fatal(err)
	}
	rc := got["requestContext"].(map[string]any)
	httpCtx := rc["http"].(map[string]any)
	checks := map[string]any{
		"version":         got["version"],
		"rawPath":         got["rawPath"],
		"body":            got["body"],
		"isBase64Encoded": got["isBase64Encoded"],
		"queryParameters": got["queryParameters"],
		"accountId":       rc["accountId"],
		"domainName":      rc["domainName"],
		"domainPrefix":    rc["domainPrefix"],
		"requestId":       rc["requestId"],
		"time":            rc["time"],
		"timeEpoch":       rc["timeEpoch"],
		"http.method":     httpCtx["method"],
		"http.path":       httpCtx["path"],
		"http.protocol":   httpCtx["protocol"],
		"http.sourceIp":   httpCtx["sourceIp"],
	}
	want := map[string]any{
		"version": "v1", "rawPath": "/example", "body": "hi", "isBase64Encoded": false,
		"queryParameters": map[string]any{}, "accountId": "42",
		"domainName": "abc.cn-hangzhou.fcapp.run", "domainPrefix": "abc", "requestId": "req-1",
		"time": "2023-09-05T06:41:11Z", "timeEpoch": "1693896071895",
		"http.method": "GET", "http.path": "/example", "http.protocol": "HTTP/1.1", "http.sourceIp": "127.0.0.1",
	}
	for k, w := range want {
		if g, _ := json.Marshal(checks[k]); string(g) != mustJSON(t, w) {
			t.Errorf("%s = %s, want %s", k, g, mustJSON(t, w))
		}
	}
}

func TestDecodeHTTPResponse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		payload  string
		wantBody string
		wantErr  string
	}{
		{name: "plain", payload: `{"statusCode":200,"headers":{"A":"b"},"isBase64Encoded":false,"body":"ok"}`, wantBody: "ok"},
		{name: "base64", payload: `{"statusCode":200,"isBase64Encoded":true,"body":"aGk="}`, wantBody: "hi"},
		{name: "bad base64", payload: `{"statusCode":200,"isBase64Encoded":true,"body":"***"}`, wantErr: "base64"},
		{name: "missing statusCode", payload: `{"body":"x"}`, wantErr: "missing statusCode"},
		{name: "not an object", payload: `"just a string"`, wantErr: "not a JSON object"},
		{name: "null", payload: `null`, wantErr: "not a JSON object"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := fcemu.DecodeHTTPResponse([]byte(tc.payload))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("err = %v, want ~%q", err, tc.wantErr)
				}
				return
			}
			if err != nil || string(resp.Body) != tc.wantBody || resp.StatusCode != 200 {
				t.Errorf("got %+v, %v; want body %q", resp, err, tc.wantBody)
			}
		})
	}
}

func TestHTTPGatewayHelpers(t *testing.T) {
	t.Parallel()
	r := httptest.NewRequest(http.MethodPost, "http://fn.example/p?x=1&x=2", bytes.NewReader([]byte{0xff, 0x00}))
	r.Header.Add("X-Multi", "a")
	r.Header.Add("X-Multi", "b")
	req, err := fcemu.NewHTTPRequest(r)
	if err != nil {
		t.Fatal(err)
	}
	if req.Method != "POST" || req.Path != "/p" || req.Query["x"] != "1,2" || req.Headers["X-Multi"] != "a,b" ||
		req.Headers["Host"] != "fn.example" || !req.Base64 || req.SourceIP != "192.0.2.1" {
		t.Errorf("NewHTTPRequest = %+v", req)
	}

	rec := httptest.NewRecorder()
	if err := (fcemu.HTTPResponse{StatusCode: 418, Headers: map[string]string{"X-A": "b"}, Body: []byte("tea")}).Write(rec); err != nil {
		t.Fatal(err)
	}
	if rec.Code != 418 || rec.Header().Get("X-A") != "b" || rec.Body.String() != "tea" {
		t.Errorf("Write produced %d %v %q", rec.Code, rec.Header(), rec.Body)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

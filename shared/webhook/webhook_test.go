package webhook

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

func event(t *testing.T, body []byte, b64 bool, headers map[string]string) []byte {
	t.Helper()
	s := string(body)
	if b64 {
		s = base64.StdEncoding.EncodeToString(body)
	}
	ev, err := json.Marshal(map[string]any{"version": "v1", "rawPath": "/alerts", "body": s, "isBase64Encoded": b64, "headers": headers,
		"requestContext": map[string]any{"http": map[string]any{"method": "POST", "path": "/alerts"}}})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestFromEvent(t *testing.T) {
	body := []byte(`{"alert_id":"a"}`)
	for _, b64 := range []bool{false, true} {
		req, ok, err := FromEvent(event(t, body, b64, map[string]string{"X-Ndrtrace-Timestamp": "1"}))
		if !ok || err != nil || string(req.Body) != string(body) || req.Header("X-NDRTRACE-TIMESTAMP") != "1" || req.Method != "POST" {
			t.Fatalf("b64=%v: %+v %v %v", b64, req, ok, err)
		}
	}
	if _, ok, _ := FromEvent(body); ok {
		t.Fatal("a bare alert was taken for an HTTP event")
	}
	if _, ok, _ := FromEvent([]byte(`{"alerts":[],"requestContext":{}}`)); ok {
		t.Fatal("an alert batch with a requestContext key was taken for an HTTP event")
	}
	big := make([]byte, MaxBody+1)
	if _, _, err := FromEvent(event(t, big, true, nil)); err != ErrTooLarge {
		t.Fatalf("oversized body: %v", err)
	}
	bad := []byte(`{"version":"v1","rawPath":"/","body":"!!!","isBase64Encoded":true,"requestContext":{"http":{"method":"POST"}}}`)
	if _, _, err := FromEvent(bad); err != ErrBadEncoding {
		t.Fatalf("bad base64: %v", err)
	}
}

func TestVerify(t *testing.T) {
	const secret = "s3cret"
	now := time.Unix(1_763_700_000, 0)
	body := []byte(`{"alert_id":"a"}`)
	ts := strconv.FormatInt(now.Unix(), 10)
	good := Sign(secret, now.Unix(), body)
	tests := []struct {
		name    string
		headers map[string]string
		body    []byte
		want    error
	}{
		{"valid", map[string]string{TimestampHeader: ts, SignatureHeader: good}, body, nil},
		{"unsigned", map[string]string{}, body, ErrUnsigned},
		{"tampered body", map[string]string{TimestampHeader: ts, SignatureHeader: good}, []byte(`{"alert_id":"b"}`), ErrBadSignature},
		{"wrong secret", map[string]string{TimestampHeader: ts, SignatureHeader: Sign("other", now.Unix(), body)}, body, ErrBadSignature},
		{"replayed timestamp", map[string]string{TimestampHeader: strconv.FormatInt(now.Unix()-301, 10), SignatureHeader: Sign(secret, now.Unix()-301, body)}, body, ErrStale},
		{"future timestamp", map[string]string{TimestampHeader: strconv.FormatInt(now.Unix()+301, 10), SignatureHeader: Sign(secret, now.Unix()+301, body)}, body, ErrStale},
		{"timestamp swapped under a valid signature", map[string]string{TimestampHeader: strconv.FormatInt(now.Unix()-1, 10), SignatureHeader: good}, body, ErrBadSignature},
		{"timestamp not a number", map[string]string{TimestampHeader: "abc", SignatureHeader: good}, body, ErrBadTimestamp},
		{"uppercase hex", map[string]string{TimestampHeader: ts, SignatureHeader: "sha256=" + strings.ToUpper(strings.TrimPrefix(good, "sha256="))}, body, nil},
		{"truncated signature", map[string]string{TimestampHeader: ts, SignatureHeader: good[:len(good)-2]}, body, ErrBadSignature},
		{"signature without prefix", map[string]string{TimestampHeader: ts, SignatureHeader: strings.TrimPrefix(good, "sha256=")}, body, ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Verify(secret, &Request{Headers: tt.headers, Body: tt.body}, now); err != tt.want {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

// Vectors computed outside the code, as the README shows:
//
//	printf '%s.%s' "$ts" "$body" | openssl dgst -sha256 -hmac "$secret" -hex
//
// A change of the signed format ("<timestamp>.<raw body>") fails them.
var vectors = []struct {
	secret string
	ts     int64
	body   string
	hex    string
}{
	{"s3cret", 1763700000, `{"alert_id":"a"}`, "52333bf324f9a9b8d4ef5cff1ee5aa83def68addce1283160a9bbaf7fd99a42d"},
	{"whsec-0123456789abcdef", 1738738630, `{"alerts":[{"alert_id":"ndr-1","time":"2025-02-05T14:57:10Z"}]}`, "6b4f279d5c010c2bb11e4f4c06549404239ed51ab6762ecec4af8947a608173f"},
	{"s3cret", 1763700000, ``, "033d7ec8304e85847a16c2966351e48d3159548b53bd6b191a98f6aae84a1303"},
}

func TestVerifyFixedVectors(t *testing.T) {
	for _, v := range vectors {
		r := &Request{Headers: map[string]string{TimestampHeader: strconv.FormatInt(v.ts, 10), SignatureHeader: "sha256=" + v.hex}, Body: []byte(v.body)}
		sig, err := Verify(v.secret, r, time.Unix(v.ts+10, 0))
		if err != nil {
			t.Fatalf("vector %q at %d: %v", v.body, v.ts, err)
		}
		if sig.Timestamp != v.ts || hex.EncodeToString(sig.MAC[:]) != v.hex {
			t.Fatalf("parsed %+v", sig)
		}
		if got := Sign(v.secret, v.ts, []byte(v.body)); got != "sha256="+v.hex {
			t.Fatalf("Sign = %s, want the openssl value %s", got, v.hex)
		}
	}
}

func TestFromEventTellsAlertsFromEvents(t *testing.T) {
	// Alerts whose own fields look like an event's: never an event.
	for _, alert := range []string{
		`{"alert_id":"a1","version":"v1","rawPath":"/x","requestContext":{"http":{"method":"POST"}}}`,
		`{"version":"2","rawPath":"/x","requestContext":{"requestId":"r"},"time":1738767430}`,
		`{"alerts":[{"alert_id":"a"}],"version":"v1","rawPath":"/","requestContext":{"http":{"method":"POST"}}}`,
		`{"version":"v1","rawPath":"/","requestContext":{"http":{}}}`,
		`{"version":1,"rawPath":"/","requestContext":{"http":{"method":"POST"}}}`,
		`{"version":"v1","version":"v1","rawPath":"/","requestContext":{"http":{"method":"POST"}}}`,
		`null`, `[]`, `"x"`,
	} {
		if _, ok, _ := FromEvent([]byte(alert)); ok {
			t.Errorf("taken for an HTTP event: %s", alert)
		}
	}
	// What FC sends, as the FC emulator and events/trace/http-request.json
	// build it.
	if _, ok, err := FromEvent(event(t, []byte(`{}`), false, nil)); !ok || err != nil {
		t.Fatalf("the trigger's event was not recognised: %v %v", ok, err)
	}
}

func TestFromEventConflictingHeaders(t *testing.T) {
	h := map[string]string{"X-Ndrtrace-Signature": "sha256=aa", "x-ndrtrace-signature": "sha256=bb", TimestampHeader: "1"}
	// Map order varies between runs: every try must be refused.
	for i := 0; i < 30; i++ {
		if _, ok, err := FromEvent(event(t, []byte(`{}`), false, h)); !ok || !errors.Is(err, ErrConflictingHeader) {
			t.Fatalf("try %d: ok=%v err=%v", i, ok, err)
		}
	}
	same := map[string]string{"X-Ndrtrace-Timestamp": "1", "x-ndrtrace-timestamp": "1"}
	if req, _, err := FromEvent(event(t, []byte(`{}`), false, same)); err != nil || req.Header(TimestampHeader) != "1" {
		t.Fatalf("agreeing spellings: %v", err)
	}
	dup := []byte(`{"version":"v1","rawPath":"/","body":"{}","headers":{"X-A":"1","X-A":"2"},"requestContext":{"http":{"method":"POST"}}}`)
	if _, ok, err := FromEvent(dup); !ok || !errors.Is(err, ErrConflictingHeader) {
		t.Fatalf("repeated header key: ok=%v err=%v", ok, err)
	}
}

// FuzzFromEvent: any payload is either not an event, or an event whose
// body is within the limit and whose header names are lower case.
func FuzzFromEvent(f *testing.F) {
	f.Add([]byte(`{"version":"v1","rawPath":"/","body":"e30=","isBase64Encoded":true,"headers":{"X-A":"1"},"requestContext":{"http":{"method":"POST"}}}`))
	f.Add([]byte(`{"alert_id":"a","version":"v1","rawPath":"/","requestContext":{}}`))
	f.Add([]byte(`{"version":"v1","rawPath":"/","headers":{"A":"1","a":"2"},"requestContext":{"http":{"method":"GET"}}}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		req, ok, err := FromEvent(payload)
		if !ok {
			if req != nil || err != nil {
				t.Fatalf("not an event, yet req=%v err=%v", req, err)
			}
			return
		}
		if req == nil {
			t.Fatal("an event without a request")
		}
		var top map[string]json.RawMessage
		if json.Unmarshal(payload, &top) != nil {
			t.Fatalf("an event that is not a JSON object: %q", payload)
		}
		if _, has := top["alert_id"]; has {
			t.Fatal("an alert was taken for an event")
		}
		if err == nil {
			if len(req.Body) > MaxBody {
				t.Fatal("body over the limit accepted")
			}
			for k := range req.Headers {
				if k != strings.ToLower(k) {
					t.Fatalf("header %q not lower-cased", k)
				}
			}
		}
	})
}

package webhook

import (
	"encoding/base64"
	"encoding/json"
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
	bad := []byte(`{"version":"v1","rawPath":"/","body":"!!!","isBase64Encoded":true,"requestContext":{}}`)
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
		{"signature without prefix", map[string]string{TimestampHeader: ts, SignatureHeader: strings.TrimPrefix(good, "sha256=")}, body, ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := Verify(secret, &Request{Headers: tt.headers, Body: tt.body}, now); err != tt.want {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

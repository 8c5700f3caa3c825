// Package webhook receives alerts over an FC 3.0 HTTP trigger: it unwraps the
// trigger event, enforces the body limit and checks the HMAC signature.
package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aliyun/fc-runtime-go-sdk/events"
	"github.com/redis/go-redis/v9"

	"github.com/ndrtrace/ndrtrace/shared/strictjson"
)

// MaxBody is the largest alert body accepted (a batch of thousands of
// alerts fits; FC's synchronous payload limit is 32 MB).
const MaxBody = 6 << 20

// Headers of a signed request.
const (
	TimestampHeader = "x-ndrtrace-timestamp"
	SignatureHeader = "x-ndrtrace-signature"
	// MaxClockSkew bounds how old (or how far ahead) a signed request may be.
	MaxClockSkew = 5 * time.Minute
)

// Request is an HTTP request taken out of a trigger event.
type Request struct {
	Method  string
	Path    string
	Headers map[string]string // lower-case names
	Body    []byte
}

// Header returns a header by case-insensitive name.
func (r *Request) Header(name string) string { return r.Headers[strings.ToLower(name)] }

// Errors of a request that the caller maps to HTTP statuses.
var (
	ErrTooLarge          = errors.New("body exceeds the limit")
	ErrBadEncoding       = errors.New("body is marked base64 but does not decode")
	ErrConflictingHeader = errors.New("a header is sent twice with different values")
	ErrUnsigned          = errors.New("missing X-Ndrtrace-Timestamp or X-Ndrtrace-Signature")
	ErrBadTimestamp      = errors.New("X-Ndrtrace-Timestamp is not Unix seconds")
	ErrBadSignature      = errors.New("signature does not match")
	ErrStale             = errors.New("X-Ndrtrace-Timestamp is not within 5 minutes of now")
	ErrReplayed          = errors.New("this signed request was already received; sign it again with a new timestamp to resend it")
)

// eventKeys are the top-level keys of the event an FC 3.0 HTTP trigger
// passes (see events.HTTPTriggerEvent and the fc3 event template).
var eventKeys = map[string]bool{"version": true, "rawPath": true, "body": true, "isBase64Encoded": true,
	"headers": true, "queryParameters": true, "requestContext": true}

// FromEvent recognises an FC 3.0 HTTP trigger event. ok is false for any
// other payload (a direct invocation carries the alert itself).
//
// An alert may carry fields named like the event's (detectors send
// requestContext, version, rawPath), so an event is recognised by all of
// what FC sends: only the event's keys, each of its type, a string version
// and rawPath, and requestContext.http.method. An alert has alert_id or
// alerts, so it is never taken for an event, and never dropped as an
// unsigned request. A sender over HTTP controls only values inside the
// event (headers, body), never its shape: it cannot pass as a direct
// invocation and skip the signature.
func FromEvent(payload []byte) (req *Request, ok bool, err error) {
	var top map[string]json.RawMessage
	if json.Unmarshal(payload, &top) != nil || top == nil {
		return nil, false, nil
	}
	for k := range top {
		if !eventKeys[k] {
			return nil, false, nil
		}
	}
	var dup *strictjson.DuplicateKeyError
	if errors.As(strictjson.Check(payload, 8, 1), &dup) {
		return nil, false, nil // FC never repeats a key of its event
	}
	var ev events.HTTPTriggerEvent
	if json.Unmarshal(payload, &ev) != nil || ev.Version == nil || ev.RawPath == nil || ev.TriggerContext.Http.Method == nil {
		return nil, false, nil
	}
	req = &Request{Method: *ev.TriggerContext.Http.Method, Path: *ev.RawPath, Headers: map[string]string{}}
	if ev.Headers != nil {
		if errors.As(strictjson.Check(top["headers"], 2, 0), &dup) {
			return req, true, ErrConflictingHeader
		}
		for k, v := range *ev.Headers {
			// X-Ndrtrace-Signature and x-ndrtrace-signature are one header:
			// picking either by map order would decide at random.
			l := strings.ToLower(k)
			if prev, seen := req.Headers[l]; seen && prev != v {
				return req, true, fmt.Errorf("%w: %s", ErrConflictingHeader, l)
			}
			req.Headers[l] = v
		}
	}
	if ev.Body != nil {
		body := *ev.Body
		if ev.IsBase64Encoded != nil && *ev.IsBase64Encoded {
			if base64.StdEncoding.DecodedLen(len(body)) > MaxBody+3 {
				return req, true, ErrTooLarge
			}
			b, err := base64.StdEncoding.DecodeString(body)
			if err != nil {
				return req, true, ErrBadEncoding
			}
			req.Body = b
		} else {
			req.Body = []byte(body)
		}
	}
	if len(req.Body) > MaxBody {
		return req, true, ErrTooLarge
	}
	return req, true, nil
}

// Sign returns the signature header value for a body at a time: what a
// sender computes.
func Sign(secret string, ts int64, body []byte) string {
	return "sha256=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret string, ts int64, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(ts, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Signature is a verified request's parsed signature.
type Signature struct {
	Timestamp int64
	MAC       [sha256.Size]byte
}

// Verify checks the request's signature in constant time: HMAC-SHA256 of
// "<timestamp>.<raw body>" with the shared secret, timestamp within 5 min.
func Verify(secret string, r *Request, now time.Time) (Signature, error) {
	var sig Signature
	tsHeader, sigHeader := strings.TrimSpace(r.Header(TimestampHeader)), strings.TrimSpace(r.Header(SignatureHeader))
	if tsHeader == "" || sigHeader == "" {
		return sig, ErrUnsigned
	}
	ts, err := strconv.ParseInt(tsHeader, 10, 64)
	if err != nil {
		return sig, ErrBadTimestamp
	}
	if d := now.Sub(time.Unix(ts, 0)); d > MaxClockSkew || d < -MaxClockSkew {
		return sig, ErrStale
	}
	hexMAC, ok := strings.CutPrefix(sigHeader, "sha256=")
	if !ok || len(hexMAC) != 2*sha256.Size {
		return sig, ErrBadSignature
	}
	got, err := hex.DecodeString(hexMAC)
	if err != nil || !hmac.Equal(got, mac(secret, ts, r.Body)) {
		return sig, ErrBadSignature
	}
	sig.Timestamp = ts
	copy(sig.MAC[:], got)
	return sig, nil
}

// ReplayKey is the Redis key that remembers a signature: built from the
// parsed MAC, never from the header's text.
func (s Signature) ReplayKey() string { return "ndr:wh:" + hex.EncodeToString(s.MAC[:]) }

// Replays refuses a signed request seen before. Signatures are remembered
// in Redis until their timestamp leaves the 5-minute window, after which
// Verify refuses them as stale anyway; instances share what they remember.
type Replays struct {
	Redis redis.Cmdable
}

// Check records sig and returns ErrReplayed when it was already recorded.
// A Redis failure is returned as is: the caller decides.
func (rp *Replays) Check(ctx context.Context, sig Signature, now time.Time) error {
	ttl := time.Unix(sig.Timestamp, 0).Add(MaxClockSkew).Sub(now) + time.Second
	fresh, err := rp.Redis.SetNX(ctx, sig.ReplayKey(), "1", ttl).Result()
	if err != nil {
		return fmt.Errorf("remember the webhook signature: %w", err)
	}
	if !fresh {
		return ErrReplayed
	}
	return nil
}

// Response builds the trigger's HTTP response.
func Response(status int, body []byte) events.HTTPTriggerResponse {
	return events.HTTPTriggerResponse{
		StatusCode: status,
		Headers:    map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store"},
		Body:       string(body),
	}
}

// Package webhook receives alerts over an FC 3.0 HTTP trigger: it unwraps the
// trigger event, enforces the body limit and checks the HMAC signature.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/aliyun/fc-runtime-go-sdk/events"
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
	ErrTooLarge     = errors.New("body exceeds the limit")
	ErrBadEncoding  = errors.New("body is marked base64 but does not decode")
	ErrUnsigned     = errors.New("missing X-Ndrtrace-Timestamp or X-Ndrtrace-Signature")
	ErrBadSignature = errors.New("signature does not match")
	ErrStale        = errors.New("X-Ndrtrace-Timestamp is not within 5 minutes of now")
)

// FromEvent recognises an FC 3.0 HTTP trigger event. ok is false for any
// other payload (a direct invocation carries the alert itself).
func FromEvent(payload []byte) (req *Request, ok bool, err error) {
	var probe struct {
		Version        *string         `json:"version"`
		RawPath        *string         `json:"rawPath"`
		RequestContext json.RawMessage `json:"requestContext"`
	}
	if json.Unmarshal(payload, &probe) != nil || probe.RequestContext == nil || (probe.RawPath == nil && probe.Version == nil) {
		return nil, false, nil
	}
	var ev events.HTTPTriggerEvent
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, true, err
	}
	req = &Request{Headers: map[string]string{}}
	if ev.TriggerContext.Http.Method != nil {
		req.Method = *ev.TriggerContext.Http.Method
	}
	if ev.RawPath != nil {
		req.Path = *ev.RawPath
	}
	if ev.Headers != nil {
		for k, v := range *ev.Headers {
			req.Headers[strings.ToLower(k)] = v
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
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(ts, 10)))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify checks the request's signature in constant time: HMAC-SHA256 of
// "<timestamp>.<raw body>" with the shared secret, timestamp within 5 min.
func Verify(secret string, r *Request, now time.Time) error {
	tsHeader, sigHeader := r.Header(TimestampHeader), r.Header(SignatureHeader)
	if tsHeader == "" || sigHeader == "" {
		return ErrUnsigned
	}
	ts, err := strconv.ParseInt(strings.TrimSpace(tsHeader), 10, 64)
	if err != nil {
		return ErrStale
	}
	if d := now.Sub(time.Unix(ts, 0)); d > MaxClockSkew || d < -MaxClockSkew {
		return ErrStale
	}
	want := Sign(secret, ts, r.Body)
	if !hmac.Equal([]byte(strings.TrimSpace(sigHeader)), []byte(want)) {
		return ErrBadSignature
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

package fcemu

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aliyun/fc-runtime-go-sdk/events"
)

// HTTPRequest is the input of HTTPEvent: what an FC 3.0 HTTP trigger saw.
// Headers and Query hold one string per key; FC joins repeated values with
// commas, and so does NewHTTPRequest.
type HTTPRequest struct {
	Method   string // default GET
	Path     string // default "/"
	Headers  map[string]string
	Query    map[string]string
	Body     []byte // raw bytes; HTTPEvent encodes them when Base64 is set
	Base64   bool   // send Body base64-encoded with isBase64Encoded:true, as FC does for binary bodies
	SourceIP string // default 127.0.0.1

	// Optional requestContext fields; zero values get defaults.
	RequestID string    // default: a generated FC-style id
	AccountID string    // default DefaultAccountID
	Time      time.Time // default now
}

// HTTPEvent builds the JSON event an FC 3.0 HTTP trigger passes to a go1
// fc.Start handler (events.HTTPTriggerEvent). The SDK's own type is used so
// field names cannot drift from what handlers unmarshal.
func HTTPEvent(req HTTPRequest) []byte {
	method := strings.ToUpper(valueOr(req.Method, http.MethodGet))
	path := valueOr(req.Path, "/")
	body := string(req.Body)
	if req.Base64 {
		body = base64.StdEncoding.EncodeToString(req.Body)
	}
	headers := copyMap(req.Headers)
	query := copyMap(req.Query)
	at := req.Time
	if at.IsZero() {
		at = time.Now()
	}
	domain := valueOr(lookupFold(headers, "Host"), "fcemu."+DefaultRegion+".fcapp.run")
	prefix, _, _ := strings.Cut(domain, ".")

	ev := events.HTTPTriggerEvent{
		Version:         ptr("v1"),
		RawPath:         ptr(path),
		Body:            ptr(body),
		IsBase64Encoded: ptr(req.Base64),
		Headers:         &headers,
		QueryParameters: &query,
	}
	rc := &ev.TriggerContext
	rc.AccountId = ptr(valueOr(req.AccountID, DefaultAccountID))
	rc.DomainName = ptr(domain)
	rc.DomainPrefix = ptr(prefix)
	rc.Http.Method = ptr(method)
	rc.Http.Path = ptr(path)
	rc.Http.Protocol = ptr("HTTP/1.1")
	rc.Http.SourceIp = ptr(valueOr(req.SourceIP, "127.0.0.1"))
	rc.Http.UserAgent = ptr(lookupFold(headers, "User-Agent"))
	rc.RequestId = ptr(valueOr(req.RequestID, newRequestID()))
	rc.Time = ptr(at.UTC().Format(time.RFC3339))
	rc.TimeEpoch = ptr(strconv.FormatInt(at.UnixMilli(), 10))

	b, err := json.Marshal(ev)
	if err != nil {
		// Only strings, bools and string maps: Marshal cannot fail.
		panic(fmt.Sprintf("fcemu: marshalling HTTP event: %v", err))
	}
	return b
}

// NewHTTPRequest converts a real *http.Request (e.g. in a local gateway) the
// way the trigger does: repeated headers and query values are comma-joined,
// and a body that is not valid UTF-8 is marked Base64. The UTF-8 rule is
// this emulator's approximation of FC's binary-body detection.
func NewHTTPRequest(r *http.Request) (HTTPRequest, error) {
	var body []byte
	if r.Body != nil {
		var err error
		if body, err = io.ReadAll(r.Body); err != nil {
			return HTTPRequest{}, fmt.Errorf("reading HTTP request body: %w", err)
		}
	}
	headers := joinValues(r.Header)
	if r.Host != "" {
		headers["Host"] = r.Host // net/http moves Host out of Header
	}
	ip := r.RemoteAddr
	if host, _, err := net.SplitHostPort(ip); err == nil {
		ip = host
	}
	return HTTPRequest{
		Method:   r.Method,
		Path:     r.URL.Path,
		Headers:  headers,
		Query:    joinValues(r.URL.Query()),
		Body:     body,
		Base64:   !utf8.Valid(body),
		SourceIP: ip,
	}, nil
}

func joinValues(m map[string][]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = strings.Join(v, ",")
	}
	return out
}

// copyMap never returns nil so the event carries {} rather than null.
func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func lookupFold(m map[string]string, key string) string {
	for k, v := range m {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return ""
}

func valueOr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func ptr[T any](v T) *T { return &v }

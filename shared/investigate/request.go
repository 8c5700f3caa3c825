// Package investigate answers "which private hosts sent that surge?" from a
// destination and a time range alone: it runs the session-log
// investigation's SLS SQL on the NAT session logstores, per minute and per
// private host, names the instances behind the top hosts, and draws the
// minutes stacked by host.
package investigate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/ndrtrace/ndrtrace/shared/logtime"
)

// Limits of a request.
const (
	MaxRange   = 24 * time.Hour
	DefaultTop = 10
	MaxTop     = 50
)

// Request is a validated investigation request. Every value in it is
// parsed (addresses, integers, times): the SQL is rendered from these only.
type Request struct {
	DstIP    netip.Addr
	DstPort  uint16     // 0: any port
	EgressIP netip.Addr // invalid: any egress
	From, To time.Time  // [From, To), at most MaxRange apart
	Top      int
}

// BadRequest is a request that cannot be investigated; Field names the
// culprit.
type BadRequest struct {
	Field, Reason string
}

func (e *BadRequest) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

func bad(field, format string, args ...any) *BadRequest {
	return &BadRequest{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// wireRequest is the JSON of a request (DESIGN.md, Surge investigation).
type wireRequest struct {
	DstIP    json.RawMessage `json:"dst_ip"`
	DstPort  json.RawMessage `json:"dst_port"`
	EgressIP json.RawMessage `json:"egress_ip"`
	From     json.RawMessage `json:"from"`
	To       json.RawMessage `json:"to"`
	Top      json.RawMessage `json:"top"`
}

// ParseRequest reads and validates a request body. Unknown fields are
// refused, so that a misspelt filter is never silently ignored.
func ParseRequest(body []byte) (Request, error) {
	var w wireRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return Request{}, &BadRequest{Reason: "the body is not a JSON request object: " + err.Error()}
	}
	if dec.More() {
		return Request{}, &BadRequest{Reason: "the body holds more than one JSON value"}
	}
	var r Request
	var err error
	if r.DstIP, err = parseAddr(w.DstIP, "dst_ip", true); err != nil {
		return r, err
	}
	if r.EgressIP, err = parseAddr(w.EgressIP, "egress_ip", false); err != nil {
		return r, err
	}
	port, err := parseInt(w.DstPort, "dst_port", 1, 65535, 0)
	if err != nil {
		return r, err
	}
	r.DstPort = uint16(port)
	if r.Top, err = parseInt(w.Top, "top", 1, MaxTop, DefaultTop); err != nil {
		return r, err
	}
	if r.From, err = parseTime(w.From, "from"); err != nil {
		return r, err
	}
	if r.To, err = parseTime(w.To, "to"); err != nil {
		return r, err
	}
	if !r.To.After(r.From) {
		return r, bad("to", "must be after from (%s)", r.From.Format(time.RFC3339))
	}
	if d := r.To.Sub(r.From); d > MaxRange {
		return r, bad("to", "the range is %s: at most 24h can be investigated at once", d)
	}
	return r, nil
}

func absent(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

// parseAddr reads an IP address. Zones (fe80::1%eth0) are refused: an
// address with a zone is no public destination, and its text is free-form.
func parseAddr(raw json.RawMessage, field string, required bool) (netip.Addr, error) {
	if absent(raw) {
		if required {
			return netip.Addr{}, bad(field, "required: an IP address")
		}
		return netip.Addr{}, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return netip.Addr{}, bad(field, "must be a string holding an IP address")
	}
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, bad(field, "%q is not an IP address", s)
	}
	a = a.Unmap()
	if a.IsUnspecified() || a.IsMulticast() || a.IsLoopback() {
		return netip.Addr{}, bad(field, "%s cannot be a destination or an egress", a)
	}
	return a, nil
}

// parseInt reads an integer given as a JSON number or a numeric string.
func parseInt(raw json.RawMessage, field string, lo, hi, def int) (int, error) {
	if absent(raw) {
		return def, nil
	}
	s := string(raw)
	if raw[0] == '"' {
		if json.Unmarshal(raw, &s) != nil {
			return 0, bad(field, "must be an integer")
		}
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < lo || n > hi {
		return 0, bad(field, "must be an integer from %d to %d, got %s", lo, hi, raw)
	}
	return n, nil
}

func parseTime(raw json.RawMessage, field string) (time.Time, error) {
	if absent(raw) {
		return time.Time{}, bad(field, "required; RFC 3339, or Unix seconds or milliseconds")
	}
	// As in alerts: RFC 3339, or Unix seconds or milliseconds, as a JSON
	// number or a numeric string.
	s := string(raw)
	if raw[0] == '"' {
		if json.Unmarshal(raw, &s) != nil {
			return time.Time{}, bad(field, "must be RFC 3339, or Unix seconds or milliseconds")
		}
	}
	if strings.ContainsAny(s, "eE+") && !strings.ContainsAny(s, "T:") {
		return time.Time{}, bad(field, "%q: exponent notation is not accepted", s)
	}
	t, err := logtime.Parse(s)
	if err != nil {
		return time.Time{}, bad(field, "%q is not RFC 3339 or Unix seconds/milliseconds", s)
	}
	if t.Year() < 2010 || t.Year() > 9999 {
		return time.Time{}, bad(field, "%s is before any log this system keeps", t.UTC().Format(time.RFC3339))
	}
	return t.UTC(), nil
}

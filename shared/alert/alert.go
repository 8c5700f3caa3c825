// Package alert decodes detector alerts (one, or a batch) and defines the
// result every alert gets back. Decoding never loses an alert: whatever is
// wrong with it, its bytes travel verbatim into its result.
package alert

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ndrtrace/ndrtrace/shared/logtime"
	"github.com/ndrtrace/ndrtrace/shared/mapping"
	"github.com/ndrtrace/ndrtrace/shared/strictjson"
	"github.com/ndrtrace/ndrtrace/shared/tuple"
)

// Category selects which traceability switch applies to an alert.
type Category string

const (
	Attack        Category = "attack"
	SensitiveData Category = "sensitive_data"
)

// Alert is a validated detector alert.
type Alert struct {
	ID        string
	Time      time.Time
	Tuple     tuple.FiveTuple
	Category  Category
	AssetType mapping.Kind // 0 when not given
	AssetID   string
	Raw       json.RawMessage // the alert as received
}

// Invalid is a decoding failure of one alert: it names the field.
type Invalid struct {
	ID     string // empty when the id itself is missing or bad
	Field  string
	Reason string
	Raw    json.RawMessage
}

func (e *Invalid) Error() string { return e.Reason }

// Item is one decoded element of a request: an Alert or an Invalid.
type Item struct {
	Alert   *Alert
	Invalid *Invalid
}

// Limits of a request. Past them an alert is invalid rather than traced;
// its bytes still travel into its result.
const (
	// MaxBatch is the most alerts one request may carry. The HTTP handler
	// answers 413 beyond it; a direct invocation gets every alert back
	// invalid, naming "alerts".
	MaxBatch = 10_000
	// MaxAlertBytes bounds one alert's JSON: a detector's alert is a few
	// hundred bytes, and a result must fit one SLS log (1 MB).
	MaxAlertBytes = 64 << 10
	// MaxDepth bounds nesting: an alert in a batch is at depth 2, its
	// fields' values at 3.
	MaxDepth = 32
)

// The accepted range of an alert's time: nothing before 2010 can match a
// log (ingest refuses such records), nor anything more than a day ahead of
// now, the slack ingest gives a record's time over its log's own.
var (
	EarliestTime = time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC)
	MaxAhead     = 24 * time.Hour
)

// Decode is DecodeAt with the current time.
func Decode(body []byte) (items []Item, batch bool) { return DecodeAt(body, time.Now()) }

// DecodeAt reads a single alert object or {"alerts": [...]}, as of now (the
// bound of alert times). It returns the items in order and whether the body
// was a batch. A body that is not a JSON object, or not a usable batch,
// yields one Invalid item holding the body (as a JSON string when it is not
// JSON).
func DecodeAt(body []byte, now time.Time) (items []Item, batch bool) {
	trimmed := bytes.TrimSpace(body)
	whole := func(field, reason string, raw json.RawMessage) ([]Item, bool) {
		return []Item{{Invalid: &Invalid{Field: field, Reason: field + ": " + reason, Raw: raw}}}, false
	}
	err := strictjson.Check(trimmed, MaxDepth, 1)
	var depth *strictjson.DepthError
	var dup *strictjson.DuplicateKeyError
	switch {
	case err == strictjson.ErrSyntax:
		var v any
		return whole("body", "not a JSON object: "+jsonErr(json.Unmarshal(trimmed, &v)), verbatim(body))
	case errors.As(err, &depth):
		return whole("body", err.Error(), verbatim(body))
	case trimmed[0] != '{':
		return whole("body", "not a JSON object", trimmed)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &top); err != nil {
		return whole("body", "not a JSON object: "+jsonErr(err), verbatim(body))
	}
	raw, isBatch := top["alerts"]
	if !isBatch {
		// A single alert: decodeOne names a duplicate key, with the id.
		return []Item{decodeOne(trimmed, now)}, false
	}
	if errors.As(err, &dup) {
		// {"alerts":[A],"alerts":[B]} would silently lose A.
		return whole(dup.Key, "duplicate key; each alert must appear once", trimmed)
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil {
		return whole("alerts", "not a JSON array", trimmed)
	}
	items = make([]Item, len(list))
	if len(list) > MaxBatch {
		reason := fmt.Sprintf("alerts: a batch holds at most %d alerts, this one %d; send smaller batches", MaxBatch, len(list))
		for i, r := range list {
			items[i] = Item{Invalid: &Invalid{ID: idOf(r), Field: "alerts", Reason: reason, Raw: r}}
		}
		return items, true
	}
	for i, r := range list {
		items[i] = decodeOne(r, now)
	}
	return items, true
}

// idOf is the alert's id when it is a usable one, else "".
func idOf(raw json.RawMessage) string {
	var f struct {
		ID json.RawMessage `json:"alert_id"`
	}
	if json.Unmarshal(raw, &f) != nil {
		return ""
	}
	if id, ok := str(f.ID); ok && len(id) <= 256 && exactString(f.ID) {
		return id
	}
	return ""
}

// TooMany reports whether Decode refused a batch for its size.
func TooMany(items []Item) bool { return len(items) > MaxBatch }

// verbatim keeps non-JSON bytes as a JSON string so that results stay JSON.
func verbatim(b []byte) json.RawMessage {
	s, _ := json.Marshal(string(b))
	return s
}

func jsonErr(err error) string {
	if se, ok := err.(*json.SyntaxError); ok {
		return fmt.Sprintf("%s at offset %d", se.Error(), se.Offset)
	}
	return err.Error()
}

func decodeOne(raw json.RawMessage, now time.Time) Item {
	var f map[string]json.RawMessage
	if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &f) != nil {
		return Item{Invalid: &Invalid{Field: "alert", Reason: "alert: not a JSON object", Raw: raw}}
	}
	a := &Alert{Raw: raw}
	bad := func(field, reason string) Item {
		return Item{Invalid: &Invalid{ID: a.ID, Field: field, Reason: field + ": " + reason, Raw: raw}}
	}

	id, ok := str(f["alert_id"])
	if !ok || strings.TrimSpace(id) == "" {
		return bad("alert_id", "required string is missing or empty")
	}
	if len(id) > 256 {
		return bad("alert_id", "longer than 256 bytes")
	}
	if !exactString(f["alert_id"]) {
		// Decoding would replace the bad bytes with U+FFFD, and the id
		// would no longer match the detector's.
		return bad("alert_id", "not valid UTF-8 (or holds an unpaired \\u surrogate)")
	}
	a.ID = id
	if len(raw) > MaxAlertBytes {
		return bad("alert", fmt.Sprintf("%d bytes, over the %d-byte limit of one alert", len(raw), MaxAlertBytes))
	}
	var dup *strictjson.DuplicateKeyError
	if err := strictjson.Check(raw, MaxDepth, 0); errors.As(err, &dup) {
		// encoding/json kept the last value: the trace would use one and
		// the recorded alert show both.
		return bad(dup.Name(), "duplicate key")
	}

	tm, err := parseTime(f["time"], now)
	if err != nil {
		return bad("time", err.Error())
	}
	a.Time = tm

	p, ok := scalar(f["protocol"])
	if !ok {
		return bad("protocol", "required; tcp, udp, icmp or an IANA number")
	}
	if a.Tuple.Proto, err = tuple.ParseProto(p); err != nil {
		return bad("protocol", err.Error())
	}
	for _, side := range []struct {
		ip, port string
		ep       *tuple.Endpoint
	}{{"src_ip", "src_port", &a.Tuple.Src}, {"dst_ip", "dst_port", &a.Tuple.Dst}} {
		s, ok := str(f[side.ip])
		if !ok {
			return bad(side.ip, "required IP address is missing")
		}
		if side.ep.Addr, err = tuple.ParseAddr(s); err != nil {
			return bad(side.ip, fmt.Sprintf("%q is not an IP address", s))
		}
		ps, ok := scalar(f[side.port])
		if !ok {
			if a.Tuple.Proto.HasPorts() {
				return bad(side.port, "required for "+a.Tuple.Proto.String())
			}
			continue
		}
		if side.ep.Port, err = tuple.ParsePort(ps); err != nil {
			return bad(side.port, fmt.Sprintf("%q is not a port 0-65535", ps))
		}
	}
	if a.Tuple.Src.Addr.Is4() != a.Tuple.Dst.Addr.Is4() {
		return bad("dst_ip", "src_ip and dst_ip are of different IP versions")
	}

	a.Category = Attack
	if c, ok := str(f["category"]); ok && c != "" {
		switch Category(c) {
		case Attack, SensitiveData:
			a.Category = Category(c)
		default:
			return bad("category", fmt.Sprintf("%q is not attack or sensitive_data", c))
		}
	}
	if t, ok := str(f["asset_type"]); ok && t != "" {
		if a.AssetType = mapping.ParseKind(t); a.AssetType == 0 {
			return bad("asset_type", fmt.Sprintf("%q is not nat, alb or clb", t))
		}
	}
	if id, ok := str(f["asset_id"]); ok && id != "" {
		if !mapping.ValidID(id) {
			return bad("asset_id", "not a resource id")
		}
		a.AssetID = id
	}
	return Item{Alert: a}
}

// str reads a JSON string; absent or null is not ok.
func str(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || raw[0] != '"' {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// scalar reads a JSON string or number as text.
func scalar(raw json.RawMessage) (string, bool) {
	if s, ok := str(raw); ok {
		return s, s != ""
	}
	if len(raw) > 0 && (raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9') {
		var n json.Number
		if json.Unmarshal(raw, &n) == nil {
			return n.String(), true
		}
	}
	return "", false
}

// exactString reports whether the JSON string raw spells its characters
// exactly: encoding/json turns invalid UTF-8 and unpaired surrogate escapes
// into U+FFFD without a word.
func exactString(raw json.RawMessage) bool {
	if !utf8.Valid(raw) {
		return false
	}
	b := raw[1 : len(raw)-1] // str has checked the quotes
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		i++
		if b[i] != 'u' {
			continue
		}
		r, _ := strconv.ParseUint(string(b[i+1:i+5]), 16, 32)
		i += 4
		switch {
		case r >= 0xDC00 && r <= 0xDFFF:
			return false // a low surrogate with no high one before it
		case r >= 0xD800 && r <= 0xDBFF:
			if i+6 >= len(b) || b[i+1] != '\\' || b[i+2] != 'u' {
				return false
			}
			lo, _ := strconv.ParseUint(string(b[i+3:i+7]), 16, 32)
			if lo < 0xDC00 || lo > 0xDFFF {
				return false
			}
			i += 6
		}
	}
	return true
}

func parseTime(raw json.RawMessage, now time.Time) (time.Time, error) {
	s, ok := scalar(raw)
	if !ok {
		return time.Time{}, fmt.Errorf("required; RFC 3339, or Unix seconds or milliseconds")
	}
	if strings.ContainsAny(s, "eE") {
		// 1.7e9 is a number JSON allows but no detector sends; reject
		// rather than guess its precision.
		if _, err := strconv.ParseFloat(s, 64); err == nil {
			return time.Time{}, fmt.Errorf("%q: exponent notation is not accepted", s)
		}
	}
	t, err := logtime.Parse(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not RFC 3339 or Unix seconds/milliseconds", s)
	}
	// The range check also catches numbers too large for int64 (1e20
	// milliseconds wraps to the year -292275055).
	if t.Before(EarliestTime) || t.After(now.Add(MaxAhead)) {
		return time.Time{}, fmt.Errorf("%q is outside the accepted range: from %s to a day after now", s, EarliestTime.Format("2006-01-02"))
	}
	return t, nil
}

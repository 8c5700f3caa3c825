// Package alert decodes detector alerts (one, or a batch) and defines the
// result every alert gets back. Decoding never loses an alert: whatever is
// wrong with it, its bytes travel verbatim into its result.
package alert

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ndrtrace/ndrtrace/shared/logtime"
	"github.com/ndrtrace/ndrtrace/shared/mapping"
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

// Decode reads a single alert object or {"alerts": [...]}. It returns the
// items in order and whether the body was a batch. A body that is not JSON
// yields one Invalid item holding the body as a JSON string.
func Decode(body []byte) (items []Item, batch bool) {
	trimmed := bytes.TrimSpace(body)
	var top map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &top); err != nil {
		return []Item{{Invalid: &Invalid{Field: "body", Reason: "body is not a JSON object: " + jsonErr(err), Raw: verbatim(body)}}}, false
	}
	if raw, ok := top["alerts"]; ok {
		var list []json.RawMessage
		if err := json.Unmarshal(raw, &list); err != nil {
			return []Item{{Invalid: &Invalid{Field: "alerts", Reason: "alerts is not a JSON array", Raw: trimmed}}}, false
		}
		items = make([]Item, len(list))
		for i, r := range list {
			items[i] = decodeOne(r)
		}
		return items, true
	}
	return []Item{decodeOne(trimmed)}, false
}

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

func decodeOne(raw json.RawMessage) Item {
	var f map[string]json.RawMessage
	if err := json.Unmarshal(raw, &f); err != nil {
		return Item{Invalid: &Invalid{Field: "alert", Reason: "alert is not a JSON object", Raw: raw}}
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
	a.ID = id

	tm, err := parseTime(f["time"])
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

func parseTime(raw json.RawMessage) (time.Time, error) {
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
	return t, nil
}

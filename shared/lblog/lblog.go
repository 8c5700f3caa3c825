// Package lblog parses ALB and CLB layer-7 access-log records as they arrive
// from SLS (every value a string) into mappings: the public side a detector
// sees (client_ip[:client_port] -> vip_addr:slb_vport, TCP) and the backend
// that served the request (the last address of upstream_addr).
//
// The two logs tell themselves apart by their topic (alb_layer7_access_log,
// slb_layer7_access_log): the log group's topic, else a __topic__ key in the
// record, else whichever id field the record carries (app_lb_id, slbid).
package lblog

import (
	"math"
	"net/netip"
	"strings"

	"github.com/ndrtrace/ndrtrace/shared/logtime"
	"github.com/ndrtrace/ndrtrace/shared/mapping"
	"github.com/ndrtrace/ndrtrace/shared/tuple"
)

// Topics of the two access logs.
const (
	TopicALB = "alb_layer7_access_log"
	TopicCLB = "slb_layer7_access_log"
)

// MaxRequestTime caps the request_time a window is widened by (24 h). A
// longer request (a WebSocket held open for days) keeps its last day; a
// window is indexed again every store.MaxSpan, so an unbounded one would
// cost unbounded writes.
const MaxRequestTime = 24 * 60 * 60

// Reasons a record is rejected. Each names the field at fault.
const (
	MissingID         mapping.Reject = "missing app_lb_id or slbid"
	BothIDs           mapping.Reject = "both app_lb_id and slbid, and no __topic__"
	MissingALBID      mapping.Reject = "missing app_lb_id"
	BadALBID          mapping.Reject = "bad app_lb_id"
	MissingCLBID      mapping.Reject = "missing slbid"
	BadCLBID          mapping.Reject = "bad slbid"
	MissingClientIP   mapping.Reject = "missing client_ip"
	BadClientIP       mapping.Reject = "bad client_ip"
	MissingClientPort mapping.Reject = "missing client_port" // CLB only: ALB records may lack it
	BadClientPort     mapping.Reject = "bad client_port"
	MissingVIP        mapping.Reject = "missing vip_addr"
	BadVIP            mapping.Reject = "bad vip_addr"
	MissingVPort      mapping.Reject = "missing slb_vport"
	BadVPort          mapping.Reject = "bad slb_vport"
	BadTime           mapping.Reject = "bad time"
	TimeOutOfRange    mapping.Reject = "time out of range"
	BadRequestTime    mapping.Reject = "bad request_time"
	MissingUpstream   mapping.Reject = "missing upstream_addr"
	// NoUpstream is a well-formed record of a request the load balancer
	// answered itself (upstream_addr "-" or empty: a redirect, a fixed
	// response, a 4xx/5xx before any backend): nothing to map.
	NoUpstream  mapping.Reject = "no upstream_addr: answered by the load balancer"
	BadUpstream mapping.Reject = "bad upstream_addr"
)

// Parse reads one access-log record; it has the signature of every record
// parser (ingest.Parser). topic is the log group's topic; logTime (Unix
// seconds) stands in for an absent time field.
//
// The window is [time - request_time, time], rounded outwards to whole
// seconds. When request_time is a comma list (one value per upstream tried)
// the window is widened by their sum: the attempts ran one after the other,
// so the request lasted at least that long, and a window too wide costs at
// most an ambiguous answer where one too narrow costs a miss.
//
// It does not allocate for a record with one upstream: strings in the result
// are the caller's. Only a retry list allocates, for Mapping.Previous.
func Parse(fields []mapping.Field, topic string, logTime int64) (mapping.Mapping, mapping.Reject) {
	var recTopic, albID, clbID, clientIP, clientPort, vip, vport, upstream, tm, reqTime, xff, account, region string
	var haveClientPort, haveUpstream, haveTime bool
	for i := range fields {
		v := fields[i].Value
		switch fields[i].Key {
		case "__topic__":
			recTopic = v
		case "app_lb_id":
			albID = v
		case "slbid":
			clbID = v
		case "client_ip":
			clientIP = v
		case "client_port":
			clientPort, haveClientPort = v, true
		case "vip_addr":
			vip = v
		case "slb_vport":
			vport = v
		case "upstream_addr":
			upstream, haveUpstream = v, true
		case "time":
			tm, haveTime = v, true
		case "request_time":
			reqTime = v
		case "http_x_forwarded_for":
			xff = v
		case "account_id":
			account = v
		case "region":
			region = v
		}
	}

	var m mapping.Mapping
	m.Proto = tuple.TCP
	m.Kind = kindOf(topic)
	if m.Kind == 0 {
		m.Kind = kindOf(recTopic)
	}
	if m.Kind == 0 {
		switch {
		case albID != "" && clbID != "":
			return m, BothIDs
		case albID != "":
			m.Kind = mapping.KindALB
		case clbID != "":
			m.Kind = mapping.KindCLB
		default:
			return m, MissingID
		}
	}
	if m.Kind == mapping.KindALB {
		m.EgressID = albID
		if albID == "" {
			return m, MissingALBID
		}
		if !mapping.ValidID(albID) {
			return m, BadALBID
		}
	} else {
		m.EgressID = clbID
		if clbID == "" {
			return m, MissingCLBID
		}
		if !mapping.ValidID(clbID) {
			return m, BadCLBID
		}
	}

	if r := m.SetSource(account, region); r != "" {
		return m, r
	}
	if clientIP == "" {
		return m, MissingClientIP
	}
	a, err := tuple.ParseAddr(clientIP)
	if err != nil {
		return m, BadClientIP
	}
	m.Peer.Addr = a
	// client_port: always logged by CLB; not documented for ALB, so an ALB
	// record without it (or with "-") is keyed without the port.
	switch {
	case m.Kind == mapping.KindALB && (!haveClientPort || clientPort == "" || clientPort == "-"):
	case !haveClientPort || clientPort == "":
		return m, MissingClientPort
	default:
		p, err := tuple.ParsePort(clientPort)
		if err != nil || p == 0 {
			return m, BadClientPort
		}
		m.Peer.Port = p
	}

	if vip == "" {
		return m, MissingVIP
	}
	if m.Egress.Addr, err = tuple.ParseAddr(vip); err != nil {
		return m, BadVIP
	}
	if tuple.IsPrivate(m.Egress.Addr) {
		// An internet-facing ALB may log a zone's private VIP; private
		// addresses repeat across VPCs, so the balancer qualifies it.
		m.Egress.Scope = m.EgressID
	}
	if vport == "" {
		return m, MissingVPort
	}
	if m.Port, err = tuple.ParsePort(vport); err != nil || m.Port == 0 {
		return m, BadVPort
	}

	// The window: [time - request_time, time], outwards to whole seconds.
	end, endNS := logTime, 0
	if haveTime {
		t, err := logtime.Parse(tm)
		if err != nil {
			return m, BadTime
		}
		end, endNS = t.Unix(), t.Nanosecond()
	}
	if end < 0 || end > math.MaxUint32-1 {
		return m, BadTime // the store keeps 32-bit seconds
	}
	if !logtime.InLog(end, logTime) {
		return m, TimeOutOfRange // before 2010, or over a day after the log
	}
	rt, ok := requestTime(reqTime)
	if !ok {
		return m, BadRequestTime
	}
	m.End = end
	if endNS > 0 {
		m.End++
	}
	startNS := end*1e9 + int64(endNS) - rt
	m.Start = max(startNS/1e9, 0) // floor; a request cannot start before 1970

	// upstream_addr: the last address served the response; earlier ones
	// were tried first (retries) and are kept as candidates.
	if !haveUpstream {
		return m, MissingUpstream
	}
	up := strings.TrimSpace(upstream)
	if up == "" || up == "-" {
		return m, NoUpstream
	}
	rest, more := up, true
	for n := 0; more; n++ {
		var elem string
		elem, rest, more = nextUpstream(rest)
		if n == 0 {
			m.Private, ok = endpoint(elem)
		} else {
			var e tuple.Endpoint
			e, ok = endpoint(elem)
			if m.Previous == nil {
				m.Previous = make([]tuple.Endpoint, 0, 4)
			}
			m.Previous = append(m.Previous, m.Private)
			m.Private = e
		}
		if !ok {
			m.Previous = nil
			return m, BadUpstream
		}
	}

	m.Client = forwardedFor(xff)
	return m, ""
}

func kindOf(topic string) mapping.Kind {
	switch topic {
	case TopicALB:
		return mapping.KindALB
	case TopicCLB:
		return mapping.KindCLB
	}
	return 0
}

// nextUpstream splits one address off an upstream_addr list. Tengine, like
// nginx, separates the servers tried within a group with ", " and the groups
// of an internal redirect with " : ".
// more reports whether a separator followed elem (rest may then be empty,
// which makes a bad last element).
func nextUpstream(s string) (elem, rest string, more bool) {
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == ',':
			return s[:i], s[i+1:], true
		case s[i] == ':' && i > 0 && s[i-1] == ' ' && i+1 < len(s) && s[i+1] == ' ':
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

// endpoint parses one upstream "ip:port" or "[v6]:port".
func endpoint(s string) (tuple.Endpoint, bool) {
	e, err := tuple.ParseEndpoint(s)
	return e, err == nil && e.Port != 0
}

// requestTime reads request_time in seconds as nanoseconds: a decimal, or a
// comma list of them (summed). Absent, empty or "-" is 0; so is a "-"
// entry of a list. The result is capped at MaxRequestTime.
func requestTime(s string) (int64, bool) {
	if strings.IndexByte(s, ',') < 0 {
		if s = strings.TrimSpace(s); s == "" || s == "-" {
			return 0, true
		}
		return decimalNS(s)
	}
	var total int64
	for rest, more := s, true; more; {
		var elem string
		elem, rest, more = strings.Cut(rest, ",")
		switch elem = strings.TrimSpace(elem); elem {
		case "":
			return 0, false // "1,,2" or a trailing comma
		case "-":
			continue
		}
		ns, ok := decimalNS(elem)
		if !ok {
			return 0, false
		}
		total = min(total+ns, MaxRequestTime*1e9)
	}
	return total, true
}

// decimalNS parses "12", "0.005" or "1.5" seconds into nanoseconds, capped
// at MaxRequestTime; digits past nanoseconds round up. Only digits and one
// point: no sign, exponent, hex or inf, which ParseFloat would accept.
func decimalNS(s string) (int64, bool) {
	const maxSec = MaxRequestTime
	var sec, frac int64
	digits, fracDigits, point := 0, 0, false
	roundUp := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.' && !point:
			point = true
		case c >= '0' && c <= '9':
			digits++
			d := int64(c - '0')
			if !point {
				sec = min(sec*10+d, maxSec+1)
			} else if fracDigits < 9 {
				frac = frac*10 + d
				fracDigits++
			} else if d != 0 {
				roundUp = true
			}
		default:
			return 0, false
		}
	}
	if digits == 0 {
		return 0, false
	}
	for ; fracDigits < 9; fracDigits++ {
		frac *= 10
	}
	if roundUp {
		frac++
	}
	if sec > maxSec {
		return maxSec * 1e9, true
	}
	return min(sec*1e9+frac, maxSec*1e9), true
}

// forwardedFor returns the first address of an X-Forwarded-For header, the
// original client as the first proxy saw it; the invalid Addr when the
// header is absent ("-") or its first entry is no address. The header is
// the client's to write, so it never rejects a record.
func forwardedFor(s string) netip.Addr {
	if i := strings.IndexByte(s, ','); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimSpace(s)
	if s == "" || s == "-" {
		return netip.Addr{}
	}
	if a, err := tuple.ParseAddr(s); err == nil {
		return a
	}
	if e, err := tuple.ParseEndpoint(s); err == nil { // "ip:port", "[v6]:port"
		return e.Addr
	}
	if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' { // "[v6]"
		if a, err := tuple.ParseAddr(s[1 : len(s)-1]); err == nil {
			return a
		}
	}
	return netip.Addr{}
}

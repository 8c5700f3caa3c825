// Package natlog parses NAT Gateway session-log records (SNAT) as they arrive
// from SLS: every value a string, keys spelled as documented or as older
// deliveries spelled them (intstance, portocol).
package natlog

import (
	"net/netip"

	"github.com/ndrtrace/ndrtrace/shared/logtime"
	"github.com/ndrtrace/ndrtrace/shared/mapping"
	"github.com/ndrtrace/ndrtrace/shared/tuple"
)

// Reasons a record is rejected. Each names the field at fault.
const (
	MissingProtocol mapping.Reject = "missing protocol"
	BadProtocol     mapping.Reject = "bad protocol"
	MissingNATIP    mapping.Reject = "missing nat_ip"
	BadNATIP        mapping.Reject = "bad nat_ip"
	MissingNATPort  mapping.Reject = "missing nat_port"
	BadNATPort      mapping.Reject = "bad nat_port"
	MissingPubIP    mapping.Reject = "missing pub_ip"
	BadPubIP        mapping.Reject = "bad pub_ip"
	MissingPubPort  mapping.Reject = "missing pub_port"
	BadPubPort      mapping.Reject = "bad pub_port"
	MissingPriIP    mapping.Reject = "missing pri_ip"
	BadPriIP        mapping.Reject = "bad pri_ip"
	MissingPriPort  mapping.Reject = "missing pri_port"
	BadPriPort      mapping.Reject = "bad pri_port"
	BadStartTime    mapping.Reject = "bad start_time"
	BadEndTime      mapping.Reject = "bad end_time"
	EndBeforeStart  mapping.Reject = "end_time before start_time"
	StartOutOfRange mapping.Reject = "start_time out of range"
	EndOutOfRange   mapping.Reject = "end_time out of range"
	WindowTooLong   mapping.Reject = "window longer than 1h"
	MissingVPC      mapping.Reject = "missing vpc_id for a private nat_ip"
	BadVPC          mapping.Reject = "bad vpc_id"
	BadInstance     mapping.Reject = "bad instance"
)

// MaxWindow bounds a record's window (end_time - start_time), in seconds.
// The gateway cuts sessions into ~10-minute capture windows, so an hour is
// far beyond any real record; a longer one is malformed, and bounding it
// bounds the store's copies of one record (one per store.MaxSpan).
const MaxWindow = 60 * 60

// Parse reads one session record. logTime (Unix seconds) stands in for a
// missing start_time or end_time; the topic is not used (session logs have
// none) but keeps the signature of every record parser. A time no log can
// carry (logtime.InLog), or a window longer than MaxWindow, rejects the
// record. It does not
// allocate: strings in the result are the caller's.
func Parse(fields []mapping.Field, _ string, logTime int64) (mapping.Mapping, mapping.Reject) {
	var instance, vpc, proto, priIP, priPort, natIP, natPort, pubIP, pubPort, start, end, account, region string
	var haveStart, haveEnd bool
	for i := range fields {
		v := fields[i].Value
		switch fields[i].Key {
		case "instance":
			instance = v
		case "intstance":
			if instance == "" {
				instance = v
			}
		case "vpc_id":
			vpc = v
		case "protocol":
			proto = v
		case "portocol":
			if proto == "" {
				proto = v
			}
		case "pri_ip":
			priIP = v
		case "pri_port":
			priPort = v
		case "nat_ip":
			natIP = v
		case "nat_port":
			natPort = v
		case "pub_ip":
			pubIP = v
		case "pub_port":
			pubPort = v
		case "start_time":
			start, haveStart = v, true
		case "end_time":
			end, haveEnd = v, true
		case "account_id":
			account = v
		case "region":
			region = v
		}
	}

	var m mapping.Mapping
	m.Kind = mapping.KindNAT
	var err error
	if proto == "" {
		return m, MissingProtocol
	}
	if m.Proto, err = tuple.ParseProto(proto); err != nil {
		return m, BadProtocol
	}
	if r := addr(natIP, &m.Egress.Addr, MissingNATIP, BadNATIP); r != "" {
		return m, r
	}
	if r := port(natPort, &m.Port, MissingNATPort, BadNATPort); r != "" {
		return m, r
	}
	if r := addr(pubIP, &m.Peer.Addr, MissingPubIP, BadPubIP); r != "" {
		return m, r
	}
	if r := port(pubPort, &m.Peer.Port, MissingPubPort, BadPubPort); r != "" {
		return m, r
	}
	if r := addr(priIP, &m.Private.Addr, MissingPriIP, BadPriIP); r != "" {
		return m, r
	}
	if r := port(priPort, &m.Private.Port, MissingPriPort, BadPriPort); r != "" {
		return m, r
	}
	if vpc != "" && !mapping.ValidID(vpc) {
		return m, BadVPC
	}
	if instance != "" && !mapping.ValidID(instance) {
		return m, BadInstance
	}
	m.EgressID, m.VPC = instance, vpc
	if r := m.SetSource(account, region); r != "" {
		return m, r
	}
	if tuple.IsPrivate(m.Egress.Addr) {
		// NAT mode: nat_ip is the EIP's private address, meaningful only
		// within the gateway's VPC.
		if vpc == "" {
			return m, MissingVPC
		}
		m.Egress.Scope = vpc
	}
	m.Start, m.End = logTime, logTime
	if haveStart {
		t, err := logtime.ParseUnix(start)
		if err != nil {
			return m, BadStartTime
		}
		m.Start = t
	}
	if haveEnd {
		t, err := logtime.ParseUnix(end)
		if err != nil {
			return m, BadEndTime
		}
		m.End = t
	}
	if !logtime.InLog(m.Start, logTime) {
		return m, StartOutOfRange
	}
	if !logtime.InLog(m.End, logTime) {
		return m, EndOutOfRange
	}
	if m.End < m.Start {
		return m, EndBeforeStart
	}
	if m.End-m.Start > MaxWindow {
		return m, WindowTooLong
	}
	return m, ""
}

func addr(s string, dst *netip.Addr, missing, bad mapping.Reject) mapping.Reject {
	if s == "" {
		return missing
	}
	a, err := tuple.ParseAddr(s)
	if err != nil {
		return bad
	}
	*dst = a
	return ""
}

func port(s string, dst *uint16, missing, bad mapping.Reject) mapping.Reject {
	if s == "" {
		return missing
	}
	p, err := tuple.ParsePort(s)
	if err != nil {
		return bad
	}
	*dst = p
	return ""
}

// Package mapping defines what ingest writes and trace reads: one observed
// translation between a public-side tuple at a shared egress (a NAT EIP or a
// load balancer VIP) and the private endpoint behind it, over a time window.
package mapping

import (
	"net/netip"
	"strings"

	"github.com/ndrtrace/ndrtrace/shared/tuple"
)

// Kind is the type of shared egress a mapping was observed at.
type Kind uint8

const (
	KindNAT Kind = 1
	KindALB Kind = 2
	KindCLB Kind = 3
)

func (k Kind) String() string {
	switch k {
	case KindNAT:
		return "nat"
	case KindALB:
		return "alb"
	case KindCLB:
		return "clb"
	}
	return "unknown"
}

// ParseKind is the inverse of Kind.String; it returns 0 for anything else.
func ParseKind(s string) Kind {
	switch s {
	case "nat":
		return KindNAT
	case "alb":
		return KindALB
	case "clb":
		return KindCLB
	}
	return 0
}

// Egress names the address a mapping is stored under. Scope is empty when
// Addr is public; when Addr is a private address (the EIP's private IP of a
// NAT gateway in NAT mode, an ALB zone's private VIP) Scope is the VPC or load
// balancer that qualifies it, because private addresses repeat across VPCs.
type Egress struct {
	Scope string
	Addr  netip.Addr
}

// Mapping is one log record reduced to what tracing needs.
type Mapping struct {
	Kind     Kind
	EgressID string // ngw-..., alb-..., lb-...
	VPC      string // the egress's VPC, when the record names it

	Egress   Egress
	Proto    tuple.Proto
	Port     uint16         // egress port: NAT port, or the listener port
	Peer     tuple.Endpoint // the other public side; Port 0 when not logged
	Start    int64          // Unix seconds: the window in which the tuple was in use
	End      int64
	Private  tuple.Endpoint   // the private endpoint behind the egress
	Previous []tuple.Endpoint // LB: upstreams tried before Private (retries)
	Client   netip.Addr       // LB: first X-Forwarded-For address, when present
	// Account and Region name where the egress is, when the record says
	// (shipped from a member account or another region); empty: the
	// function's own.
	Account, Region string
}

// Field is one key/value of a log record. Parsers take a slice of them so
// that callers can pass SLS contents without building a map.
type Field struct{ Key, Value string }

// Reject is why a record was not mapped. The values are stable strings so
// that summaries can count them without allocating.
type Reject string

// ValidID reports whether s looks like a cloud resource id (ngw-..., vpc-...,
// alb-..., lb-...): letters, digits, '-' and '_', at most 64 bytes. Ids end up
// in Redis keys and results, so nothing else is let through.
func ValidID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Reasons a record's source fields reject it.
const (
	BadAccountID Reject = "bad account_id"
	BadRegion    Reject = "bad region"
)

// SetSource sets the account and region a record names (the fields
// account_id and region that onboard's ETL jobs add to member-account and
// other-region logs); empty values leave them unset, so that the function's
// own account and region apply.
func (m *Mapping) SetSource(account, region string) Reject {
	if account != "" {
		if len(account) > 32 || strings.Trim(account, "0123456789") != "" {
			return BadAccountID
		}
		m.Account = account
	}
	if region != "" {
		if !ValidID(region) {
			return BadRegion
		}
		m.Region = region
	}
	return ""
}

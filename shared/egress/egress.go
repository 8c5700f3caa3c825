// Package egress knows the shared public addresses: which NAT gateway or load
// balancer owns an address, and the private twin the logs may name it by (the
// EIP's private IP of a NAT gateway in NAT mode, an ALB zone's private VIP).
// Until onboarding fills the inventory, a static list from configuration
// (EGRESS_ADDRESSES) stands in.
package egress

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"

	"github.com/ndrtrace/ndrtrace/shared/mapping"
	"github.com/ndrtrace/ndrtrace/shared/tuple"
)

// Entry is one public address of one egress.
type Entry struct {
	Kind      mapping.Kind
	ID        string
	PublicIP  netip.Addr
	PrivateIP netip.Addr // invalid when the logs use the public address
	VPC       string
	Account   string
	Region    string
}

// StoredAs lists the egress keys mappings for this address may be stored
// under: the public address, and the scoped private twin.
func (e Entry) StoredAs() []mapping.Egress {
	out := []mapping.Egress{{Addr: e.PublicIP}}
	if e.PrivateIP.IsValid() {
		out = append(out, mapping.Egress{Scope: e.scope(), Addr: e.PrivateIP})
	}
	return out
}

// scope qualifies a private twin the way ingest does: NAT records carry the
// VPC, load-balancer records only the balancer's id.
func (e Entry) scope() string {
	if e.Kind == mapping.KindNAT {
		return e.VPC
	}
	return e.ID
}

// Book answers which egresses own an address.
type Book interface {
	Lookup(ctx context.Context, public netip.Addr) ([]Entry, error)
}

// Static is a Book held in memory.
type Static map[netip.Addr][]Entry

// Lookup implements Book.
func (s Static) Lookup(_ context.Context, a netip.Addr) ([]Entry, error) { return s[a], nil }

type jsonEntry struct {
	Type      string `json:"type"`
	ID        string `json:"id"`
	PublicIP  string `json:"public_ip"`
	PrivateIP string `json:"private_ip"`
	VPCID     string `json:"vpc_id"`
	AccountID string `json:"account_id"`
	Region    string `json:"region"`
}

// ParseStatic reads the EGRESS_ADDRESSES JSON list:
//
//	[{"type":"nat","id":"ngw-1","vpc_id":"vpc-1","public_ip":"47.1.2.3","private_ip":"172.16.10.13"}]
func ParseStatic(s string) (Static, error) {
	out := Static{}
	if s == "" {
		return out, nil
	}
	var list []jsonEntry
	if err := json.Unmarshal([]byte(s), &list); err != nil {
		return nil, fmt.Errorf("EGRESS_ADDRESSES is not a JSON list: %w", err)
	}
	for i, j := range list {
		e := Entry{Kind: mapping.ParseKind(j.Type), ID: j.ID, VPC: j.VPCID, Account: j.AccountID, Region: j.Region}
		if e.Kind == 0 {
			return nil, fmt.Errorf("EGRESS_ADDRESSES[%d].type %q is not nat, alb or clb", i, j.Type)
		}
		for _, id := range []string{j.ID, j.VPCID} {
			if id != "" && !mapping.ValidID(id) {
				return nil, fmt.Errorf("EGRESS_ADDRESSES[%d]: %q is not a resource id", i, id)
			}
		}
		var err error
		if e.PublicIP, err = tuple.ParseAddr(j.PublicIP); err != nil {
			return nil, fmt.Errorf("EGRESS_ADDRESSES[%d].public_ip: %w", i, err)
		}
		if j.PrivateIP != "" {
			if e.PrivateIP, err = tuple.ParseAddr(j.PrivateIP); err != nil {
				return nil, fmt.Errorf("EGRESS_ADDRESSES[%d].private_ip: %w", i, err)
			}
			if e.scope() == "" {
				return nil, fmt.Errorf("EGRESS_ADDRESSES[%d]: a private_ip needs vpc_id (nat) or id (alb, clb)", i)
			}
		}
		out[e.PublicIP] = append(out[e.PublicIP], e)
	}
	return out, nil
}

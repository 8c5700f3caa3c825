package openapiemu

import (
	"maps"
	"slices"
	"strings"
)

// AddAccount registers an access key of account id. A key with a
// SecurityToken stands for STS credentials (such as FC's invocation triple):
// the token must then accompany every call. An account may have many keys.
func (s *Server) AddAccount(id string, ak Credentials) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[ak.AccessKeyID] = &accessKey{account: id, secret: ak.AccessKeySecret, token: ak.SecurityToken, expires: ak.Expiration}
}

// role is a RAM role that AssumeRole can enter.
type role struct {
	arn     string
	account string
	trusted map[string]bool // accounts allowed to assume it
	linked  bool            // a service-linked role
	id      string          // RoleId
}

// AddRole creates roleARN (acs:ram::<uid>:role/<name>) in accountID.
// AssumeRole into it succeeds for callers of accountID itself and of the
// trusted accounts, and returns fresh STS credentials acting in accountID.
func (s *Server) AddRole(accountID, roleARN string, trustedAccounts ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := &role{arn: roleARN, account: accountID, trusted: map[string]bool{accountID: true}, id: randString("0123456789", 18)}
	for _, a := range trustedAccounts {
		r.trusted[a] = true
	}
	s.roles[strings.ToLower(roleARN)] = r
}

// AddNATGateway stores g (replacing one with the same ID) and returns its ID,
// generated when empty.
func (s *Server) AddNATGateway(account, region string, g NATGateway) string {
	if g.ID == "" {
		g.ID = newID("ngw-")
	}
	g.IPs = slices.Clone(g.IPs)
	g.Tags = maps.Clone(g.Tags)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nats[resKey{account, region, g.ID}] = &g
	return g.ID
}

// AddALB stores a (replacing one with the same ID) and returns its ID.
func (s *Server) AddALB(account, region string, a ALB) string {
	if a.ID == "" {
		a.ID = newID("alb-")
	}
	a.Addresses = slices.Clone(a.Addresses)
	a.Tags = maps.Clone(a.Tags)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.albs[resKey{account, region, a.ID}] = &a
	return a.ID
}

// AddCLB stores l (replacing one with the same ID) and returns its ID.
func (s *Server) AddCLB(account, region string, l CLB) string {
	if l.ID == "" {
		l.ID = newID("lb-")
	}
	l.Tags = maps.Clone(l.Tags)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clbs[resKey{account, region, l.ID}] = &l
	return l.ID
}

// AddENI stores eni (replacing one with the same ID) and returns its ID.
func (s *Server) AddENI(account, region string, eni ENI) string {
	if eni.ID == "" {
		eni.ID = newID("eni-")
	}
	eni.SecondaryIPs = slices.Clone(eni.SecondaryIPs)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.enis[resKey{account, region, eni.ID}] = &eni
	return eni.ID
}

// RemoveENI deletes an ENI (its addresses become free); it reports whether
// it existed.
func (s *Server) RemoveENI(account, region, id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := resKey{account, region, id}
	_, ok := s.enis[k]
	delete(s.enis, k)
	return ok
}

// SetTags replaces the tags of the NAT gateway, ALB or CLB resourceID; it
// reports whether the resource exists.
func (s *Server) SetTags(account, region, resourceID string, tags map[string]string) bool {
	k := resKey{account, region, resourceID}
	s.mu.Lock()
	defer s.mu.Unlock()
	if g, ok := s.nats[k]; ok {
		g.Tags = maps.Clone(tags)
		return true
	}
	if a, ok := s.albs[k]; ok {
		a.Tags = maps.Clone(tags)
		return true
	}
	if l, ok := s.clbs[k]; ok {
		l.Tags = maps.Clone(tags)
		return true
	}
	return false
}

// NATGateway returns a copy of a NAT gateway's current state.
func (s *Server) NATGateway(account, region, id string) (NATGateway, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settle()
	g, ok := s.nats[resKey{account, region, id}]
	if !ok {
		return NATGateway{}, false
	}
	cp := *g
	cp.IPs, cp.Tags = slices.Clone(g.IPs), maps.Clone(g.Tags)
	return cp, true
}

// ALB returns a copy of an ALB's current state (LogProject, LogStore).
func (s *Server) ALB(account, region, id string) (ALB, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settle()
	a, ok := s.albs[resKey{account, region, id}]
	if !ok {
		return ALB{}, false
	}
	cp := *a
	cp.Addresses, cp.Tags = slices.Clone(a.Addresses), maps.Clone(a.Tags)
	return cp, true
}

// CLB returns a copy of a CLB's current state (LogProject, LogStore).
func (s *Server) CLB(account, region, id string) (CLB, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settle()
	l, ok := s.clbs[resKey{account, region, id}]
	if !ok {
		return CLB{}, false
	}
	cp := *l
	cp.Tags = maps.Clone(l.Tags)
	return cp, true
}

// Calls returns the calls so far, oldest first: every call, or those of
// the actions named.
func (s *Server) Calls(actions ...string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Call, 0, len(s.calls))
	for _, c := range s.calls {
		if len(actions) > 0 && !slices.Contains(actions, c.Action) {
			continue
		}
		c.Params = maps.Clone(c.Params)
		out = append(out, c)
	}
	return out
}

// ResetCalls forgets the call log (between phases of a test).
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = nil
}

package openapiemu

import (
	"strings"
)

// RAM (2015-05-01): what onboard needs to find and create the log-delivery
// roles of an account. Roles live in s.roles (AddRole, AssumeRole), keyed
// by their lower-case ARN, as RAM lower-cases role names in ARNs.

// serviceLinkedRoles maps the service names CreateServiceLinkedRole knows
// to the role each creates (RAM's system policy pages for these roles name
// both; other services answer an error here).
var serviceLinkedRoles = map[string]string{
	"logdelivery.alb.aliyuncs.com": "AliyunServiceRoleForAlbLogDelivery",
	"logdelivery.slb.aliyuncs.com": "AliyunServiceRoleForSlbLogDelivery",
}

func roleARN(account, name string) string {
	return "acs:ram::" + account + ":role/" + strings.ToLower(name)
}

// HasRole reports whether account has a role called name.
func (s *Server) HasRole(account, name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.roles[roleARN(account, name)]
	return ok
}

// RemoveRoleNamed deletes a role of account by name (tests of a missing
// role).
func (s *Server) RemoveRoleNamed(account, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.roles, roleARN(account, name))
}

func roleAnswer(r *role, name string, linked bool) map[string]any {
	return map[string]any{"Role": map[string]any{
		"RoleName": name, "Arn": r.arn, "RoleId": r.id, "IsServiceLinkedRole": linked,
		"CreateDate": "2025-01-01T00:00:00Z",
	}}
}

func (s *Server) getRole(c *call) (map[string]any, *apiError) {
	name := c.p["RoleName"]
	if name == "" {
		return nil, missing("RoleName")
	}
	r, ok := s.roles[roleARN(c.account, name)]
	if !ok {
		return nil, errorf(404, "EntityNotExist.Role", "The role not exists: "+name+".")
	}
	return roleAnswer(r, name, r.linked), nil
}

func (s *Server) createServiceLinkedRole(c *call) (map[string]any, *apiError) {
	svc := c.p["ServiceName"]
	if svc == "" {
		return nil, missing("ServiceName")
	}
	name, ok := serviceLinkedRoles[svc]
	if !ok {
		// The service's exact code for an unknown service is UNVERIFIED.
		return nil, invalid("ServiceName", "no service-linked role for "+svc)
	}
	arn := roleARN(c.account, name)
	if _, dup := s.roles[arn]; dup {
		return nil, errorf(409, "EntityAlreadyExists.Role", "The role already exists: "+name+".")
	}
	// Trusted by the service only: no account may assume it.
	r := &role{arn: arn, account: c.account, trusted: map[string]bool{}, linked: true, id: randString("0123456789", 18)}
	s.roles[arn] = r
	return roleAnswer(r, name, true), nil
}

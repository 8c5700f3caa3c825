package openapiemu

import (
	"fmt"
	"strings"
	"time"
)

// What other emulators (the SLS emulator's ETL jobs) need of RAM and STS:
// whether a role exists, and its credentials as a cloud service acting for
// an account would obtain them.

// RoleAccount reports the account roleARN belongs to; ok is false when no
// such role exists.
func (s *Server) RoleAccount(roleARN string) (account string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.roles[strings.ToLower(roleARN)]
	if !ok {
		return "", false
	}
	return r.account, true
}

// RemoveRole deletes a role (tests of a missing role).
func (s *Server) RemoveRole(roleARN string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.roles, strings.ToLower(roleARN))
}

// AssumeRoleFor assumes roleARN for a caller of account caller, with
// AssumeRole's rules: the role must exist and trust caller's account. The
// credentials are registered like any AssumeRole answer's.
func (s *Server) AssumeRoleFor(caller, roleARN string, d time.Duration) (Credentials, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.roles[strings.ToLower(roleARN)]
	if !ok {
		return Credentials{}, fmt.Errorf("EntityNotExist.Role: the specified role does not exist: %s", roleARN)
	}
	if !r.trusted[caller] {
		return Credentials{}, fmt.Errorf("NoPermission: role %s does not trust account %s", roleARN, caller)
	}
	exp := s.now().Add(d).UTC().Truncate(time.Second)
	id := "STS.NT" + randString(alnum, 26)
	c := Credentials{AccessKeyID: id, AccessKeySecret: randString(alnum, 44), SecurityToken: "CAIS" + randString(alnum, 200), Expiration: exp}
	s.keys[id] = &accessKey{account: r.account, secret: c.AccessKeySecret, token: c.SecurityToken, expires: exp}
	return c, nil
}

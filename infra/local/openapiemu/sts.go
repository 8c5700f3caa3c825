package openapiemu

import (
	"regexp"
	"strings"
	"time"
)

var sessionNameRE = regexp.MustCompile(`^[\w.@-]{2,64}$`)

func (s *Server) assumeRole(c *call) (map[string]any, *apiError) {
	arn := c.p["RoleArn"]
	if arn == "" {
		return nil, missing("RoleArn")
	}
	name := c.p["RoleSessionName"]
	if name == "" {
		return nil, missing("RoleSessionName")
	}
	if !sessionNameRE.MatchString(name) {
		return nil, invalid("RoleSessionName", "2 to 64 characters of letters, digits, '.', '@', '-' and '_'")
	}
	secs, e := c.p.intIn("DurationSeconds", 3600, 900, 3600)
	if e != nil {
		return nil, e
	}
	r, ok := s.roles[strings.ToLower(arn)]
	if !ok {
		return nil, errorf(404, "EntityNotExist.Role", "The specified Role not exists: "+arn)
	}
	if !r.trusted[c.account] {
		return nil, errorf(403, "NoPermission", "You are not authorized to do this action. You should be authorized by RAM.")
	}
	exp := s.now().Add(time.Duration(secs) * time.Second).UTC().Truncate(time.Second)
	id := "STS.NT" + randString(alnum, 26)
	secret := randString(alnum, 44)
	token := "CAIS" + randString(alnum, 200)
	s.keys[id] = &accessKey{account: r.account, secret: secret, token: token, expires: exp}
	roleID := randString("0123456789", 18)
	return map[string]any{
		"Credentials": map[string]any{
			"AccessKeyId": id, "AccessKeySecret": secret, "SecurityToken": token,
			"Expiration": exp.Format("2006-01-02T15:04:05Z"),
		},
		"AssumedRoleUser": map[string]any{
			"Arn":           r.arn + "/" + name,
			"AssumedRoleId": roleID + ":" + name,
		},
	}, nil
}

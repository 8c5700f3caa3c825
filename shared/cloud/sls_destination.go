package cloud

import (
	"fmt"
	"strings"
)

// SLSTarget is an SLS logstore as NAT session-log delivery names it.
type SLSTarget struct {
	Region, AccountID, Project, Logstore string
}

// String formats the ARN-like destination that ModifyNatGatewayAttribute
// expects: acs:log:<region>:<uid>:project/<p>/logstore/<ls>.
func (t SLSTarget) String() string {
	return fmt.Sprintf("acs:log:%s:%s:project/%s/logstore/%s", t.Region, t.AccountID, t.Project, t.Logstore)
}

// SLSDestination is SLSTarget{...}.String().
func SLSDestination(region, accountID, project, logstore string) string {
	return SLSTarget{region, accountID, project, logstore}.String()
}

// ParseSLSDestination parses a destination made by SLSDestination (or
// reported by GetNatGatewayAttribute), so that onboarding can tell whether a
// gateway already logs where it should.
func ParseSLSDestination(s string) (SLSTarget, bool) {
	parts := strings.SplitN(s, ":", 5)
	if len(parts) != 5 || parts[0] != "acs" || parts[1] != "log" {
		return SLSTarget{}, false
	}
	res := strings.Split(parts[4], "/")
	if len(res) != 4 || res[0] != "project" || res[2] != "logstore" {
		return SLSTarget{}, false
	}
	t := SLSTarget{Region: parts[2], AccountID: parts[3], Project: res[1], Logstore: res[3]}
	if t.Region == "" || t.AccountID == "" || t.Project == "" || t.Logstore == "" {
		return SLSTarget{}, false
	}
	return t, true
}

package natlog

import (
	"testing"

	"github.com/ndrtrace/ndrtrace/shared/mapping"
)

// Records shipped from a member account or another region carry the
// source's account_id and region; records without them leave both empty.
func TestParseSourceFields(t *testing.T) {
	cases := []struct {
		name            string
		over            map[string]string
		account, region string
		reject          mapping.Reject
	}{
		{"native record", nil, "", "", ""},
		{"shipped", map[string]string{"account_id": "2000000000000002", "region": "cn-shanghai"}, "2000000000000002", "cn-shanghai", ""},
		{"region only", map[string]string{"region": "cn-beijing"}, "", "cn-beijing", ""},
		{"bad account", map[string]string{"account_id": "20000x"}, "", "", mapping.BadAccountID},
		{"bad region", map[string]string{"region": "cn shanghai"}, "", "", mapping.BadRegion},
	}
	for _, c := range cases {
		m, r := Parse(record(c.over), "", 1738767300)
		if r != c.reject {
			t.Errorf("%s: reject %q, want %q", c.name, r, c.reject)
			continue
		}
		if r == "" && (m.Account != c.account || m.Region != c.region) {
			t.Errorf("%s: account %q region %q, want %q %q", c.name, m.Account, m.Region, c.account, c.region)
		}
	}
}

package lblog

import (
	"testing"

	"github.com/ndrtrace/ndrtrace/shared/mapping"
)

func TestParseSourceFields(t *testing.T) {
	for _, base := range [][]mapping.Field{albBase, clbBase} {
		m, r := Parse(record(base, map[string]string{"account_id": "2000000000000002", "region": "cn-shanghai"}), "", 1738767300)
		if r != "" || m.Account != "2000000000000002" || m.Region != "cn-shanghai" {
			t.Errorf("shipped %s record: account %q region %q reject %q", m.Kind, m.Account, m.Region, r)
		}
		if m, r := Parse(record(base, nil), "", 1738767300); r != "" || m.Account != "" || m.Region != "" {
			t.Errorf("native %s record: account %q region %q reject %q", m.Kind, m.Account, m.Region, r)
		}
		if _, r := Parse(record(base, map[string]string{"account_id": "acct"}), "", 1738767300); r != mapping.BadAccountID {
			t.Errorf("bad account_id: reject %q", r)
		}
	}
}

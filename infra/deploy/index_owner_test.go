package deploy

import (
	"slices"
	"testing"

	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// TestIndexOwnership: the NAT, ALB and CLB logstores' indexes belong to
// onboard (shared/onboard IndexKeys), which prepares them in every account
// and region; Terraform indexes only what onboard never touches, so that
// neither resets the other's index.
func TestIndexOwnership(t *testing.T) {
	main := loadModule(t, moduleRoot(t), tfRoot)
	obj, ok := main.local("indexes").(*hclsyntax.ObjectConsExpr)
	if !ok {
		t.Fatal("infra/terraform: local.indexes must be an object literal {logstore key = fields}")
	}
	var keys []string
	for _, it := range obj.Items {
		k, ok := objectKey(it.KeyExpr)
		if !ok {
			t.Fatalf("%s: literal keys only", it.KeyExpr.Range())
		}
		keys = append(keys, k)
	}
	for _, owned := range []string{"nat", "alb", "clb"} {
		if slices.Contains(keys, owned) {
			t.Errorf("infra/terraform indexes the %s logstore, whose index onboard owns", owned)
		}
	}
	if len(main.blocksOf("resource", "alicloud_log_store_index")) != 1 {
		t.Error("infra/terraform: one alicloud_log_store_index (for_each local.indexes), so that the check above sees them all")
	}
}

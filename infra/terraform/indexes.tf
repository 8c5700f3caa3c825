# Field indexes with analytics (doc_value) on the fields queried.
#
# One owner per index. The NAT, ALB and CLB logstores' indexes belong to
# onboard (shared/onboard/sls.go, IndexKeys): it prepares those logstores in
# every account and region, member accounts included, which Terraform never
# reaches, and it merges its fields into whatever index is there. Terraform
# creating them too made every apply reset what onboard set. So Terraform
# indexes only the results logstore; infra/deploy's TestIndexOwnership
# checks that it leaves the other three alone. After a first apply, run
# onboard once (it runs on its timer) before querying the session logs.

locals {
  sls_token = ", '\";=()[]{}?@&<>/:\n\t\r"

  result_fields = {
    alert_id     = "text"
    status       = "text"
    reason       = "text"
    waited_ms    = "long"
    egress_type  = "text"
    egress_id    = "text"
    public_ip    = "text"
    public_port  = "long"
    private_ip   = "text"
    private_port = "long"
    vpc_id       = "text"
    instance_id  = "text"
    eni_id       = "text"
    account_id   = "text"
    region       = "text"
    candidates   = "text"
    alert        = "text"
    # late resolution (DESIGN.md, Results logstore)
    pending_until = "text"
    late          = "text"
    resolved_at   = "text"
    supersedes    = "text"
  }

  indexes = {
    results = local.result_fields
  }
}

resource "alicloud_log_store_index" "this" {
  for_each = local.indexes
  project  = alicloud_log_project.this.project_name
  logstore = alicloud_log_store.this[each.key].logstore_name

  full_text {
    case_sensitive = false
    token          = local.sls_token
  }

  dynamic "field_search" {
    for_each = each.value
    content {
      name             = field_search.key
      type             = field_search.value
      enable_analytics = true
      token            = field_search.value == "text" ? local.sls_token : null
    }
  }
}

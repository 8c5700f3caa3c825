# Field indexes with analytics (doc_value) on the fields the traces and the
# investigations query. NAT session logs: the console does not create the
# index when delivery is switched on; ALB/CLB get one here so that a
# logstore created before onboarding is ready too.

locals {
  sls_token = ", '\";=()[]{}?@&<>/:\n\t\r"

  nat_fields = {
    instance       = "text"
    intstance      = "text" # spelling of an older documentation version
    vpc_id         = "text"
    protocol       = "long"
    portocol       = "long" # idem
    pri_ip         = "text"
    pri_port       = "long"
    nat_ip         = "text"
    nat_port       = "long"
    pub_ip         = "text"
    pub_port       = "long"
    bytes_from_vpc = "long"
    bytes_from_pub = "long"
    pkts_from_vpc  = "long"
    pkts_from_pub  = "long"
    # Format not documented (Unix seconds or a date): text keeps any value
    # searchable; SQL casts it.
    start_time = "text"
    end_time   = "text"
    # Added by data transformation to member accounts' records; the
    # investigate function groups hosts by them.
    account_id = "text"
    region     = "text"
  }

  lb_fields = {
    app_lb_id              = "text" # ALB
    slbid                  = "text" # CLB
    client_ip              = "text"
    client_port            = "long"
    vip_addr               = "text"
    slb_vport              = "long"
    upstream_addr          = "text" # ip:port, possibly a comma list or "-"
    upstream_status        = "text"
    upstream_response_time = "text"
    status                 = "long"
    time                   = "text"
    request_time           = "double"
    host                   = "text"
    request_method         = "text"
    request_uri            = "text"
    http_x_forwarded_for   = "text"
  }

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
  }

  indexes = {
    nat     = local.nat_fields
    alb     = local.lb_fields
    clb     = local.lb_fields
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

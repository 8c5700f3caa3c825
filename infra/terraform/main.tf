# ndrtrace's cloud side: the SLS project that receives NAT session logs and
# ALB/CLB access logs (and the trace results), Redis in a VPC for the
# functions, and the RAM roles the functions and triggers run with. The
# functions themselves are deployed by Serverless Devs (s.yaml), fed by the
# outputs of this module (terraform output -raw dotenv > ../../.env).

locals {
  account_id  = data.alicloud_account.current.id
  log_project = var.log_project != "" ? var.log_project : "ndr-logs-${local.account_id}-${var.region}"
  # Intranet endpoint: the functions reach SLS from the VPC.
  sls_endpoint = "${var.region}-intranet.log.aliyuncs.com"

  # The functions of functions/ (FC function name: <name>-<key>).
  functions = ["nat-ingest", "lb-ingest", "trace", "onboard", "investigate"]

  # Logstores that SLS triggers read, and the function each one feeds.
  source_logstores = {
    nat = { logstore = var.logstores.nat, function = "nat-ingest" }
    alb = { logstore = var.logstores.alb, function = "lb-ingest" }
    clb = { logstore = var.logstores.clb, function = "lb-ingest" }
  }

  logstores = {
    nat      = { name = var.logstores.nat, retention = var.log_retention_days }
    alb      = { name = var.logstores.alb, retention = var.log_retention_days }
    clb      = { name = var.logstores.clb, retention = var.log_retention_days }
    results  = { name = var.logstores.results, retention = var.results_retention_days }
    function = { name = var.logstores.function, retention = var.ops_retention_days }
    trigger  = { name = var.logstores.trigger, retention = var.ops_retention_days }
  }

  # acs:log resource of a logstore of the project.
  logstore_arn = { for k, v in local.logstores : k => "acs:log:${var.region}:${local.account_id}:project/${local.log_project}/logstore/${v.name}" }
}

# --- network: the functions' ENIs and Redis share one vSwitch ---

resource "alicloud_vpc" "this" {
  vpc_name   = var.name
  cidr_block = var.vpc_cidr
  tags       = var.tags
}

resource "alicloud_vswitch" "this" {
  vswitch_name = var.name
  vpc_id       = alicloud_vpc.this.id
  cidr_block   = var.vswitch_cidr
  zone_id      = var.zone_id
  tags         = var.tags
}

# The functions' security group. FC 3.0 attaches the functions' ENIs to it;
# nothing connects to them, so it has no ingress rule. Egress is the default
# (all), to Redis and the SLS intranet endpoint.
resource "alicloud_security_group" "this" {
  security_group_name = var.name
  vpc_id              = alicloud_vpc.this.id
  description         = "ndrtrace functions (FC 3.0 ENIs)"
  tags                = var.tags
}

# --- Redis (Tair): mappings and inventory; disposable, rebuilt from logs ---

resource "alicloud_kvstore_instance" "this" {
  db_instance_name = var.name
  instance_type    = "Redis"
  engine_version   = var.redis_engine_version
  instance_class   = var.redis_instance_class
  payment_type     = "PostPaid"
  zone_id          = var.zone_id
  vswitch_id       = alicloud_vswitch.this.id
  password         = var.redis_password # the default (administrator) account
  vpc_auth_mode    = "Open"             # a password is required
  # TLS only: the functions connect with rediss:// and check the instance's
  # certificate against REDIS_CA_CERT (the instance's CA, from the console).
  ssl_enable = "Enable"
  # Only the functions' vSwitch may connect.
  security_ips = [var.vswitch_cidr]
  config = {
    # Full memory must fail writes, never drop mappings: every ndrtrace key
    # has a TTL, so any evicting policy (volatile-ttl included) silently
    # loses acknowledged mappings, bucket counts and egress metadata. With
    # noeviction ingest gets an OOM error and the trigger retries; expired
    # keys still free memory. See README, Operating notes (make load).
    maxmemory-policy = "noeviction"
    appendonly       = "no"
  }
  tags = var.tags
}

# The functions' own account: read and write, no administration. Tair
# accounts cannot be narrowed to commands and key patterns; a self-managed
# Redis gets the ACL of config.RedisACL (README, Redis).
resource "alicloud_kvstore_account" "ndrtrace" {
  instance_id       = alicloud_kvstore_instance.this.id
  account_name      = "ndrtrace"
  account_password  = var.redis_user_password
  account_privilege = "RoleReadWrite"
  account_type      = "Normal"
  description       = "ndrtrace functions"
}

# --- SLS: the evidence (NAT and LB logs), the results, the functions' logs ---

resource "alicloud_log_project" "this" {
  project_name = local.log_project
  description  = "ndrtrace: NAT session logs, ALB/CLB access logs, trace results"
  tags         = var.tags
}

resource "alicloud_log_store" "this" {
  for_each              = local.logstores
  project_name          = alicloud_log_project.this.project_name
  logstore_name         = each.value.name
  retention_period      = each.value.retention
  shard_count           = var.shard_count
  auto_split            = true
  max_split_shard_count = var.max_split_shard_count
  append_meta           = true
}

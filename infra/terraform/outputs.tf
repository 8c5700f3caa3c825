# What s.yaml needs. `terraform output -raw dotenv > ../../.env` writes it
# where Serverless Devs reads it (s loads .env beside s.yaml); .env is in
# .gitignore and holds the Redis password: keep it out of git.

locals {
  trigger_role_arn = local.create_trigger_role ? alicloud_ram_role.sls_trigger[0].arn : var.sls_trigger_role_arn
  # ONBOARD_ACCOUNTS (shared/onboard): this account logs into the project
  # and logstores above; each member account into a project onboard
  # prepares there (ndr-logs-<account>-<region>, onboard's default).
  onboard_accounts = jsonencode(concat([{
    account_id   = local.account_id
    regions      = [var.region]
    project      = local.log_project
    nat_logstore = var.logstores.nat
    alb_logstore = var.logstores.alb
    clb_logstore = var.logstores.clb
    }], [for id in var.member_account_ids : {
    account_id = id
    role_arn   = "acs:ram::${id}:role/${var.member_role_name}"
    regions    = length(var.member_regions) > 0 ? var.member_regions : [var.region]
  }]))
  # TLS (ssl_enable) and the functions' own account.
  redis_url = "rediss://${alicloud_kvstore_account.ndrtrace.account_name}:${urlencode(var.redis_user_password)}@${alicloud_kvstore_instance.this.connection_domain}:6379/0"

  s_env = merge({
    REGION                     = var.region
    NDRTRACE_NAME              = var.name
    NDRTRACE_ACCOUNT_ID        = local.account_id
    NDRTRACE_VPC_ID            = alicloud_vpc.this.id
    NDRTRACE_VSWITCH_ID        = alicloud_vswitch.this.id
    NDRTRACE_SECURITY_GROUP_ID = alicloud_security_group.this.id
    NDRTRACE_LOG_PROJECT       = alicloud_log_project.this.project_name
    NDRTRACE_SLS_ENDPOINT      = local.sls_endpoint
    NDRTRACE_NAT_LOGSTORE      = alicloud_log_store.this["nat"].logstore_name
    NDRTRACE_ALB_LOGSTORE      = alicloud_log_store.this["alb"].logstore_name
    NDRTRACE_CLB_LOGSTORE      = alicloud_log_store.this["clb"].logstore_name
    NDRTRACE_RESULTS_LOGSTORE  = alicloud_log_store.this["results"].logstore_name
    NDRTRACE_FUNCTION_LOGSTORE = alicloud_log_store.this["function"].logstore_name
    NDRTRACE_TRIGGER_LOGSTORE  = alicloud_log_store.this["trigger"].logstore_name
    NDRTRACE_TRIGGER_ROLE_ARN  = local.trigger_role_arn
    ONBOARD_RETENTION_DAYS     = tostring(var.log_retention_days)
    ONBOARD_ACCOUNTS           = local.onboard_accounts
    ONBOARD_ETL_SINK_ROLE_ARN  = alicloud_ram_role.etl_sink.arn
    REDIS_URL                  = local.redis_url
    }, {
    for f in local.functions : "NDRTRACE_ROLE_${upper(replace(f, "-", "_"))}" => alicloud_ram_role.function[f].arn
  })
}

output "account_id" {
  description = "The account the functions run in."
  value       = local.account_id
}

output "vpc_id" {
  description = "VPC of the functions and Redis (s.yaml vpcConfig.vpcId)."
  value       = alicloud_vpc.this.id
}

output "vswitch_id" {
  description = "vSwitch of the functions' ENIs and Redis (s.yaml vpcConfig.vSwitchIds)."
  value       = alicloud_vswitch.this.id
}

output "security_group_id" {
  description = "Security group of the functions' ENIs (s.yaml vpcConfig.securityGroupId)."
  value       = alicloud_security_group.this.id
}

output "log_project" {
  description = "The SLS project (s.yaml sourceArn and logConfig)."
  value       = alicloud_log_project.this.project_name
}

output "sls_endpoint" {
  description = "Intranet SLS endpoint (RESULTS_ENDPOINT)."
  value       = local.sls_endpoint
}

output "logstores" {
  description = "Logstore names by role."
  value       = { for k, v in alicloud_log_store.this : k => v.logstore_name }
}

output "function_role_arns" {
  description = "Role ARN of each function (s.yaml role)."
  value       = { for k, v in alicloud_ram_role.function : k => v.arn }
}

output "sls_trigger_role_arn" {
  description = "Role the SLS triggers run with (s.yaml invocationRole)."
  value       = local.trigger_role_arn
}

output "redis_connection_domain" {
  description = "Intranet address of Redis (port 6379)."
  value       = alicloud_kvstore_instance.this.connection_domain
}

output "redis_url" {
  description = "REDIS_URL for the functions, password included."
  value       = local.redis_url
  sensitive   = true
}

output "dotenv" {
  description = "KEY=value lines for .env beside s.yaml (contains REDIS_URL with the password)."
  # Single quotes: dotenv takes the JSON of ONBOARD_ACCOUNTS verbatim.
  value     = join("", [for k in sort(keys(local.s_env)) : "${k}='${local.s_env[k]}'\n"])
  sensitive = true
}

variable "region" {
  description = "Region of everything: the SLS project, Redis, the VPC and the functions (NAT gateways and load balancers deliver logs only to a project in their own region)."
  type        = string
  default     = "cn-hangzhou"
}

variable "name" {
  description = "Prefix of every resource name (RAM roles and policies, VPC, Redis, FC function names)."
  type        = string
  default     = "ndrtrace"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.name))
    error_message = "name: lower-case letters, digits and hyphens, starting with a letter, at most 31 characters."
  }
}

variable "zone_id" {
  description = "Zone of the vSwitch and of Redis. It must offer both Tair (Redis) and FC 3.0 VPC access, e.g. cn-hangzhou-h."
  type        = string
}

variable "vpc_cidr" {
  description = "CIDR block of the VPC created for the functions and Redis."
  type        = string
  default     = "10.60.0.0/16"
}

variable "vswitch_cidr" {
  description = "CIDR block of the vSwitch the functions' ENIs and Redis live in; also Redis's IP whitelist."
  type        = string
  default     = "10.60.1.0/24"
}

variable "log_project" {
  description = "Name of the SLS project (globally unique per region). Empty: ndr-logs-<account id>-<region>, the name onboard uses by default."
  type        = string
  default     = ""
}

variable "logstores" {
  description = "Logstore names: NAT session logs, ALB and CLB access logs, trace results, the functions' own logs and the SLS triggers' logs."
  type = object({
    nat      = string
    alb      = string
    clb      = string
    results  = string
    function = string
    trigger  = string
  })
  default = {
    nat      = "nat-sessions"
    alb      = "alb-access"
    clb      = "clb-access"
    results  = "trace-results"
    function = "fc-functions"
    trigger  = "fc-triggers"
  }
}

variable "log_retention_days" {
  description = "Retention of the NAT session and ALB/CLB access logstores, in days (1-3650; 3650 keeps data forever). They are the evidence behind every trace."
  type        = number
  default     = 180
  validation {
    condition     = var.log_retention_days >= 1 && var.log_retention_days <= 3650
    error_message = "log_retention_days must be within 1..3650."
  }
}

variable "results_retention_days" {
  description = "Retention of the trace results logstore, in days (1-3650)."
  type        = number
  default     = 365
  validation {
    condition     = var.results_retention_days >= 1 && var.results_retention_days <= 3650
    error_message = "results_retention_days must be within 1..3650."
  }
}

variable "ops_retention_days" {
  description = "Retention of the functions' and triggers' own logs, in days (1-3650)."
  type        = number
  default     = 30
}

variable "shard_count" {
  description = "Initial shards per log logstore; SLS splits them automatically up to max_split_shard_count."
  type        = number
  default     = 2
}

variable "max_split_shard_count" {
  description = "Upper bound of automatic shard splitting per logstore (1-256)."
  type        = number
  default     = 32
}

variable "redis_instance_class" {
  description = "Tair (Redis OSS-compatible) instance class; size it for MAPPING_TTL times the mapping rate (see the Tair instance type table)."
  type        = string
  default     = "redis.shard.small.2.ce"
}

variable "redis_engine_version" {
  description = "Redis engine version of the Tair instance."
  type        = string
  default     = "7.0"
}

variable "redis_password" {
  description = "Password of the Redis instance's default (administrator) account, which the functions do not use (8-32 characters, three of: upper case, lower case, digits, !@#$%^&*()_+-=). Pass it with TF_VAR_redis_password; never write it in a file."
  type        = string
  sensitive   = true
  validation {
    condition     = length(var.redis_password) >= 8 && length(var.redis_password) <= 32
    error_message = "redis_password must be 8 to 32 characters long."
  }
}

variable "redis_user_password" {
  description = "Password of the functions' Redis account, ndrtrace (8-32 characters, three of: upper case, lower case, digits, !@#$%^&*()_+-=). Pass it with TF_VAR_redis_user_password; never write it in a file. It goes into REDIS_URL."
  type        = string
  sensitive   = true
  validation {
    condition     = length(var.redis_user_password) >= 8 && length(var.redis_user_password) <= 32
    error_message = "redis_user_password must be 8 to 32 characters long."
  }
}

variable "member_account_ids" {
  description = "Member accounts that onboard reaches with sts:AssumeRole; each applies infra/terraform/member-role first. Empty: onboard works in this account only."
  type        = list(string)
  default     = []
}

variable "member_regions" {
  description = "Regions onboard covers in the member accounts. Empty: region."
  type        = list(string)
  default     = []
}

variable "member_role_name" {
  description = "Name of the role every member account creates with infra/terraform/member-role (its role_name)."
  type        = string
  default     = "ndrtrace-member"
}

variable "sls_trigger_role_arn" {
  description = "An existing role for the SLS triggers to run with (e.g. acs:ram::<uid>:role/aliyunlogetlrole). Empty: a least-privilege role is created."
  type        = string
  default     = ""
}

variable "tags" {
  description = "Tags put on the SLS project, the VPC, the vSwitch, the security group and Redis."
  type        = map(string)
  default     = {}
}

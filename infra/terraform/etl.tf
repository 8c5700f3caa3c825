# The role the ETL jobs of member accounts (and of this account's other
# regions) write the central logstores with. onboard creates one job per
# source project and kind of log (shared/onboard/etl.go); each job runs in
# the source account and assumes this role to write here. It trusts exactly
# those accounts (SLS acting for them: "<uid>@log.aliyuncs.com") and may only
# append to the NAT, ALB and CLB logstores. infra/deploy's TestRAMPolicies
# checks both.

resource "alicloud_ram_role" "etl_sink" {
  role_name = "${var.name}-etl-sink"
  assume_role_policy_document = jsonencode({
    Version = "1"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = [for id in concat([local.account_id], var.member_account_ids) : "${id}@log.aliyuncs.com"] }
    }]
  })
  description          = "ndrtrace: ETL jobs of member accounts and other regions write the central logstores"
  max_session_duration = 3600
}

resource "alicloud_ram_policy" "etl_sink" {
  policy_name = "${var.name}-etl-sink"
  description = "ndrtrace: append shipped logs to the central NAT, ALB and CLB logstores"
  policy_document = jsonencode({
    Version = "1"
    Statement = [{
      Effect   = "Allow"
      Action   = ["log:PostLogStoreLogs"]
      Resource = [local.logstore_arn.nat, local.logstore_arn.alb, local.logstore_arn.clb]
    }]
  })
}

resource "alicloud_ram_role_policy_attachment" "etl_sink" {
  role_name   = alicloud_ram_role.etl_sink.id
  policy_name = alicloud_ram_policy.etl_sink.policy_name
  policy_type = "Custom"
}

# This account's other regions (ONBOARD_ACCOUNTS regions besides var.region)
# are shipped like member accounts: their jobs read with this role.
resource "alicloud_ram_role" "etl_reader" {
  role_name = "${var.name}-etl-reader"
  assume_role_policy_document = jsonencode({
    Version = "1"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = ["log.aliyuncs.com"] }
    }]
  })
  description          = "ndrtrace: ETL jobs read this account's NAT, ALB and CLB logstores of other regions"
  max_session_duration = 3600
}

resource "alicloud_ram_policy" "etl_reader" {
  policy_name = "${var.name}-etl-reader"
  description = "ndrtrace: ETL jobs consume the onboarded logstores of this account's other regions"
  policy_document = jsonencode({
    Version = "1"
    Statement = [{
      Effect = "Allow"
      Action = [
        "log:ListShards",
        "log:GetCursorOrData",
        "log:CreateConsumerGroup",
        "log:UpdateConsumerGroup",
        "log:ListConsumerGroup",
        "log:ConsumerGroupUpdateCheckPoint",
        "log:ConsumerGroupHeartBeat",
        "log:GetConsumerGroupCheckPoint",
      ]
      Resource = [
        "acs:log:*:${local.account_id}:project/ndr-logs-*/logstore/*",
        "acs:log:*:${local.account_id}:project/ndr-logs-*/logstore/*/*",
      ]
    }]
  })
}

resource "alicloud_ram_role_policy_attachment" "etl_reader" {
  role_name   = alicloud_ram_role.etl_reader.id
  policy_name = alicloud_ram_policy.etl_reader.policy_name
  policy_type = "Custom"
}

# The role the ETL jobs onboard creates in this account read its NAT, ALB
# and CLB logstores with (a consumer of each), to ship them into the central
# account's logstores (which they write with the central etl-sink role).
# onboard names it acs:ram::<this account>:role/ndrtrace-etl-reader unless
# ONBOARD_ACCOUNTS gives etl_role_arn.

resource "alicloud_ram_role" "etl_reader" {
  role_name = var.etl_reader_role_name
  assume_role_policy_document = jsonencode({
    Version = "1"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = ["log.aliyuncs.com"] }
    }]
  })
  description          = "ndrtrace: ETL jobs read the NAT, ALB and CLB logstores to ship them to account ${var.central_account_id}"
  max_session_duration = 3600
}

resource "alicloud_ram_policy" "etl_reader" {
  policy_name = var.etl_reader_role_name
  description = "ndrtrace: ETL jobs consume the onboarded logstores"
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
        "acs:log:*:*:project/${var.log_project_prefix}*/logstore/*",
        "acs:log:*:*:project/${var.log_project_prefix}*/logstore/*/*",
      ]
    }]
  })
}

resource "alicloud_ram_role_policy_attachment" "etl_reader" {
  role_name   = alicloud_ram_role.etl_reader.id
  policy_name = alicloud_ram_policy.etl_reader.policy_name
  policy_type = "Custom"
}

# RAM: one role per function, each with exactly the actions its code can
# call. infra/deploy's TestRAMPolicies derives those actions from the Go
# sources (the SDK calls each function binary can reach) and fails when a
# statement below lacks one or grants one the code never calls. Keep the
# Action lists literal so that the check can read them.

locals {
  function_policies = {
    "nat-ingest" = [
      {
        # PullLogs over the trigger's cursor range.
        Effect   = "Allow"
        Action   = ["log:GetCursorOrData"]
        Resource = [local.logstore_arn.nat]
      },
      {
        # PutLogs of the late results its records resolve.
        Effect   = "Allow"
        Action   = ["log:PostLogStoreLogs"]
        Resource = [local.logstore_arn.results]
      },
    ]

    "lb-ingest" = [
      {
        Effect   = "Allow"
        Action   = ["log:GetCursorOrData"]
        Resource = [local.logstore_arn.alb, local.logstore_arn.clb]
      },
      {
        Effect   = "Allow"
        Action   = ["log:PostLogStoreLogs"]
        Resource = [local.logstore_arn.results]
      },
    ]

    "trace" = concat([
      {
        # PutLogs of every result into the results logstore.
        Effect   = "Allow"
        Action   = ["log:PostLogStoreLogs"]
        Resource = [local.logstore_arn.results]
      },
      {
        # Naming the ECS instance behind a private endpoint (its ENI).
        Effect   = "Allow"
        Action   = ["ecs:DescribeNetworkInterfaces"]
        Resource = ["*"]
      },
    ], local.assume_member_roles)

    "investigate" = concat([
      {
        # SLS SQL (GetLogs) on the NAT session logstore.
        Effect   = "Allow"
        Action   = ["log:GetLogStoreLogs"]
        Resource = [local.logstore_arn.nat]
      },
      {
        # Naming the ECS instances behind the top hosts (their ENIs).
        Effect   = "Allow"
        Action   = ["ecs:DescribeNetworkInterfaces"]
        Resource = ["*"]
      },
    ], local.assume_member_roles)

    "onboard" = concat([
      {
        # Inventory and switching logs on, in this account; Describe/List
        # calls do not support resource-level authorisation.
        Effect = "Allow"
        Action = [
          "vpc:DescribeNatGateways",
          "vpc:GetNatGatewayAttribute",
          "vpc:ModifyNatGatewayAttribute",
          "alb:ListLoadBalancers",
          "alb:GetLoadBalancerAttribute",
          "alb:EnableLoadBalancerAccessLog",
          "alb:DisableLoadBalancerAccessLog",
          "alb:ListAsynJobs",
          "slb:DescribeLoadBalancers",
          "slb:DescribeAccessLogsDownloadAttribute",
          "slb:SetAccessLogsDownloadAttribute",
          "slb:DeleteAccessLogsDownloadAttribute",
          # Which instance holds each private address, and since when
          # (the address history trace names instances from).
          "ecs:DescribeNetworkInterfaces",
        ]
        Resource = ["*"]
      },
      {
        # Preparing the project, logstores and indexes logs are switched
        # into (this account's entry of ONBOARD_ACCOUNTS uses this project),
        # and the ETL jobs that ship this account's other regions here.
        Effect = "Allow"
        Action = [
          "log:GetProject",
          "log:CreateProject",
          "log:GetLogStore",
          "log:CreateLogStore",
          "log:UpdateLogStore",
          "log:GetIndex",
          "log:CreateIndex",
          "log:UpdateIndex",
          "log:GetETL",
          "log:CreateETL",
          "log:UpdateETL",
          "log:StartETL",
          "log:StopETL",
          "log:DeleteETL",
        ]
        Resource = [
          "acs:log:${var.region}:${local.account_id}:project/${local.log_project}",
          "acs:log:${var.region}:${local.account_id}:project/${local.log_project}/*",
        ]
      },
      {
        # The roles ALB and CLB access-log delivery writes with: onboard
        # checks they exist (RAM lower-cases role names in ARNs; matching
        # these names case-insensitively is UNVERIFIED).
        Effect = "Allow"
        Action = ["ram:GetRole"]
        Resource = [
          "acs:ram:*:${local.account_id}:role/aliyunserviceroleforalblogdelivery",
          "acs:ram:*:${local.account_id}:role/aliyunserviceroleforslblogdelivery",
          "acs:ram:*:${local.account_id}:role/aliyunlogarchiverole",
        ]
      },
      {
        # ... and creates the two service-linked ones when missing, and no
        # other service's (AliyunLogArchiveRole is authorised once in the
        # console: onboard only reports it).
        Effect   = "Allow"
        Action   = ["ram:CreateServiceLinkedRole"]
        Resource = ["*"]
        Condition = {
          StringEquals = {
            "ram:ServiceName" = ["logdelivery.alb.aliyuncs.com", "logdelivery.slb.aliyuncs.com"]
          }
        }
      },
    ], local.assume_member_roles)
  }

  # Into each member account, through the role member-role creates there
  # (onboard lists and switches on; trace resolves ENIs).
  assume_member_roles = length(var.member_account_ids) == 0 ? [] : [
    {
      Effect   = "Allow"
      Action   = ["sts:AssumeRole"]
      Resource = [for id in var.member_account_ids : "acs:ram::${id}:role/${var.member_role_name}"]
    },
  ]

  # Functions that call nothing in the cloud get a role without a policy.
  function_policies_nonempty = { for k, v in local.function_policies : k => v if length(v) > 0 }

  fc_trust = jsonencode({
    Version = "1"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = ["fc.aliyuncs.com"] }
    }]
  })
}

resource "alicloud_ram_role" "function" {
  for_each                    = toset(local.functions)
  role_name                   = "${var.name}-${each.key}"
  assume_role_policy_document = local.fc_trust
  description                 = "ndrtrace function ${each.key} (FC 3.0)"
  max_session_duration        = 3600
}

resource "alicloud_ram_policy" "function" {
  for_each        = local.function_policies_nonempty
  policy_name     = "${var.name}-${each.key}"
  policy_document = jsonencode({ Version = "1", Statement = each.value })
  description     = "ndrtrace function ${each.key}: the cloud API calls its code makes"
}

resource "alicloud_ram_role_policy_attachment" "function" {
  for_each    = local.function_policies_nonempty
  role_name   = alicloud_ram_role.function[each.key].id
  policy_name = alicloud_ram_policy.function[each.key].policy_name
  policy_type = "Custom"
}

# --- the role SLS runs the log triggers with ---
# Not the code's: the platform's. SLS runs each trigger as a job that reads
# the source logstore's shards and cursors (with a consumer group), writes the
# trigger's own log, and invokes the function.

locals {
  create_trigger_role = var.sls_trigger_role_arn == ""
  triggered_functions = distinct([for s in local.source_logstores : s.function])
}

resource "alicloud_ram_role" "sls_trigger" {
  count     = local.create_trigger_role ? 1 : 0
  role_name = "${var.name}-sls-trigger"
  assume_role_policy_document = jsonencode({
    Version = "1"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { Service = ["log.aliyuncs.com"] }
    }]
  })
  description          = "ndrtrace: SLS triggers of the ingest functions"
  max_session_duration = 3600
}

resource "alicloud_ram_policy" "sls_trigger" {
  count       = local.create_trigger_role ? 1 : 0
  policy_name = "${var.name}-sls-trigger"
  description = "ndrtrace: read the NAT/ALB/CLB logstores, write the trigger log, invoke the ingest functions"
  policy_document = jsonencode({
    Version = "1"
    Statement = [
      {
        Effect = "Allow"
        Action = ["fc:InvokeFunction"]
        Resource = flatten([for f in local.triggered_functions : [
          "acs:fc:${var.region}:${local.account_id}:functions/${var.name}-${f}",
          "acs:fc:${var.region}:${local.account_id}:functions/${var.name}-${f}/*",
        ]])
      },
      {
        Effect   = "Allow"
        Action   = ["log:GetProject"]
        Resource = ["acs:log:${var.region}:${local.account_id}:project/${local.log_project}"]
      },
      {
        Effect = "Allow"
        Action = [
          "log:GetLogStore",
          "log:ListShards",
          "log:GetCursorOrData",
          "log:CreateConsumerGroup",
          "log:UpdateConsumerGroup",
          "log:DeleteConsumerGroup",
          "log:ListConsumerGroup",
          "log:ConsumerGroupUpdateCheckPoint",
          "log:ConsumerGroupHeartBeat",
          "log:GetConsumerGroupCheckPoint",
        ]
        Resource = flatten([for k, s in local.source_logstores : [
          local.logstore_arn[k],
          "${local.logstore_arn[k]}/*",
        ]])
      },
      {
        Effect   = "Allow"
        Action   = ["log:PostLogStoreLogs"]
        Resource = [local.logstore_arn.trigger]
      },
    ]
  })
}

resource "alicloud_ram_role_policy_attachment" "sls_trigger" {
  count       = local.create_trigger_role ? 1 : 0
  role_name   = alicloud_ram_role.sls_trigger[0].id
  policy_name = alicloud_ram_policy.sls_trigger[0].policy_name
  policy_type = "Custom"
}

# The role each member account creates so that ndrtrace's functions can work
# there: onboard inventories NAT gateways, ALBs and CLBs, prepares the SLS
# project, logstores and indexes and switches session and access logs on;
# trace resolves private IPs to ECS instances (their ENIs). Apply it in every
# member account (with that account's credentials):
#
#   terraform -chdir=infra/terraform/member-role apply -var central_account_id=<uid>
#
# Only those two functions' roles in the central account are trusted.
# infra/deploy's TestRAMPolicies checks the actions below against the code.

resource "alicloud_ram_role" "member" {
  role_name = var.role_name
  assume_role_policy_document = jsonencode({
    Version = "1"
    Statement = [{
      Effect    = "Allow"
      Action    = "sts:AssumeRole"
      Principal = { RAM = [for r in var.central_role_names : "acs:ram::${var.central_account_id}:role/${r}"] }
    }]
  })
  description          = "ndrtrace onboarding from account ${var.central_account_id}"
  max_session_duration = var.max_session_duration
}

resource "alicloud_ram_policy" "member" {
  policy_name = var.role_name
  description = "ndrtrace: list NAT gateways and load balancers, switch their logs on and off, ship them, resolve ENIs"
  policy_document = jsonencode({
    Version = "1"
    Statement = [
      {
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
          "ecs:DescribeNetworkInterfaces",
        ]
        Resource = ["*"]
      },
      {
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
          # the ETL jobs shipping this account's logs to the central logstores
          "log:GetETL",
          "log:CreateETL",
          "log:UpdateETL",
          "log:StartETL",
          "log:StopETL",
          "log:DeleteETL",
        ]
        Resource = [
          "acs:log:*:*:project/${var.log_project_prefix}*",
          "acs:log:*:*:project/${var.log_project_prefix}*/*",
        ]
      },
      {
        # The roles ALB and CLB access-log delivery writes with: onboard
        # checks they exist (RAM lower-cases role names in ARNs; matching
        # these names case-insensitively is UNVERIFIED).
        Effect = "Allow"
        Action = ["ram:GetRole"]
        Resource = [
          "acs:ram:*:*:role/aliyunserviceroleforalblogdelivery",
          "acs:ram:*:*:role/aliyunserviceroleforslblogdelivery",
          "acs:ram:*:*:role/aliyunlogarchiverole",
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
    ]
  })
}

resource "alicloud_ram_role_policy_attachment" "member" {
  role_name   = alicloud_ram_role.member.id
  policy_name = alicloud_ram_policy.member.policy_name
  policy_type = "Custom"
}

output "role_arn" {
  description = "ARN of the role onboard assumes in this account (an entry of ONBOARD_ACCOUNTS)."
  value       = alicloud_ram_role.member.arn
}

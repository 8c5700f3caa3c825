output "role_arn" {
  description = "ARN of the role onboard assumes in this account (an entry of ONBOARD_ACCOUNTS)."
  value       = alicloud_ram_role.member.arn
}

output "etl_reader_role_arn" {
  description = "ARN of the role the ETL jobs shipping this account's logs read with (etl_role_arn of ONBOARD_ACCOUNTS when not the default)."
  value       = alicloud_ram_role.etl_reader.arn
}

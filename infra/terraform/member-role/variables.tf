variable "central_account_id" {
  description = "The account where ndrtrace runs (its onboard function assumes this role)."
  type        = string
  validation {
    condition     = can(regex("^[0-9]{6,20}$", var.central_account_id))
    error_message = "central_account_id is a numeric Alibaba Cloud account id."
  }
}

variable "central_role_names" {
  description = "Roles of the central account's functions that work in member accounts (<name>-onboard and <name>-trace of infra/terraform); only they may assume this role."
  type        = list(string)
  default     = ["ndrtrace-onboard", "ndrtrace-trace"]
}

variable "log_project_prefix" {
  description = "Prefix of the SLS projects onboard prepares in this account (ONBOARD_ACCOUNTS project, default ndr-logs-{account}-{region})."
  type        = string
  default     = "ndr-logs-"
}

variable "role_name" {
  description = "Name of the role created here; the same in every member account (member_role_name of infra/terraform)."
  type        = string
  default     = "ndrtrace-member"
}

variable "max_session_duration" {
  description = "Longest STS session on this role, in seconds (3600-43200)."
  type        = number
  default     = 3600
}

variable "etl_reader_role_name" {
  description = "Name of the role the ETL jobs read this account's logstores with (onboard's default: ndrtrace-etl-reader)."
  type        = string
  default     = "ndrtrace-etl-reader"
}

terraform {
  required_version = ">= 1.5"
  required_providers {
    alicloud = {
      source = "aliyun/alicloud"
      # role_name / assume_role_policy_document of alicloud_ram_role: 1.252.0.
      version = ">= 1.252.0"
    }
  }
}

provider "alicloud" {
  region = var.region
}

data "alicloud_account" "current" {}

# SLS dashboards.
#
# ndrtrace-surge: the session-log investigation (the seed's two queries, as
# investigate runs them) on the NAT session logstore: bytes from the VPC per
# minute towards a destination, and the breakdown per private host. The
# destination is the dashboard variable dst_ip (SLS replaces
# ${{dst_ip|default}} in the queries; pick it in the dashboard's filter).
# The NAT index is onboard's (indexes.tf): query after its first run.
#
# ndrtrace-results: the trace results logstore (DESIGN.md, Results
# logstore): first answers per status per hour, the untraced and
# late-resolved shares, and how long after the first answer late results
# came.
#
# Every query is in local.dashboard_queries, keyed by the logstore it runs
# on; infra/deploy's TestDashboardQueries checks that each names only
# fields of that logstore's index and that every chart reads the query of
# its own logstore. ("$${{" is HCL for a literal "${{".)

locals {
  dashboard_queries = {
    nat = {
      # The seed's first query: the minute of the peak.
      bytes_per_minute = "* | select date_trunc('minute', __time__) as ts_min, sum(bytes_from_vpc) as total_bytes, count(1) as sessions from log where pub_ip = '$${{dst_ip|47.110.22.157}}' group by ts_min order by ts_min limit 1441"
      # Its second: who sent it, per private host (and per host and minute).
      bytes_per_host        = "* | select pri_ip, vpc_id, account_id, region, sum(bytes_from_vpc) as total_bytes, count(1) as sessions from log where pub_ip = '$${{dst_ip|47.110.22.157}}' group by pri_ip, vpc_id, account_id, region order by total_bytes desc limit 20"
      bytes_per_host_minute = "* | select date_trunc('minute', __time__) as ts_min, pri_ip, sum(bytes_from_vpc) as total_bytes from log where pub_ip = '$${{dst_ip|47.110.22.157}}' group by ts_min, pri_ip order by ts_min, total_bytes desc limit 10000"
    }
    results = {
      # First answers (late results and corrections carry late = 'true').
      status_per_hour = "* | select date_trunc('hour', __time__) as hour, count_if(status = 'traced') as traced, count_if(status = 'ambiguous') as ambiguous, count_if(status = 'untraced') as untraced, count_if(status = 'not_covered') as not_covered, count_if(status = 'invalid') as invalid, count_if(status = 'error') as error from log where late is null group by hour order by hour limit 1000"
      # Untraced: the share of first answers; late-resolved: late results
      # (corrections left out) per untraced first answer of the hour.
      shares_per_hour = "* | select date_trunc('hour', __time__) as hour, round(100.0 * count_if(status = 'untraced' and late is null) / greatest(count_if(late is null), 1), 1) as untraced_pct, round(100.0 * count_if(late = 'true' and supersedes is null) / greatest(count_if(status = 'untraced' and late is null), 1), 1) as late_resolved_pct group by hour order by hour limit 1000"
      # Seconds from an alert's first answer to its late result.
      late_delay = "* | select date_trunc('hour', from_unixtime(resolved)) as hour, approx_percentile(delay, 0.5) as p50_s, approx_percentile(delay, 0.99) as p99_s, max(delay) as max_s, count(1) as late_results from (select alert_id, max(__time__) as resolved, max(__time__) - min(__time__) as delay from log group by alert_id having count_if(late = 'true') > 0) group by hour order by hour limit 1000"
    }
  }

  # One chart: its place on the 24-column grid, and its axes.
  chart = {
    width  = 12
    height = 10
  }
}

resource "alicloud_log_dashboard" "surge" {
  project_name   = alicloud_log_project.this.project_name
  dashboard_name = "${var.name}-surge"
  display_name   = "ndrtrace: surge investigation (NAT session logs)"
  attribute      = jsonencode({ type = "grid" })
  char_list = jsonencode([
    {
      action = {}
      title  = "Bytes from the VPC per minute towards dst_ip"
      type   = "line"
      search = { logstore = var.logstores.nat, topic = "", query = local.dashboard_queries.nat.bytes_per_minute, start = "-3600s", end = "now" }
      display = { xAxis = ["ts_min"], yAxis = ["total_bytes"], xPos = 0, yPos = 0, width = local.chart.width, height = local.chart.height,
      displayName = "Bytes per minute" }
    },
    {
      action = {}
      title  = "Private hosts that sent it"
      type   = "bar"
      search = { logstore = var.logstores.nat, topic = "", query = local.dashboard_queries.nat.bytes_per_host, start = "-3600s", end = "now" }
      display = { xAxis = ["pri_ip"], yAxis = ["total_bytes"], xPos = local.chart.width, yPos = 0, width = local.chart.width, height = local.chart.height,
      displayName = "Bytes per private host" }
    },
    {
      action = {}
      title  = "Per host and minute"
      type   = "table"
      search = { logstore = var.logstores.nat, topic = "", query = local.dashboard_queries.nat.bytes_per_host_minute, start = "-3600s", end = "now" }
      display = { xPos = 0, yPos = local.chart.height, width = 2 * local.chart.width, height = local.chart.height,
      displayName = "Bytes per host and minute" }
    },
  ])
}

resource "alicloud_log_dashboard" "results" {
  project_name   = alicloud_log_project.this.project_name
  dashboard_name = "${var.name}-results"
  display_name   = "ndrtrace: trace results"
  attribute      = jsonencode({ type = "grid" })
  char_list = jsonencode([
    {
      action = {}
      title  = "First answers per status per hour"
      type   = "line"
      search = { logstore = var.logstores.results, topic = "", query = local.dashboard_queries.results.status_per_hour, start = "-86400s", end = "now" }
      display = { xAxis = ["hour"], yAxis = ["traced", "ambiguous", "untraced", "not_covered", "invalid", "error"], xPos = 0, yPos = 0,
      width = local.chart.width, height = local.chart.height, displayName = "Results per status" }
    },
    {
      action = {}
      title  = "Untraced and late-resolved share (%)"
      type   = "line"
      search = { logstore = var.logstores.results, topic = "", query = local.dashboard_queries.results.shares_per_hour, start = "-86400s", end = "now" }
      display = { xAxis = ["hour"], yAxis = ["untraced_pct", "late_resolved_pct"], xPos = local.chart.width, yPos = 0,
      width = local.chart.width, height = local.chart.height, displayName = "Untraced / late-resolved" }
    },
    {
      action = {}
      title  = "Late-resolution delay (s, from the first answer)"
      type   = "line"
      search = { logstore = var.logstores.results, topic = "", query = local.dashboard_queries.results.late_delay, start = "-86400s", end = "now" }
      display = { xAxis = ["hour"], yAxis = ["p50_s", "p99_s", "max_s"], xPos = 0, yPos = local.chart.height,
      width = 2 * local.chart.width, height = local.chart.height, displayName = "Late-resolution delay" }
    },
  ])
}

package investigate

import (
	"net/netip"
	"strconv"
	"strings"
)

// The SQL of an investigation. It is the seed investigation's two queries
// (sum of bytes_from_vpc per minute towards the destination, then per
// private host), plus the per-minute series of the top hosts for the chart.
// Every value in it comes from a parsed netip.Addr or an integer: no request
// text is ever pasted in. Minutes are __time__ - __time__ % 60 (Unix
// seconds, what SLS documents for fixed windows) rather than
// date_trunc('minute', __time__), whose rendering depends on the project's
// time zone.

// filter is the WHERE clause of every query.
type filter struct {
	dst     netip.Addr
	port    uint16
	natIPs  []netip.Addr // the egress as the logs write nat_ip; empty: any egress
	srcHost []netip.Addr // pri_ip restriction; empty: any host
}

// sqlAddr renders an address as a SQL string literal. netip's text form of
// an address without a zone holds only hex digits, '.' and ':'.
func sqlAddr(a netip.Addr) string { return "'" + a.WithZone("").String() + "'" }

func sqlAddrList(as []netip.Addr) string {
	parts := make([]string, len(as))
	for i, a := range as {
		parts[i] = sqlAddr(a)
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

func (f filter) where() string {
	w := "pub_ip = " + sqlAddr(f.dst)
	if f.port != 0 {
		w += " and pub_port = " + strconv.Itoa(int(f.port))
	}
	if len(f.natIPs) > 0 {
		w += " and nat_ip in " + sqlAddrList(f.natIPs)
	}
	if len(f.srcHost) > 0 {
		w += " and pri_ip in " + sqlAddrList(f.srcHost)
	}
	return w
}

// minutesLimit bounds per-minute rows: 24 h of minutes and one to spare
// (an SLS statement without LIMIT returns 100 rows).
const minutesLimit = 24*60 + 1

// minutesSQL: traffic per minute towards the destination.
func minutesSQL(f filter) string {
	return "* | select __time__ - __time__ % 60 as minute, sum(bytes_from_vpc) as bytes_from_vpc, " +
		"sum(bytes_from_pub) as bytes_from_pub, count(1) as sessions from log where " + f.where() +
		" group by minute order by minute limit " + strconv.Itoa(minutesLimit)
}

// hostsSQL: the top private hosts by bytes sent. account_id and region are
// the fields data transformation adds to member accounts' records (null on
// the central account's own).
func hostsSQL(f filter, top int) string {
	return "* | select pri_ip, vpc_id, account_id, region, sum(bytes_from_vpc) as bytes_from_vpc, " +
		"count(1) as sessions from log where " + f.where() +
		" group by pri_ip, vpc_id, account_id, region order by bytes_from_vpc desc, pri_ip limit " + strconv.Itoa(top)
}

// hostMinutesSQL: the per-minute series of the given hosts.
func hostMinutesSQL(f filter, hosts int) string {
	return "* | select __time__ - __time__ % 60 as minute, pri_ip, vpc_id, sum(bytes_from_vpc) as bytes_from_vpc " +
		"from log where " + f.where() + " group by minute, pri_ip, vpc_id limit " + strconv.Itoa(minutesLimit*max(hosts, 1))
}

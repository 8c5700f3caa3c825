package store

import (
	"bytes"
	"fmt"
	"net/netip"
	"strconv"
	"testing"

	"github.com/ndrtrace/ndrtrace/shared/lblog"
	"github.com/ndrtrace/ndrtrace/shared/mapping"
	"github.com/ndrtrace/ndrtrace/shared/natlog"
	"github.com/ndrtrace/ndrtrace/shared/tuple"
)

// maxCopies bounds how many buckets one accepted record is indexed under:
// ingest bounds a NAT window to an hour and a request to a day, and each
// MaxSpan of window adds one copy.
const maxCopies = 1 + 24*3600/MaxSpan

// Every mapping the parsers accept round-trips through the entry encoding
// (whatever the fields held), and is indexed under a bounded number of
// buckets: one record can never flood the store.
func FuzzEntryRoundTrip(f *testing.F) {
	f.Add(true, "6", "172.16.20.21", "47176", "47.100.1.85", "48155", "106.11.22.203", "443", "1738767000", "1738767600", int64(1738767700))
	f.Add(true, "17", "fd00::1", "53", "2001:db8::1", "1", "2400:cb00::1", "53", "2025-02-05T14:50:00+08:00", "1738768000000", int64(1738768000))
	f.Add(true, "6", "172.16.20.21", "1", "47.100.1.85", "2", "106.11.22.203", "443", "0", "99999999999999999999.5", int64(1738767700))
	f.Add(false, "alb", "192.168.1.9", "8080", "39.100.1.20", "443", "198.51.100.23", "", "2025-02-05T14:50:00+08:00", "86399.999", int64(1738767700))
	f.Add(false, "clb", "192.168.1.9:8080,192.168.1.10:8080", "80", "47.96.2.30", "80", "203.0.113.50", "51234", "1738767000", "0.050", int64(1738767000))
	f.Fuzz(func(t *testing.T, nat bool, proto, priv, privPort, egress, egressPort, peer, peerPort, start, end string, logTime int64) {
		var m mapping.Mapping
		var reject mapping.Reject
		if nat {
			m, reject = natlog.Parse([]mapping.Field{
				{Key: "instance", Value: "ngw-1"}, {Key: "vpc_id", Value: "vpc-1"}, {Key: "protocol", Value: proto},
				{Key: "pri_ip", Value: priv}, {Key: "pri_port", Value: privPort}, {Key: "nat_ip", Value: egress},
				{Key: "nat_port", Value: egressPort}, {Key: "pub_ip", Value: peer}, {Key: "pub_port", Value: peerPort},
				{Key: "start_time", Value: start}, {Key: "end_time", Value: end},
			}, "", logTime)
		} else {
			topic, id := lblog.TopicALB, "app_lb_id"
			if proto == "clb" {
				topic, id = lblog.TopicCLB, "slbid"
			}
			fields := []mapping.Field{{Key: id, Value: "lb-1"}, {Key: "client_ip", Value: peer}, {Key: "vip_addr", Value: egress},
				{Key: "slb_vport", Value: egressPort}, {Key: "upstream_addr", Value: priv}, {Key: "time", Value: start},
				{Key: "request_time", Value: end}, {Key: "http_x_forwarded_for", Value: privPort}}
			if peerPort != "" {
				fields = append(fields, mapping.Field{Key: "client_port", Value: peerPort})
			}
			m, reject = lblog.Parse(fields, topic, logTime)
		}
		if reject != "" {
			return
		}
		if m.End < m.Start || m.Start < 0 || m.End > 1<<32-1 {
			t.Fatalf("accepted a window the entry cannot hold: [%d, %d]", m.Start, m.End)
		}
		n := 0
		copies(&m, func(int64) { n++ })
		if n > maxCopies {
			t.Fatalf("window [%d, %d] (%s) is indexed %d times", m.Start, m.End, strconv.FormatInt(m.End-m.Start, 10), n)
		}
		enc := appendEntry(nil, &m)
		var got []mapping.Mapping
		if err := eachEntry(enc, func(entry []byte, d mapping.Mapping) {
			if !bytes.Equal(entry, enc[1:]) {
				t.Fatalf("entry bytes %x, encoded %x", entry, enc[1:])
			}
			got = append(got, d)
		}); err != nil || len(got) != 1 {
			t.Fatalf("decoding %x: %v (%d entries)", enc, err, len(got))
		}
		want := m
		want.Egress, want.EgressID, want.VPC = mapping.Egress{}, "", "" // kept beside the entries, not in them
		if len(want.Previous) > maxPrevious {
			want.Previous = want.Previous[:maxPrevious]
		}
		if fmt.Sprintf("%+v", got[0]) != fmt.Sprintf("%+v", want) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got[0], want)
		}
	})
}

// A lookup decodes only the entries whose key part may match its query
// (probe.may) and merely checks the others (validValue): over any slot
// bytes and any query, it finds exactly the entries that decoding every
// entry and matching finds, and stops at the same corrupt entry.
func FuzzScanEntries(f *testing.F) {
	peer := netip.MustParseAddr("106.11.22.203")
	ms := []mapping.Mapping{
		{Kind: mapping.KindNAT, Proto: tuple.TCP, Port: 48155, Peer: tuple.Endpoint{Addr: peer, Port: 443}, Start: 1738767000, End: 1738767600,
			Private: tuple.Endpoint{Addr: netip.MustParseAddr("172.16.20.21"), Port: 47176}},
		{Kind: mapping.KindNAT, Proto: tuple.TCP, Port: 48155, Peer: tuple.Endpoint{Addr: peer, Port: 443}, Start: 1738767000, End: 1738767600,
			Private: tuple.Endpoint{Addr: netip.MustParseAddr("fd00::21"), Port: 47176}},
		{Kind: mapping.KindALB, Proto: tuple.TCP, Port: 443, Peer: tuple.Endpoint{Addr: netip.MustParseAddr("2001:db8::7")}, Start: 1738767000, End: 1738767001,
			Private: tuple.Endpoint{Addr: netip.MustParseAddr("192.168.1.9"), Port: 8080}, Client: netip.MustParseAddr("203.0.113.7"),
			Previous: []tuple.Endpoint{{Addr: netip.MustParseAddr("192.168.1.10"), Port: 8080}, {Addr: netip.MustParseAddr("fd00::10"), Port: 80}}},
		{Kind: mapping.KindNAT, Proto: tuple.UDP, Port: 53, Peer: tuple.Endpoint{Addr: peer, Port: 443}, Start: 1738767000, End: 1738767600,
			Private: tuple.Endpoint{Addr: netip.MustParseAddr("172.16.20.22"), Port: 5353}},
	}
	var slot []byte
	for i := range ms {
		slot = appendEntry(slot, &ms[i])
	}
	v4, v6 := peer.As16(), netip.MustParseAddr("2001:db8::7").As16()
	f.Add(slot, uint8(tuple.TCP), uint16(48155), v4[:], false, uint16(443), false, int64(1738767300))
	f.Add(slot, uint8(tuple.TCP), uint16(443), v6[:], true, uint16(51234), true, int64(1738767000))
	f.Add(slot[:len(slot)-3], uint8(tuple.UDP), uint16(53), v4[:], false, uint16(443), false, int64(1738767300))
	f.Add(append(append([]byte(nil), slot[:30]...), 0xff), uint8(tuple.TCP), uint16(48155), v4[:], false, uint16(443), false, int64(1738767300))
	f.Fuzz(func(t *testing.T, b []byte, proto uint8, port uint16, addr []byte, is6 bool, peerPort uint16, portless bool, at int64) {
		q := Query{Proto: tuple.Proto(proto), Port: port, Peer: tuple.Endpoint{Port: peerPort}, At: at, Skew: 60, Portless: portless}
		switch {
		case len(addr) >= 16 && is6:
			q.Peer.Addr = netip.AddrFrom16([16]byte(addr[:16]))
			if len(addr) > 16 && addr[16] == '%' {
				q.Peer.Addr = q.Peer.Addr.WithZone("eth0")
			}
		case len(addr) >= 16:
			q.Peer.Addr = netip.AddrFrom16([16]byte(addr[:16])).Unmap()
		case len(addr) >= 4:
			q.Peer.Addr = netip.AddrFrom4([4]byte(addr[:4]))
		}
		type found struct {
			entry string
			m     string
		}
		var want, got []found
		werr := eachEntry(b, func(e []byte, m mapping.Mapping) {
			if matches(&q, &m) {
				want = append(want, found{string(e), fmt.Sprintf("%+v", m)})
			}
		})
		p := newProbe(&q)
		gerr := scanEntries(b, &p, func(e []byte, m mapping.Mapping) {
			if matches(&q, &m) {
				got = append(got, found{string(e), fmt.Sprintf("%+v", m)})
			}
		})
		if (werr == nil) != (gerr == nil) || fmt.Sprint(want) != fmt.Sprint(got) {
			t.Fatalf("query %+v:\ndecoding all: %v %v\nprobing:      %v %v", q, want, werr, got, gerr)
		}
	})
}

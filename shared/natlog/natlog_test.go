package natlog

import (
	"net/netip"
	"testing"

	"github.com/ndrtrace/ndrtrace/shared/logtime"
	"github.com/ndrtrace/ndrtrace/shared/mapping"
	"github.com/ndrtrace/ndrtrace/shared/store"
	"github.com/ndrtrace/ndrtrace/shared/tuple"
)

// record builds a session record in the documented shape, with overrides.
func record(over map[string]string) []mapping.Field {
	base := []mapping.Field{
		{Key: "instance", Value: "ngw-bp1abc"}, {Key: "vpc_id", Value: "vpc-bp1xyz"}, {Key: "protocol", Value: "6"},
		{Key: "pri_ip", Value: "172.16.20.21"}, {Key: "pri_port", Value: "47176"},
		{Key: "nat_ip", Value: "47.100.1.85"}, {Key: "nat_port", Value: "48155"},
		{Key: "pub_ip", Value: "106.11.22.203"}, {Key: "pub_port", Value: "443"},
		{Key: "bytes_from_vpc", Value: "417"}, {Key: "pkts_from_vpc", Value: "6"}, {Key: "bytes_from_pub", Value: "421"}, {Key: "pkts_from_pub", Value: "4"},
		{Key: "start_time", Value: "1738767300"}, {Key: "end_time", Value: "1738767900"},
	}
	out := base[:0:0]
	for _, f := range base {
		if v, ok := over[f.Key]; ok {
			if v == "<absent>" {
				continue
			}
			f.Value = v
		}
		out = append(out, f)
	}
	for k, v := range over {
		found := false
		for _, f := range base {
			found = found || f.Key == k
		}
		if !found && v != "<absent>" {
			out = append(out, mapping.Field{Key: k, Value: v})
		}
	}
	return out
}

func TestParse(t *testing.T) {
	const logTime = 1738767999
	tests := []struct {
		name   string
		over   map[string]string
		reject mapping.Reject
		check  func(t *testing.T, m mapping.Mapping)
	}{
		{name: "documented record", check: func(t *testing.T, m mapping.Mapping) {
			want := mapping.Mapping{
				Kind: mapping.KindNAT, EgressID: "ngw-bp1abc", VPC: "vpc-bp1xyz",
				Egress: mapping.Egress{Addr: netip.MustParseAddr("47.100.1.85")},
				Proto:  tuple.TCP, Port: 48155,
				Peer:    tuple.Endpoint{Addr: netip.MustParseAddr("106.11.22.203"), Port: 443},
				Private: tuple.Endpoint{Addr: netip.MustParseAddr("172.16.20.21"), Port: 47176},
				Start:   1738767300, End: 1738767900,
			}
			if m.Kind != want.Kind || m.EgressID != want.EgressID || m.VPC != want.VPC || m.Egress != want.Egress ||
				m.Proto != want.Proto || m.Port != want.Port || m.Peer != want.Peer || m.Private != want.Private ||
				m.Start != want.Start || m.End != want.End {
				t.Fatalf("got %+v\nwant %+v", m, want)
			}
		}},
		{name: "old spellings intstance and portocol", over: map[string]string{"instance": "<absent>", "protocol": "<absent>", "intstance": "ngw-old", "portocol": "17"},
			check: func(t *testing.T, m mapping.Mapping) {
				if m.EgressID != "ngw-old" || m.Proto != tuple.UDP {
					t.Fatalf("got id %q proto %v", m.EgressID, m.Proto)
				}
			}},
		{name: "NAT mode private nat_ip is scoped by VPC", over: map[string]string{"nat_ip": "172.16.10.13"},
			check: func(t *testing.T, m mapping.Mapping) {
				if m.Egress.Scope != "vpc-bp1xyz" || m.Egress.Addr != netip.MustParseAddr("172.16.10.13") {
					t.Fatalf("egress %+v", m.Egress)
				}
			}},
		{name: "millisecond and RFC 3339 times", over: map[string]string{"start_time": "1738767300000", "end_time": "2025-02-05T15:05:00Z"},
			check: func(t *testing.T, m mapping.Mapping) {
				if m.Start != 1738767300 || m.End != 1738767900 {
					t.Fatalf("times %d %d", m.Start, m.End)
				}
			}},
		{name: "absent times fall back to the log time", over: map[string]string{"start_time": "<absent>", "end_time": "<absent>"},
			check: func(t *testing.T, m mapping.Mapping) {
				if m.Start != logTime || m.End != logTime {
					t.Fatalf("times %d %d", m.Start, m.End)
				}
			}},
		{name: "ICMP record keeps the id as port", over: map[string]string{"protocol": "1", "pub_port": "0"},
			check: func(t *testing.T, m mapping.Mapping) {
				if m.Proto != tuple.ICMP || m.Peer.Port != 0 {
					t.Fatalf("got %+v", m)
				}
			}},
		{name: "missing protocol", over: map[string]string{"protocol": "<absent>"}, reject: MissingProtocol},
		{name: "bad protocol", over: map[string]string{"protocol": "tcpx"}, reject: BadProtocol},
		{name: "missing nat_ip", over: map[string]string{"nat_ip": ""}, reject: MissingNATIP},
		{name: "bad nat_ip", over: map[string]string{"nat_ip": "47.1.1"}, reject: BadNATIP},
		{name: "bad nat_port", over: map[string]string{"nat_port": "70000"}, reject: BadNATPort},
		{name: "missing pub_ip", over: map[string]string{"pub_ip": "<absent>"}, reject: MissingPubIP},
		{name: "bad pub_port", over: map[string]string{"pub_port": "x"}, reject: BadPubPort},
		{name: "missing pri_ip", over: map[string]string{"pri_ip": "<absent>"}, reject: MissingPriIP},
		{name: "bad pri_port", over: map[string]string{"pri_port": "-1"}, reject: BadPriPort},
		{name: "bad start_time", over: map[string]string{"start_time": "soon"}, reject: BadStartTime},
		{name: "bad end_time", over: map[string]string{"end_time": ""}, reject: BadEndTime},
		{name: "end before start", over: map[string]string{"end_time": "1738767000"}, reject: EndBeforeStart},
		{name: "start_time 0", over: map[string]string{"start_time": "0"}, reject: StartOutOfRange},
		{name: "start_time past any clock", over: map[string]string{"start_time": "99999999999999999999.5"}, reject: BadStartTime},
		{name: "start_time before 2010", over: map[string]string{"start_time": "2009-12-31T23:59:59Z"}, reject: StartOutOfRange},
		{name: "end_time over a day after the log", over: map[string]string{"end_time": "1738854400"}, reject: EndOutOfRange},
		{name: "end_time a day after the log", over: map[string]string{"start_time": "1738851000", "end_time": "1738854399"},
			check: func(t *testing.T, m mapping.Mapping) {
				if m.End != logTime+86400 {
					t.Fatalf("end %d", m.End)
				}
			}},
		{name: "window of exactly an hour", over: map[string]string{"end_time": "1738770900"},
			check: func(t *testing.T, m mapping.Mapping) {
				if m.End-m.Start != MaxWindow {
					t.Fatalf("window %d", m.End-m.Start)
				}
			}},
		{name: "window over an hour", over: map[string]string{"end_time": "1738770901"}, reject: WindowTooLong},
		{name: "private nat_ip without VPC", over: map[string]string{"nat_ip": "172.16.10.13", "vpc_id": "<absent>"}, reject: MissingVPC},
		{name: "VPC id with key syntax", over: map[string]string{"vpc_id": "vpc:1*"}, reject: BadVPC},
		{name: "instance id with spaces", over: map[string]string{"instance": "ngw 1"}, reject: BadInstance},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, r := Parse(record(tt.over), "", logTime)
			if r != tt.reject {
				t.Fatalf("reject = %q, want %q", r, tt.reject)
			}
			if tt.check != nil {
				tt.check(t, m)
			}
		})
	}
}

func TestParseDoesNotAllocate(t *testing.T) {
	rec := record(nil)
	allocs := testing.AllocsPerRun(1000, func() {
		if _, r := Parse(rec, "", 1738767999); r != "" {
			t.Fatal(r)
		}
	})
	if allocs != 0 {
		t.Fatalf("Parse allocates %.1f times per record", allocs)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("6", "172.16.20.21", "47176", "47.100.1.85", "48155", "106.11.22.203", "443", "1738767300", "1738767900", "vpc-1")
	f.Add("tcp", "::1", "1", "172.16.10.13", "2", "2001:db8::1", "3", "2025-02-05T14:57:10Z", "", "")
	f.Add("6", "172.16.20.21", "47176", "47.100.1.85", "48155", "106.11.22.203", "443", "0", "1738767900", "vpc-1")
	f.Add("6", "172.16.20.21", "47176", "47.100.1.85", "48155", "106.11.22.203", "443", "99999999999999999999.5", "1738767900", "vpc-1")
	f.Fuzz(func(t *testing.T, proto, priIP, priPort, natIP, natPort, pubIP, pubPort, start, end, vpc string) {
		fields := []mapping.Field{{Key: "protocol", Value: proto}, {Key: "pri_ip", Value: priIP}, {Key: "pri_port", Value: priPort}, {Key: "nat_ip", Value: natIP},
			{Key: "nat_port", Value: natPort}, {Key: "pub_ip", Value: pubIP}, {Key: "pub_port", Value: pubPort}, {Key: "start_time", Value: start}, {Key: "end_time", Value: end}, {Key: "vpc_id", Value: vpc}}
		const logTime = 1738767000
		m, r := Parse(fields, "", logTime)
		if r != "" {
			return
		}
		// An accepted record is internally consistent.
		if !m.Egress.Addr.IsValid() || !m.Peer.Addr.IsValid() || !m.Private.Addr.IsValid() {
			t.Fatalf("accepted record with invalid address: %+v", m)
		}
		// Its window is bounded, so the store indexes it a bounded number
		// of times (once per store.MaxSpan of window).
		if m.End < m.Start || m.End-m.Start > MaxWindow {
			t.Fatalf("accepted window [%d, %d]", m.Start, m.End)
		}
		if m.Start < logtime.Earliest || m.End > logTime+logtime.MaxAhead {
			t.Fatalf("accepted window [%d, %d] outside [2010, log time + 1 day]", m.Start, m.End)
		}
		copies := 0
		for at := m.Start; ; at += store.MaxSpan {
			copies++
			if m.End-at <= store.MaxSpan {
				break
			}
		}
		if copies > MaxWindow/store.MaxSpan+1 {
			t.Fatalf("window [%d, %d] is indexed %d times", m.Start, m.End, copies)
		}
		if tuple.IsPrivate(m.Egress.Addr) != (m.Egress.Scope != "") {
			t.Fatalf("scope %q for egress %v", m.Egress.Scope, m.Egress.Addr)
		}
		if m.Egress.Scope != "" && !mapping.ValidID(m.Egress.Scope) {
			t.Fatalf("invalid scope %q", m.Egress.Scope)
		}
	})
}

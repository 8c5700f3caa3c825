package lblog

import (
	"fmt"
	"math"
	"net/netip"
	"testing"

	"github.com/ndrtrace/ndrtrace/shared/logtime"
	"github.com/ndrtrace/ndrtrace/shared/mapping"
	"github.com/ndrtrace/ndrtrace/shared/tuple"
)

const (
	t10     = 1738767430 // 2025-02-05T14:57:10Z, the base records' time
	logTime = 1738767999
)

// albBase and clbBase are records in the documented shapes (all values
// strings, as SLS delivers them).
var albBase = []mapping.Field{
	{Key: "app_lb_id", Value: "alb-bp1abc"}, {Key: "body_bytes_sent", Value: "612"},
	{Key: "client_ip", Value: "47.96.1.10"}, {Key: "host", Value: "shop.example.com"},
	{Key: "http_host", Value: "shop.example.com"}, {Key: "http_user_agent", Value: "curl/8.5.0"},
	{Key: "http_x_forwarded_for", Value: "-"}, {Key: "http_x_real_ip", Value: "-"},
	{Key: "request_method", Value: "GET"}, {Key: "request_time", Value: "0.005"},
	{Key: "request_uri", Value: "/login?next=%2F"}, {Key: "scheme", Value: "https"},
	{Key: "server_protocol", Value: "HTTP/1.1"}, {Key: "slb_vport", Value: "443"},
	{Key: "status", Value: "200"}, {Key: "time", Value: "2025-02-05T22:57:10+08:00"},
	{Key: "upstream_addr", Value: "192.168.1.10:8080"}, {Key: "upstream_response_time", Value: "0.004"},
	{Key: "upstream_status", Value: "200"}, {Key: "vip_addr", Value: "39.100.1.20"},
}

var clbBase = []mapping.Field{
	{Key: "slbid", Value: "lb-bp1xyz"}, {Key: "client_ip", Value: "47.96.1.11"}, {Key: "client_port", Value: "51234"},
	{Key: "host", Value: "api.example.com"}, {Key: "http_x_forwarded_for", Value: "-"},
	{Key: "request_method", Value: "POST"}, {Key: "request_time", Value: "1.250"}, {Key: "request_uri", Value: "/v1/upload"},
	{Key: "slb_vport", Value: "80"}, {Key: "status", Value: "201"}, {Key: "time", Value: "1738767430"},
	{Key: "upstream_addr", Value: "172.16.1.5:80"}, {Key: "upstream_status", Value: "201"}, {Key: "vip_addr", Value: "47.100.3.3"},
}

const absent = "<absent>"

// record copies base with overrides: a value replaces the field (absent
// removes it) and unknown keys are appended.
func record(base []mapping.Field, over map[string]string) []mapping.Field {
	out := make([]mapping.Field, 0, len(base)+len(over))
	seen := map[string]bool{}
	for _, f := range base {
		seen[f.Key] = true
		if v, ok := over[f.Key]; ok {
			if v == absent {
				continue
			}
			f.Value = v
		}
		out = append(out, f)
	}
	for k, v := range over {
		if !seen[k] && v != absent {
			out = append(out, mapping.Field{Key: k, Value: v})
		}
	}
	return out
}

func ep(s string) tuple.Endpoint {
	e, err := tuple.ParseEndpoint(s)
	if err != nil {
		panic(err)
	}
	return e
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

// want is what a case checks of an accepted mapping; zero fields are not
// checked except where the flags say so.
type want struct {
	kind       mapping.Kind
	id         string
	egress     *mapping.Egress
	port       uint16
	peer       *tuple.Endpoint
	start, end int64
	private    string
	previous   []string // nil: none expected
	client     string   // "": none expected
}

func TestParse(t *testing.T) {
	alb := func(over map[string]string) []mapping.Field { return record(albBase, over) }
	clb := func(over map[string]string) []mapping.Field { return record(clbBase, over) }
	tests := []struct {
		name    string
		fields  []mapping.Field
		topic   string
		logTime int64 // 0: the package's logTime
		reject  mapping.Reject
		want    *want
	}{
		// The documented shapes.
		{name: "ALB record without client_port is keyed without the port", fields: alb(nil), topic: TopicALB, want: &want{
			kind: mapping.KindALB, id: "alb-bp1abc", egress: &mapping.Egress{Addr: addr("39.100.1.20")}, port: 443,
			peer: &tuple.Endpoint{Addr: addr("47.96.1.10")}, start: t10 - 1, end: t10, private: "192.168.1.10:8080"}},
		{name: "CLB record is a full tuple", fields: clb(nil), topic: TopicCLB, want: &want{
			kind: mapping.KindCLB, id: "lb-bp1xyz", egress: &mapping.Egress{Addr: addr("47.100.3.3")}, port: 80,
			peer: &tuple.Endpoint{Addr: addr("47.96.1.11"), Port: 51234}, start: t10 - 2, end: t10, private: "172.16.1.5:80"}},
		{name: "ALB record with client_port", fields: alb(map[string]string{"client_port": "40001"}), topic: TopicALB,
			want: &want{peer: &tuple.Endpoint{Addr: addr("47.96.1.10"), Port: 40001}}},
		{name: "ALB client_port - is no port", fields: alb(map[string]string{"client_port": "-"}), topic: TopicALB,
			want: &want{peer: &tuple.Endpoint{Addr: addr("47.96.1.10")}}},
		{name: "ALB empty client_port is no port", fields: alb(map[string]string{"client_port": ""}), topic: TopicALB,
			want: &want{peer: &tuple.Endpoint{Addr: addr("47.96.1.10")}}},

		// Which log: group topic, record __topic__, then the id field.
		{name: "record __topic__ when the group has none", fields: alb(map[string]string{"__topic__": TopicALB}), want: &want{kind: mapping.KindALB}},
		{name: "no topic: app_lb_id means ALB", fields: alb(nil), want: &want{kind: mapping.KindALB, id: "alb-bp1abc"}},
		{name: "no topic: slbid means CLB", fields: clb(nil), want: &want{kind: mapping.KindCLB, id: "lb-bp1xyz"}},
		{name: "unknown group topic falls back to the id", fields: clb(nil), topic: "custom", want: &want{kind: mapping.KindCLB}},
		{name: "group topic wins over record __topic__", fields: alb(map[string]string{"__topic__": TopicCLB}), topic: TopicALB, want: &want{kind: mapping.KindALB}},
		{name: "both ids with a topic: the topic picks", fields: alb(map[string]string{"slbid": "lb-1"}), topic: TopicALB, want: &want{kind: mapping.KindALB, id: "alb-bp1abc"}},
		{name: "both ids and no topic", fields: alb(map[string]string{"slbid": "lb-1"}), reject: BothIDs},
		{name: "no id and no topic", fields: alb(map[string]string{"app_lb_id": absent}), reject: MissingID},
		{name: "ALB topic without app_lb_id", fields: clb(nil), topic: TopicALB, reject: MissingALBID},
		{name: "CLB topic without slbid", fields: alb(nil), topic: TopicCLB, reject: MissingCLBID},
		{name: "bad app_lb_id", fields: alb(map[string]string{"app_lb_id": "alb bp1"}), topic: TopicALB, reject: BadALBID},
		{name: "app_lb_id with key syntax", fields: alb(map[string]string{"app_lb_id": "alb-1/x"}), reject: BadALBID},
		{name: "bad slbid", fields: clb(map[string]string{"slbid": "lb-1:*"}), topic: TopicCLB, reject: BadCLBID},
		{name: "slbid too long", fields: clb(map[string]string{"slbid": "lb-" + fmt.Sprintf("%070d", 1)}), reject: BadCLBID},

		// Client side.
		{name: "missing client_ip", fields: alb(map[string]string{"client_ip": absent}), reject: MissingClientIP},
		{name: "empty client_ip", fields: clb(map[string]string{"client_ip": ""}), reject: MissingClientIP},
		{name: "bad client_ip", fields: alb(map[string]string{"client_ip": "47.96.1"}), reject: BadClientIP},
		{name: "client_ip with a zone", fields: alb(map[string]string{"client_ip": "fe80::1%eth0"}), reject: BadClientIP},
		{name: "IPv6 client of a dual-stack ALB", fields: alb(map[string]string{"client_ip": "2408:4000:1::7", "vip_addr": "2408:4001:9::20"}),
			want: &want{egress: &mapping.Egress{Addr: addr("2408:4001:9::20")}, peer: &tuple.Endpoint{Addr: addr("2408:4000:1::7")}}},
		{name: "IPv6 client of a CLB keeps its port", fields: clb(map[string]string{"client_ip": "2408:4000:1::7", "vip_addr": "2408:4001:9::21"}),
			want: &want{peer: &tuple.Endpoint{Addr: addr("2408:4000:1::7"), Port: 51234}}},
		{name: "IPv4-mapped client is unmapped", fields: alb(map[string]string{"client_ip": "::ffff:47.96.1.10"}),
			want: &want{peer: &tuple.Endpoint{Addr: addr("47.96.1.10")}}},
		{name: "CLB without client_port", fields: clb(map[string]string{"client_port": absent}), reject: MissingClientPort},
		{name: "CLB empty client_port", fields: clb(map[string]string{"client_port": ""}), reject: MissingClientPort},
		{name: "CLB client_port -", fields: clb(map[string]string{"client_port": "-"}), reject: BadClientPort},
		{name: "client_port 0", fields: clb(map[string]string{"client_port": "0"}), reject: BadClientPort},
		{name: "ALB client_port 0", fields: alb(map[string]string{"client_port": "0"}), reject: BadClientPort},
		{name: "client_port out of range", fields: alb(map[string]string{"client_port": "65536"}), reject: BadClientPort},
		{name: "client_port not a number", fields: clb(map[string]string{"client_port": "http"}), reject: BadClientPort},

		// Load-balancer side.
		{name: "missing vip_addr", fields: alb(map[string]string{"vip_addr": absent}), reject: MissingVIP},
		{name: "bad vip_addr", fields: clb(map[string]string{"vip_addr": "vip"}), reject: BadVIP},
		{name: "ALB private VIP is scoped by the balancer", fields: alb(map[string]string{"vip_addr": "172.16.0.5"}),
			want: &want{egress: &mapping.Egress{Scope: "alb-bp1abc", Addr: addr("172.16.0.5")}}},
		{name: "CLB private VIP is scoped by the balancer", fields: clb(map[string]string{"vip_addr": "10.0.0.9"}),
			want: &want{egress: &mapping.Egress{Scope: "lb-bp1xyz", Addr: addr("10.0.0.9")}}},
		{name: "IPv6 ULA VIP is scoped", fields: alb(map[string]string{"vip_addr": "fd00::5", "client_ip": "2408:4000:1::7"}),
			want: &want{egress: &mapping.Egress{Scope: "alb-bp1abc", Addr: addr("fd00::5")}}},
		{name: "missing slb_vport", fields: alb(map[string]string{"slb_vport": absent}), reject: MissingVPort},
		{name: "slb_vport 0", fields: alb(map[string]string{"slb_vport": "0"}), reject: BadVPort},
		{name: "bad slb_vport", fields: clb(map[string]string{"slb_vport": "https"}), reject: BadVPort},

		// Time and window.
		{name: "time in Unix milliseconds", fields: clb(map[string]string{"time": "1738767430000", "request_time": "0"}), want: &want{start: t10, end: t10}},
		{name: "time in RFC 3339 UTC", fields: clb(map[string]string{"time": "2025-02-05T14:57:10Z", "request_time": "0"}), want: &want{start: t10, end: t10}},
		{name: "time with an offset without colon", fields: clb(map[string]string{"time": "2025-02-05T22:57:10+0800", "request_time": "0"}), want: &want{start: t10, end: t10}},
		{name: "time with surrounding spaces", fields: clb(map[string]string{"time": " 2025-02-05T22:57:10+08:00 ", "request_time": "0"}), want: &want{start: t10, end: t10}},
		{name: "fractional time rounds the window outwards", fields: clb(map[string]string{"time": "2025-02-05T14:57:10.400Z", "request_time": "0.3"}),
			want: &want{start: t10, end: t10 + 1}},
		{name: "request_time reaching into the previous second", fields: clb(map[string]string{"time": "1738767430.2", "request_time": "0.3"}),
			want: &want{start: t10 - 1, end: t10 + 1}},
		{name: "absent time falls back to the log time", fields: alb(map[string]string{"time": absent, "request_time": "2"}),
			want: &want{start: logTime - 2, end: logTime}},
		{name: "empty time", fields: alb(map[string]string{"time": ""}), reject: BadTime},
		{name: "unparsable time", fields: alb(map[string]string{"time": "05/Feb/2025:22:57:10 +0800"}), reject: BadTime},
		{name: "time -", fields: clb(map[string]string{"time": "-"}), reject: BadTime},
		{name: "time past 32-bit seconds", fields: clb(map[string]string{"time": "2200-01-01T00:00:00Z"}), reject: BadTime},
		{name: "absent request_time is an instant", fields: clb(map[string]string{"request_time": absent}), want: &want{start: t10, end: t10}},
		{name: "request_time -", fields: clb(map[string]string{"request_time": "-"}), want: &want{start: t10, end: t10}},
		{name: "long request", fields: clb(map[string]string{"request_time": "125.001"}), want: &want{start: t10 - 126, end: t10}},
		{name: "request_time list is summed", fields: clb(map[string]string{"request_time": "2.5, 3.5"}), want: &want{start: t10 - 6, end: t10}},
		{name: "request_time list with -", fields: clb(map[string]string{"request_time": "-, 3"}), want: &want{start: t10 - 3, end: t10}},
		{name: "request_time past a day is capped", fields: clb(map[string]string{"request_time": "999999999999999999999"}),
			want: &want{start: t10 - MaxRequestTime, end: t10}},
		{name: "time before 2010", fields: clb(map[string]string{"time": "100", "request_time": "250"}), reject: TimeOutOfRange},
		{name: "time 0", fields: clb(map[string]string{"time": "0"}), reject: TimeOutOfRange},
		{name: "time over a day after the log", fields: clb(map[string]string{"time": "1738854400"}), reject: TimeOutOfRange},
		{name: "time a day after the log", fields: clb(map[string]string{"time": "1738854399", "request_time": "0"}), want: &want{start: logTime + 86400, end: logTime + 86400}},
		{name: "absent time with a log time before 2010", fields: alb(map[string]string{"time": absent}), logTime: 1000, reject: TimeOutOfRange},
		{name: "request_time sub-nanosecond digits round up", fields: clb(map[string]string{"request_time": "0.0000000001"}), want: &want{start: t10 - 1, end: t10}},
		{name: "bad request_time", fields: clb(map[string]string{"request_time": "fast"}), reject: BadRequestTime},
		{name: "negative request_time", fields: clb(map[string]string{"request_time": "-1"}), reject: BadRequestTime},
		{name: "request_time with exponent", fields: clb(map[string]string{"request_time": "1e3"}), reject: BadRequestTime},
		{name: "request_time NaN", fields: clb(map[string]string{"request_time": "NaN"}), reject: BadRequestTime},
		{name: "request_time empty list entry", fields: clb(map[string]string{"request_time": "1,,2"}), reject: BadRequestTime},
		{name: "request_time trailing comma", fields: clb(map[string]string{"request_time": "1,"}), reject: BadRequestTime},
		{name: "request_time lone point", fields: clb(map[string]string{"request_time": "."}), reject: BadRequestTime},

		// Upstreams.
		{name: "missing upstream_addr", fields: alb(map[string]string{"upstream_addr": absent}), reject: MissingUpstream},
		{name: "upstream - : answered by the balancer", fields: alb(map[string]string{"upstream_addr": "-"}), reject: NoUpstream},
		{name: "empty upstream", fields: clb(map[string]string{"upstream_addr": ""}), reject: NoUpstream},
		{name: "blank upstream", fields: clb(map[string]string{"upstream_addr": " - "}), reject: NoUpstream},
		{name: "retry list: the last served, the others are kept", fields: alb(map[string]string{"upstream_addr": "192.168.1.9:8080, 192.168.1.10:8080"}),
			want: &want{private: "192.168.1.10:8080", previous: []string{"192.168.1.9:8080"}}},
		{name: "retry list without spaces", fields: clb(map[string]string{"upstream_addr": "172.16.1.4:80,172.16.1.6:80,172.16.1.5:80"}),
			want: &want{private: "172.16.1.5:80", previous: []string{"172.16.1.4:80", "172.16.1.6:80"}}},
		{name: "internal redirect between groups", fields: alb(map[string]string{"upstream_addr": "192.168.1.9:8080, 192.168.1.8:8080 : 192.168.2.1:9000"}),
			want: &want{private: "192.168.2.1:9000", previous: []string{"192.168.1.9:8080", "192.168.1.8:8080"}}},
		{name: "IPv6 upstreams", fields: alb(map[string]string{"upstream_addr": "[2408:4002::9]:8080, [2408:4002::a]:8080"}),
			want: &want{private: "[2408:4002::a]:8080", previous: []string{"[2408:4002::9]:8080"}}},
		{name: "upstream without a port", fields: alb(map[string]string{"upstream_addr": "192.168.1.10"}), reject: BadUpstream},
		{name: "upstream group name", fields: alb(map[string]string{"upstream_addr": "backend_pool"}), reject: BadUpstream},
		{name: "upstream port 0", fields: clb(map[string]string{"upstream_addr": "172.16.1.5:0"}), reject: BadUpstream},
		{name: "upstream list ending in -", fields: clb(map[string]string{"upstream_addr": "172.16.1.5:80, -"}), reject: BadUpstream},
		{name: "upstream list with a bad first entry", fields: clb(map[string]string{"upstream_addr": "x, 172.16.1.5:80"}), reject: BadUpstream},
		{name: "upstream list with a trailing comma", fields: clb(map[string]string{"upstream_addr": "172.16.1.5:80,"}), reject: BadUpstream},
		{name: "upstream list with an empty entry", fields: clb(map[string]string{"upstream_addr": "172.16.1.4:80,,172.16.1.5:80"}), reject: BadUpstream},

		// X-Forwarded-For.
		{name: "first X-Forwarded-For address is the client", fields: alb(map[string]string{"http_x_forwarded_for": "203.0.113.7, 10.1.1.1"}), want: &want{client: "203.0.113.7"}},
		{name: "X-Forwarded-For single", fields: clb(map[string]string{"http_x_forwarded_for": "203.0.113.8"}), want: &want{client: "203.0.113.8"}},
		{name: "X-Forwarded-For IPv6", fields: alb(map[string]string{"http_x_forwarded_for": "2001:db8::7,203.0.113.9"}), want: &want{client: "2001:db8::7"}},
		{name: "X-Forwarded-For with port", fields: alb(map[string]string{"http_x_forwarded_for": "203.0.113.7:5555"}), want: &want{client: "203.0.113.7"}},
		{name: "X-Forwarded-For bracketed IPv6", fields: alb(map[string]string{"http_x_forwarded_for": "[2001:db8::7]"}), want: &want{client: "2001:db8::7"}},
		{name: "X-Forwarded-For garbage is ignored, not fatal", fields: alb(map[string]string{"http_x_forwarded_for": "unknown, 203.0.113.7"}), want: &want{client: ""}},
		{name: "X-Forwarded-For absent", fields: alb(map[string]string{"http_x_forwarded_for": absent}), want: &want{client: ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lt := tt.logTime
			if lt == 0 {
				lt = logTime
			}
			m, r := Parse(tt.fields, tt.topic, lt)
			if r != tt.reject {
				t.Fatalf("reject = %q, want %q", r, tt.reject)
			}
			if r != "" {
				if m.Previous != nil {
					t.Fatalf("rejected record kept upstreams %v", m.Previous)
				}
				return
			}
			w := tt.want
			if w == nil {
				t.Fatal("accepted case without expectations")
			}
			if m.Proto != tuple.TCP {
				t.Fatalf("proto %v", m.Proto)
			}
			if w.kind != 0 && m.Kind != w.kind {
				t.Fatalf("kind %v, want %v", m.Kind, w.kind)
			}
			if w.id != "" && m.EgressID != w.id {
				t.Fatalf("id %q, want %q", m.EgressID, w.id)
			}
			if w.egress != nil && m.Egress != *w.egress {
				t.Fatalf("egress %+v, want %+v", m.Egress, *w.egress)
			}
			if w.port != 0 && m.Port != w.port {
				t.Fatalf("port %d, want %d", m.Port, w.port)
			}
			if w.peer != nil && m.Peer != *w.peer {
				t.Fatalf("peer %v, want %v", m.Peer, *w.peer)
			}
			if (w.start != 0 || w.end != 0) && (m.Start != w.start || m.End != w.end) {
				t.Fatalf("window [%d, %d], want [%d, %d]", m.Start, m.End, w.start, w.end)
			}
			if w.private != "" && m.Private != ep(w.private) {
				t.Fatalf("private %v, want %s", m.Private, w.private)
			}
			var prev []string
			for _, p := range m.Previous {
				prev = append(prev, p.String())
			}
			if w.previous != nil || w.private != "" {
				if fmt.Sprint(prev) != fmt.Sprint(w.previous) {
					t.Fatalf("previous %v, want %v", prev, w.previous)
				}
			}
			got := ""
			if m.Client.IsValid() {
				got = m.Client.String()
			}
			if got != w.client {
				t.Fatalf("client %q, want %q", got, w.client)
			}
		})
	}
}

// TestEveryRejectNamesItsField keeps the reasons countable and readable.
func TestEveryRejectNamesItsField(t *testing.T) {
	fields := []string{"app_lb_id", "slbid", "client_ip", "client_port", "vip_addr", "slb_vport", "time", "request_time", "upstream_addr"}
	for _, r := range allRejects {
		named := false
		for _, f := range fields {
			for i := 0; i+len(f) <= len(r); i++ {
				named = named || string(r[i:i+len(f)]) == f
			}
		}
		if !named {
			t.Errorf("reject %q names no field", r)
		}
	}
}

var allRejects = []mapping.Reject{MissingID, BothIDs, MissingALBID, BadALBID, MissingCLBID, BadCLBID, MissingClientIP, BadClientIP,
	MissingClientPort, BadClientPort, MissingVIP, BadVIP, MissingVPort, BadVPort, BadTime, TimeOutOfRange, BadRequestTime, MissingUpstream, NoUpstream, BadUpstream}

func TestParseDoesNotAllocate(t *testing.T) {
	for name, rec := range map[string][]mapping.Field{
		"alb":      albBase,
		"clb":      clbBase,
		"alb xff":  record(albBase, map[string]string{"http_x_forwarded_for": "203.0.113.7, 10.1.1.1", "client_port": "40001"}),
		"alb ipv6": record(albBase, map[string]string{"client_ip": "2408:4000:1::7", "vip_addr": "2408:4001:9::20", "upstream_addr": "[2408:4002::9]:8080"}),
		"clb ms":   record(clbBase, map[string]string{"time": "1738767430123", "request_time": "0.012, 0.020"}),
		"private":  record(albBase, map[string]string{"vip_addr": "172.16.0.5"}),
	} {
		allocs := testing.AllocsPerRun(1000, func() {
			if _, r := Parse(rec, "", logTime); r != "" {
				t.Fatal(r)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: Parse allocates %.1f times per record", name, allocs)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(TopicALB, "alb-1", "", "47.96.1.10", "", "39.100.1.20", "443", "192.168.1.9:8080, 192.168.1.10:8080", "2025-02-05T22:57:10+08:00", "0.005", "203.0.113.7, 10.1.1.1")
	f.Add(TopicCLB, "", "lb-1", "2408:4000:1::7", "51234", "2408:4001:9::21", "80", "[2408:4002::9]:80", "1738767430000", "1.5, 2", "-")
	f.Add("", "alb-1", "", "47.96.1.10", "-", "172.16.0.5", "80", "-", "1738767430.25", "-", "")
	f.Add("", "", "lb-2", "::ffff:1.2.3.4", "1", "10.0.0.1", "1", "1.1.1.1:1 : 2.2.2.2:2", "100", "999999999", "[2001:db8::1]:5")
	f.Fuzz(func(t *testing.T, topic, albID, clbID, clientIP, clientPort, vip, vport, upstream, tm, reqTime, xff string) {
		fields := []mapping.Field{{Key: "app_lb_id", Value: albID}, {Key: "slbid", Value: clbID}, {Key: "client_ip", Value: clientIP},
			{Key: "client_port", Value: clientPort}, {Key: "vip_addr", Value: vip}, {Key: "slb_vport", Value: vport},
			{Key: "upstream_addr", Value: upstream}, {Key: "time", Value: tm}, {Key: "request_time", Value: reqTime},
			{Key: "http_x_forwarded_for", Value: xff}}
		m, r := Parse(fields, topic, 1738767999)
		if r != "" {
			known := false
			for _, k := range allRejects {
				known = known || r == k
			}
			if !known {
				t.Fatalf("undeclared reject %q", r)
			}
			return
		}
		// An accepted record is internally consistent.
		if m.Kind != mapping.KindALB && m.Kind != mapping.KindCLB || m.Proto != tuple.TCP {
			t.Fatalf("kind %v proto %v", m.Kind, m.Proto)
		}
		if !mapping.ValidID(m.EgressID) || m.EgressID != albID && m.EgressID != clbID {
			t.Fatalf("egress id %q", m.EgressID)
		}
		if !m.Egress.Addr.IsValid() || !m.Peer.Addr.IsValid() || !m.Private.Addr.IsValid() {
			t.Fatalf("accepted record with invalid address: %+v", m)
		}
		for _, a := range []netip.Addr{m.Egress.Addr, m.Peer.Addr, m.Private.Addr, m.Client} {
			if a.Zone() != "" || a.Is4In6() {
				t.Fatalf("address %v has a zone or is v4-mapped", a)
			}
		}
		if m.Port == 0 || m.Private.Port == 0 {
			t.Fatalf("listener port %d, backend port %d", m.Port, m.Private.Port)
		}
		if m.Kind == mapping.KindCLB && m.Peer.Port == 0 {
			t.Fatalf("CLB record without a client port: %+v", m)
		}
		if m.Start < 0 || m.End < m.Start || m.End > math.MaxUint32 || m.End-m.Start > MaxRequestTime+2 {
			t.Fatalf("window [%d, %d]", m.Start, m.End)
		}
		if m.End < logtime.Earliest || m.End > 1738767999+logtime.MaxAhead+1 {
			t.Fatalf("window end %d outside [2010, log time + 1 day]", m.End)
		}
		if tuple.IsPrivate(m.Egress.Addr) != (m.Egress.Scope != "") {
			t.Fatalf("scope %q for VIP %v", m.Egress.Scope, m.Egress.Addr)
		}
		if m.Egress.Scope != "" && m.Egress.Scope != m.EgressID {
			t.Fatalf("scope %q is not the balancer %q", m.Egress.Scope, m.EgressID)
		}
		for _, p := range m.Previous {
			if !p.Addr.IsValid() || p.Port == 0 {
				t.Fatalf("bad previous upstream %v", p)
			}
		}
		if len(m.Previous) > len(upstream)/4 {
			t.Fatalf("%d previous upstreams from %q", len(m.Previous), upstream)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	for _, bc := range []struct {
		name   string
		fields []mapping.Field
		topic  string
	}{
		{"alb", albBase, TopicALB},
		{"clb", clbBase, TopicCLB},
		{"alb-xff-ipv6", record(albBase, map[string]string{"client_ip": "2408:4000:1::7", "vip_addr": "2408:4001:9::20", "http_x_forwarded_for": "203.0.113.7, 10.1.1.1"}), TopicALB},
		{"alb-retry", record(albBase, map[string]string{"upstream_addr": "192.168.1.9:8080, 192.168.1.10:8080", "request_time": "0.5, 0.2"}), TopicALB},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, r := Parse(bc.fields, bc.topic, logTime); r != "" {
					b.Fatal(r)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// Package oracle generates NAT and load-balancer scenarios with the shapes
// real logs have, and answers their alerts by brute force: DESIGN.md's
// matching rules applied to every raw record, with none of the product's
// code (no store, no buckets, no slots, no parsers). Tests compare the
// product's answers with these.
//
// Shapes: capture windows aligned to 10-minute boundaries, one session cut
// into several records, NAT ports reused by other hosts over time, two
// hosts on one public tuple at once (same start, and different starts),
// records longer than a bucket, ALB records without a client port, CLB
// retry lists, malformed records, and alerts in both orientations on the
// edges of windows plus and minus the skew.
package oracle

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Window is the aligned capture window of NAT session logs.
const Window = 600

// Record is one raw log record as SLS delivers it, with what it means.
type Record struct {
	Kind   string            // "nat", "alb" or "clb"
	Fields map[string]string // the record's contents
	Topic  string            // the log group's topic (LB)
	Time   int64             // the log's own time (__time__)
	Shard  int
	// Valid is false for a record the product must skip (malformed).
	Valid bool

	// What a valid record says, for the reference.
	Proto      uint8
	Public     netip.AddrPort // NAT: EIP:nat_port; LB: VIP:vport
	Peer       netip.Addr     // NAT: pub_ip; LB: client_ip
	PeerPort   uint16         // 0 when not logged (ALB)
	Private    netip.AddrPort // pri_ip:pri_port, or the backend that answered
	From, To   int64          // NAT: [start, end]; LB: [time - request_time, time] outwards to seconds
	EgressID   string
	PrivateVPC string
}

// Alert is one alert of a scenario.
type Alert struct {
	ID    string
	Proto string
	Src   netip.AddrPort
	Dst   netip.AddrPort
	At    int64
	// Why says how the generator made it, for failure messages.
	Why string
}

// JSON renders the alert as the detector sends it; times alternate between
// RFC 3339 and Unix seconds.
func (a Alert) JSON() []byte {
	at := strconv.FormatInt(a.At, 10)
	if a.At%2 == 0 {
		at = strconv.Quote(time.Unix(a.At, 0).UTC().Format(time.RFC3339))
	}
	return []byte(fmt.Sprintf(`{"alert_id":%q,"time":%s,"protocol":%q,"src_ip":%q,"src_port":%d,"dst_ip":%q,"dst_port":%d,"rule":"oracle"}`,
		a.ID, at, a.Proto, a.Src.Addr(), a.Src.Port(), a.Dst.Addr(), a.Dst.Port()))
}

// Answer is what the rules say of an alert.
type Answer struct {
	Status    string   // traced, ambiguous or untraced
	Endpoints []string // the private ip:port of every fitting record, sorted, each once
}

func (a Answer) String() string { return a.Status + " " + strings.Join(a.Endpoints, ",") }

// Scenario is a generated set of records and alerts.
type Scenario struct {
	Seed    uint64
	Records []Record
	Alerts  []Alert
	Skew    int64
	Shards  int
}

// Size scales a scenario.
type Size struct {
	Sessions int // NAT sessions (each one or more records)
	Requests int // LB requests
	Alerts   int
	Shards   int
}

// Addresses of the scenario. The NAT EIPs, VIPs and peers are public
// addresses of documentation and cloud ranges; nothing is sent to them.
var (
	eips    = []netip.Addr{netip.MustParseAddr("47.100.1.85"), netip.MustParseAddr("47.100.1.86")}
	peers   = []netip.Addr{netip.MustParseAddr("106.11.22.203"), netip.MustParseAddr("140.205.60.46"), netip.MustParseAddr("110.242.68.66")}
	albVIP  = netip.MustParseAddr("39.100.1.20")
	clbVIP  = netip.MustParseAddr("47.96.2.30")
	clients = []netip.Addr{netip.MustParseAddr("198.51.100.23"), netip.MustParseAddr("203.0.113.50"), netip.MustParseAddr("203.0.113.51")}
)

// Generate makes a scenario. base is the start of its two hours; it is
// aligned down to a capture window.
func Generate(seed uint64, size Size, base time.Time, skew time.Duration) *Scenario {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := base.Unix() / Window * Window
	s := &Scenario{Seed: seed, Skew: int64(skew / time.Second), Shards: max(size.Shards, 1)}
	hosts := make([]netip.Addr, 24)
	for i := range hosts {
		hosts[i] = netip.AddrFrom4([4]byte{172, 16, 20, byte(10 + i)})
	}
	// A small pool of NAT ports, so that ports are reused by other hosts
	// over the two hours, and sometimes at once.
	natPorts := make([]uint16, 40)
	for i := range natPorts {
		natPorts[i] = uint16(20000 + rng.IntN(40000))
	}
	session := func(host netip.Addr, eip netip.Addr, natPort uint16, peer netip.Addr, peerPort uint16, proto uint8, start, end int64, aligned bool) {
		priPort := uint16(30000 + rng.IntN(30000))
		add := func(from, to int64) {
			r := Record{Kind: "nat", Valid: true, Proto: proto, Public: netip.AddrPortFrom(eip, natPort), Peer: peer, PeerPort: peerPort,
				Private: netip.AddrPortFrom(host, priPort), From: from, To: to, EgressID: "ngw-oracle", PrivateVPC: "vpc-oracle",
				Time: to + int64(rng.IntN(300)), Shard: rng.IntN(s.Shards)}
			r.Fields = map[string]string{
				"instance": "ngw-oracle", "vpc_id": "vpc-oracle", "protocol": strconv.Itoa(int(proto)),
				"pri_ip": host.String(), "pri_port": strconv.Itoa(int(priPort)), "nat_ip": eip.String(), "nat_port": strconv.Itoa(int(natPort)),
				"pub_ip": peer.String(), "pub_port": strconv.Itoa(int(peerPort)),
				"bytes_from_vpc": strconv.Itoa(rng.IntN(100000)), "bytes_from_pub": strconv.Itoa(rng.IntN(100000)),
				"pkts_from_vpc": "6", "pkts_from_pub": "4",
				"start_time": strconv.FormatInt(from, 10), "end_time": strconv.FormatInt(to, 10),
			}
			if rng.IntN(8) == 0 { // the older delivery's spellings
				r.Fields["intstance"], r.Fields["portocol"] = r.Fields["instance"], r.Fields["protocol"]
				delete(r.Fields, "instance")
				delete(r.Fields, "protocol")
			}
			s.Records = append(s.Records, r)
		}
		if !aligned {
			add(start, end) // one record over the whole session (up to the hour the rules allow)
			return
		}
		// Cut at every capture window it spans.
		for w := start / Window * Window; w <= end; w += Window {
			add(max(start, w), min(end, w+Window))
		}
	}
	for range size.Sessions {
		host := hosts[rng.IntN(len(hosts))]
		eip := eips[rng.IntN(len(eips))]
		natPort := natPorts[rng.IntN(len(natPorts))]
		peer := peers[rng.IntN(len(peers))]
		proto, peerPort := uint8(6), uint16(443)
		if rng.IntN(6) == 0 {
			proto, peerPort = 17, 53
		}
		start := b + int64(rng.IntN(2*3600))
		var dur int64
		switch rng.IntN(10) {
		case 0: // longer than a bucket: one record, or cut at windows
			dur = int64(Window + rng.IntN(3000))
		default:
			dur = int64(1 + rng.IntN(900))
		}
		aligned := rng.IntN(5) != 0
		session(host, eip, natPort, peer, peerPort, proto, start, start+dur, aligned)
		switch rng.IntN(8) {
		case 0: // another host on the same public tuple in the same window, same start
			w := start / Window * Window
			session(hosts[rng.IntN(len(hosts))], eip, natPort, peer, peerPort, proto, w, w+Window, false)
			session(hosts[rng.IntN(len(hosts))], eip, natPort, peer, peerPort, proto, w, w+Window, false)
		case 1: // another host on the same tuple, starting a little later
			later := start + int64(rng.IntN(int(dur)+1))
			session(hosts[rng.IntN(len(hosts))], eip, natPort, peer, peerPort, proto, later, later+int64(1+rng.IntN(600)), true)
		}
	}
	for range size.Requests {
		s.Records = append(s.Records, request(rng, b, s.Shards))
	}
	// Malformed records: skipped by the product, ignored by the rules.
	for i := range max(size.Sessions/50, 1) {
		r := Record{Kind: "nat", Time: b + 60, Shard: rng.IntN(s.Shards), Fields: map[string]string{
			"instance": "ngw-oracle", "vpc_id": "vpc-oracle", "protocol": "6", "pri_ip": "172.16.20.99", "pri_port": "1",
			"nat_ip": eips[0].String(), "nat_port": "1", "pub_ip": peers[0].String(), "pub_port": "443",
			"start_time": strconv.FormatInt(b, 10), "end_time": strconv.FormatInt(b+60, 10)}}
		switch i % 4 {
		case 0:
			r.Fields["start_time"] = "0" // 1970: no log can carry it
		case 1:
			r.Fields["start_time"] = "99999999999999999999.5"
		case 2:
			r.Fields["end_time"] = strconv.FormatInt(b+7200, 10) // a two-hour window
		case 3:
			delete(r.Fields, "pri_ip")
		}
		s.Records = append(s.Records, r)
	}
	s.alerts(rng, size.Alerts)
	return s
}

// request makes one ALB or CLB access-log record.
func request(rng *rand.Rand, b int64, shards int) Record {
	alb := rng.IntN(2) == 0
	r := Record{Valid: true, Proto: 6, Shard: rng.IntN(shards)}
	client := clients[rng.IntN(len(clients))]
	port := uint16(40000 + rng.IntN(300)) // few ports: clients reuse them
	at := b + int64(rng.IntN(2*3600))
	rtMS := int64(rng.IntN(3000))
	backend := netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 168, 1, byte(2 + rng.IntN(6))}), 8080)
	upstream := backend.String()
	if rng.IntN(6) == 0 { // a retry: the last upstream answered
		upstream = netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 168, 1, 200}), 8080).String() + ", " + upstream
	}
	r.Fields = map[string]string{
		"client_ip": client.String(), "upstream_addr": upstream, "time": time.Unix(at, 0).In(time.FixedZone("CST", 8*3600)).Format(time.RFC3339),
		"request_time": fmt.Sprintf("%d.%03d", rtMS/1000, rtMS%1000), "host": "shop.example.com", "request_uri": "/login",
		"status": "200", "http_x_forwarded_for": "-",
	}
	if alb {
		r.Kind, r.Topic, r.EgressID = "alb", "alb_layer7_access_log", "alb-oracle"
		r.Public = netip.AddrPortFrom(albVIP, 443)
		r.Fields["app_lb_id"] = r.EgressID
		if rng.IntN(2) == 0 { // ALB documents no client_port: some records have it, some not
			r.PeerPort = port
			r.Fields["client_port"] = strconv.Itoa(int(port))
		}
	} else {
		r.Kind, r.Topic, r.EgressID = "clb", "slb_layer7_access_log", "lb-oracle"
		r.Public = netip.AddrPortFrom(clbVIP, 80)
		r.Fields["slbid"] = r.EgressID
		r.PeerPort = port
		r.Fields["client_port"] = strconv.Itoa(int(port))
	}
	r.Fields["vip_addr"] = r.Public.Addr().String()
	r.Fields["slb_vport"] = strconv.Itoa(int(r.Public.Port()))
	r.Peer, r.Private = client, backend
	// [time - request_time, time], rounded outwards to whole seconds: logs
	// carry time to the second.
	r.From, r.To = at-(rtMS+999)/1000, at
	r.Time = at + int64(rng.IntN(60))
	return r
}

// alerts makes alerts about the records: inside, on and just past each
// edge of a window widened by the skew, in both orientations, and some
// about tuples no record has.
func (s *Scenario) alerts(rng *rand.Rand, n int) {
	var valid []*Record
	for i := range s.Records {
		if s.Records[i].Valid {
			valid = append(valid, &s.Records[i])
		}
	}
	for i := range n {
		a := Alert{ID: fmt.Sprintf("o-%d-%d", s.Seed, i)}
		if len(valid) == 0 || rng.IntN(10) == 0 {
			// A tuple of the scenario's addresses that may fit nothing.
			a.Proto = "tcp"
			a.Src = netip.AddrPortFrom(eips[rng.IntN(len(eips))], uint16(20000+rng.IntN(40000)))
			a.Dst = netip.AddrPortFrom(peers[rng.IntN(len(peers))], 443)
			a.At = valid[0].From + int64(rng.IntN(7200))
			a.Why = "random tuple"
			s.Alerts = append(s.Alerts, a)
			continue
		}
		r := valid[rng.IntN(len(valid))]
		a.Proto = map[uint8]string{6: "tcp", 17: "udp"}[r.Proto]
		edges := []struct {
			at  int64
			why string
		}{
			{r.From + int64(rng.IntN(int(r.To-r.From)+1)), "inside"},
			{r.From - s.Skew, "start - skew"}, {r.From - s.Skew - 1, "start - skew - 1"},
			{r.To + s.Skew, "end + skew"}, {r.To + s.Skew + 1, "end + skew + 1"},
		}
		e := edges[rng.IntN(len(edges))]
		a.At, a.Why = e.at, fmt.Sprintf("%s of %s record %s", e.why, r.Kind, r.Private)
		peerPort := r.PeerPort
		if peerPort == 0 {
			peerPort = uint16(40000 + rng.IntN(40))
		}
		public, peer := r.Public, netip.AddrPortFrom(r.Peer, peerPort)
		if rng.IntN(2) == 0 {
			a.Src, a.Dst = public, peer
		} else {
			a.Src, a.Dst, a.Why = peer, public, a.Why+", reversed"
		}
		s.Alerts = append(s.Alerts, a)
	}
}

// Expect applies the matching rules to every valid record.
func (s *Scenario) Expect(a Alert) Answer {
	set := map[string]bool{}
	for i := range s.Records {
		r := &s.Records[i]
		if r.Valid && s.fits(r, a) {
			set[r.Private.String()] = true
		}
	}
	out := Answer{Endpoints: make([]string, 0, len(set))}
	for e := range set {
		out.Endpoints = append(out.Endpoints, e)
	}
	sort.Strings(out.Endpoints)
	switch len(out.Endpoints) {
	case 0:
		out.Status = "untraced"
	case 1:
		out.Status = "traced"
	default:
		out.Status = "ambiguous"
	}
	return out
}

// fits is DESIGN.md's matching rule for one record and one alert.
func (s *Scenario) fits(r *Record, a Alert) bool {
	if a.At < r.From-s.Skew || a.At > r.To+s.Skew {
		return false
	}
	for _, o := range [2][2]netip.AddrPort{{a.Src, a.Dst}, {a.Dst, a.Src}} {
		public, peer := o[0], o[1]
		if r.Kind == "nat" {
			// Same protocol; the tuple equals the record's public side.
			if a.Proto == map[uint8]string{6: "tcp", 17: "udp"}[r.Proto] && public == r.Public &&
				peer.Addr() == r.Peer && peer.Port() == r.PeerPort {
				return true
			}
			continue
		}
		// Load balancers: TCP; client ip (and port when both sides have
		// one) and VIP:port equal.
		if a.Proto == "tcp" && public == r.Public && peer.Addr() == r.Peer && (r.PeerPort == 0 || peer.Port() == r.PeerPort) {
			return true
		}
	}
	return false
}

// Describe lists the records that share an alert's addresses, for a
// failure message.
func (s *Scenario) Describe(a Alert) string {
	var b strings.Builder
	fmt.Fprintf(&b, "alert %s (%s): %s\n", a.ID, a.Why, a.JSON())
	for i := range s.Records {
		r := &s.Records[i]
		if !r.Valid || (r.Public.Addr() != a.Src.Addr() && r.Public.Addr() != a.Dst.Addr()) ||
			(r.Public.Port() != a.Src.Port() && r.Public.Port() != a.Dst.Port()) {
			continue
		}
		fmt.Fprintf(&b, "  record shard %d [%d, %d] fits=%v %v\n", r.Shard, r.From, r.To, s.fits(r, a), r.Fields)
	}
	return b.String()
}

// SkewedAlerts makes n alerts about valid records seen by a detector whose
// clock is off the logs' by up to the skew either way: each alert's time is
// a moment of its record's window moved by a random offset in
// [-skew, +skew]. Each must be answered with its record's endpoint among
// the answers.
func (s *Scenario) SkewedAlerts(seed uint64, n int) (alerts []Alert, truth []string) {
	rng := rand.New(rand.NewPCG(seed, 11))
	var valid []*Record
	for i := range s.Records {
		if s.Records[i].Valid {
			valid = append(valid, &s.Records[i])
		}
	}
	for i := range n {
		r := valid[rng.IntN(len(valid))]
		offset := int64(rng.IntN(int(2*s.Skew+1))) - s.Skew
		a := Alert{ID: fmt.Sprintf("skew-%d-%d", s.Seed, i), Proto: map[uint8]string{6: "tcp", 17: "udp"}[r.Proto],
			At: r.From + int64(rng.IntN(int(r.To-r.From)+1)) + offset, Why: fmt.Sprintf("clock off by %+ds", offset)}
		peerPort := r.PeerPort
		if peerPort == 0 {
			peerPort = uint16(40000 + rng.IntN(300))
		}
		a.Src, a.Dst = r.Public, netip.AddrPortFrom(r.Peer, peerPort)
		if rng.IntN(2) == 0 {
			a.Src, a.Dst = a.Dst, a.Src
		}
		alerts = append(alerts, a)
		truth = append(truth, r.Private.String())
	}
	return alerts, truth
}

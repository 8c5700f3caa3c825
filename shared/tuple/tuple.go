// Package tuple holds the network vocabulary of ndrtrace: protocols, endpoints
// and the public five-tuple a detector sees. Everything here is parsed from
// strings once and then handled as small comparable values.
package tuple

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/ndrtrace/ndrtrace/shared/decimal"
)

// Proto is an IANA protocol number.
type Proto uint8

const (
	ICMP   Proto = 1
	TCP    Proto = 6
	UDP    Proto = 17
	ICMPv6 Proto = 58
)

// HasPorts reports whether five-tuples of this protocol carry ports. ICMP
// sessions have an identifier in the port position (NAT logs record the ICMP
// id as pri_port), but detectors do not reliably report it.
func (p Proto) HasPorts() bool { return p == TCP || p == UDP }

func (p Proto) String() string {
	switch p {
	case ICMP:
		return "icmp"
	case TCP:
		return "tcp"
	case UDP:
		return "udp"
	case ICMPv6:
		return "icmpv6"
	}
	return strconv.Itoa(int(p))
}

// ErrProto is returned for an unknown protocol name or an out-of-range number.
var ErrProto = errors.New("unknown protocol")

// ParseProto accepts a protocol name (tcp, udp, icmp, icmpv6; any case) or an
// IANA number 0-255.
func ParseProto(s string) (Proto, error) {
	// Logs write the number: read it without the general path.
	if n, ok := decimal.Uint(s); ok && n <= 255 {
		return Proto(n), nil
	}
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "tcp":
		return TCP, nil
	case "udp":
		return UDP, nil
	case "icmp":
		return ICMP, nil
	case "icmpv6", "ipv6-icmp":
		return ICMPv6, nil
	}
	n, err := strconv.ParseUint(s, 10, 8)
	if err != nil {
		return 0, fmt.Errorf("%w %q", ErrProto, s)
	}
	return Proto(n), nil
}

// ParseAddr parses an IPv4 or IPv6 address (no zone). IPv4-mapped IPv6
// addresses are unmapped so that one host has one spelling.
func ParseAddr(s string) (netip.Addr, error) {
	// The plain dotted quads logs write (three per NAT record); netip
	// judges anything else.
	if a, ok := dottedQuad(s); ok {
		return a, nil
	}
	a, err := netip.ParseAddr(strings.TrimSpace(s))
	if err != nil {
		return netip.Addr{}, err
	}
	if a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("address %q has a zone", s)
	}
	return a.Unmap(), nil
}

// dottedQuad reads s as exactly four decimal fields of 0-255 joined by
// dots, each without a leading zero, as netip.ParseAddr reads IPv4; ok is
// false for any other s (netip's to judge).
func dottedQuad(s string) (netip.Addr, bool) {
	var b [4]byte
	i := 0
	for f := range 4 {
		if f > 0 {
			if i >= len(s) || s[i] != '.' {
				return netip.Addr{}, false
			}
			i++
		}
		if i >= len(s) || s[i]-'0' > 9 {
			return netip.Addr{}, false
		}
		n := uint(s[i] - '0')
		i++
		if n != 0 { // a field that starts with 0 is that 0 alone
			for end := min(i+2, len(s)); i < end && s[i]-'0' <= 9; i++ {
				n = n*10 + uint(s[i]-'0')
			}
			if n > 255 {
				return netip.Addr{}, false
			}
		}
		b[f] = byte(n)
	}
	if i != len(s) {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4(b), true
}

// ParsePort parses a port number 0-65535.
func ParsePort(s string) (uint16, error) {
	// The plain digits logs write; strconv judges anything else.
	if n, ok := decimal.Uint(s); ok && n <= 65535 {
		return uint16(n), nil
	}
	n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 16)
	if err != nil {
		return 0, fmt.Errorf("bad port %q", s)
	}
	return uint16(n), nil
}

// Endpoint is an address and port.
type Endpoint struct {
	Addr netip.Addr
	Port uint16
}

func (e Endpoint) String() string {
	if !e.Addr.IsValid() {
		return ""
	}
	return netip.AddrPortFrom(e.Addr, e.Port).String()
}

// ParseEndpoint parses "ip:port" or "[v6]:port".
func ParseEndpoint(s string) (Endpoint, error) {
	ap, err := netip.ParseAddrPort(strings.TrimSpace(s))
	if err != nil {
		return Endpoint{}, err
	}
	if ap.Addr().Zone() != "" {
		return Endpoint{}, fmt.Errorf("endpoint %q has a zone", s)
	}
	return Endpoint{Addr: ap.Addr().Unmap(), Port: ap.Port()}, nil
}

// FiveTuple is a flow as a detector saw it on the public side.
type FiveTuple struct {
	Proto Proto
	Src   Endpoint
	Dst   Endpoint
}

// Reverse swaps the two sides.
func (t FiveTuple) Reverse() FiveTuple { return FiveTuple{Proto: t.Proto, Src: t.Dst, Dst: t.Src} }

func (t FiveTuple) String() string {
	return t.Proto.String() + " " + t.Src.String() + " -> " + t.Dst.String()
}

// IsPrivate reports whether an address is not globally routable: RFC 1918,
// carrier-grade NAT (100.64/10, which Alibaba Cloud uses inside VPCs), link
// local and ULA. Such an address only means something within its VPC.
func IsPrivate(a netip.Addr) bool {
	if a.Is4() { // every NAT record asks: its bytes, without netip's four checks
		b := a.As4()
		switch b[0] {
		case 10, 127:
			return true
		case 172:
			return b[1]&0xf0 == 16
		case 192:
			return b[1] == 168
		case 169:
			return b[1] == 254
		case 100:
			return b[1]&0xc0 == 64
		}
		return false
	}
	if a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() {
		return true
	}
	return a.Is4() && cgnat.Contains(a)
}

var cgnat = netip.MustParsePrefix("100.64.0.0/10")

package cloud

import (
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
)

// proxyFromEnv snapshots HTTP_PROXY, HTTPS_PROXY and NO_PROXY (upper case
// first, like Go and curl) with the usual semantics: NO_PROXY is a comma list
// of "*", IPs, CIDRs, and domains ("example.com" and ".example.com" both
// match the domain and its subdomains), each optionally with ":port".
//
// Why not http.ProxyFromEnvironment: it reads the environment once per
// process, and tests (and the local cloud) need to point a new Client at a
// new emulator. Why not the v1 SDK's own handling: it compiles NO_PROXY
// entries as regular expressions and only applies to *http.Transport.
func proxyFromEnv() func(*http.Request) (*url.URL, error) {
	httpProxy := getenvAny("HTTP_PROXY", "http_proxy")
	httpsProxy := getenvAny("HTTPS_PROXY", "https_proxy")
	noProxy := parseNoProxy(getenvAny("NO_PROXY", "no_proxy"))
	return func(r *http.Request) (*url.URL, error) {
		raw := httpProxy
		if r.URL.Scheme == "https" {
			raw = httpsProxy
		}
		if raw == "" || noProxy.matches(r.URL) {
			return nil, nil
		}
		return parseProxyURL(raw)
	}
}

func getenvAny(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

// parseProxyURL accepts "host:port" as shorthand for "http://host:port".
func parseProxyURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || !strings.Contains(raw, "://") {
		if u2, err2 := url.Parse("http://" + raw); err2 == nil && u2.Host != "" {
			return u2, nil
		}
	}
	return u, err
}

type noProxyRule struct {
	all    bool
	ipnet  *net.IPNet
	ip     net.IP
	domain string // lower case, without leading dot
	port   string
}

type noProxyRules []noProxyRule

func parseNoProxy(s string) noProxyRules {
	var rules noProxyRules
	for _, f := range strings.Split(s, ",") {
		f = strings.ToLower(strings.TrimSpace(f))
		if f == "" {
			continue
		}
		if f == "*" {
			return noProxyRules{{all: true}}
		}
		if _, n, err := net.ParseCIDR(f); err == nil {
			rules = append(rules, noProxyRule{ipnet: n})
			continue
		}
		host, port := f, ""
		if h, p, err := net.SplitHostPort(f); err == nil {
			host, port = h, p
		}
		if ip := net.ParseIP(strings.Trim(host, "[]")); ip != nil {
			rules = append(rules, noProxyRule{ip: ip, port: port})
			continue
		}
		host = strings.TrimPrefix(strings.TrimPrefix(host, "*"), ".")
		if host != "" {
			rules = append(rules, noProxyRule{domain: host, port: port})
		}
	}
	return rules
}

func (rs noProxyRules) matches(u *url.URL) bool {
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	ip := net.ParseIP(host)
	for _, r := range rs {
		switch {
		case r.all:
			return true
		case r.port != "" && r.port != port:
			continue
		case r.ipnet != nil:
			if ip != nil && r.ipnet.Contains(ip) {
				return true
			}
		case r.ip != nil:
			if ip != nil && r.ip.Equal(ip) {
				return true
			}
		case r.domain != "":
			if host == r.domain || strings.HasSuffix(host, "."+r.domain) {
				return true
			}
		}
	}
	return false
}

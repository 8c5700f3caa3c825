package cloud

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Product keys of Config.Endpoints.
const (
	ProductVPC = "vpc"
	ProductALB = "alb"
	ProductSLB = "slb"
	ProductECS = "ecs"
	ProductSTS = "sts"
	ProductRAM = "ram"
)

// DefaultSTSEndpoint is used for AssumeRole unless Config.Endpoints["sts"] is
// set: the v1 SDK skips its endpoint tables for Sts requests that carry
// parameters and would fall back to the location service.
const DefaultSTSEndpoint = "sts.aliyuncs.com"

// Config tunes a Client. The zero value is production-ready.
type Config struct {
	// Scheme is "https" (default) or "http" (the local cloud only).
	Scheme string
	// Endpoints overrides the SDK's endpoint tables per product (keys
	// ProductVPC...). A value is a host or host:port and may contain
	// "{region}", replaced by the call's region. Empty: the SDK's regional
	// endpoint (for example vpc.aliyuncs.com for cn-hangzhou,
	// ecs.cn-shanghai.aliyuncs.com, ...).
	Endpoints map[string]string
	// CallTimeout bounds one attempt of one API call (default 15s). The
	// caller's context bounds the whole operation, retries included.
	CallTimeout time.Duration
	// MaxAttempts bounds the attempts of one API call (default 5).
	MaxAttempts int
	// BaseBackoff is the first retry delay (default 200ms); it doubles per
	// attempt up to MaxBackoff (default 5s), with jitter.
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	// Proxy chooses the proxy per request. Nil: HTTP_PROXY, HTTPS_PROXY and
	// NO_PROXY (and lower-case forms) as read when the Client is built.
	Proxy func(*http.Request) (*url.URL, error)
	// Transport replaces the HTTP transport entirely (tests); Proxy is then
	// ignored.
	Transport http.RoundTripper
}

func (c Config) withDefaults() (Config, error) {
	switch strings.ToLower(c.Scheme) {
	case "":
		c.Scheme = "https"
	case "https", "http":
		c.Scheme = strings.ToLower(c.Scheme)
	default:
		return c, fmt.Errorf("cloud: unsupported scheme %q (want https or http)", c.Scheme)
	}
	if c.CallTimeout <= 0 {
		c.CallTimeout = 15 * time.Second
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 5
	}
	if c.BaseBackoff <= 0 {
		c.BaseBackoff = 200 * time.Millisecond
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 5 * time.Second
	}
	if c.MaxBackoff < c.BaseBackoff {
		c.MaxBackoff = c.BaseBackoff
	}
	eps := make(map[string]string, len(c.Endpoints))
	for k, v := range c.Endpoints {
		k = strings.ToLower(strings.TrimSpace(k))
		v = strings.TrimSpace(v)
		if k == "" || v == "" {
			continue
		}
		if strings.Contains(v, "://") || strings.ContainsAny(v, "/?#") {
			return c, fmt.Errorf("cloud: endpoint for %s must be a host[:port], got %q", k, v)
		}
		eps[k] = v
	}
	c.Endpoints = eps
	return c, nil
}

// DefaultRAMEndpoint is RAM's single, global endpoint.
const DefaultRAMEndpoint = "ram.aliyuncs.com"

// endpoint returns the override for product in region, or "" for the SDK's
// own resolution.
func (c Config) endpoint(product, region string) string {
	v := c.Endpoints[product]
	if v == "" && product == ProductSTS {
		v = DefaultSTSEndpoint
	}
	if v == "" && product == ProductRAM {
		v = DefaultRAMEndpoint
	}
	return strings.ReplaceAll(v, "{region}", region)
}

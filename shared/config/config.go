// Package config reads the environment contract of DESIGN.md, once, at start.
package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Config is the environment of every function.
type Config struct {
	RedisURL     string
	ClusterAddrs []string
	// RedisCA is the pool of REDIS_CA_CERT, the certificate authority of a
	// rediss:// server (a managed instance's CA is not a public one); nil:
	// the system's roots.
	RedisCA      *x509.CertPool
	MappingTTL   time.Duration
	TraceMaxWait time.Duration
	// TraceMinBackoff and TraceMaxBackoff bound the wait's polling steps
	// (TRACE_MIN_BACKOFF, TRACE_MAX_BACKOFF; 200ms and 5s): wake-ups
	// answer between steps, so longer steps poll Redis less.
	TraceMinBackoff time.Duration
	TraceMaxBackoff time.Duration
	TimeSkew        time.Duration
	WebhookSecret   string
	Results         Results
	// LateWindow is how long an untraced alert stays pending (and a traced
	// answer open to corrections); 0 turns late resolution off.
	LateWindow time.Duration
	// CallbackURL receives every late result and correction, when set.
	CallbackURL string
	// EgressAddresses is the static address book (JSON list) that stands in
	// for the inventory: see package egress.
	EgressAddresses string
}

// Results names the SLS logstore every trace result is recorded in.
type Results struct {
	Endpoint, Project, Logstore string
}

// Enabled reports whether results are recorded.
func (r Results) Enabled() bool { return r.Endpoint != "" && r.Project != "" && r.Logstore != "" }

// FromEnv reads the configuration from the process environment.
func FromEnv() (Config, error) { return Load(os.Getenv) }

// Load reads the configuration through getenv.
func Load(getenv func(string) string) (Config, error) {
	c := Config{
		RedisURL:        getenv("REDIS_URL"),
		WebhookSecret:   getenv("WEBHOOK_SECRET"),
		Results:         Results{getenv("RESULTS_ENDPOINT"), getenv("RESULTS_PROJECT"), getenv("RESULTS_LOGSTORE")},
		EgressAddresses: getenv("EGRESS_ADDRESSES"),
		CallbackURL:     getenv("CALLBACK_URL"),
	}
	for _, a := range strings.Split(getenv("REDIS_CLUSTER_ADDRS"), ",") {
		if a = strings.TrimSpace(a); a != "" {
			c.ClusterAddrs = append(c.ClusterAddrs, a)
		}
	}
	if c.RedisURL == "" && len(c.ClusterAddrs) == 0 {
		return c, errors.New("REDIS_URL is required (or REDIS_CLUSTER_ADDRS for a Redis Cluster)")
	}
	if pem := getenv("REDIS_CA_CERT"); pem != "" {
		c.RedisCA = x509.NewCertPool()
		if !c.RedisCA.AppendCertsFromPEM([]byte(pem)) {
			return c, errors.New("REDIS_CA_CERT holds no PEM certificate")
		}
	}
	var err error
	for _, d := range []struct {
		name string
		def  time.Duration
		dst  *time.Duration
	}{{"MAPPING_TTL", time.Hour, &c.MappingTTL}, {"TRACE_MAX_WAIT", 90 * time.Second, &c.TraceMaxWait}, {"TIME_SKEW", time.Minute, &c.TimeSkew},
		{"TRACE_LATE_WINDOW", 30 * time.Minute, &c.LateWindow},
		{"TRACE_MIN_BACKOFF", 200 * time.Millisecond, &c.TraceMinBackoff}, {"TRACE_MAX_BACKOFF", 5 * time.Second, &c.TraceMaxBackoff}} {
		if *d.dst, err = duration(getenv, d.name, d.def); err != nil {
			return c, err
		}
	}
	if c.TraceMinBackoff <= 0 || c.TraceMaxBackoff < c.TraceMinBackoff {
		return c, fmt.Errorf("TRACE_MIN_BACKOFF=%s and TRACE_MAX_BACKOFF=%s: want 0 < min <= max", c.TraceMinBackoff, c.TraceMaxBackoff)
	}
	if c.CallbackURL != "" {
		u, err := url.Parse(c.CallbackURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			// The URL may carry a token: never echo it.
			return c, errors.New("CALLBACK_URL is not an http:// or https:// URL")
		}
	}
	return c, nil
}

func duration(getenv func(string) string, name string, def time.Duration) (time.Duration, error) {
	s := getenv(name)
	if s == "" {
		return def, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s=%q is not a non-negative Go duration (like 90s or 1h)", name, s)
	}
	return d, nil
}

// Redis builds the client: a Redis Cluster client when REDIS_CLUSTER_ADDRS is
// set (credentials and TLS then come from REDIS_URL, if given), a single
// server client otherwise. rediss:// turns TLS on (1.2 at least), verified
// against REDIS_CA_CERT when set.
func (c Config) Redis() (redis.UniversalClient, error) {
	if len(c.ClusterAddrs) > 0 {
		co, err := c.clusterOptions()
		if err != nil {
			return nil, err
		}
		return redis.NewClusterClient(co), nil
	}
	opt, err := c.urlOptions()
	if err != nil {
		return nil, err
	}
	tune(&opt.PoolSize, &opt.ReadTimeout, &opt.WriteTimeout)
	return redis.NewClient(opt), nil
}

func (c Config) urlOptions() (*redis.Options, error) {
	opt, err := redis.ParseURL(c.RedisURL)
	if err != nil {
		// The URL may hold a password: never echo it.
		return nil, errors.New("REDIS_URL is not a redis:// or rediss:// URL")
	}
	if t := opt.TLSConfig; t != nil {
		t.MinVersion = max(t.MinVersion, tls.VersionTLS12)
		t.RootCAs = c.RedisCA
	}
	return opt, nil
}

func (c Config) clusterOptions() (*redis.ClusterOptions, error) {
	co := &redis.ClusterOptions{Addrs: c.ClusterAddrs}
	if c.RedisURL != "" {
		opt, err := c.urlOptions()
		if err != nil {
			return nil, err
		}
		co.Username, co.Password, co.TLSConfig = opt.Username, opt.Password, opt.TLSConfig
		if co.TLSConfig != nil {
			// ParseURL names the URL's host; each node must be checked
			// against its own address, which an empty name makes tls do.
			co.TLSConfig.ServerName = ""
		}
	}
	tune(&co.PoolSize, &co.ReadTimeout, &co.WriteTimeout)
	return co, nil
}

// tune sets timeouts that fit large pipelines of a batch.
func tune(pool *int, read, write *time.Duration) {
	if *pool == 0 {
		*pool = 32
	}
	*read, *write = 10*time.Second, 10*time.Second
}

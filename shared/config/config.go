// Package config reads the environment contract of DESIGN.md, once, at start.
package config

import (
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Config is the environment of every function.
type Config struct {
	RedisURL      string
	ClusterAddrs  []string
	MappingTTL    time.Duration
	TraceMaxWait  time.Duration
	TimeSkew      time.Duration
	WebhookSecret string
	Results       Results
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
	}
	for _, a := range strings.Split(getenv("REDIS_CLUSTER_ADDRS"), ",") {
		if a = strings.TrimSpace(a); a != "" {
			c.ClusterAddrs = append(c.ClusterAddrs, a)
		}
	}
	if c.RedisURL == "" && len(c.ClusterAddrs) == 0 {
		return c, errors.New("REDIS_URL is required (or REDIS_CLUSTER_ADDRS for a Redis Cluster)")
	}
	var err error
	for _, d := range []struct {
		name string
		def  time.Duration
		dst  *time.Duration
	}{{"MAPPING_TTL", time.Hour, &c.MappingTTL}, {"TRACE_MAX_WAIT", 90 * time.Second, &c.TraceMaxWait}, {"TIME_SKEW", time.Minute, &c.TimeSkew}} {
		if *d.dst, err = duration(getenv, d.name, d.def); err != nil {
			return c, err
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
// server client otherwise.
func (c Config) Redis() (redis.UniversalClient, error) {
	var opt *redis.Options
	if c.RedisURL != "" {
		var err error
		if opt, err = redis.ParseURL(c.RedisURL); err != nil {
			// The URL may hold a password: never echo it.
			return nil, errors.New("REDIS_URL is not a redis:// or rediss:// URL")
		}
	}
	if len(c.ClusterAddrs) > 0 {
		co := &redis.ClusterOptions{Addrs: c.ClusterAddrs}
		if opt != nil {
			co.Username, co.Password, co.TLSConfig = opt.Username, opt.Password, opt.TLSConfig
		}
		tune(&co.PoolSize, &co.ReadTimeout, &co.WriteTimeout)
		return redis.NewClusterClient(co), nil
	}
	tune(&opt.PoolSize, &opt.ReadTimeout, &opt.WriteTimeout)
	if opt.TLSConfig != nil && opt.TLSConfig.MinVersion == 0 {
		opt.TLSConfig.MinVersion = tls.VersionTLS12
	}
	return redis.NewClient(opt), nil
}

// tune sets timeouts that fit large pipelines of a batch.
func tune(pool *int, read, write *time.Duration) {
	if *pool == 0 {
		*pool = 32
	}
	*read, *write = 10*time.Second, 10*time.Second
}

package config

import (
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoad(t *testing.T) {
	c, err := Load(env(map[string]string{"REDIS_URL": "redis://:pw@127.0.0.1:6379/0"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.MappingTTL != time.Hour || c.TraceMaxWait != 90*time.Second || c.TimeSkew != time.Minute || c.Results.Enabled() {
		t.Fatalf("defaults wrong: %+v", c)
	}
	c, err = Load(env(map[string]string{"REDIS_CLUSTER_ADDRS": "a:1, b:2,", "TRACE_MAX_WAIT": "5s"}))
	if err != nil || len(c.ClusterAddrs) != 2 || c.TraceMaxWait != 5*time.Second {
		t.Fatalf("%+v %v", c, err)
	}
	if _, err := Load(env(nil)); err == nil {
		t.Fatal("missing REDIS_URL accepted")
	}
	if _, err := Load(env(map[string]string{"REDIS_URL": "redis://x", "MAPPING_TTL": "forever"})); err == nil || !strings.Contains(err.Error(), "MAPPING_TTL") {
		t.Fatalf("bad duration: %v", err)
	}
}

func TestRedisURLErrorHidesPassword(t *testing.T) {
	c := Config{RedisURL: "http://user:s3cret@host"}
	_, err := c.Redis()
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("err = %v", err)
	}
}

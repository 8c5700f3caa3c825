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
	if c.MappingTTL != time.Hour || c.TraceMaxWait != 90*time.Second || c.TimeSkew != time.Minute || c.Results.Enabled() ||
		c.TraceMinBackoff != 200*time.Millisecond || c.TraceMaxBackoff != 5*time.Second {
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
	for _, b := range [][2]string{{"0", "5s"}, {"10s", "5s"}} {
		_, err := Load(env(map[string]string{"REDIS_URL": "redis://x", "TRACE_MIN_BACKOFF": b[0], "TRACE_MAX_BACKOFF": b[1]}))
		if err == nil || !strings.Contains(err.Error(), "TRACE_MIN_BACKOFF") {
			t.Fatalf("backoff %v accepted: %v", b, err)
		}
	}
	c, err = Load(env(map[string]string{"REDIS_URL": "redis://x", "TRACE_MIN_BACKOFF": "1s", "TRACE_MAX_BACKOFF": "1h"}))
	if err != nil || c.TraceMinBackoff != time.Second || c.TraceMaxBackoff != time.Hour {
		t.Fatalf("%+v %v", c, err)
	}
}

func TestLateResolutionEnv(t *testing.T) {
	base := map[string]string{"REDIS_URL": "redis://x"}
	with := func(k, v string) map[string]string {
		m := map[string]string{k: v}
		for a, b := range base {
			m[a] = b
		}
		return m
	}
	tests := []struct {
		name   string
		env    map[string]string
		window time.Duration
		url    string
		bad    string
	}{
		{"defaults", base, 30 * time.Minute, "", ""},
		{"off", with("TRACE_LATE_WINDOW", "0"), 0, "", ""},
		{"window", with("TRACE_LATE_WINDOW", "2h"), 2 * time.Hour, "", ""},
		{"bad window", with("TRACE_LATE_WINDOW", "-1m"), 0, "", "TRACE_LATE_WINDOW"},
		{"callback", with("CALLBACK_URL", "https://ndr.example/late"), 30 * time.Minute, "https://ndr.example/late", ""},
		{"bad callback", with("CALLBACK_URL", "ftp://tok3n@x/"), 0, "", "CALLBACK_URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(env(tt.env))
			if tt.bad != "" {
				if err == nil || !strings.Contains(err.Error(), tt.bad) || strings.Contains(err.Error(), "tok3n") {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err != nil || c.LateWindow != tt.window || c.CallbackURL != tt.url {
				t.Fatalf("%+v %v", c, err)
			}
		})
	}
}

func TestRedisURLErrorHidesPassword(t *testing.T) {
	c := Config{RedisURL: "http://user:s3cret@host"}
	_, err := c.Redis()
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("err = %v", err)
	}
}

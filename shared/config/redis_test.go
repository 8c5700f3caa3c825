package config

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/ndrtrace/ndrtrace/infra/local/redisd"
)

// TestRedisAuthAndTLS: REDIS_URL with a user, a password and rediss://
// reaches a TLS-only redis-server as an ACL user limited to RedisACL, and
// that user can do nothing outside ndr:* and RedisCommands.
func TestRedisAuthAndTLS(t *testing.T) {
	ctx := context.Background()
	srv, err := redisd.StartSecure(ctx, redisd.Secure{User: "ndrtrace", Password: "pw-Ab3:@/x", ACL: RedisACL()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()

	c, err := Load(env(map[string]string{"REDIS_URL": srv.URL(), "REDIS_CA_CERT": string(srv.CAPEM)}))
	if err != nil {
		t.Fatal(err)
	}
	rdb, err := c.Redis()
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	if who := rdb.Do(ctx, "ACL", "WHOAMI"); who.Err() == nil {
		t.Fatalf("ACL WHOAMI allowed: %v", who.Val())
	}
	if err := rdb.Set(ctx, "ndr:test", "1", 0).Err(); err != nil {
		t.Fatalf("SET ndr:test as the limited user over TLS: %v", err)
	}
	for name, err := range map[string]error{
		"a key outside ndr:*":    rdb.Set(ctx, "other", "1", 0).Err(),
		"a command not listed":   rdb.FlushAll(ctx).Err(),
		"CONFIG":                 rdb.ConfigGet(ctx, "requirepass").Err(),
		"KEYS":                   rdb.Keys(ctx, "*").Err(),
		"a channel outside ndr:": rdb.Publish(ctx, "other", "x").Err(),
	} {
		if err == nil || !strings.Contains(err.Error(), "NOPERM") {
			t.Errorf("%s: %v, want NOPERM", name, err)
		}
	}

	// Without the CA the server's certificate is not trusted.
	c.RedisCA = nil
	noCA, _ := c.Redis()
	defer noCA.Close()
	if err := noCA.Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("PING without the CA: %v", err)
	}
	// A wrong password is refused.
	bad, _ := Load(env(map[string]string{"REDIS_URL": strings.Replace(srv.URL(), "pw-Ab3", "pw-Xx3", 1), "REDIS_CA_CERT": string(srv.CAPEM)}))
	badc, _ := bad.Redis()
	defer badc.Close()
	if err := badc.Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Fatalf("PING with a wrong password: %v", err)
	}
}

// TestRedisClusterTakesCredentialsAndTLSFromTheURL: with REDIS_CLUSTER_ADDRS
// the URL still carries user, password and TLS; each node's certificate is
// checked against its own address, not the URL's host.
func TestRedisClusterTakesCredentialsAndTLSFromTheURL(t *testing.T) {
	c, err := Load(env(map[string]string{"REDIS_URL": "rediss://ndrtrace:s3cret@seed.example:6380/0", "REDIS_CLUSTER_ADDRS": "10.0.0.1:6379,10.0.0.2:6379"}))
	if err != nil {
		t.Fatal(err)
	}
	opt, err := c.clusterOptions()
	if err != nil {
		t.Fatal(err)
	}
	if opt.Username != "ndrtrace" || opt.Password != "s3cret" || opt.TLSConfig == nil || opt.TLSConfig.ServerName != "" || opt.TLSConfig.MinVersion < tls.VersionTLS12 || len(opt.Addrs) != 2 {
		t.Fatalf("cluster options %+v %+v", opt, opt.TLSConfig)
	}
}

func TestBadRedisCA(t *testing.T) {
	if _, err := Load(env(map[string]string{"REDIS_URL": "rediss://h:1/0", "REDIS_CA_CERT": "not PEM"})); err == nil || !strings.Contains(err.Error(), "REDIS_CA_CERT") {
		t.Fatalf("err = %v", err)
	}
}

// TestREADMEShowsTheACL: the rule the README gives operators is RedisACL.
func TestREADMEShowsTheACL(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if want := "user ndrtrace on ><password> " + RedisACL(); !strings.Contains(string(readme), want+"\n") {
		t.Fatalf("README does not show the ACL rule:\n%s", want)
	}
}

// TestRedisClusterOverTLSAsALimitedUser: REDIS_CLUSTER_ADDRS with a
// rediss:// REDIS_URL reaches a real 3-node cluster with TLS on, as the
// limited user, on every node.
func TestRedisClusterOverTLSAsALimitedUser(t *testing.T) {
	ctx := context.Background()
	cl, err := redisd.StartSecureCluster(ctx, redisd.Secure{User: "ndrtrace", Password: "pw-cluster-1", ACL: RedisACL()}, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Stop()
	c, err := Load(env(map[string]string{"REDIS_URL": "rediss://ndrtrace:pw-cluster-1@" + cl.Addrs()[0] + "/0",
		"REDIS_CLUSTER_ADDRS": strings.Join(cl.Addrs(), ","), "REDIS_CA_CERT": string(cl.CAPEM)}))
	if err != nil {
		t.Fatal(err)
	}
	rdb, err := c.Redis()
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	// Keys spread over the slots of all three masters.
	for i := range 30 {
		k := fmt.Sprintf("ndr:t:%d", i)
		if err := rdb.Set(ctx, k, i, 0).Err(); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
		if v, err := rdb.Get(ctx, k).Int(); err != nil || v != i {
			t.Fatalf("GET %s: %v %v", k, v, err)
		}
	}
	if err := rdb.Set(ctx, "other", "1", 0).Err(); err == nil || !strings.Contains(err.Error(), "NOPERM") {
		t.Fatalf("SET other: %v, want NOPERM", err)
	}
}

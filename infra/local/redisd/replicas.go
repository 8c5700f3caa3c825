package redisd

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// StartClusterWithReplicas starts masters masters with one replica each
// (with AOF), joins them and waits until the cluster serves all slots. A
// master that stops answering for nodeTimeout is failed over to its replica.
func StartClusterWithReplicas(ctx context.Context, masters int, nodeTimeout time.Duration) (*Cluster, error) {
	c, err := createCluster(ctx, 2*masters, 1,
		"cluster-node-timeout "+strconv.Itoa(int(nodeTimeout.Milliseconds())), "appendonly yes")
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		ok, err := c.healthy(ctx, masters)
		if ok {
			return c, nil
		}
		if time.Now().After(deadline) {
			c.Stop()
			return nil, fmt.Errorf("cluster did not reach cluster_state:ok with %d replicas in sync: %v", masters, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// healthy reports whether the cluster serves all slots and every live
// master has a replica.
func (c *Cluster) healthy(ctx context.Context, masters int) (bool, error) {
	if _, err := c.everyNodeOK(ctx, func(addr string) *redis.Options { return &redis.Options{Addr: addr} }); err != nil {
		return false, err
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	defer cc.Close()
	linked := 0
	err := cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		r, err := m.Info(ctx, "replication").Result()
		if err == nil && strings.Contains(r, "connected_slaves:1") {
			linked++
		}
		return nil
	})
	return linked >= masters, err
}

var replicaOffset = regexp.MustCompile(`slave\d+:.*offset=(\d+)`)

// Master returns the node that is a master serving key's slot.
func (c *Cluster) Master(ctx context.Context, key string) (*Server, error) {
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	defer cc.Close()
	m, err := cc.MasterForKey(ctx, key)
	if err != nil {
		return nil, err
	}
	addr := m.Options().Addr
	for _, n := range c.Nodes {
		if n.Addr == addr {
			return n, nil
		}
	}
	return nil, fmt.Errorf("no node at %s", addr)
}

// WaitReplicated waits until n's replicas have acknowledged everything it
// has written: a master killed after this loses nothing. (Redis replicates
// asynchronously: writes a master acknowledged in the last moments before a
// crash may be lost in a failover; no client can prevent that without WAIT.)
func (n *Server) WaitReplicated(ctx context.Context) error {
	c := redis.NewClient(&redis.Options{Addr: n.Addr})
	defer c.Close()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r, err := c.Info(ctx, "replication").Result()
		if err != nil {
			return err
		}
		var master int64 = -1
		for _, line := range strings.Split(r, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "master_repl_offset:"); ok {
				master, _ = strconv.ParseInt(v, 10, 64)
			}
		}
		synced := true
		for _, m := range replicaOffset.FindAllStringSubmatch(r, -1) {
			off, _ := strconv.ParseInt(m[1], 10, 64)
			synced = synced && off >= master
		}
		if synced && master >= 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("replicas of %s did not catch up: %s", n.Addr, r)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Promote makes the replica of a (killed) master take its slots over at
// once (CLUSTER FAILOVER TAKEOVER), as a managed service's HA does, rather
// than waiting for the cluster's own failure detection and election.
func (c *Cluster) Promote(ctx context.Context, master *Server) (*Server, error) {
	var id string
	for _, n := range c.Nodes {
		if n == master {
			continue
		}
		cl := redis.NewClient(&redis.Options{Addr: n.Addr})
		nodes, err := cl.ClusterNodes(ctx).Result()
		cl.Close()
		if err != nil {
			continue
		}
		for _, line := range strings.Split(nodes, "\n") {
			f := strings.Fields(line)
			if len(f) > 1 && strings.HasPrefix(f[1], master.Addr+"@") {
				id = f[0]
			}
		}
		if id != "" {
			break
		}
	}
	if id == "" {
		return nil, fmt.Errorf("no node knows %s", master.Addr)
	}
	for _, n := range c.Nodes {
		if n == master {
			continue
		}
		cl := redis.NewClient(&redis.Options{Addr: n.Addr})
		role, err := cl.Do(ctx, "ROLE").Slice()
		isReplica := err == nil && len(role) > 3 && role[0] == "slave" &&
			fmt.Sprint(role[1])+":"+fmt.Sprint(role[2]) == master.Addr
		if !isReplica {
			cl.Close()
			continue
		}
		err = cl.Do(ctx, "CLUSTER", "FAILOVER", "TAKEOVER").Err()
		if err == nil {
			deadline := time.Now().Add(30 * time.Second)
			for {
				r, e := cl.Do(ctx, "ROLE").Slice()
				if e == nil && len(r) > 0 && r[0] == "master" {
					break
				}
				if time.Now().After(deadline) {
					err = fmt.Errorf("replica %s did not become master", n.Addr)
					break
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		cl.Close()
		return n, err
	}
	return nil, fmt.Errorf("no replica of %s (%s)", master.Addr, id)
}

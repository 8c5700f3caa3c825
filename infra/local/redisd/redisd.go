// Package redisd runs a real redis-server on a free loopback port for tests,
// benchmarks and the local pipeline. Persistence is off: the data lives only
// as long as the process.
package redisd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Server is a running redis-server child process.
type Server struct {
	Addr      string
	cmd       *exec.Cmd
	dir       string
	extraDirs []string
	admin     *redis.Options // how the harness reaches it
}

// Binary finds redis-server: $REDIS_SERVER, then PATH, then Debian's path.
func Binary() (string, error) {
	if p := os.Getenv("REDIS_SERVER"); p != "" {
		return p, nil
	}
	if p, err := exec.LookPath("redis-server"); err == nil {
		return p, nil
	}
	if _, err := os.Stat("/usr/bin/redis-server"); err == nil {
		return "/usr/bin/redis-server", nil
	}
	return "", errors.New("redis-server not found: install it (apt-get install redis-server) or set REDIS_SERVER")
}

// Start launches redis-server with extra config directives ("maxmemory 1gb")
// and waits until it answers PING.
func Start(ctx context.Context, directives ...string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	args := []string{"--port", strconv.Itoa(port)}
	for _, d := range directives {
		f := strings.Fields(d)
		if len(f) > 0 {
			f[0] = "--" + f[0]
		}
		args = append(args, f...)
	}
	return start(ctx, &redis.Options{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), MaxRetries: -1}, args)
}

// start runs redis-server with args after the common ones, and waits until
// a client with opts gets an answer to PING.
func start(ctx context.Context, opts *redis.Options, args []string) (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "ndrtrace-redis-")
	if err != nil {
		return nil, err
	}
	args = append([]string{"--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", dir, "--daemonize", "no", "--loglevel", "warning"}, args...)
	cmd := exec.Command(bin, args...)
	var out bytes.Buffer // shown only when the server fails to come up
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	s := &Server{Addr: opts.Addr, cmd: cmd, dir: dir, admin: opts}
	c := redis.NewClient(opts)
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := c.Ping(ctx).Err(); err == nil {
			return s, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			s.Stop()
			return nil, fmt.Errorf("redis-server on %s did not answer within 10s: %s", s.Addr, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// URL is the go-redis URL of the server.
func (s *Server) URL() string { return "redis://" + s.Addr + "/0" }

// Stop kills the server and removes its directory.
func (s *Server) Stop() {
	if s.cmd.Process != nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
	}
	os.RemoveAll(s.dir)
	for _, d := range s.extraDirs {
		os.RemoveAll(d)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// TestMain runs a test package against its own redis-server: it starts one,
// hands *client a client to it, runs the tests and exits with their code.
// Use it as `func TestMain(m *testing.M) { redisd.TestMain(m, &rdb) }`.
func TestMain(m *testing.M, client **redis.Client) {
	srv, err := Start(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	*client = redis.NewClient(&redis.Options{Addr: srv.Addr})
	code := m.Run()
	(*client).Close()
	srv.Stop()
	os.Exit(code)
}

// Cluster is a Redis Cluster of real redis-server processes on loopback.
type Cluster struct {
	Nodes []*Server
}

// Addrs are the nodes' addresses, as REDIS_CLUSTER_ADDRS takes them.
func (c *Cluster) Addrs() []string {
	var out []string
	for _, n := range c.Nodes {
		out = append(out, n.Addr)
	}
	return out
}

// Stop stops every node.
func (c *Cluster) Stop() {
	for _, n := range c.Nodes {
		n.Stop()
	}
}

// StartCluster starts n masters (no replicas), joins them with
// redis-cli --cluster create and waits until the cluster serves all slots.
func StartCluster(ctx context.Context, n int) (*Cluster, error) {
	c, err := createCluster(ctx, n, 0, "cluster-node-timeout 5000")
	if err != nil {
		return nil, err
	}
	if err := c.waitOK(ctx, func(addr string) *redis.Options { return &redis.Options{Addr: addr} }); err != nil {
		c.Stop()
		return nil, err
	}
	return c, nil
}

// waitOK waits (20 s at most) until every node, reached with opts, says
// cluster_state:ok.
func (c *Cluster) waitOK(ctx context.Context, opts func(addr string) *redis.Options) error {
	deadline := time.Now().Add(20 * time.Second)
	for {
		info, err := c.everyNodeOK(ctx, opts)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cluster did not reach cluster_state:ok: %v %s", err, info)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// createCluster starts nodes redis-servers with the cluster enabled (and
// conf), and joins them with redis-cli --cluster create, giving each master
// replicas replicas. The caller waits for the state it needs.
func createCluster(ctx context.Context, nodes, replicas int, conf ...string) (*Cluster, error) {
	c := &Cluster{}
	for i := 0; i < nodes; i++ {
		s, err := Start(ctx, append([]string{"cluster-enabled yes", "cluster-config-file nodes.conf"}, conf...)...)
		if err != nil {
			c.Stop()
			return nil, err
		}
		c.Nodes = append(c.Nodes, s)
	}
	server, _ := Binary()
	cli := filepath.Join(filepath.Dir(server), "redis-cli")
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", strconv.Itoa(replicas), "--cluster-yes")
	if out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput(); err != nil {
		c.Stop()
		return nil, fmt.Errorf("redis-cli --cluster create: %v: %s", err, out)
	}
	return c, nil
}

// everyNodeOK asks every node for CLUSTER INFO: the cluster is ready only
// when each of them says cluster_state:ok. (One node's view, as a cluster
// client gives it, can be ahead of the others': a client then meets
// CLUSTERDOWN on a node that has not caught up.)
func (c *Cluster) everyNodeOK(ctx context.Context, opts func(addr string) *redis.Options) (string, error) {
	for _, n := range c.Nodes {
		cl := redis.NewClient(opts(n.Addr))
		info, err := cl.ClusterInfo(ctx).Result()
		cl.Close()
		if err != nil {
			return info, err
		}
		if !strings.Contains(info, "cluster_state:ok") {
			return info, fmt.Errorf("node %s is not ready", n.Addr)
		}
	}
	return "", nil
}

// Calls is how many times the server of rdb has run a command (lower case,
// as INFO commandstats names it: "get"), so that a test can count the
// reads a code path issues.
func Calls(ctx context.Context, rdb *redis.Client, command string) (int64, error) {
	info, err := rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		return 0, fmt.Errorf("read command stats: %w", err)
	}
	for _, line := range strings.Split(info, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "cmdstat_"+command+":calls="); ok {
			n, _ := strconv.ParseInt(rest[:strings.IndexByte(rest, ',')], 10, 64)
			return n, nil
		}
	}
	return 0, nil // never run
}

// MustCalls is Calls for a test, which it fails on error.
func MustCalls(t testing.TB, rdb *redis.Client, command string) int64 {
	t.Helper()
	n, err := Calls(context.Background(), rdb, command)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestCluster starts a cluster of n masters for a test and returns a client
// of it; both are stopped when the test ends.
func TestCluster(t testing.TB, n int) *redis.ClusterClient {
	t.Helper()
	cl, err := StartCluster(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Stop)
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs()})
	t.Cleanup(func() { cc.Close() })
	return cc
}

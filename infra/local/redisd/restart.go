package redisd

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"time"

	"github.com/redis/go-redis/v9"
)

// Kill stops the server abruptly (SIGKILL), keeping its directory, so that
// Restart brings it back with what it had persisted (its AOF, when
// started with "appendonly yes").
func (s *Server) Kill() {
	if s.cmd.Process != nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
	}
}

// Restart starts a killed server again on the same port, directory and
// configuration, and waits until it answers PING.
func (s *Server) Restart(ctx context.Context) error {
	cmd := exec.Command(s.cmd.Path, s.cmd.Args[1:]...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("restart redis-server on %s: %w", s.Addr, err)
	}
	s.cmd = cmd
	c := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		// LOADING answers until the AOF is read back: wait for a real PONG.
		if err := c.Ping(ctx).Err(); err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("redis-server on %s did not come back within 10s: %s", s.Addr, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Package faultnet puts faults between a client and a real server over
// loopback: a TCP proxy that forwards faithfully until told to cut the
// connection after a number of bytes, in the middle of whatever the client
// was sending (a half-written pipeline, say).
package faultnet

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
)

// Cutter is a TCP proxy to one target.
type Cutter struct {
	ln     net.Listener
	target string
	// budget is how many more client bytes pass before the cut; negative
	// means unlimited.
	budget atomic.Int64
	cut    atomic.Bool // cut: every connection is dropped, new ones refused
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
}

// Listen starts a cutter on a free loopback port in front of target.
func Listen(target string) (*Cutter, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	c := &Cutter{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	c.budget.Store(-1)
	c.wg.Add(1)
	go c.accept()
	return c, nil
}

// Addr is the proxy's address.
func (c *Cutter) Addr() string { return c.ln.Addr().String() }

// CutAfter lets n more bytes from clients through, then drops every
// connection and refuses new ones until Heal.
func (c *Cutter) CutAfter(n int64) {
	c.cut.Store(false)
	c.budget.Store(n)
}

// Heal forwards everything again.
func (c *Cutter) Heal() {
	c.budget.Store(-1)
	c.cut.Store(false)
}

// Cut reports whether the cut happened.
func (c *Cutter) Cut() bool { return c.cut.Load() }

// Close stops the proxy and drops its connections.
func (c *Cutter) Close() error {
	err := c.ln.Close()
	c.dropAll()
	c.wg.Wait()
	return err
}

func (c *Cutter) accept() {
	defer c.wg.Done()
	for {
		in, err := c.ln.Accept()
		if err != nil {
			return
		}
		if c.cut.Load() {
			in.Close()
			continue
		}
		out, err := net.Dial("tcp", c.target)
		if err != nil {
			in.Close()
			continue
		}
		c.track(in, out)
		c.wg.Add(2)
		go func() { defer c.wg.Done(); c.forward(out, in); c.drop(in, out) }()
		go func() { defer c.wg.Done(); io.Copy(in, out); c.drop(in, out) }()
	}
}

// forward copies client bytes to the server within the budget.
func (c *Cutter) forward(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			pass := n
			for {
				b := c.budget.Load()
				if b < 0 {
					break
				}
				pass = int(min(int64(n), b))
				if c.budget.CompareAndSwap(b, b-int64(pass)) {
					break
				}
			}
			if pass > 0 {
				if _, werr := dst.Write(buf[:pass]); werr != nil {
					return
				}
			}
			if pass < n || c.budget.Load() == 0 {
				c.cut.Store(true)
				c.dropAll()
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (c *Cutter) track(conns ...net.Conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, x := range conns {
		c.conns[x] = struct{}{}
	}
}

func (c *Cutter) drop(conns ...net.Conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, x := range conns {
		x.Close()
		delete(c.conns, x)
	}
}

func (c *Cutter) dropAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for x := range c.conns {
		x.Close()
		delete(c.conns, x)
	}
}

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
)

// child is a bench process of its own, run with a function's settings from
// s.yaml (runAs): a figure measured there does not share this process's
// heap, which holds millions of generated records (marking them, and
// faulting in the pages a growing heap takes, slowed what ran beside
// them). It answers each line it reads with a JSON line (serveLines).
type child struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

// startChild starts this binary with args, as the function fn runs.
func startChild(ctx context.Context, fn string, args ...string) (*child, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, self, args...)
	if err := runAs(cmd, fn); err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(out)
	sc.Buffer(nil, 1<<20)
	return &child{cmd: cmd, in: in, out: sc}, nil
}

// ask sends one request line and decodes the answer into v.
func (c *child) ask(request []byte, v any) error {
	if _, err := c.in.Write(append(request, '\n')); err != nil {
		return err
	}
	if !c.out.Scan() {
		return fmt.Errorf("no answer: %v", c.out.Err())
	}
	if err := json.Unmarshal(c.out.Bytes(), v); err != nil {
		return fmt.Errorf("%w: %q", err, c.out.Bytes())
	}
	return nil
}

// stop closes the child's input, which ends it, and waits for it.
func (c *child) stop() {
	c.in.Close()
	c.cmd.Wait()
}

// serveLines is a child's side: it answers each line of its input with
// answer's value as a JSON line, until its input ends.
func serveLines(answer func(line []byte) any) error {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(nil, 1<<20)
	enc := json.NewEncoder(os.Stdout)
	for in.Scan() {
		if err := enc.Encode(answer(in.Bytes())); err != nil {
			return err
		}
	}
	return in.Err()
}

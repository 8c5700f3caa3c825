package fcemu

import (
	"io"
	"sync"
)

// tailSize bounds how much recent child output is kept for crash reports.
const tailSize = 4 << 10

// outputWriter serialises writes from the child's stdout/stderr copiers and
// the emulator's own log, so callers may pass a plain bytes.Buffer, and keeps
// the last tailSize bytes so a crash error can show why the process died
// (a goroutine panic or the SDK's log.Fatalf land there).
type outputWriter struct {
	mu   sync.Mutex
	w    io.Writer
	tail []byte
}

func newOutputWriter(w io.Writer) *outputWriter { return &outputWriter{w: w} }

func (o *outputWriter) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.tail = append(o.tail, p...)
	if over := len(o.tail) - tailSize; over > 0 {
		o.tail = append(o.tail[:0], o.tail[over:]...)
	}
	// A failing caller writer must not break the child's pipe copier, or
	// the child could block on a full pipe; report success regardless.
	_, _ = o.w.Write(p)
	return len(p), nil
}

// Tail returns the most recent output.
func (o *outputWriter) Tail() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return string(o.tail)
}

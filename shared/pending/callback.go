package pending

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/ndrtrace/ndrtrace/shared/alert"
	"github.com/ndrtrace/ndrtrace/shared/fcenv"
	"github.com/ndrtrace/ndrtrace/shared/webhook"
)

// Callback POSTs late results to CALLBACK_URL, one result per request, signed
// like the webhook (X-Ndrtrace-Timestamp, X-Ndrtrace-Signature) when Secret
// is set. The results logstore is the record; the callback is a
// notification: a failure is logged (without the URL, which may carry a
// token) and retried a few times, never fatal.
type Callback struct {
	URL    string
	Secret string
	Client *http.Client // nil: a client with Timeout
	// Timeout bounds one attempt (default 5 s); Attempts defaults to 3.
	Timeout  time.Duration
	Attempts int
}

// callbackWorkers bounds concurrent POSTs.
const callbackWorkers = 8

// Post sends every result, before returning.
func (c *Callback) Post(ctx context.Context, rs []alert.Result) {
	if c == nil || c.URL == "" || len(rs) == 0 {
		return
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(callbackWorkers, len(rs)) {
		wg.Go(func() {
			for i := range next {
				if err := c.send(ctx, &rs[i]); err != nil {
					fcenv.Logger(ctx).Error("late result not delivered to CALLBACK_URL (it is in the results logstore)", "alert_id", rs[i].AlertID, "err", err)
				}
			}
		})
	}
	for i := range rs {
		next <- i
	}
	close(next)
	wg.Wait()
}

func (c *Callback) send(ctx context.Context, r *alert.Result) error {
	body, err := json.Marshal(r)
	if err != nil {
		return err
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	client := c.Client
	if client == nil {
		client = &http.Client{Timeout: timeout}
	}
	attempts := max(c.Attempts, 1)
	if c.Attempts == 0 {
		attempts = 3
	}
	var last error
	for a := range attempts {
		if a > 0 {
			select {
			case <-ctx.Done():
				return fmt.Errorf("%w (after %v)", ctx.Err(), last)
			case <-time.After(time.Duration(a) * 200 * time.Millisecond):
			}
		}
		if last = c.once(ctx, client, body); last == nil {
			return nil
		}
	}
	return last
}

func (c *Callback) once(ctx context.Context, client *http.Client, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.URL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("build request: %w", err) // never the URL itself
	}
	req.Header.Set("Content-Type", "application/json")
	if c.Secret != "" {
		ts := time.Now().Unix()
		req.Header.Set("X-Ndrtrace-Timestamp", strconv.FormatInt(ts, 10))
		req.Header.Set("X-Ndrtrace-Signature", webhook.Sign(c.Secret, ts, body))
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("POST failed: %w", redact(err))
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("POST answered %d", resp.StatusCode)
	}
	return nil
}

// redact drops the URL from a client error: it may hold a token.
func redact(err error) error {
	if ue, ok := err.(interface{ Unwrap() error }); ok {
		if inner := ue.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}

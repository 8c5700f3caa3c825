package fcemu

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"
)

// newRequestID returns an id shaped like FC 3.0's ("1-<hex secs>-<hex>-<hex>")
// so handlers that log or parse request ids see realistic values.
func newRequestID() string {
	return fmt.Sprintf("1-%08x-%s-%s", time.Now().Unix(), randHex(4), randHex(6))
}

// newInstanceID returns a fake FC_INSTANCE_ID.
func newInstanceID() string { return "c-" + randHex(4) + "-" + randHex(8) }

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}

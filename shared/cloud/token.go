package cloud

import (
	"crypto/rand"
	"encoding/hex"
)

// newClientToken returns an idempotency token (ClientToken, at most 64 ASCII
// characters).
func newClientToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return "ndrtrace-" + hex.EncodeToString(b)
}

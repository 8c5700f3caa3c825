package openapiemu

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
)

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// randString returns n random characters of alphabet.
func randString(alphabet string, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// requestID looks like the services' (upper-case UUID).
func requestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := strings.ToUpper(hex.EncodeToString(b))
	return fmt.Sprintf("%s-%s-%s-%s-%s", h[0:8], h[8:12], h[12:16], h[16:20], h[20:])
}

func newID(prefix string) string {
	return prefix + strings.ToLower(randString("abcdefghijklmnopqrstuvwxyz0123456789", 20))
}

// newJobID looks like an ALB JobId (a lower-case UUID).
func newJobID() string { return strings.ToLower(requestID()) }

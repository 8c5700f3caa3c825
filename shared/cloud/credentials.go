package cloud

import (
	"fmt"
	"time"
)

// Credentials is an access key pair with an optional STS security token, as
// handed to a function by FC (fccontext.Credentials) or returned by AssumeRole.
type Credentials struct {
	AccessKeyID     string
	AccessKeySecret string
	SecurityToken   string    // empty for a long-lived access key
	Expiration      time.Time // zero when unknown
}

// String redacts the secret and the token so that credentials passed to a
// logger or a %v verb never leak.
func (c Credentials) String() string {
	exp := ""
	if !c.Expiration.IsZero() {
		exp = " expires " + c.Expiration.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("Credentials{AccessKeyID:%s secret:%s token:%s%s}",
		c.AccessKeyID, redact(c.AccessKeySecret), redact(c.SecurityToken), exp)
}

// GoString covers %#v, which bypasses String.
func (c Credentials) GoString() string { return c.String() }

// Valid reports whether the pair is usable at all.
func (c Credentials) Valid() bool { return c.AccessKeyID != "" && c.AccessKeySecret != "" }

func redact(s string) string {
	if s == "" {
		return "<empty>"
	}
	return "<redacted>"
}

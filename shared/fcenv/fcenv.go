// Package fcenv reads what Function Compute hands each invocation: the STS
// credentials of the function's role, the request id, the region.
package fcenv

import (
	"context"
	"errors"
	"log/slog"
	"os"

	"github.com/aliyun/fc-runtime-go-sdk/fccontext"
)

// Credentials are an access key triple. String() never reveals them.
type Credentials struct {
	AccessKeyID, AccessKeySecret, SecurityToken string
}

func (c Credentials) String() string { return "credentials(" + mask(c.AccessKeyID) + ")" }

// GoString covers %#v, which bypasses String.
func (c Credentials) GoString() string { return c.String() }

// LogValue keeps credentials out of structured logs.
func (c Credentials) LogValue() slog.Value { return slog.StringValue(c.String()) }

func mask(id string) string {
	if len(id) <= 4 {
		return "****"
	}
	return id[:4] + "****"
}

// ErrNoCredentials is returned when neither the invocation nor the local
// environment carries credentials.
var ErrNoCredentials = errors.New("no cloud credentials: the function needs a role (FC passes its STS credentials per invocation)")

// The standard variables that stand in for the invocation's credentials
// outside FC. This is the only place that reads them.
const (
	EnvAccessKeyID     = "ALIBABA_CLOUD_ACCESS_KEY_ID"
	EnvAccessKeySecret = "ALIBABA_CLOUD_ACCESS_KEY_SECRET"
	EnvSecurityToken   = "ALIBABA_CLOUD_SECURITY_TOKEN"
)

// CredentialsFrom returns the invocation's STS credentials. They are read on
// every invocation because they expire. Outside FC the standard
// ALIBABA_CLOUD_* variables stand in.
func CredentialsFrom(ctx context.Context) (Credentials, error) {
	if fc, ok := fccontext.FromContext(ctx); ok && fc.Credentials.AccessKeyId != "" {
		return Credentials{fc.Credentials.AccessKeyId, fc.Credentials.AccessKeySecret, fc.Credentials.SecurityToken}, nil
	}
	c := Credentials{os.Getenv(EnvAccessKeyID), os.Getenv(EnvAccessKeySecret), os.Getenv(EnvSecurityToken)}
	if c.AccessKeyID == "" {
		return c, ErrNoCredentials
	}
	return c, nil
}

// RequestID is the invocation's request id, or "" outside FC.
func RequestID(ctx context.Context) string {
	if fc, ok := fccontext.FromContext(ctx); ok {
		return fc.RequestID
	}
	return ""
}

// Region is the function's region.
func Region(ctx context.Context) string {
	if fc, ok := fccontext.FromContext(ctx); ok && fc.Region != "" {
		return fc.Region
	}
	return os.Getenv("FC_REGION")
}

// AccountID is the function's account.
func AccountID(ctx context.Context) string {
	if fc, ok := fccontext.FromContext(ctx); ok && fc.AccountId != "" {
		return fc.AccountId
	}
	return os.Getenv("FC_ACCOUNT_ID")
}

// base is the process logger: JSON on stderr, which FC collects.
var base = slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level()}))

func level() slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(os.Getenv("LOG_LEVEL"))); err != nil {
		return slog.LevelInfo
	}
	return l
}

// Logger returns the JSON logger tagged with the invocation's request id.
func Logger(ctx context.Context) *slog.Logger {
	if id := RequestID(ctx); id != "" {
		return base.With("request_id", id)
	}
	return base
}

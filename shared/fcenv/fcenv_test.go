package fcenv

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/aliyun/fc-runtime-go-sdk/fccontext"
)

func TestCredentialsFromInvocation(t *testing.T) {
	ctx := fccontext.NewContext(context.Background(), &fccontext.FcContext{RequestID: "r1",
		Credentials: fccontext.Credentials{AccessKeyId: "STS.abcdef", AccessKeySecret: "sek", SecurityToken: "tok"}})
	c, err := CredentialsFrom(ctx)
	if err != nil || c.AccessKeyID != "STS.abcdef" || c.SecurityToken != "tok" {
		t.Fatalf("%v %v", c, err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "creds", c)
	fmt.Fprintf(&buf, "%v %+v %#v %s %q", c, c, c, c, c)
	fmt.Fprintf(&buf, "%v %+v %#v", &c, []Credentials{c}, map[string]Credentials{"k": c})
	if strings.Contains(buf.String(), "sek") || strings.Contains(buf.String(), "tok") || strings.Contains(buf.String(), "abcdef") {
		t.Fatalf("credentials leaked into the log: %s", buf.String())
	}
	if RequestID(ctx) != "r1" {
		t.Fatal("request id")
	}
}

func TestCredentialsFallBackToEnvironment(t *testing.T) {
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "")
	if _, err := CredentialsFrom(context.Background()); err != ErrNoCredentials {
		t.Fatalf("err = %v", err)
	}
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAIlocal")
	t.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "s")
	if c, err := CredentialsFrom(context.Background()); err != nil || c.AccessKeyID != "LTAIlocal" {
		t.Fatalf("%v %v", c, err)
	}
}

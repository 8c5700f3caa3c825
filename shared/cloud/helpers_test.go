package cloud

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
)

func TestBackoffGrowsAndCaps(t *testing.T) {
	base, max := 100*time.Millisecond, time.Second
	for n := 1; n <= 10; n++ {
		want := base << (n - 1)
		if want > max || want <= 0 {
			want = max
		}
		for i := 0; i < 50; i++ {
			d := backoff(base, max, n)
			if d < want/2 || d > want {
				t.Fatalf("attempt %d: backoff %v outside [%v, %v]", n, d, want/2, want)
			}
		}
	}
}

func TestMorePages(t *testing.T) {
	cases := []struct {
		page, got, seen, req, total int
		want                        bool
	}{
		{1, 50, 50, 50, 120, true},
		{3, 20, 120, 50, 120, false},
		{1, 50, 50, 50, 0, true},  // no TotalCount: a full page may have a successor
		{2, 10, 60, 50, 0, false}, // short page ends it
		{1, 0, 0, 50, 99, false},  // an empty page always ends it
		{1, 30, 30, 50, 60, true}, // server capped the page size below ours
		{maxPages, 50, 1, 50, 1 << 30, false},
	}
	for _, c := range cases {
		if got := morePages(c.page, c.got, c.seen, c.req, c.total); got != c.want {
			t.Errorf("morePages(%+v) = %v", c, got)
		}
	}
	if moreTokens(1, "", "") || !moreTokens(1, "", "a") || moreTokens(2, "a", "a") {
		t.Error("moreTokens")
	}
}

func TestSLSDestinationRoundTrip(t *testing.T) {
	s := SLSDestination("cn-hangzhou", "1234567890", "nat-logs", "session")
	if s != "acs:log:cn-hangzhou:1234567890:project/nat-logs/logstore/session" {
		t.Fatal(s)
	}
	got, ok := ParseSLSDestination(s)
	if !ok || got != (SLSTarget{"cn-hangzhou", "1234567890", "nat-logs", "session"}) {
		t.Fatalf("%+v %v", got, ok)
	}
	for _, bad := range []string{"", "acs:log:cn-hangzhou:1:project/p", "acs:oss:r:1:project/p/logstore/l",
		"acs:log::1:project/p/logstore/l", "acs:log:r:1:project/p/logstores/l"} {
		if _, ok := ParseSLSDestination(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestCredentialsNeverPrintSecrets(t *testing.T) {
	c := Credentials{AccessKeyID: "STS.id", AccessKeySecret: "s3cr3t", SecurityToken: "t0k3n"}
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(f, c)
		if strings.Contains(out, "s3cr3t") || strings.Contains(out, "t0k3n") {
			t.Errorf("%s leaks: %s", f, out)
		}
	}
	if out := fmt.Sprintf("%v", struct{ C Credentials }{c}); strings.Contains(out, "s3cr3t") {
		t.Errorf("nested leaks: %s", out)
	}
}

func TestThrottlingCodes(t *testing.T) {
	for _, c := range []string{"Throttling", "Throttling.User", "Throttling.Api", "ServiceUnavailable"} {
		if !isThrottlingCode(c) {
			t.Errorf("%s not throttling", c)
		}
	}
	for _, c := range []string{"", "InvalidParameter", "ThrottlingX", "Forbidden.RAM"} {
		if isThrottlingCode(c) {
			t.Errorf("%s throttling", c)
		}
	}
}

func TestWrapErrServerError(t *testing.T) {
	body := `{"RequestId":"R1","HostId":"vpc.aliyuncs.com","Code":"Throttling.User","Message":"Request was denied due to user flow control."}`
	err := wrapErr("vpc DescribeNatGateways in cn-hangzhou page 2", sdkerrors.NewServerError(400, body, ""))
	if !IsThrottling(err) || Code(err) != "Throttling.User" || HTTPStatus(err) != 400 {
		t.Fatalf("classification: %v", err)
	}
	var se *sdkerrors.ServerError
	if !errors.As(err, &se) {
		t.Fatal("errors.As to the SDK ServerError")
	}
	want := "vpc DescribeNatGateways in cn-hangzhou page 2: Throttling.User: Request was denied due to user flow control. (HTTP 400, RequestId R1)"
	if err.Error() != want {
		t.Fatalf("got  %s\nwant %s", err, want)
	}
	if !IsThrottling(wrapErr("x", sdkerrors.NewServerError(503, `{"Code":"InternalError"}`, ""))) {
		t.Error("HTTP 503 is throttling")
	}
	gw := wrapErr("x", sdkerrors.NewServerError(502, "<html>\n<body>Bad Gateway</body></html>", ""))
	if gw.Error() != "x: HTTP 502: <html> <body>Bad Gateway</body></html>" || !retryable(context.Background(), gw) {
		t.Errorf("non-API answer: %q", gw)
	}
}

func TestWrapErrScrubsSecrets(t *testing.T) {
	sig := `{"Code":"SignatureDoesNotMatch","Message":"Specified signature is not matched with our calculation. server string to sign is:GET&%2F&AccessKeyId%3DSTS.x%26SecurityToken%3Dtok"}`
	err := wrapErr("op", sdkerrors.NewServerError(400, sig, ""))
	if strings.Contains(err.Error(), "SecurityToken") || !strings.Contains(err.Error(), "SignatureDoesNotMatch") {
		t.Fatal(err)
	}
	ue := &url.Error{Op: "Post", URL: "http://vpc.aliyuncs.com/?AccessKeyId=STS.x&SecurityToken=tok&Signature=s", Err: context.DeadlineExceeded}
	err = wrapErr("op", ue)
	if strings.Contains(err.Error(), "tok") || strings.Contains(err.Error(), "AccessKeyId") {
		t.Fatal(err)
	}
	if !errors.Is(err, context.DeadlineExceeded) || !retryable(context.Background(), err) {
		t.Fatal("transport timeout should stay recognisable and retryable")
	}
	if retryable(context.Background(), wrapErr("op", sdkerrors.NewServerError(400, `{"Code":"InvalidParameter"}`, ""))) {
		t.Fatal("InvalidParameter retried")
	}
}

func TestNoProxy(t *testing.T) {
	rules := parseNoProxy("localhost, .internal.example,aliyuncs.com:8080,10.0.0.0/8,192.168.1.1,*.svc")
	cases := map[string]bool{
		"http://localhost/":                     true,
		"http://a.internal.example/":            true,
		"http://internal.example/":              true,
		"http://vpc.aliyuncs.com/":              false, // port-restricted rule
		"http://vpc.aliyuncs.com:8080/":         true,
		"http://10.1.2.3/":                      true,
		"http://192.168.1.1:80/":                true,
		"http://192.168.1.2/":                   false,
		"http://x.svc/":                         true,
		"https://ecs.cn-shanghai.aliyuncs.com/": false,
	}
	for raw, want := range cases {
		u, _ := url.Parse(raw)
		if got := rules.matches(u); got != want {
			t.Errorf("%s: %v", raw, got)
		}
	}
	if !parseNoProxy("*").matches(&url.URL{Host: "anything"}) {
		t.Error("* matches all")
	}
}

func TestProxyFromEnv(t *testing.T) {
	t.Setenv("HTTP_PROXY", "127.0.0.1:9999")
	t.Setenv("HTTPS_PROXY", "")
	t.Setenv("https_proxy", "")
	t.Setenv("NO_PROXY", "sts.aliyuncs.com")
	pf := proxyFromEnv()
	req := func(raw string) *http.Request { r, _ := http.NewRequest("GET", raw, nil); return r }
	if u, _ := pf(req("http://vpc.aliyuncs.com/?a=b")); u == nil || u.Host != "127.0.0.1:9999" {
		t.Fatalf("http: %v", u)
	}
	if u, _ := pf(req("http://sts.aliyuncs.com/")); u != nil {
		t.Fatalf("no_proxy: %v", u)
	}
	if u, _ := pf(req("https://vpc.aliyuncs.com/")); u != nil {
		t.Fatalf("https without HTTPS_PROXY: %v", u)
	}
}

func TestConfig(t *testing.T) {
	env := map[string]string{EnvScheme: "HTTP", EnvEndpoints: "vpc=vpc.{region}.local:8080, sts=sts.local"}
	cfg, err := ConfigFromEnv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	cfg, err = cfg.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Scheme != "http" || cfg.endpoint(ProductVPC, "cn-beijing") != "vpc.cn-beijing.local:8080" ||
		cfg.endpoint(ProductSTS, "") != "sts.local" || cfg.endpoint(ProductECS, "cn-beijing") != "" {
		t.Fatalf("%+v", cfg)
	}
	if d, _ := (Config{}).withDefaults(); d.Scheme != "https" || d.endpoint(ProductSTS, "") != DefaultSTSEndpoint {
		t.Fatalf("defaults %+v", d)
	}
	for _, bad := range []map[string]string{{EnvScheme: "ftp"}, {EnvEndpoints: "vpc"}, {EnvEndpoints: "foo=bar"}, {EnvEndpoints: "vpc=http://x"}} {
		if _, err := ConfigFromEnv(func(k string) string { return bad[k] }); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestGiveUpMessage(t *testing.T) {
	last := wrapErr("op", sdkerrors.NewServerError(400, `{"Code":"Throttling.User","Message":"slow down","RequestId":"R"}`, ""))
	setAttempts(last, 2)
	err := (&Client{}).giveUp("op", 2, context.DeadlineExceeded, last)
	want := "op: context deadline exceeded; last attempt: Throttling.User: slow down (HTTP 400, RequestId R) after 2 attempts"
	if err.Error() != want {
		t.Fatalf("got  %s\nwant %s", err, want)
	}
	if !errors.Is(err, context.DeadlineExceeded) || Code(err) != "Throttling.User" {
		t.Fatal("classification lost")
	}
}

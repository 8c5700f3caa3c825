package cloud

import (
	"fmt"
	"strings"
)

// Environment variables read by ConfigFromEnv. They exist so that the
// unmodified binaries can talk to the local cloud. Credentials come from the
// invocation, through package fcenv, which alone reads the credential
// variables.
const (
	// EnvScheme: "https" (default) or "http".
	EnvScheme = "ALIBABA_CLOUD_OPENAPI_SCHEME"
	// EnvEndpoints: comma-separated product=host[:port], e.g.
	// "vpc=vpc.{region}.aliyuncs.com,sts=sts.aliyuncs.com".
	EnvEndpoints = "ALIBABA_CLOUD_OPENAPI_ENDPOINTS"
)

// ConfigFromEnv builds a Config from EnvScheme and EnvEndpoints (getenv is
// os.Getenv in production; tests pass a map lookup).
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	cfg := Config{Scheme: strings.TrimSpace(getenv(EnvScheme))}
	eps, err := parseEndpoints(getenv(EnvEndpoints))
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", EnvEndpoints, err)
	}
	cfg.Endpoints = eps
	if _, err := cfg.withDefaults(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

func parseEndpoints(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)
		if !ok || k == "" || v == "" {
			return nil, fmt.Errorf("want product=host, got %q", part)
		}
		switch k {
		case ProductVPC, ProductALB, ProductSLB, ProductECS, ProductSTS:
		default:
			return nil, fmt.Errorf("unknown product %q", k)
		}
		out[k] = v
	}
	return out, nil
}

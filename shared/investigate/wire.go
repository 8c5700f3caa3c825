package investigate

import (
	"strings"

	"github.com/ndrtrace/ndrtrace/shared/app"
	"github.com/ndrtrace/ndrtrace/shared/cloud"
	"github.com/ndrtrace/ndrtrace/shared/inventory"
	"github.com/ndrtrace/ndrtrace/shared/webhook"
)

// Environment of the investigate function.
const (
	EnvEndpoint  = "NAT_LOGS_ENDPOINT"
	EnvProject   = "NAT_LOGS_PROJECT"
	EnvLogstores = "NAT_LOGSTORES" // comma-separated; default nat-sessions
)

// DefaultLogstore is the central NAT session logstore (Terraform's).
const DefaultLogstore = "nat-sessions"

// SourceFromEnv reads where the NAT session logs are. A missing endpoint
// or project is reported by every investigation (Investigator.Run), not at
// start, so that the function still answers why.
func SourceFromEnv(getenv func(string) string) Source {
	s := Source{Endpoint: strings.TrimSpace(getenv(EnvEndpoint)), Project: strings.TrimSpace(getenv(EnvProject))}
	for _, ls := range strings.Split(getenv(EnvLogstores), ",") {
		if ls = strings.TrimSpace(ls); ls != "" {
			s.Logstores = append(s.Logstores, ls)
		}
	}
	if len(s.Logstores) == 0 {
		s.Logstores = []string{DefaultLogstore}
	}
	return s
}

// New wires the investigate function: the inventory is its address book
// (an EIP in NAT mode is logged as its private twin) and, through ECS, the
// namer of the instances behind the top hosts.
func New(a *app.App, src Source, cloudCfg cloud.Config) *Handler {
	inv := inventory.New(a.Redis)
	return &Handler{
		Investigator: &Investigator{
			Source: src,
			Book:   inv.WithFallback(a.Book),
			Namer:  &inventory.Resolver{Inv: inv, Finder: &inventory.CloudFinder{Inv: inv, Config: cloudCfg}},
		},
		Secret:  a.Config.WebhookSecret,
		Replays: &webhook.Replays{Redis: a.Redis},
	}
}

// Command onboard is the timer function: in every configured account and
// region it discovers NAT gateways, ALBs and CLBs, switches on session or
// access logs of the onboarded ones (tag ONBOARD_TAG_KEY, or ONBOARD_ASSETS)
// into logstores it prepares, and keeps the inventory in Redis fresh.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aliyun/fc-runtime-go-sdk/fc"

	"github.com/ndrtrace/ndrtrace/shared/app"
	"github.com/ndrtrace/ndrtrace/shared/fcenv"
	"github.com/ndrtrace/ndrtrace/shared/inventory"
	"github.com/ndrtrace/ndrtrace/shared/onboard"
)

func main() {
	a := app.Must()
	cfg, err := onboard.Load(os.Getenv)
	if err != nil {
		fcenv.Logger(context.Background()).Error("configuration", slog.String("err", err.Error()))
		os.Exit(1)
	}
	h := &onboard.Handler{Runner: &onboard.Runner{Config: cfg, Inv: inventory.New(a.Redis)}}
	fc.Start(h.Handle)
}

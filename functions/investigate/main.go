// Command investigate answers "which private hosts sent that surge?" from a
// destination and a time range: SLS SQL on the NAT session logstores, per
// minute and per host, with the instances named and a chart.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aliyun/fc-runtime-go-sdk/fc"

	"github.com/ndrtrace/ndrtrace/shared/app"
	"github.com/ndrtrace/ndrtrace/shared/cloud"
	"github.com/ndrtrace/ndrtrace/shared/fcenv"
	"github.com/ndrtrace/ndrtrace/shared/investigate"
)

func main() {
	a := app.Must()
	cloudCfg, err := cloud.ConfigFromEnv(os.Getenv)
	if err != nil {
		fcenv.Logger(context.Background()).Error("configuration", slog.String("err", err.Error()))
		os.Exit(1)
	}
	fc.Start(investigate.New(a, investigate.SourceFromEnv(os.Getenv), cloudCfg).Handle)
}

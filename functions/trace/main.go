// Command trace is the alert function: for each alert it finds the private
// endpoint behind the shared public address, waiting up to TRACE_MAX_WAIT
// for late logs, and returns and records the result with the alert.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aliyun/fc-runtime-go-sdk/fc"

	"github.com/ndrtrace/ndrtrace/shared/app"
	"github.com/ndrtrace/ndrtrace/shared/cloud"
	"github.com/ndrtrace/ndrtrace/shared/fcenv"
	"github.com/ndrtrace/ndrtrace/shared/traceapi"
)

func main() {
	a := app.Must()
	cloudCfg, err := cloud.ConfigFromEnv(os.Getenv)
	if err != nil {
		fcenv.Logger(context.Background()).Error("configuration", slog.String("err", err.Error()))
		os.Exit(1)
	}
	fc.Start(traceapi.New(a, cloudCfg).Handle)
}

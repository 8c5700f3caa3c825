// Command nat-ingest is the SLS-trigger function for NAT Gateway session
// logs: it writes public five-tuple -> private endpoint mappings to Redis.
package main

import (
	"github.com/aliyun/fc-runtime-go-sdk/fc"

	"github.com/ndrtrace/ndrtrace/shared/app"
	"github.com/ndrtrace/ndrtrace/shared/ingest"
	"github.com/ndrtrace/ndrtrace/shared/natlog"
)

func main() {
	a := app.Must()
	h := &ingest.Handler{Store: a.Store, Parse: natlog.Parse}
	fc.Start(h.Handle)
}

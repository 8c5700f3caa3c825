// Command nat-ingest is the SLS-trigger function for NAT Gateway session
// logs: it writes public five-tuple -> private endpoint mappings to Redis.
package main

import (
	"github.com/aliyun/fc-runtime-go-sdk/fc"

	"github.com/ndrtrace/ndrtrace/shared/app"
	"github.com/ndrtrace/ndrtrace/shared/ingest"
	"github.com/ndrtrace/ndrtrace/shared/natlog"
	"github.com/ndrtrace/ndrtrace/shared/pending"
)

func main() {
	a := app.Must()
	h := &ingest.Handler{Store: a.Store, Parse: natlog.Parse, Written: pending.New(a, nil).Written}
	fc.Start(h.Handle)
}

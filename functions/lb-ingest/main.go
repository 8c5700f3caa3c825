// Command lb-ingest is the SLS-trigger function for ALB and CLB layer-7
// access logs (one binary, one trigger per logstore): it writes client ->
// VIP:port -> backend mappings to Redis.
package main

import (
	"github.com/aliyun/fc-runtime-go-sdk/fc"

	"github.com/ndrtrace/ndrtrace/shared/app"
	"github.com/ndrtrace/ndrtrace/shared/ingest"
	"github.com/ndrtrace/ndrtrace/shared/lblog"
	"github.com/ndrtrace/ndrtrace/shared/pending"
)

func main() {
	a := app.Must()
	h := &ingest.Handler{Store: a.Store, Parse: lblog.Parse, Written: pending.New(a, nil).Written}
	fc.Start(h.Handle)
}

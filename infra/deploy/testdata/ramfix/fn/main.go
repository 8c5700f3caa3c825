// Command fn is the fixture function of TestScanFixture.
package main

import (
	"context"

	"github.com/ndrtrace/ndrtrace/infra/deploy/testdata/ramfix/lib"
)

func main() {
	_ = lib.API{}.Used(context.Background())
	_ = lib.NewRecorder(nil).Record()
	modify := lib.Modify // a function value counts as a call
	_ = modify(nil)
}

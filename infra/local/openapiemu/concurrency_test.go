package openapiemu_test

import (
	"sync"
	"testing"

	"github.com/ndrtrace/ndrtrace/shared/cloud"
)

// One Client serves concurrent calls (onboard scans regions in parallel);
// run with -race.
func TestClientConcurrentUse(t *testing.T) {
	f := setup(t)
	regions := []string{hangzhou, shanghai, "cn-beijing", "ap-southeast-1"}
	for _, r := range regions {
		addNATs(f.emu, ownAccount, r, 4)
	}
	f.emu.FailNext("GetNatGatewayAttribute", 3, "Throttling.User", 0)
	var wg sync.WaitGroup
	errs := make(chan error, 2*len(regions))
	for range 2 {
		for _, r := range regions {
			wg.Add(1)
			go func() {
				defer wg.Done()
				gws, err := f.cl.ListNATGateways(ctx(t), r)
				if err == nil && len(gws) != 4 {
					err = &cloud.Error{Op: r, Message: "wrong count"}
				}
				errs <- err
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// Package lib is a fixture of TestScanFixture: SDK calls that a function
// reaches directly, through an interface, through a closure and a
// CommonRequest, and calls it never reaches.
package lib

import (
	"context"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/ecs"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/sts"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/vpc"
	sls "github.com/aliyun/aliyun-log-go-sdk"
)

// API is used by the function; only Used is called.
type API struct{ Client *vpc.Client }

// Used is called directly: vpc:DescribeVpcs.
func (a API) Used(ctx context.Context) error {
	_, err := a.Client.DescribeVpcs(vpc.CreateDescribeVpcsRequest())
	return err
}

// Unused is a method of a used type that nothing calls: ecs:DescribeInstances
// must not be reachable.
func (a API) Unused() { _ = ecs.CreateDescribeInstancesRequest() }

// Recorder is called through an interface.
type Recorder interface{ Record() error }

type slsRecorder struct{ c sls.ClientInterface }

// Record reaches PutLogs through Recorder: log:PostLogStoreLogs.
func (r slsRecorder) Record() error { return r.c.PutLogs("p", "ls", &sls.LogGroup{}) }

// NewRecorder hides the concrete type behind the interface.
func NewRecorder(c sls.ClientInterface) Recorder { return slsRecorder{c} }

// Modify sets a CommonRequest up in a closure: vpc:ModifyNatGatewayAttribute.
func Modify(cl *sdk.Client) error {
	do := func() error {
		r := requests.NewCommonRequest()
		r.Product, r.Version, r.ApiName = "Vpc", "2016-04-28", "ModifyNatGatewayAttribute"
		_, err := cl.ProcessCommonRequest(r)
		return err
	}
	return do()
}

// Never is not reachable from the function: sts:AssumeRole is only in All.
func Never() { _ = sts.CreateAssumeRoleRequest() }

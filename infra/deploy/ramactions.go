package deploy

import (
	"regexp"
	"strings"
)

// The explicit part of the scanner: how an SDK call becomes a RAM action.
// Everything else (which calls the code makes, and which function can reach
// them) is derived from the sources. A call the tables below do not know
// fails the scan, so that a new kind of call is never silently ignored.

// Import paths of the SDKs the scanner understands.
const (
	v1ServicesPrefix = "github.com/aliyun/alibaba-cloud-sdk-go/services/"
	v1SDKPath        = "github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	v1RequestsPath   = "github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	v1CredsPath      = "github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	slsPath          = "github.com/aliyun/aliyun-log-go-sdk"
)

// Import path prefixes of cloud SDKs the scanner does not map yet: any call
// into them fails the scan with a request to extend this file.
var unmappedSDKPrefixes = []string{
	slsPath + "/",                 // consumer, producer, ... make their own API calls
	"github.com/alibabacloud-go/", // the v2 SDKs
	"github.com/aliyun/aliyun-oss-go-sdk",
	"github.com/aliyun/credentials-go",
}

// v1ServiceRAM maps a v1 SDK service package (services/<pkg>) or a
// CommonRequest Product (lower-cased) to the RAM service prefix of its
// actions.
var v1ServiceRAM = map[string]string{
	"vpc":       "vpc",
	"alb":       "alb",
	"slb":       "slb",
	"ecs":       "ecs",
	"sts":       "sts",
	"ram":       "ram",
	"r_kvstore": "kvstore",
	"r-kvstore": "kvstore",
	"sls":       "log",
	"fc_open":   "fc",
	"fc":        "fc",
}

// createRequest matches the v1 request constructors: vpc.CreateDescribeNatGatewaysRequest.
var createRequest = regexp.MustCompile(`^Create([A-Z]\w*)Request$`)

// v1ClientMethodAPI turns a method of a v1 service client into its API name:
// DescribeNatGateways, DescribeNatGatewaysWithChan and
// DescribeNatGatewaysWithCallback are all the DescribeNatGateways API.
func v1ClientMethodAPI(name string) string {
	for _, suffix := range []string{"WithChan", "WithCallback"} {
		name = strings.TrimSuffix(name, suffix)
	}
	return name
}

// v1RAMCredentialFuncs are v1 credential constructors that make the SDK call
// STS AssumeRole on its own.
func v1RAMCredentialFunc(name string) bool { return strings.Contains(name, "RamRoleArn") }

// slsAPIReceivers are the aliyun-log-go-sdk types whose methods call the SLS
// API (the interface the code holds and the structs behind it).
var slsAPIReceivers = map[string]bool{
	"ClientInterface": true, "Client": true, "TokenAutoUpdateClient": true,
	"LogProject": true, "LogStore": true,
}

// slsMethodActions maps an SLS client method to the RAM action(s) it needs
// (the RAM actions are per API, documented with each SLS API).
var slsMethodActions = map[string][]string{
	// reading a shard
	"PullLogs":              {"log:GetCursorOrData"},
	"PullLogsV2":            {"log:GetCursorOrData"},
	"PullLogsWithQuery":     {"log:GetCursorOrData"},
	"GetLogsBytes":          {"log:GetCursorOrData"},
	"GetLogsBytesV2":        {"log:GetCursorOrData"},
	"GetLogsBytesWithQuery": {"log:GetCursorOrData"},
	"GetCursor":             {"log:GetCursorOrData"},
	"GetCursorTime":         {"log:GetCursorOrData"},
	"GetPrevCursorTime":     {"log:GetCursorOrData"},
	"ListShards":            {"log:ListShards"},
	// writing
	"PutLogs":                   {"log:PostLogStoreLogs"},
	"PutLogsWithCompressType":   {"log:PostLogStoreLogs"},
	"PutRawLogWithCompressType": {"log:PostLogStoreLogs"},
	"PostLogStoreLogs":          {"log:PostLogStoreLogs"},
	"PostLogStoreLogsV2":        {"log:PostLogStoreLogs"},
	// querying
	"GetLogs":       {"log:GetLogStoreLogs"},
	"GetLogsV2":     {"log:GetLogStoreLogs"},
	"GetLogsV3":     {"log:GetLogStoreLogs"},
	"GetLogLines":   {"log:GetLogStoreLogs"},
	"GetLogLinesV2": {"log:GetLogStoreLogs"},
	"GetHistograms": {"log:GetLogStoreHistogram"},
	// logstores
	"CreateLogStore":     {"log:CreateLogStore"},
	"CreateLogStoreV2":   {"log:CreateLogStore"},
	"GetLogStore":        {"log:GetLogStore"},
	"CheckLogstoreExist": {"log:GetLogStore"},
	"UpdateLogStore":     {"log:UpdateLogStore"},
	"UpdateLogStoreV2":   {"log:UpdateLogStore"},
	"ListLogStore":       {"log:ListLogStores"},
	"ListLogStoreV2":     {"log:ListLogStores"},
	"DeleteLogStore":     {"log:DeleteLogStore"},
	// indexes
	"CreateIndex":       {"log:CreateIndex"},
	"CreateIndexString": {"log:CreateIndex"},
	"GetIndex":          {"log:GetIndex"},
	"GetIndexString":    {"log:GetIndex"},
	"UpdateIndex":       {"log:UpdateIndex"},
	"UpdateIndexString": {"log:UpdateIndex"},
	"DeleteIndex":       {"log:DeleteIndex"},
	// projects
	"CreateProject":     {"log:CreateProject"},
	"CreateProjectV2":   {"log:CreateProject"},
	"GetProject":        {"log:GetProject"},
	"CheckProjectExist": {"log:GetProject"},
	"ListProject":       {"log:ListProject"},
	"ListProjectV2":     {"log:ListProject"},
	"UpdateProject":     {"log:UpdateProject"},
	"DeleteProject":     {"log:DeleteProject"},
	// shards
	"SplitShard":  {"log:SplitShard"},
	"MergeShards": {"log:MergeShards"},
	// data transformation (ETL) jobs: the RAM actions are named after the
	// SLS 2020-12-30 APIs (INFERRED: the API pages list no action; check in
	// a live account)
	"CreateETL": {"log:CreateETL"},
	"UpdateETL": {"log:UpdateETL"},
	"GetETL":    {"log:GetETL"},
	"DeleteETL": {"log:DeleteETL"},
	"ListETL":   {"log:ListETLs"},
	"StartETL":  {"log:StartETL"},
	"StopETL":   {"log:StopETL"},
}

// slsLocalMethods are client methods that configure the client and call no
// API.
var slsLocalMethods = map[string]bool{
	"Close": true, "SetRetryTimeout": true, "SetUserAgent": true, "SetHTTPClient": true,
	"SetAuthVersion": true, "SetRegion": true, "ResetAccessKeyToken": true,
	"WithCredentialsProvider": true, "SetSignV4": true,
}

// dataPlaneActions are the SLS actions on the central logstores: reading the
// log logstores and writing results. They are never needed in member
// accounts, whose role only switches logs on and lists assets.
var dataPlaneActions = map[string]bool{
	"log:GetCursorOrData":  true,
	"log:PostLogStoreLogs": true,
	"log:ListShards":       true,
	"log:GetLogStoreLogs":  true, // investigate's SQL on the central NAT logstore
}

// triggerRoleActions is what the SLS trigger's invocation role may hold: SLS
// runs the trigger as a job with that role, reading the source logstore
// (shards, cursors, a consumer group), writing the trigger's own log and
// invoking the function (fc3 docs, "SLS trigger role"). These are the
// platform's needs, not the code's.
var triggerRoleActions = map[string]bool{
	"fc:InvokeFunction":                 true,
	"log:GetProject":                    true,
	"log:GetLogStore":                   true,
	"log:ListShards":                    true,
	"log:GetCursorOrData":               true,
	"log:PostLogStoreLogs":              true,
	"log:CreateConsumerGroup":           true,
	"log:UpdateConsumerGroup":           true,
	"log:DeleteConsumerGroup":           true,
	"log:ListConsumerGroup":             true,
	"log:ConsumerGroupUpdateCheckPoint": true,
	"log:ConsumerGroupHeartBeat":        true,
	"log:GetConsumerGroupCheckPoint":    true,
}

// etlReadActions is what the role an ETL job reads its source with may
// hold: the job is a consumer of the source logstore (shards, cursors and a
// consumer group). The platform's needs, not the code's.
var etlReadActions = map[string]bool{
	"log:ListShards":                    true,
	"log:GetCursorOrData":               true,
	"log:CreateConsumerGroup":           true,
	"log:UpdateConsumerGroup":           true,
	"log:ListConsumerGroup":             true,
	"log:ConsumerGroupUpdateCheckPoint": true,
	"log:ConsumerGroupHeartBeat":        true,
	"log:GetConsumerGroupCheckPoint":    true,
}

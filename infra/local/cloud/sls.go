package cloud

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"

	"github.com/ndrtrace/ndrtrace/infra/local/fcemu"
)

// Client returns an SLS SDK client that reaches the emulator the way the
// functions do: through the proxy, signed with the local STS credentials.
func (c *Cloud) Client() sls.ClientInterface { return SLSClient(c.SLS.ProxyURL(), c.Creds) }

// SLSClient is Client for another process: what it needs of the cloud is
// the emulator's proxy URL and the credentials.
func SLSClient(proxyURL string, creds fcemu.Credentials) sls.ClientInterface {
	cl := sls.CreateNormalInterfaceV2(SLSEndpoint, sls.NewStaticCredentialsProvider(creds.AccessKeyID, creds.AccessKeySecret, creds.SecurityToken))
	proxy, _ := url.Parse(proxyURL)
	cl.SetHTTPClient(&http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(proxy)}})
	cl.SetRetryTimeout(5 * time.Second)
	return cl
}

// Logstore creates a project's logstore in the emulator (one shard: a
// trigger event names one shard's range).
func (c *Cloud) Logstore(project, logstore string) {
	c.SLS.CreateProject(project)
	c.SLS.CreateLogstore(project, logstore, 1, 7)
}

// Put writes records as one log group through the real SDK
// (PostLogStoreLogs) and returns the cursor range they occupy in shard 0.
func (c *Cloud) Put(project, logstore, topic string, logTime time.Time, records []map[string]string) (begin, end string, err error) {
	return c.PutGroup(project, logstore, LogGroup(topic, logTime, records))
}

// PutGroup is Put for a log group built by the caller (its logs' times
// may differ).
func (c *Cloud) PutGroup(project, logstore string, lg *sls.LogGroup) (begin, end string, err error) {
	cl := c.Client()
	defer cl.Close()
	if begin, err = cl.GetCursor(project, logstore, 0, "end"); err != nil {
		return "", "", fmt.Errorf("cursor before put: %w", err)
	}
	// The lowest hash key routes to shard 0, whose range the caller ingests,
	// however many shards the logstore has.
	key := "00000000000000000000000000000000"
	if err := cl.PostLogStoreLogs(project, logstore, lg, &key); err != nil {
		return "", "", fmt.Errorf("put %d records: %w", len(lg.Logs), err)
	}
	if end, err = cl.GetCursor(project, logstore, 0, "end"); err != nil {
		return "", "", fmt.Errorf("cursor after put: %w", err)
	}
	return begin, end, nil
}

// TriggerEvent is the event an SLS trigger sends for a range of shard 0.
func TriggerEvent(project, logstore, begin, end string) []byte {
	return ShardTriggerEvent(project, logstore, 0, begin, end)
}

// ShardTriggerEvent is TriggerEvent for a range of any shard.
func ShardTriggerEvent(project, logstore string, shard int, begin, end string) []byte {
	ev := map[string]any{
		"parameter": map[string]any{},
		"source": map[string]any{"endpoint": SLSEndpoint, "projectName": project, "logstoreName": logstore,
			"shardId": shard, "beginCursor": begin, "endCursor": end},
		"jobName": "ndrtrace-local", "taskId": "local-task", "cursorTime": time.Now().Unix(),
	}
	b, _ := json.Marshal(ev)
	return b
}

// LogGroup builds a log group of records with topic, each at logTime.
func LogGroup(topic string, logTime time.Time, records []map[string]string) *sls.LogGroup {
	lg := &sls.LogGroup{Topic: &topic}
	t := uint32(logTime.Unix())
	for _, r := range records {
		l := &sls.Log{Time: &t}
		for k, v := range r {
			l.Contents = append(l.Contents, &sls.LogContent{Key: &k, Value: &v})
		}
		lg.Logs = append(lg.Logs, l)
	}
	return lg
}

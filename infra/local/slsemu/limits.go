package slsemu

import (
	"net/http"
)

// The service's write limits, enforced on PutLogs and PostLogStoreLogs as
// SLS enforces them (see reference/cross-account-etl-and-limits.md, "SLS
// write limits", and SLS's basic-resource limits): a log group is at most
// 5 MB, holds at most 4096 logs, and one log is at most 1 MB. A request
// over any of them fails whole, nothing of it stored. The emulator's own
// transport bounds (maxBodySize, maxRawSize) only keep a bad request from
// exhausting memory. Append, the harness's back door, is not limited.
const (
	MaxLogGroupBytes = 5 << 20
	MaxLogsPerGroup  = 4096
	MaxLogBytes      = 1 << 20
)

// checkPutLimits checks a well-formed LogGroup (validateLogGroup passed)
// against the write limits.
func checkPutLimits(group []byte) error {
	if len(group) > MaxLogGroupBytes {
		return newAPIError(http.StatusRequestEntityTooLarge, codePostBodyTooLarge,
			"log group of %d bytes exceeds the %d-byte limit", len(group), MaxLogGroupBytes)
	}
	logs := 0
	return walkFields(group, func(field uint64, wt int, payload []byte) error {
		if field != 1 || wt != wireBytes {
			return nil
		}
		logs++
		if logs > MaxLogsPerGroup {
			return newAPIError(http.StatusRequestEntityTooLarge, codePostBodyTooLarge,
				"log group holds more than %d logs", MaxLogsPerGroup)
		}
		if len(payload) > MaxLogBytes {
			return newAPIError(http.StatusRequestEntityTooLarge, codePostBodyTooLarge,
				"log %d is %d bytes, over the %d-byte limit of one log", logs-1, len(payload), MaxLogBytes)
		}
		return nil
	})
}

package config

import "strings"

// RedisCommands are the commands ndrtrace sends to Redis: its functions'
// reads and writes, and what go-redis sends to set a connection up. It is
// the one list of them: RedisACL builds the least-privilege ACL rule from
// it, the tests run the compiled functions as a user limited to that rule,
// and the README prints it (a test keeps the two equal). A new command in
// the code fails those tests with NOPERM until it is added here.
var RedisCommands = []string{
	// connection set-up by go-redis: RESP3 handshake with credentials,
	// database, cluster topology (CLIENT SETINFO, which go-redis sends and
	// ignores the refusal of, is not granted: Redis 7.0 does not know it)
	"hello", "auth", "select", "ping", "cluster|slots", "cluster|shards", "readonly",
	// mappings, counts and log-group marks (store)
	"get", "set", "append", "expire", "exists", "incrby",
	// inventory, ENI cache, webhook replay guard
	"hset", "hget", "hgetall", "hdel", "sadd", "smembers", "del",
	// wake-ups of waiting traces
	"publish", "subscribe", "unsubscribe",
	// pending alerts of late resolution: reads, and scripts (whose own
	// calls are checked against this list too)
	"hmget", "hlen", "eval", "evalsha",
}

// RedisKeyPattern is every key and channel ndrtrace uses.
const RedisKeyPattern = "ndr:*"

// RedisACL is the ACL rule of ndrtrace's Redis user, after "user <name> on
// ><password>": its keys and channels only, its commands only.
func RedisACL() string {
	var b strings.Builder
	b.WriteString("resetkeys ~" + RedisKeyPattern + " resetchannels &" + RedisKeyPattern + " -@all")
	for _, c := range RedisCommands {
		b.WriteString(" +" + c)
	}
	return b.String()
}

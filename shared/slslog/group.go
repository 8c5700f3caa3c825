package slslog

import (
	"encoding/base64"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"unsafe"

	sls "github.com/aliyun/aliyun-log-go-sdk"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/ndrtrace/ndrtrace/shared/mapping"
)

// Group is one log group of a pulled page. Read hands out groups that walk
// the LogGroupList bytes the SDK's raw call returns, without decoding them
// into the SDK's structs: a record's fields are views of those bytes, so
// reading allocates nothing per record or per field. Groups from
// ReadDecoded (the SDK's PullLogs) give the same records the SDK's way.
type Group struct {
	// Cursor is the group's cursor in its shard (what the replay mark
	// names); empty when SLS did not say.
	Cursor string
	// Topic is the group's topic (the ALB and CLB logs tell themselves
	// apart by it).
	Topic string

	raw []byte        // the LogGroup message (raw path)
	sdk *sls.LogGroup // the decoded group (SDK path)
}

// FromSDK wraps a decoded log group.
func FromSDK(lg *sls.LogGroup) Group {
	return Group{Cursor: lg.GetCursor(), Topic: lg.GetTopic(), sdk: lg}
}

// Protocol-buffer field numbers of SLS's log.proto.
const (
	listGroups   = 1 // LogGroupList.LogGroups
	groupLogs    = 1 // LogGroup.Logs
	groupTopic   = 3 // LogGroup.Topic
	logTime      = 1 // Log.Time (varint)
	logContents  = 2 // Log.Contents
	logTimeNs    = 4 // Log.TimeNs (fixed32)
	contentKey   = 1 // LogContent.Key
	contentValue = 2 // LogContent.Value
)

// ErrWire is a LogGroupList that is not valid protocol buffers of SLS's
// log.proto.
var ErrWire = errors.New("malformed LogGroupList")

// Groups splits the decompressed LogGroupList bytes of one pull into its
// groups (a pass over each group's top-level fields, for its topic) and gives
// them the cursors the SDK would: readLastCursor is the
// x-log-read-last-cursor header (the last group's sequence number), and the
// groups before it are numbered back from it. The groups' strings are views
// of out, which must not change afterwards.
func Groups(out []byte, readLastCursor string) ([]Group, error) {
	var groups []Group
	for b := out; len(b) > 0; {
		num, typ, n := tag(b)
		if n < 0 {
			return nil, wireErr(n)
		}
		b = b[n:]
		if num != listGroups {
			if n = skip(typ, b); n < 0 {
				return nil, wireErr(n)
			}
			b = b[n:]
			continue
		}
		if typ != protowire.BytesType {
			return nil, fmt.Errorf("%w: LogGroups of wire type %d", ErrWire, typ)
		}
		v, n := bytesValue(b)
		if n < 0 {
			return nil, wireErr(n)
		}
		b = b[n:]
		g := Group{raw: v}
		if err := g.scan(); err != nil {
			return nil, err
		}
		groups = append(groups, g)
	}
	if last, err := strconv.ParseInt(readLastCursor, 10, 64); err == nil && len(groups) > 0 {
		for i := range groups {
			groups[i].Cursor = base64.StdEncoding.EncodeToString(strconv.AppendInt(nil, last-int64(len(groups)-1-i), 10))
		}
	}
	return groups, nil
}

// scan reads a group's top-level fields for its topic (last one wins, as in
// the SDK's decoder) and checks that its fields are delimited, so that Logs
// can pass over them without checking again.
func (g *Group) scan() error {
	for b := g.raw; len(b) > 0; {
		num, typ, n := tag(b)
		if n < 0 {
			return wireErr(n)
		}
		b = b[n:]
		if (num == groupLogs || num == groupTopic) && typ != protowire.BytesType {
			return fmt.Errorf("%w: LogGroup field %d of wire type %d", ErrWire, num, typ)
		}
		if num == groupTopic {
			v, n := bytesValue(b)
			if n < 0 {
				return wireErr(n)
			}
			g.Topic = view(v)
		}
		if n = skip(typ, b); n < 0 {
			return wireErr(n)
		}
		b = b[n:]
	}
	return nil
}

// view is b as a string without copying: the bytes of a pulled page are
// never written again, and the strings keep them alive as long as a
// mapping refers to them.
func view(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// Logs iterates over a group's records.
type Logs struct {
	raw     []byte
	sdk     []*sls.Log
	fromSDK bool
	err     error
}

// Logs returns an iterator over the group's records.
func (g *Group) Logs() Logs {
	if g.sdk != nil {
		return Logs{sdk: g.sdk.Logs, fromSDK: true}
	}
	return Logs{raw: g.raw}
}

// Next returns the next record's fields (in dst, reused across calls) and
// its log time (Unix seconds); ok is false after the last record or at
// malformed bytes (then Err says what).
func (it *Logs) Next(dst []mapping.Field) (fields []mapping.Field, logTime int64, ok bool) {
	if it.fromSDK {
		if len(it.sdk) == 0 {
			return dst[:0], 0, false
		}
		l := it.sdk[0]
		it.sdk = it.sdk[1:]
		return Fields(dst, l), int64(l.GetTime()), true
	}
	for len(it.raw) > 0 && it.err == nil {
		num, typ, n := tag(it.raw) // scan checked the group's fields
		it.raw = it.raw[n:]
		if num != groupLogs {
			it.raw = it.raw[skip(typ, it.raw):]
			continue
		}
		v, n := bytesValue(it.raw)
		it.raw = it.raw[n:]
		fields, logTime, it.err = parseLog(dst[:0], v)
		if it.err != nil {
			break
		}
		return fields, logTime, true
	}
	it.raw = nil
	return dst[:0], 0, false
}

// Err is why Next stopped early, if it did.
func (it *Logs) Err() error { return it.err }

// parseLog reads one Log message: its time and its contents, in order. A
// content without a key or a value is left out, as Fields leaves it out.
func parseLog(dst []mapping.Field, b []byte) ([]mapping.Field, int64, error) {
	var t uint64
	for len(b) > 0 {
		// The usual field, a LogContent shorter than 128 bytes, without
		// the general reading of its tag and length below.
		if len(b) >= 2 && b[0] == logContents<<3|byte(protowire.BytesType) && b[1] < 0x80 && 2+int(b[1]) <= len(b) {
			var ok bool
			if dst, ok = parseContent(dst, b[2:2+int(b[1])]); !ok {
				return dst, 0, fmt.Errorf("%w: bad LogContent", ErrWire)
			}
			b = b[2+int(b[1]):]
			continue
		}
		num, typ, n := tag(b)
		if n < 0 {
			return dst, 0, wireErr(n)
		}
		b = b[n:]
		switch {
		case num == logTime && typ == protowire.VarintType:
			t, n = varint(b)
		case num == logContents && typ == protowire.BytesType:
			var v []byte
			if v, n = bytesValue(b); n >= 0 {
				var ok bool
				if dst, ok = parseContent(dst, v); !ok {
					return dst, 0, fmt.Errorf("%w: bad LogContent", ErrWire)
				}
			}
		case num == logTime || num == logContents || num == logTimeNs && typ != protowire.Fixed32Type:
			return dst, 0, fmt.Errorf("%w: Log field %d of wire type %d", ErrWire, num, typ)
		default:
			n = skip(typ, b)
		}
		if n < 0 {
			return dst, 0, wireErr(n)
		}
		b = b[n:]
	}
	return dst, int64(uint32(t)), nil
}

func parseContent(dst []mapping.Field, b []byte) ([]mapping.Field, bool) {
	// The form every writer produces: the key (field 1), then the value
	// (field 2), each shorter than 128 bytes, nothing else. Anything else
	// takes the general walk below, which gives the same for this form.
	if len(b) >= 4 && b[0] == contentKey<<3|byte(protowire.BytesType) && b[1] < 0x80 {
		k := 2 + int(b[1])
		if k+2 <= len(b) && b[k] == contentValue<<3|byte(protowire.BytesType) && b[k+1] < 0x80 && k+2+int(b[k+1]) == len(b) {
			return append(dst, mapping.Field{Key: view(b[2:k]), Value: view(b[k+2:])}), true
		}
	}
	var key, value []byte
	var haveKey, haveValue bool
	for len(b) > 0 {
		num, typ, n := tag(b)
		if n < 0 {
			return dst, false
		}
		b = b[n:]
		if (num == contentKey || num == contentValue) && typ != protowire.BytesType {
			return dst, false
		}
		switch num {
		case contentKey:
			key, n = bytesValue(b)
			haveKey = true
		case contentValue:
			value, n = bytesValue(b)
			haveValue = true
		default:
			n = skip(typ, b)
		}
		if n < 0 {
			return dst, false
		}
		b = b[n:]
	}
	if haveKey && haveValue {
		dst = append(dst, mapping.Field{Key: view(key), Value: view(value)})
	}
	return dst, true
}

// readLastCursor is the x-log-read-last-cursor header the SDK read for a
// pull. PullLogMeta keeps it unexported (PullLogsWithQuery uses it to give
// each decoded group its cursor); reading it here lets the raw path number
// its groups exactly as the SDK does. TestReadersAgree fails if an SDK
// upgrade moves it.
func readLastCursor(plm *sls.PullLogMeta) string {
	if plm == nil {
		return ""
	}
	f := reflect.ValueOf(plm).Elem().FieldByName("readLastCursor")
	if !f.IsValid() || f.Kind() != reflect.String || plm.Count <= 0 {
		return ""
	}
	return f.String()
}

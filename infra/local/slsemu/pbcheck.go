package slsemu

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// validateLogGroup checks that b is a well-formed sls.LogGroup (proto2,
// see log.proto in the SDK) without unmarshalling it: PutLogs is on the
// throughput path and a full gogo Unmarshal allocates for every log and
// field. It enforces what gogo's generated Unmarshal enforces: correct wire
// types for known fields, in-bounds lengths, and the proto2 required fields
// (Log.Time, LogContent/LogTag Key and Value). It returns the number of logs.
func validateLogGroup(b []byte) (logs int, err error) {
	err = walkFields(b, func(field uint64, wt int, payload []byte) error {
		switch field {
		case 1: // Logs
			if wt != wireBytes {
				return wrongWireType("LogGroup.Logs", wt)
			}
			logs++
			if err := validateLog(payload); err != nil {
				return fmt.Errorf("log %d: %w", logs-1, err)
			}
		case 2, 3, 4, 5: // Category, Topic, Source, MachineUUID
			if wt != wireBytes {
				return wrongWireType("LogGroup string field", wt)
			}
		case 6: // LogTags
			if wt != wireBytes {
				return wrongWireType("LogGroup.LogTags", wt)
			}
			if err := validateKeyValue(payload); err != nil {
				return fmt.Errorf("log tag: %w", err)
			}
		}
		return nil
	})
	return logs, err
}

func validateLog(b []byte) error {
	var haveTime bool
	err := walkFields(b, func(field uint64, wt int, payload []byte) error {
		switch field {
		case 1: // Time
			if wt != wireVarint {
				return wrongWireType("Log.Time", wt)
			}
			haveTime = true
		case 2: // Contents
			if wt != wireBytes {
				return wrongWireType("Log.Contents", wt)
			}
			if err := validateKeyValue(payload); err != nil {
				return fmt.Errorf("content: %w", err)
			}
		case 4: // TimeNs
			if wt != wireFixed32 {
				return wrongWireType("Log.TimeNs", wt)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !haveTime {
		return errors.New("required field Log.Time is missing")
	}
	return nil
}

// validateKeyValue checks a LogContent or LogTag: both fields required.
func validateKeyValue(b []byte) error {
	var haveKey, haveValue bool
	err := walkFields(b, func(field uint64, wt int, _ []byte) error {
		switch field {
		case 1:
			if wt != wireBytes {
				return wrongWireType("Key", wt)
			}
			haveKey = true
		case 2:
			if wt != wireBytes {
				return wrongWireType("Value", wt)
			}
			haveValue = true
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !haveKey || !haveValue {
		return errors.New("required field Key or Value is missing")
	}
	return nil
}

const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2
	wireFixed32 = 5
)

func wrongWireType(field string, wt int) error {
	return fmt.Errorf("field %s has wrong wire type %d", field, wt)
}

// walkFields calls fn for every field of the protobuf message b; payload is
// the length-delimited content for wire type 2 and nil otherwise. Unknown
// fields are skipped as proto2 requires; groups (wire types 3/4) are
// rejected since nothing in the SLS schema produces them.
func walkFields(b []byte, fn func(field uint64, wt int, payload []byte) error) error {
	for len(b) > 0 {
		tag, n := binary.Uvarint(b)
		if n <= 0 {
			return errors.New("truncated field tag")
		}
		b = b[n:]
		field, wt := tag>>3, int(tag&7)
		if field == 0 {
			return errors.New("illegal field number 0")
		}
		var payload []byte
		switch wt {
		case wireVarint:
			_, n := binary.Uvarint(b)
			if n <= 0 {
				return errors.New("truncated varint")
			}
			b = b[n:]
		case wireFixed64:
			if len(b) < 8 {
				return errors.New("truncated fixed64")
			}
			b = b[8:]
		case wireFixed32:
			if len(b) < 4 {
				return errors.New("truncated fixed32")
			}
			b = b[4:]
		case wireBytes:
			l, n := binary.Uvarint(b)
			if n <= 0 || l > uint64(len(b)-n) {
				return errors.New("truncated length-delimited field")
			}
			payload = b[n : n+int(l)]
			b = b[n+int(l):]
		default:
			return fmt.Errorf("unsupported wire type %d", wt)
		}
		if err := fn(field, wt, payload); err != nil {
			return err
		}
	}
	return nil
}

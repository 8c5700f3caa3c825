package cloud

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/responses"
)

// The APIs are loose about JSON types (DescribeNatGateways reports
// EnableSessionLog as a string, GetNatGatewayAttribute as a bool; numbers
// come quoted now and then). The SDK's generated responses are decoded
// with a fuzzy decoder (sdk/responses/json_parser.go); these scalar types
// accept the same inputs, so that an answer the generated packages read
// is read here too.

// jsonStr is a string that also accepts a number (its literal text), a
// bool ("true"/"false") and null ("").
type jsonStr string

func (s *jsonStr) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0:
		return fmt.Errorf("empty JSON value")
	case b[0] == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = jsonStr(v)
	case string(b) == "null":
		*s = ""
	case string(b) == "true", string(b) == "false":
		*s = jsonStr(b)
	case b[0] == '-' || (b[0] >= '0' && b[0] <= '9'):
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return err
		}
		*s = jsonStr(n)
	default:
		return fmt.Errorf("want a string, number or bool, got %.40s", b)
	}
	return nil
}

// jsonBool is a bool that also accepts a number (non-zero is true), the
// strings "true", "false" and "" (any case), and null (false).
type jsonBool bool

func (v *jsonBool) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "true":
		*v = true
	case string(b) == "false", string(b) == "null":
		*v = false
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		switch strings.ToLower(s) {
		case "true":
			*v = true
		case "false", "":
			*v = false
		default:
			return fmt.Errorf("unsupported bool value %q", s)
		}
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("want a bool, got %.40s", b)
		}
		i, err := n.Int64()
		if err != nil {
			return fmt.Errorf("want a bool, got %s", n)
		}
		*v = i != 0
	}
	return nil
}

// jsonInt is an int that also accepts a quoted number ("" is 0), a bool
// (1 or 0), null (0) and a fraction (truncated).
type jsonInt int

func (v *jsonInt) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	var s string
	switch {
	case string(b) == "null", string(b) == "false":
		s = "0"
	case string(b) == "true":
		s = "1"
	case len(b) > 0 && b[0] == '"':
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		if s == "" {
			s = "0"
		}
	default:
		s = string(b)
	}
	if strings.IndexByte(s, '.') >= 0 {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f > math.MaxInt || f < math.MinInt {
			return fmt.Errorf("want an integer, got %.40s", b)
		}
		*v = jsonInt(f)
		return nil
	}
	i, err := strconv.ParseInt(s, 10, 0)
	if err != nil {
		return fmt.Errorf("want an integer, got %.40s", b)
	}
	*v = jsonInt(i)
	return nil
}

// decode reads the answer of a successful call into out: r and err are what
// ProcessCommonRequest returned. A decoding failure is the SDK's own
// client error for it, as the generated clients return.
func decode[T any](r *responses.CommonResponse, err error, out *T) error {
	if err != nil {
		return err
	}
	var v T
	if b := r.GetHttpContentBytes(); len(b) > 0 {
		if err := json.Unmarshal(b, &v); err != nil {
			return sdkerrors.NewClientError(sdkerrors.JsonUnmarshalErrorCode, sdkerrors.JsonUnmarshalErrorMessage, err)
		}
	}
	*out = v
	return nil
}

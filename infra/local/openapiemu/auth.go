package openapiemu

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"net/url"
	"sort"
	"strings"
	"time"
)

// accessKey is a key the emulator knows: a long-lived one added with
// AddAccount, or an STS one issued by AssumeRole.
type accessKey struct {
	account string
	secret  string
	token   string    // required when non-empty
	expires time.Time // zero: never
}

// Timestamp window and nonce memory, as the services enforce them.
const (
	maxClockSkew = 15 * time.Minute
	nonceTTL     = 15 * time.Minute
)

// authenticate checks key, token, timestamp, signature and nonce, and sets
// c.account.
func (s *Server) authenticate(c *call) *apiError {
	p := c.p
	if c.keyID == "" {
		return missing("AccessKeyId")
	}
	if p["Signature"] == "" {
		return missing("Signature")
	}
	key, ok := s.keys[c.keyID]
	if !ok {
		return errorf(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
	}
	if key.token != "" {
		if subtle.ConstantTimeCompare([]byte(p["SecurityToken"]), []byte(key.token)) != 1 {
			return errorf(400, "InvalidSecurityToken.MismatchWithAccessKey", "Specified SecurityToken mismatch with the AccessKey.")
		}
		if !key.expires.IsZero() && s.now().After(key.expires) {
			return errorf(400, "InvalidSecurityToken.Expired", "Specified SecurityToken is expired.")
		}
	}
	if m := p["SignatureMethod"]; m != "HMAC-SHA1" {
		return errorf(400, "InvalidSignatureMethod", "Specified signature method \""+m+"\" is not supported (HMAC-SHA1 only).")
	}
	ts, err := time.Parse("2006-01-02T15:04:05Z", p["Timestamp"])
	if err != nil {
		return errorf(400, "InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted.")
	}
	if d := s.now().Sub(ts); d > maxClockSkew || d < -maxClockSkew {
		return errorf(400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
	}
	sts := stringToSign(c.method, p)
	want := sign(sts, key.secret)
	if !hmac.Equal([]byte(p["Signature"]), []byte(want)) {
		return errorf(400, "SignatureDoesNotMatch",
			"Specified signature is not matched with our calculation. server string to sign is:"+sts)
	}
	nonce := p["SignatureNonce"]
	if nonce == "" {
		return missing("SignatureNonce")
	}
	s.pruneNonces()
	if _, used := s.nonces[c.keyID+"/"+nonce]; used {
		return errorf(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
	}
	s.nonces[c.keyID+"/"+nonce] = s.now()
	c.account = key.account
	return nil
}

func (s *Server) pruneNonces() {
	cut := s.now().Add(-nonceTTL)
	for k, t := range s.nonces {
		if t.Before(cut) {
			delete(s.nonces, k)
		}
	}
}

// stringToSign is METHOD&%2F&percentEncode(canonicalized query), the
// canonicalized query being every parameter but Signature, sorted by name,
// each name and value percent-encoded (RFC 3986).
func stringToSign(method string, p params) string {
	names := make([]string, 0, len(p))
	for k := range p {
		if k != "Signature" {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	pairs := make([]string, len(names))
	for i, k := range names {
		pairs[i] = percentEncode(k) + "=" + percentEncode(p[k])
	}
	return strings.ToUpper(method) + "&" + percentEncode("/") + "&" + percentEncode(strings.Join(pairs, "&"))
}

func percentEncode(s string) string {
	e := url.QueryEscape(s)
	e = strings.ReplaceAll(e, "+", "%20")
	e = strings.ReplaceAll(e, "*", "%2A")
	return strings.ReplaceAll(e, "%7E", "~")
}

func sign(stringToSign, secret string) string {
	m := hmac.New(sha1.New, []byte(secret+"&"))
	m.Write([]byte(stringToSign))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

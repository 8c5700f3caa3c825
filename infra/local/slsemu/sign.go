package slsemu

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// credentials are the only access key the emulator accepts. A zero value
// (empty AccessKeyID) disables authentication.
type credentials struct {
	accessKeyID, accessKeySecret, securityToken string
}

// Signature versions as reported in RequestRecord.SignatureVersion.
const (
	sigV1 = "v1"
	sigV4 = "v4"
)

const (
	v1AuthPrefix      = "LOG "
	v4Algorithm       = "SLS4-HMAC-SHA256"
	v4Terminator      = "aliyun_v4_request"
	v4SecretPrefix    = "aliyun_v4"
	v4Product         = "sls"
	emptyStringSHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
)

// authHeader is what the Authorization header claims, before verification.
type authHeader struct {
	version     string // sigV1, sigV4 or "" when absent/unrecognised
	accessKeyID string
	signature   string
	scope       []string // v4 only: date, region, product, terminator
}

func parseAuthorization(v string) authHeader {
	switch {
	case strings.HasPrefix(v, v1AuthPrefix):
		// "LOG <ak>:<base64 signature>"
		ak, sig, ok := strings.Cut(strings.TrimPrefix(v, v1AuthPrefix), ":")
		if !ok {
			return authHeader{version: sigV1}
		}
		return authHeader{version: sigV1, accessKeyID: ak, signature: sig}
	case strings.HasPrefix(v, v4Algorithm+" "):
		// "SLS4-HMAC-SHA256 Credential=<ak>/<date>/<region>/sls/aliyun_v4_request,Signature=<hex>"
		h := authHeader{version: sigV4}
		for part := range strings.SplitSeq(strings.TrimPrefix(v, v4Algorithm+" "), ",") {
			k, val, _ := strings.Cut(strings.TrimSpace(part), "=")
			switch k {
			case "Credential":
				fields := strings.Split(val, "/")
				h.accessKeyID = fields[0]
				h.scope = fields[1:]
			case "Signature":
				h.signature = val
			}
		}
		return h
	}
	return authHeader{}
}

func errUnauthorized(format string, args ...any) *apiError {
	return newAPIError(http.StatusUnauthorized, codeUnauthorized, format, args...)
}

func errSignature(format string, args ...any) *apiError {
	return newAPIError(http.StatusUnauthorized, codeSignatureNotMatch, format, args...)
}

// verifyRequest checks r (whose body has already been read into body)
// against the accepted credentials. It mirrors the SDK's signers
// (signature.go / signature_v4.go in aliyun-log-go-sdk), rebuilding the
// string to sign from what arrived on the wire.
func verifyRequest(r *http.Request, body []byte, auth authHeader, want credentials) error {
	if auth.version == "" {
		return errUnauthorized("missing or unsupported Authorization header")
	}
	if auth.accessKeyID != want.accessKeyID {
		return errUnauthorized("AccessKeyId %q is not authorized", auth.accessKeyID)
	}
	if got := r.Header.Get("x-acs-security-token"); got != want.securityToken {
		return errUnauthorized("the security token you provided is invalid")
	}
	if auth.version == sigV1 {
		return verifyV1(r, body, auth, want.accessKeySecret)
	}
	return verifyV4(r, body, auth, want.accessKeySecret)
}

// verifyV1 checks an HMAC-SHA1 "LOG ak:sig" signature:
//
//	METHOD \n Content-MD5 \n Content-Type \n Date \n x-log-/x-acs- headers \n resource
func verifyV1(r *http.Request, body []byte, auth authHeader, secret string) error {
	md5Header := r.Header.Get("Content-MD5")
	// The MD5 is signed, so also make sure it is the MD5 of what arrived.
	if md5Header != "" || len(body) > 0 {
		sum := md5.Sum(body)
		if !strings.EqualFold(md5Header, hex.EncodeToString(sum[:])) {
			return errSignature("Content-MD5 %q does not match the body", md5Header)
		}
	}
	toSign := r.Method + "\n" +
		md5Header + "\n" +
		r.Header.Get("Content-Type") + "\n" +
		r.Header.Get("Date") + "\n" +
		canonicalHeadersV1(r.Header) + "\n" +
		canonicalResourceV1(r.URL)
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(toSign))
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if subtle.ConstantTimeCompare([]byte(want), []byte(auth.signature)) != 1 {
		return errSignature("v1 signature does not match; string to sign was %q", toSign)
	}
	return nil
}

// canonicalHeadersV1: every x-log-*/x-acs-* header as "name:value",
// lowercased, sorted, newline-joined (no trailing newline).
func canonicalHeadersV1(h http.Header) string {
	var lines []string
	for k, vals := range h {
		l := strings.ToLower(k)
		if strings.HasPrefix(l, "x-log-") || strings.HasPrefix(l, "x-acs-") {
			lines = append(lines, l+":"+strings.TrimSpace(vals[0]))
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// canonicalResourceV1: escaped path, then "?" and the decoded query sorted
// by key. A repeated key contributes "k=v" per value with no separator
// between them; that is an SDK quirk reproduced on purpose.
func canonicalResourceV1(u *url.URL) string {
	var b strings.Builder
	b.WriteString(u.EscapedPath())
	if u.RawQuery == "" {
		return b.String()
	}
	q := u.Query()
	keys := slices.Sorted(maps.Keys(q))
	b.WriteByte('?')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		for _, v := range q[k] {
			b.WriteString(k + "=" + v)
		}
	}
	return b.String()
}

// verifyV4 checks an SLS4-HMAC-SHA256 signature. The region is taken from
// the credential scope: the emulator serves every region.
func verifyV4(r *http.Request, body []byte, auth authHeader, secret string) error {
	if len(auth.scope) != 4 || auth.scope[2] != v4Product || auth.scope[3] != v4Terminator {
		return errUnauthorized("malformed v4 credential scope %q", strings.Join(auth.scope, "/"))
	}
	date, region := auth.scope[0], auth.scope[1]
	dateTime := r.Header.Get("x-log-date")
	if len(dateTime) < 8 || dateTime[:8] != date {
		return errSignature("x-log-date %q does not match credential date %q", dateTime, date)
	}
	payloadHash := r.Header.Get("x-log-content-sha256")
	if payloadHash == "" {
		return errSignature("missing x-log-content-sha256")
	}
	// The SDK signs the empty-string hash for "unsigned payload" uploads;
	// otherwise the hash must be that of the body actually received.
	if sum := sha256.Sum256(body); payloadHash != hex.EncodeToString(sum[:]) && payloadHash != emptyStringSHA256 {
		return errSignature("x-log-content-sha256 does not match the body")
	}

	signedNames, canonHeaders := canonicalHeadersV4(r)
	canonReq := r.Method + "\n" +
		r.URL.EscapedPath() + "\n" +
		canonicalQueryV4(r.URL.Query()) + "\n" +
		canonHeaders + "\n" +
		signedNames + "\n" +
		payloadHash
	reqHash := sha256.Sum256([]byte(canonReq))
	scope := strings.Join(auth.scope, "/")
	toSign := v4Algorithm + "\n" + dateTime + "\n" + scope + "\n" + hex.EncodeToString(reqHash[:])

	key := hmacSHA256([]byte(v4SecretPrefix+secret), date)
	key = hmacSHA256(key, region)
	key = hmacSHA256(key, v4Product)
	key = hmacSHA256(key, v4Terminator)
	want := hex.EncodeToString(hmacSHA256(key, toSign))
	if subtle.ConstantTimeCompare([]byte(want), []byte(auth.signature)) != 1 {
		return errSignature("v4 signature does not match; canonical request was %q", canonReq)
	}
	return nil
}

func hmacSHA256(key []byte, msg string) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(msg))
	return mac.Sum(nil)
}

// canonicalHeadersV4 returns the ';'-joined signed header names and the
// "name:value\n" block. Signed are host, content-type and x-log-*/x-acs-*
// except x-log-meta-*; values are not trimmed (the SDK does not trim them).
func canonicalHeadersV4(r *http.Request) (names, block string) {
	signed := map[string]string{"host": r.Host}
	for k, vals := range r.Header {
		l := strings.ToLower(k)
		if strings.HasPrefix(l, "x-log-meta-") {
			continue
		}
		if strings.HasPrefix(l, "x-log-") || strings.HasPrefix(l, "x-acs-") || l == "content-type" {
			signed[l] = vals[0]
		}
	}
	keys := slices.Sorted(maps.Keys(signed))
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + ":" + signed[k] + "\n")
	}
	return strings.Join(keys, ";"), b.String()
}

// canonicalQueryV4: keys sorted, first value only, value percent-encoded
// with %20 for space, "key" alone when the value is empty.
func canonicalQueryV4(q url.Values) string {
	keys := slices.Sorted(maps.Keys(q))
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		v := ""
		if len(q[k]) > 0 {
			v = strings.ReplaceAll(url.QueryEscape(q[k][0]), "+", "%20")
		}
		if v == "" {
			parts = append(parts, k)
		} else {
			parts = append(parts, fmt.Sprintf("%s=%s", k, v))
		}
	}
	return strings.Join(parts, "&")
}

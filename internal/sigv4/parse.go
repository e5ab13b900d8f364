package sigv4

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Algorithm is the only signing algorithm podid accepts.
const Algorithm = "AWS4-HMAC-SHA256"

// Authorization is a parsed SigV4 Authorization header.
type Authorization struct {
	AccessKeyID string
	Date        string // yyyymmdd of the credential scope
	Region      string
	Service     string
	// SignedHeaders are the lower-case header names, in the order given.
	SignedHeaders []string
	Signature     string // lower-case hex
}

// ParseError is a malformed Authorization header; its message is worded as
// AWS words IncompleteSignature errors.
type ParseError struct{ msg string }

func (e *ParseError) Error() string { return e.msg }

func incomplete(format string, args ...any) error {
	return &ParseError{msg: fmt.Sprintf(format, args...)}
}

const maxHeaderLen = 8 << 10

// ParseAuthorization parses
//
//	AWS4-HMAC-SHA256 Credential=AKID/yyyymmdd/region/service/aws4_request, SignedHeaders=a;b, Signature=hex
//
// It never panics; every malformation is a *ParseError.
func ParseAuthorization(h string) (*Authorization, error) {
	cred, signed, sig, err := splitAuthorization(h)
	if err != nil {
		return nil, err
	}
	return parseScope(cred, signed, sig)
}

// authorizationScope is the access key ID and region of Authorization
// header h when ParseAuthorization accepts it (ok), without allocating
// what ParseAuthorization returns: --auth none reads only these.
func authorizationScope(h string) (akid, region string, ok bool) {
	cred, signed, sig, err := splitAuthorization(h)
	if err != nil {
		return "", "", false
	}
	scope, err := checkScope(cred, signed, sig)
	if err != nil {
		return "", "", false
	}
	return scope[0], scope[2], true
}

// splitAuthorization returns the Credential, SignedHeaders and Signature
// of Authorization header h, or the *ParseError of a malformed header.
func splitAuthorization(h string) (cred, signed, sig string, err error) {
	if len(h) > maxHeaderLen {
		return "", "", "", incomplete("Authorization header is too long.")
	}
	alg, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	if alg != Algorithm {
		return "", "", "", incomplete("Unsupported AWS 'algorithm': '%s'.", alg)
	}
	var haveCred, haveSigned, haveSig bool
	for more := true; more; {
		var part string
		part, rest, more = strings.Cut(rest, ",")
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			if strings.TrimSpace(part) == "" {
				continue
			}
			return "", "", "", incomplete("'%s' not a valid key=value pair (missing equal-sign) in Authorization header: '%s'.", strings.TrimSpace(part), h)
		}
		switch k {
		case "Credential":
			cred, haveCred = v, true
		case "SignedHeaders":
			signed, haveSigned = v, true
		case "Signature":
			sig, haveSig = v, true
		}
	}
	var missing []string
	if !haveCred {
		missing = append(missing, "Authorization header requires 'Credential' parameter.")
	}
	if !haveSig {
		missing = append(missing, "Authorization header requires 'Signature' parameter.")
	}
	if !haveSigned {
		missing = append(missing, "Authorization header requires 'SignedHeaders' parameter.")
	}
	if len(missing) > 0 {
		return "", "", "", incomplete("%s Authorization=%s", strings.Join(missing, " "), h)
	}
	return cred, signed, sig, nil
}

// parseScope checks and splits the credential scope, the signed header
// names and the signature, as the Authorization header and the presigned
// query parameters carry them alike.
func parseScope(cred, signed, sig string) (*Authorization, error) {
	scope, err := checkScope(cred, signed, sig)
	if err != nil {
		return nil, err
	}
	return &Authorization{AccessKeyID: scope[0], Date: scope[1], Region: scope[2], Service: scope[3],
		SignedHeaders: strings.Split(signed, ";"), Signature: sig}, nil
}

// checkScope is parseScope's checks, without its allocations: the
// credential scope's five elements, or the *ParseError of the first
// problem.
func checkScope(cred, signed, sig string) (scope [5]string, err error) {
	if strings.Count(cred, "/") != len(scope)-1 {
		return scope, incomplete("Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '%s'", cred)
	}
	rest := cred
	for i := range scope {
		scope[i], rest, _ = strings.Cut(rest, "/")
	}
	akid, date, region, service := scope[0], scope[1], scope[2], scope[3]
	if akid == "" {
		return scope, incomplete("Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '%s'", cred)
	}
	if _, err := time.Parse("20060102", date); err != nil {
		return scope, incomplete("Date must be in YYYYMMDD format. Got '%s'", date)
	}
	if region == "" {
		return scope, incomplete("Credential should be scoped to a valid region. ")
	}
	if service == "" {
		return scope, incomplete("Credential should be scoped to correct service. ")
	}
	if scope[4] != "aws4_request" {
		return scope, incomplete("Credential should be scoped with a valid terminator: 'aws4_request', not '%s'. ", scope[4])
	}
	if signed == "" {
		return scope, incomplete("Authorization header requires 'SignedHeaders' parameter.")
	}
	for names, more := signed, true; more; {
		var name string
		name, names, more = strings.Cut(names, ";")
		if name == "" || name != strings.ToLower(name) {
			return scope, incomplete("SignedHeaders must be lower-case header names separated by ';'. Got '%s'", signed)
		}
	}
	if len(sig) != 64 || !lowerHex(sig) {
		return scope, incomplete("Signature must be 64 lower-case hexadecimal characters.")
	}
	return scope, nil
}

// lowerHex tells whether s is lower-case hexadecimal digits only.
func lowerHex(s string) bool {
	for i := range len(s) {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Presigned is a request signed in its query string (SigV4 query-string
// authentication: the AWS CLI's presign, an EKS token's presigned STS
// GetCallerIdentity URL).
type Presigned struct {
	Authorization
	AmzDate string // X-Amz-Date
	// Expires is X-Amz-Expires, how long after AmzDate the URL is valid;
	// HasExpires is false when the URL names none (AWS's SDKs presign
	// STS URLs without it): then it is valid for the clock skew allowed
	// a header-signed request.
	Expires    time.Duration
	HasExpires bool
	// SecurityToken is X-Amz-Security-Token, a session's token.
	SecurityToken string
}

// MaxExpires is the longest X-Amz-Expires AWS accepts (seven days, the
// lifetime of a signing key).
const MaxExpires = 7 * 24 * time.Hour

// presignParams are the query parameters that carry a presigned request's
// authentication.
var presignParams = []string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
	"X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Security-Token"}

// IsPresigned tells whether query carries SigV4 query-string
// authentication (an X-Amz-Algorithm, X-Amz-Credential or X-Amz-Signature).
func IsPresigned(query url.Values) bool {
	return query.Has("X-Amz-Algorithm") || query.Has("X-Amz-Credential") || query.Has("X-Amz-Signature")
}

// ParsePresigned parses the authentication parameters of a presigned
// request's query. It never panics; every malformation is a *ParseError.
func ParsePresigned(query url.Values) (*Presigned, error) {
	for _, k := range presignParams {
		if len(query[k]) > 1 {
			return nil, incomplete("The query-string parameter '%s' appears more than once. Re-examine the query-string parameters.", k)
		}
		if len(query.Get(k)) > maxHeaderLen {
			return nil, incomplete("The query-string parameter '%s' is too long.", k)
		}
	}
	alg, cred, date, signed, sig := query.Get("X-Amz-Algorithm"), query.Get("X-Amz-Credential"),
		query.Get("X-Amz-Date"), query.Get("X-Amz-SignedHeaders"), query.Get("X-Amz-Signature")
	if alg == "" || cred == "" || date == "" || signed == "" || sig == "" {
		return nil, incomplete("AWS query-string parameters must include 'X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Signature', 'X-Amz-SignedHeaders', 'X-Amz-Date'. Re-examine the query-string parameters.")
	}
	if alg != Algorithm {
		return nil, incomplete("Unsupported AWS 'algorithm': '%s'.", alg)
	}
	a, err := parseScope(cred, signed, sig)
	if err != nil {
		return nil, err
	}
	p := &Presigned{Authorization: *a, AmzDate: date, SecurityToken: query.Get("X-Amz-Security-Token")}
	if query.Has("X-Amz-Expires") {
		v := query.Get("X-Amz-Expires")
		n, err := strconv.ParseInt(v, 10, 64)
		switch {
		case err != nil && v != "" && strings.Trim(v, "0123456789") == "": // beyond int64
			return nil, incomplete("X-Amz-Expires must be less than a week (in seconds) that is 604800")
		case err != nil:
			return nil, incomplete("X-Amz-Expires should be a number")
		case n < 0:
			return nil, incomplete("X-Amz-Expires must be non-negative")
		case n > int64(MaxExpires/time.Second):
			return nil, incomplete("X-Amz-Expires must be less than a week (in seconds) that is 604800")
		}
		p.Expires, p.HasExpires = time.Duration(n)*time.Second, true
	}
	return p, nil
}

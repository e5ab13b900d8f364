package sigv4

import (
	"fmt"
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
	if len(h) > maxHeaderLen {
		return nil, incomplete("Authorization header is too long.")
	}
	alg, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	if alg != Algorithm {
		return nil, incomplete("Unsupported AWS 'algorithm': '%s'.", alg)
	}
	var cred, signed, sig string
	var haveCred, haveSigned, haveSig bool
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			if strings.TrimSpace(part) == "" {
				continue
			}
			return nil, incomplete("'%s' not a valid key=value pair (missing equal-sign) in Authorization header: '%s'.", strings.TrimSpace(part), h)
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
		return nil, incomplete("%s Authorization=%s", strings.Join(missing, " "), h)
	}
	a := &Authorization{Signature: sig}
	scope := strings.Split(cred, "/")
	if len(scope) != 5 {
		return nil, incomplete("Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '%s'", cred)
	}
	a.AccessKeyID, a.Date, a.Region, a.Service = scope[0], scope[1], scope[2], scope[3]
	if a.AccessKeyID == "" {
		return nil, incomplete("Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '%s'", cred)
	}
	if _, err := time.Parse("20060102", a.Date); err != nil {
		return nil, incomplete("Date must be in YYYYMMDD format. Got '%s'", a.Date)
	}
	if a.Region == "" {
		return nil, incomplete("Credential should be scoped to a valid region. ")
	}
	if a.Service == "" {
		return nil, incomplete("Credential should be scoped to correct service. ")
	}
	if scope[4] != "aws4_request" {
		return nil, incomplete("Credential should be scoped with a valid terminator: 'aws4_request', not '%s'. ", scope[4])
	}
	if signed == "" {
		return nil, incomplete("Authorization header requires 'SignedHeaders' parameter.")
	}
	a.SignedHeaders = strings.Split(signed, ";")
	for _, name := range a.SignedHeaders {
		if name == "" || name != strings.ToLower(name) {
			return nil, incomplete("SignedHeaders must be lower-case header names separated by ';'. Got '%s'", signed)
		}
	}
	if len(sig) != 64 || strings.Trim(sig, "0123456789abcdef") != "" {
		return nil, incomplete("Signature must be 64 lower-case hexadecimal characters.")
	}
	return a, nil
}

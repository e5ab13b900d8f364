package iamwire

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"sort"
	"strings"
)

// The prefixes of IAM's unique IDs.
const (
	PrefixRole      = "AROA"
	PrefixUser      = "AIDA"
	PrefixPolicy    = "ANPA"
	PrefixAccessKey = "AKIA"
)

// NewID returns prefix and 17 random characters of [A-Z2-7] (21 in all:
// the length of IAM's role, user and policy IDs).
func NewID(prefix string) string {
	return prefix + rand.Text()[:17]
}

// NewAccessKeyID returns "AKIA" and 16 random characters (20 in all, as
// IAM's access key IDs).
func NewAccessKeyID() string {
	return PrefixAccessKey + rand.Text()[:16]
}

// NewSecretAccessKey returns 40 random base64 characters (30 bytes), the
// shape of IAM's secret access keys.
func NewSecretAccessKey() string {
	b := make([]byte, 30)
	rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// NormalizePath returns path, or "/" when it is empty.
func NormalizePath(path string) string {
	if path == "" {
		return "/"
	}
	return path
}

// ARN returns arn:aws:iam::ACCOUNT:TYPE/PATH/NAME (typ "role", "user",
// "policy"; path "" is "/").
func ARN(account, typ, path, name string) string {
	return "arn:aws:iam::" + account + ":" + typ + NormalizePath(path) + name
}

// RoleARN, UserARN and PolicyARN are ARN for each entity type.
func RoleARN(account, path, name string) string   { return ARN(account, "role", path, name) }
func UserARN(account, path, name string) string   { return ARN(account, "user", path, name) }
func PolicyARN(account, path, name string) string { return ARN(account, "policy", path, name) }

// OIDCProviderARN returns arn:aws:iam::ACCOUNT:oidc-provider/HOSTPATH.
func OIDCProviderARN(account, hostPath string) string {
	return "arn:aws:iam::" + account + ":oidc-provider/" + hostPath
}

// ParsedARN is an IAM entity ARN taken apart.
type ParsedARN struct {
	Account string
	Type    string // "role", "user", "policy"
	Path    string // "/" or "/a/b/"
	Name    string
}

// ParseARN takes apart arn:aws:iam::ACCOUNT:TYPE/PATH/NAME. AWS-managed
// policies have the account "aws".
func ParseARN(arn string) (ParsedARN, error) {
	rest, ok := strings.CutPrefix(arn, "arn:aws:iam::")
	if !ok {
		return ParsedARN{}, fmt.Errorf("not an IAM ARN: %q", arn)
	}
	acct, res, ok := strings.Cut(rest, ":")
	typ, pathName, ok2 := strings.Cut(res, "/")
	if !ok || !ok2 || acct == "" || typ == "" {
		return ParsedARN{}, fmt.Errorf("not an IAM entity ARN: %q", arn)
	}
	i := strings.LastIndexByte(pathName, '/')
	p := ParsedARN{Account: acct, Type: typ, Path: "/" + pathName[:i+1], Name: pathName[i+1:]}
	if p.Name == "" {
		return ParsedARN{}, fmt.Errorf("IAM ARN without a name: %q", arn)
	}
	return p, nil
}

// InvalidARN is the ValidationError IAM gives for a PolicyArn that is not
// an ARN.
func InvalidARN(arn string) *Error {
	return &Error{Code: CodeValidation, Status: 400, Message: fmt.Sprintf("ARN %s is not valid.", arn)}
}

// Paginate returns the page of items (sorted by key, ascending) that
// follows marker, at most maxItems long, and the marker of the next page
// ("" on the last page). Markers are opaque to clients: the last key
// returned, base64-encoded. A marker that does not decode is InvalidInput.
func Paginate[T any](items []T, key func(T) string, marker string, maxItems int) (page []T, next string, err error) {
	start := 0
	if marker != "" {
		last, derr := base64.RawURLEncoding.DecodeString(marker)
		if derr != nil {
			return nil, "", InvalidInput("Invalid Marker.")
		}
		start = sort.Search(len(items), func(i int) bool { return key(items[i]) > string(last) })
	}
	if maxItems <= 0 {
		maxItems = 100
	}
	end := min(start+maxItems, len(items))
	page = items[start:end]
	if end < len(items) && len(page) > 0 {
		next = base64.RawURLEncoding.EncodeToString([]byte(key(page[len(page)-1])))
	}
	return page, next, nil
}

// PageOf fills a result's Page from Paginate's next marker.
func PageOf(next string) Page { return Page{IsTruncated: next != "", Marker: next} }

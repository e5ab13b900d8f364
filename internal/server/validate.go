package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/podid/podid/eksapi"
)

// Limits the server enforces. Those marked [INF] are podid's choices where
// the EKS model sets none.
const (
	maxClusterNameLen    = 100 // ClusterName shape
	associationIDLen     = 19  // "a-" + 17
	maxNamespaceLen      = 63  // Kubernetes DNS-1123 label [INF]
	maxServiceAccountLen = 253 // Kubernetes DNS-1123 subdomain [INF]
	maxRoleARNLen        = 2048
	// maxPolicyLen bounds a session policy after insignificant whitespace
	// is removed: IAM's limit for inline session policies [INF].
	maxPolicyLen = 2048
	// maxPolicyRawLen bounds the policy as sent, whitespace included [INF].
	maxPolicyRawLen = 10240
	// maxTokenLen bounds clientRequestToken (the model sets none; the SDKs
	// send a 36-character UUID) [INF].
	maxTokenLen  = 256
	maxTags      = 50
	maxTagKeyLen = 128
	maxTagValLen = 256
	minResults   = 1
	maxResults   = 100
	// maxFilterLen bounds the List filters (longer values cannot match).
	maxFilterLen = 253
	// maxVersionLen bounds CreateCluster's version [INF].
	maxVersionLen = 16
)

var (
	dns1123Label     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	dns1123Subdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	regionPattern    = regexp.MustCompile(`^[a-z]{2}(-[a-z0-9]+)+-[0-9]+$`)
	partitionPattern = regexp.MustCompile(`^aws(-[a-z]+)*$`)
	versionPattern   = regexp.MustCompile(`^[0-9]+\.[0-9]+$`)
)

func invalidParam(format string, args ...any) *eksapi.Error {
	return eksapi.NewError(eksapi.CodeInvalidParameter, fmt.Sprintf(format, args...))
}

func badRequest(format string, args ...any) *eksapi.Error {
	return eksapi.NewError(eksapi.CodeBadRequest, fmt.Sprintf(format, args...))
}

// checkClusterName validates a cluster name from a path or body member
// (member is "name" or "clusterName").
func checkClusterName(member, name string) *eksapi.Error {
	if name == "" {
		return invalidParam("The parameter %s must not be empty.", member)
	}
	if len(name) > maxClusterNameLen || !clusterName(name) {
		return invalidParam("The parameter %s is not a valid cluster name: it must be 1-%d characters, begin with a letter or digit, and contain only letters, digits, hyphens and underscores.",
			member, maxClusterNameLen).WithCluster(truncate(name, maxClusterNameLen))
	}
	return nil
}

func badAssociationIDLength() *eksapi.Error {
	return invalidParam("The parameter associationId should be %d characters long.", associationIDLen)
}

func checkAssociationID(cluster, id string) *eksapi.Error {
	if len(id) != associationIDLen {
		return badAssociationIDLength().WithCluster(cluster)
	}
	if !associationID(id) {
		return invalidParam("The parameter associationId is not valid: it must be \"a-\" followed by 17 lowercase letters or digits.").WithCluster(cluster)
	}
	return nil
}

func checkNamespace(ns string) *eksapi.Error {
	if ns == "" {
		return invalidParam("The parameter namespace must not be empty.")
	}
	if len(ns) > maxNamespaceLen || !dns1123Label.MatchString(ns) {
		return invalidParam("The parameter namespace is not a valid Kubernetes namespace name: it must be a DNS-1123 label of at most %d lowercase letters, digits and hyphens, beginning and ending with a letter or digit.", maxNamespaceLen)
	}
	return nil
}

func checkServiceAccount(sa string) *eksapi.Error {
	if sa == "" {
		return invalidParam("The parameter serviceAccount must not be empty.")
	}
	if len(sa) > maxServiceAccountLen || !dns1123Subdomain.MatchString(sa) {
		return invalidParam("The parameter serviceAccount is not a valid Kubernetes service account name: it must be a DNS-1123 subdomain of at most %d lowercase letters, digits, hyphens and dots.", maxServiceAccountLen)
	}
	return nil
}

// checkRoleARN validates an IAM role ARN in the server's partition. With
// sameAccount, the role must be in the server's account (EKS passes the
// role, and cross-account PassRole is refused).
func (s *Server) checkRoleARN(member, arn string, sameAccount bool) *eksapi.Error {
	if arn == "" {
		return invalidParam("The parameter %s must not be empty.", member)
	}
	partition, account, ok := parseRoleARN(arn)
	if len(arn) > maxRoleARNLen || !ok {
		return invalidParam("The parameter %s is not a valid IAM role ARN: expected arn:%s:iam::<12-digit account ID>:role/<role name>.", member, s.cfg.Partition)
	}
	if partition != s.cfg.Partition {
		return invalidParam("The parameter %s must be an ARN in partition %s.", member, s.cfg.Partition)
	}
	if sameAccount && account != s.cfg.AccountID {
		return invalidParam("Cross-account pass role is not allowed: the %s must be in account %s.", member, s.cfg.AccountID)
	}
	return nil
}

// checkPolicy validates a session policy: a JSON object of at most
// maxPolicyLen characters once insignificant whitespace is removed.
func checkPolicy(policy string) *eksapi.Error {
	if len(policy) > maxPolicyRawLen {
		return invalidParam("The parameter policy is too long: the limit is %d characters.", maxPolicyLen)
	}
	var buf bytes.Buffer
	if !json.Valid([]byte(policy)) || json.Compact(&buf, []byte(policy)) != nil || !bytes.HasPrefix(buf.Bytes(), []byte("{")) {
		return invalidParam("The parameter policy is not a valid IAM policy document: it must be a JSON object.")
	}
	if n := utf8.RuneCount(buf.Bytes()); n > maxPolicyLen {
		return invalidParam("The parameter policy is too long: it has %d characters without whitespace; the limit is %d.", n, maxPolicyLen)
	}
	return nil
}

func checkToken(tok *string) *eksapi.Error {
	if tok != nil && len(*tok) > maxTokenLen {
		return invalidParam("The parameter clientRequestToken is too long: the limit is %d characters.", maxTokenLen)
	}
	return nil
}

// reservedTagKey reports whether k uses the aws: prefix (any case).
func reservedTagKey(k string) bool {
	return len(k) >= 4 && strings.EqualFold(k[:4], "aws:")
}

// tagProblem describes the first rule tags break, or "" when they keep
// them all. existing is the resource's current tag count (for TagResource).
func tagProblem(tags map[string]string, existing map[string]string) string {
	for k, v := range tags {
		if n := utf8.RuneCountInString(k); n < 1 || n > maxTagKeyLen {
			return fmt.Sprintf("Tag keys must be 1-%d characters long: %q.", maxTagKeyLen, truncate(k, maxTagKeyLen))
		}
		if reservedTagKey(k) {
			return fmt.Sprintf("Tag keys beginning with \"aws:\" are reserved for AWS use: %q.", truncate(k, maxTagKeyLen))
		}
		if utf8.RuneCountInString(v) > maxTagValLen {
			return fmt.Sprintf("Tag values must be at most %d characters long (tag %q).", maxTagValLen, truncate(k, maxTagKeyLen))
		}
	}
	n := len(tags)
	for k := range existing {
		if _, ok := tags[k]; !ok && !reservedTagKey(k) {
			n++
		}
	}
	if n > maxTags {
		return fmt.Sprintf("A resource can have at most %d tags; this request would give it %d.", maxTags, n)
	}
	return ""
}

// The checks of every association request's path and of every role ARN
// are byte loops rather than regular expressions (a third of the
// validation's time in an Update); the tests hold each to the expression
// it stands for.

// clusterName reports whether name matches ^[0-9A-Za-z][A-Za-z0-9_-]*$.
func clusterName(name string) bool {
	if name == "" || !alnum(name[0]) {
		return false
	}
	for i := 1; i < len(name); i++ {
		if c := name[i]; !alnum(c) && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

// associationID reports whether id matches ^a-[a-z0-9]{17}$.
func associationID(id string) bool {
	if len(id) != associationIDLen || id[:2] != "a-" {
		return false
	}
	for i := 2; i < len(id); i++ {
		if c := id[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// parseRoleARN matches arn against
// ^arn:([a-z][a-z0-9-]*):iam::([0-9]{12}):role/((?:[\w+=,.@-]+/)*[\w+=,.@-]{1,64})$
// (arn:{partition}:iam::{account}:role/{path/}{name}; IAM role names and
// paths use [\w+=,.@-]) and returns its partition and account.
func parseRoleARN(arn string) (partition, account string, ok bool) {
	rest, found := strings.CutPrefix(arn, "arn:")
	if !found {
		return "", "", false
	}
	partition, rest, found = strings.Cut(rest, ":")
	if !found || partition == "" || !(partition[0] >= 'a' && partition[0] <= 'z') {
		return "", "", false
	}
	for i := 1; i < len(partition); i++ {
		if c := partition[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return "", "", false
		}
	}
	if rest, found = strings.CutPrefix(rest, "iam::"); !found || len(rest) < 12 {
		return "", "", false
	}
	account, rest = rest[:12], rest[12:]
	for i := range len(account) {
		if c := account[i]; c < '0' || c > '9' {
			return "", "", false
		}
	}
	if rest, found = strings.CutPrefix(rest, ":role/"); !found {
		return "", "", false
	}
	// Segments of role name characters between slashes, none empty, the
	// last (the name) at most 64.
	seg := 0
	for i := 0; i < len(rest); i++ {
		switch c := rest[i]; {
		case c == '/':
			if seg == 0 {
				return "", "", false
			}
			seg = 0
		case roleNameChar[c]:
			seg++
		default:
			return "", "", false
		}
	}
	if seg == 0 || seg > 64 {
		return "", "", false
	}
	return partition, account, true
}

func alnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' }

// roleNameChar marks [\w+=,.@-].
var roleNameChar = func() (t [256]bool) {
	for c := range 256 {
		t[c] = alnum(byte(c)) || strings.IndexByte("_+=,.@-", byte(c)) >= 0
	}
	return t
}()

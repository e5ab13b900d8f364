package iamwire

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/podid/podid/eksapi"
	"github.com/podid/podid/internal/iam/policy"
)

// APIVersion is the IAM API version of the awsQuery protocol.
const APIVersion = "2010-05-08"

// Namespace is the XML namespace of IAM responses (errors included).
const Namespace = "https://iam.amazonaws.com/doc/2010-05-08/"

// The error codes IAM answers with (the <Code> of an awsQuery error).
const (
	CodeNoSuchEntity            = "NoSuchEntity"
	CodeEntityAlreadyExists     = "EntityAlreadyExists"
	CodeDeleteConflict          = "DeleteConflict"
	CodeLimitExceeded           = "LimitExceeded"
	CodeMalformedPolicyDocument = "MalformedPolicyDocument"
	CodeValidation              = "ValidationError"
	CodeInvalidInput            = "InvalidInput"
	CodeInvalidAction           = "InvalidAction"
	CodeMissingAction           = "MissingAction"
	CodeMissingParameter        = "MissingParameter"
	CodeAccessDenied            = "AccessDenied"
	CodeServiceFailure          = "ServiceFailure"
)

// Error is an IAM error: its Code, HTTP Status and Message. It is the
// host's error shape, so a handler returns it as it is and httpx writes it
// as <ErrorResponse><Error><Type/><Code/><Message/></Error>...</ErrorResponse>
// in the IAM family's namespace (Namespace).
type Error = eksapi.Error

func newError(code string, status int, format string, args ...any) *Error {
	return &Error{Code: code, Status: status, Message: fmt.Sprintf(format, args...)}
}

// The entity kinds in IAM's messages.
const (
	EntityRole = "role"
	EntityUser = "user"
)

// NoSuchEntity: "The role with name X cannot be found." (entity is
// EntityRole or EntityUser).
func NoSuchEntity(entity, name string) *Error {
	return newError(CodeNoSuchEntity, http.StatusNotFound, "The %s with name %s cannot be found.", entity, name)
}

// NoSuchEntityPolicy: "The role policy with name X cannot be found." for
// an inline policy of a role or a user.
func NoSuchEntityPolicy(entity, policyName string) *Error {
	return newError(CodeNoSuchEntity, http.StatusNotFound, "The %s policy with name %s cannot be found.", entity, policyName)
}

// NoSuchPolicy: "Policy ARN does not exist or is not attachable."
func NoSuchPolicy(arn string) *Error {
	return newError(CodeNoSuchEntity, http.StatusNotFound, "Policy %s does not exist or is not attachable.", arn)
}

// NoSuchPolicyVersion: "Policy ARN version V does not exist or is not attachable."
func NoSuchPolicyVersion(arn, version string) *Error {
	return newError(CodeNoSuchEntity, http.StatusNotFound, "Policy %s version %s does not exist or is not attachable.", arn, version)
}

// NoSuchAttachedPolicy: "Policy ARN was not found." (detaching a policy
// that is not attached).
func NoSuchAttachedPolicy(arn string) *Error {
	return newError(CodeNoSuchEntity, http.StatusNotFound, "Policy %s was not found.", arn)
}

// NoSuchAccessKey: "The Access Key with id X cannot be found."
func NoSuchAccessKey(id string) *Error {
	return newError(CodeNoSuchEntity, http.StatusNotFound, "The Access Key with id %s cannot be found.", id)
}

// NoSuchLoginProfile: "Login Profile for User X cannot be found."
func NoSuchLoginProfile(user string) *Error {
	return newError(CodeNoSuchEntity, http.StatusNotFound, "Login Profile for User %s cannot be found.", user)
}

// NoSuchOIDCProvider: "OpenIDConnect Provider not found for arn ARN" (every
// OpenID Connect provider action but DeleteOpenIDConnectProvider).
func NoSuchOIDCProvider(arn string) *Error {
	return newError(CodeNoSuchEntity, http.StatusNotFound, "OpenIDConnect Provider not found for arn %s", arn)
}

// NoSuchOIDCProviderToDelete: DeleteOpenIDConnectProvider's NoSuchEntity,
// worded differently: "OpenId connect Provider ARN cannot be found."
func NoSuchOIDCProviderToDelete(arn string) *Error {
	return newError(CodeNoSuchEntity, http.StatusNotFound, "OpenId connect Provider %s cannot be found.", arn)
}

// OIDCProviderAlreadyExists: "Provider with url URL already exists."
func OIDCProviderAlreadyExists(url string) *Error {
	return newError(CodeEntityAlreadyExists, http.StatusConflict, "Provider with url %s already exists.", url)
}

// InvalidOIDCProviderURL: a Url that is not https://HOST[/PATH] without a
// query (a ValidationError, unlike the other checks past the model's).
func InvalidOIDCProviderURL() *Error {
	return newError(CodeValidation, http.StatusBadRequest, "Invalid Open ID Connect Provider URL")
}

// TooManyThumbprints: more than MaxThumbprints (IAM's wording).
func TooManyThumbprints() *Error {
	return InvalidInput("Thumbprint list must contain fewer than %d entries.", MaxThumbprints)
}

// OIDCProviderTagsExceeded: tagging a provider past MaxTagsPerEntity.
func OIDCProviderTagsExceeded() *Error {
	return newError(CodeLimitExceeded, http.StatusConflict, "The number of tags has reached the maximum limit.")
}

// AlreadyExists: "Role with name X already exists." (EntityRole,
// EntityUser).
func AlreadyExists(entity, name string) *Error {
	return newError(CodeEntityAlreadyExists, http.StatusConflict, "%s with name %s already exists.", capitalize(entity), name)
}

// PolicyAlreadyExists: "A policy called X already exists. Duplicate names
// are not allowed."
func PolicyAlreadyExists(name string) *Error {
	return newError(CodeEntityAlreadyExists, http.StatusConflict, "A policy called %s already exists. Duplicate names are not allowed.", name)
}

// The DeleteConflict messages.
const (
	MsgDeleteConflictPolicies     = "Cannot delete entity, must delete policies first."
	MsgDeleteConflictAttached     = "Cannot delete entity, must detach all policies first."
	MsgDeleteConflictAccessKeys   = "Cannot delete entity, must delete access keys first."
	MsgDeleteConflictPolicyInUse  = "Cannot delete a policy attached to entities."
	MsgDeleteConflictDefaultVer   = "Cannot delete the default version of a policy."
	MsgDeleteConflictPolicyHasVer = "This policy has more than one version. Before you delete a policy, you must delete the policy's versions. The default version is deleted with the policy."
)

// DeleteConflict returns a DeleteConflict (409) with one of the
// MsgDeleteConflict* messages.
func DeleteConflict(msg string) *Error {
	return &Error{Code: CodeDeleteConflict, Status: http.StatusConflict, Message: msg}
}

// Quotas IAM enforces by default, and the LimitExceeded wording.
const (
	MaxAccessKeysPerUser  = 2
	MaxPolicyVersions     = 5
	MaxRolePolicySize     = 10240 // aggregate inline policy characters of a role
	MaxUserPolicySize     = 2048  // aggregate inline policy characters of a user
	MaxManagedPolicySize  = 6144  // one managed policy version
	MaxTrustPolicySize    = 2048  // a role's trust policy
	MaxAttachedPerEntity  = 10    // managed policies attached to a role or a user
	MaxTagsPerEntity      = 50
	MaxThumbprints        = 5   // per OpenID Connect provider
	MaxClientIDs          = 100 // per OpenID Connect provider
	DefaultMaxSessionSecs = 3600
)

// LimitExceeded: "Cannot exceed quota for NAME: N" (AccessKeysPerUser,
// PolicySize, ACLSizePerRole, PoliciesPerRole, PoliciesPerUser, ...).
func LimitExceeded(quota string, n int) *Error {
	return newError(CodeLimitExceeded, http.StatusConflict, "Cannot exceed quota for %s: %d", quota, n)
}

// The quota names of LimitExceeded.
const (
	QuotaAccessKeysPerUser = "AccessKeysPerUser"
	QuotaTrustPolicySize   = "ACLSizePerRole" // a role's trust policy
	QuotaPolicySize        = "PolicySize"     // a managed policy version
	QuotaPoliciesPerRole   = "PoliciesPerRole"
	QuotaPoliciesPerUser   = "PoliciesPerUser"
	QuotaClientIDs         = "ClientIdsPerOpenIdConnectProvider"
)

// InlinePolicySizeExceeded: "Maximum policy size of 10240 bytes exceeded
// for role NAME" (the aggregate of a role's or a user's inline policies).
func InlinePolicySizeExceeded(entity, name string, limit int) *Error {
	return newError(CodeLimitExceeded, http.StatusConflict, "Maximum policy size of %d bytes exceeded for %s %s", limit, entity, name)
}

// FromPolicyError turns a policy validation error (policy.ErrMalformed)
// into MalformedPolicyDocument with its message; other errors pass through.
func FromPolicyError(err error) error {
	var me *policy.MalformedError
	if errors.As(err, &me) {
		return MalformedPolicyDocument(me.Message)
	}
	return err
}

// PolicyVersionsExceeded: the LimitExceeded of a sixth policy version.
func PolicyVersionsExceeded(arn string) *Error {
	return newError(CodeLimitExceeded, http.StatusConflict,
		"A managed policy can have up to %d versions. Before you create a new version, you must delete an existing version.", MaxPolicyVersions)
}

// MalformedPolicyDocument wraps a policy validation message.
func MalformedPolicyDocument(msg string) *Error {
	return &Error{Code: CodeMalformedPolicyDocument, Status: http.StatusBadRequest, Message: msg}
}

// InvalidInput returns an InvalidInput (400).
func InvalidInput(format string, args ...any) *Error {
	return newError(CodeInvalidInput, http.StatusBadRequest, format, args...)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// validationErrors collects constraint violations and words them as AWS's
// Coral validation layer does:
//
//	1 validation error detected: Value 'x y' at 'roleName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]+
type validationErrors []string

func (v *validationErrors) add(value *string, member, constraint string) {
	val := "null "
	if value != nil {
		val = "'" + *value + "' "
	}
	*v = append(*v, fmt.Sprintf("Value %sat '%s' failed to satisfy constraint: %s", val, member, constraint))
}

// addValue is add for a value present, which a hidden value leaves out:
// "Value at 'url' failed to satisfy constraint: ...".
func (v *validationErrors) addValue(val value, member, constraint string) {
	if val.hidden {
		*v = append(*v, fmt.Sprintf("Value at '%s' failed to satisfy constraint: %s", member, constraint))
		return
	}
	v.add(&val.s, member, constraint)
}

func (v validationErrors) err() *Error {
	if len(v) == 0 {
		return nil
	}
	noun := "error"
	if len(v) > 1 {
		noun = "errors"
	}
	return &Error{Code: CodeValidation, Status: http.StatusBadRequest,
		Message: fmt.Sprintf("%d validation %s detected: %s", len(v), noun, strings.Join(v, "; "))}
}

// PolicySize is a document's size as IAM counts it against the size
// quotas: characters, white space not counted (IAM user guide, "IAM and
// AWS STS quotas").
func PolicySize(doc string) int {
	n := 0
	for _, r := range doc {
		switch r {
		case ' ', '\t', '\n', '\r':
		default:
			n++
		}
	}
	return n
}

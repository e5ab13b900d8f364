package httpx

import (
	"errors"
	"net/http"

	"github.com/podid/podid/eksapi"
	"github.com/podid/podid/internal/iam/iamwire"
	"github.com/podid/podid/internal/iam/policy"
	"github.com/podid/podid/internal/store"
)

// iamError words, in IAM's terms, the errors the IAM family's handlers
// return as they come: the store's IAM errors (which record is missing,
// already exists, in the way of a delete, over a quota) and a policy
// document's validation error. nil for any other error.
func iamError(err error) *eksapi.Error {
	var (
		malformed *policy.MalformedError
		missing   *store.MissingError
		inUse     *store.InUseError
		exists    *store.ExistsError
		limit     *store.LimitError
	)
	switch {
	case errors.As(err, &malformed):
		return iamwire.MalformedPolicyDocument(malformed.Message)
	case errors.As(err, &missing):
		switch missing.Kind {
		case store.KindRole:
			return iamwire.NoSuchEntity(iamwire.EntityRole, missing.Name)
		case store.KindUser:
			return iamwire.NoSuchEntity(iamwire.EntityUser, missing.Name)
		case store.KindPolicy:
			return iamwire.NoSuchPolicy(missing.Name)
		case store.KindAccessKey:
			return iamwire.NoSuchAccessKey(missing.Name)
		case store.KindAttachment:
			return iamwire.NoSuchAttachedPolicy(missing.Name)
		case store.KindOIDCProvider:
			return iamwire.NoSuchOIDCProvider(missing.Name)
		}
	case errors.As(err, &inUse):
		return iamwire.DeleteConflict(deleteConflicts[inUse.Conflict])
	case errors.As(err, &exists):
		switch exists.Kind {
		case store.KindRole:
			return iamwire.AlreadyExists(iamwire.EntityRole, exists.ID)
		case store.KindUser:
			return iamwire.AlreadyExists(iamwire.EntityUser, exists.ID)
		case store.KindPolicy:
			return iamwire.PolicyAlreadyExists(exists.ID)
		case store.KindOIDCProvider:
			return iamwire.OIDCProviderAlreadyExists("https://" + exists.ID)
		}
	case errors.As(err, &limit):
		switch {
		case limit.Kind == store.KindAccessKey:
			return iamwire.LimitExceeded(iamwire.QuotaAccessKeysPerUser, limit.Limit)
		case limit.Entity == store.KindRole:
			return iamwire.LimitExceeded(iamwire.QuotaPoliciesPerRole, limit.Limit)
		default:
			return iamwire.LimitExceeded(iamwire.QuotaPoliciesPerUser, limit.Limit)
		}
	}
	return nil
}

// deleteConflicts are IAM's DeleteConflict messages.
var deleteConflicts = map[store.Conflict]string{
	store.ConflictPolicies:       iamwire.MsgDeleteConflictPolicies,
	store.ConflictAttached:       iamwire.MsgDeleteConflictAttached,
	store.ConflictAccessKeys:     iamwire.MsgDeleteConflictAccessKeys,
	store.ConflictPolicyAttached: iamwire.MsgDeleteConflictPolicyInUse,
	store.ConflictPolicyVersions: iamwire.MsgDeleteConflictPolicyHasVer,
}

// iamInternal is IAM's answer to an unexpected error.
var iamInternal = &eksapi.Error{Code: iamwire.CodeServiceFailure, Status: http.StatusInternalServerError,
	Message: "Request processing has failed due to some unknown error, exception or failure."}

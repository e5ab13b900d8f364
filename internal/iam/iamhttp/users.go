package iamhttp

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/podid/podid/internal/audit"
	"github.com/podid/podid/internal/authz"
	"github.com/podid/podid/internal/iam/iamwire"
	"github.com/podid/podid/internal/iam/policy"
	"github.com/podid/podid/internal/store"
)

// userOut is a user as IAM returns it.
func userOut(u store.User) iamwire.User {
	out := iamwire.User{
		Path:       u.Path,
		UserName:   u.Name,
		UserId:     u.ID,
		Arn:        u.ARN,
		CreateDate: iamwire.TS(u.CreatedAt),
		Tags:       iamwire.TagList(tagList(u.Tags)),
	}
	if u.PermissionsBoundary != "" {
		out.PermissionsBoundary = &iamwire.Boundary{PermissionsBoundaryType: "PermissionsBoundaryPolicy", PermissionsBoundaryArn: u.PermissionsBoundary}
	}
	return out
}

// errNoUserName: an operation on "the caller's user" called by a caller
// that is no user.
var errNoUserName = &iamwire.Error{Code: iamwire.CodeValidation, Status: 400,
	Message: "Must specify userName when calling with non-User credentials"}

// ownUser is name, or the calling user's name when name is empty.
func ownUser(ctx context.Context, name string) (string, error) {
	if name != "" {
		return name, nil
	}
	if id, ok := authz.FromContext(ctx); ok && id.User != nil {
		return id.User.Name, nil
	}
	return "", errNoUserName
}

// userARN is the ARN of the user named name for authorization: the stored
// user's, or the ARN it would have at path "/".
func (h *Handler) userARN(ctx context.Context, name string) string {
	if u, err := h.cfg.Store.GetUser(ctx, name); err == nil {
		return u.ARN
	}
	return iamwire.UserARN(h.cfg.AccountID, "/", name)
}

// readUser authorizes iam:action on the user (the caller's own when name
// is empty) and reads it.
func (h *Handler) readUser(ctx context.Context, action, name string) (store.User, error) {
	name, err := ownUser(ctx, name)
	if err != nil {
		return store.User{}, err
	}
	u, err := h.cfg.Store.GetUser(ctx, name)
	arn := u.ARN
	if err != nil {
		arn = iamwire.UserARN(h.cfg.AccountID, "/", name)
	}
	if cerr := h.check(ctx, action, arn, nil); cerr != nil {
		return store.User{}, cerr
	}
	return u, err
}

// editUser authorizes iam:action on the user and updates it with fn.
func (h *Handler) editUser(ctx context.Context, action, name string, reqCtx map[string][]string, fn func(*store.User) error) (any, error) {
	if err := h.check(ctx, action, h.userARN(ctx, name), reqCtx); err != nil {
		return nil, err
	}
	_, err := h.cfg.Store.UpdateUser(ctx, name, fn)
	return nil, err
}

func (h *Handler) createUser(ctx context.Context, in *iamwire.CreateUserInput) (any, error) {
	path := iamwire.NormalizePath(in.Path)
	arn := iamwire.UserARN(h.cfg.AccountID, path, in.UserName)
	if err := h.check(ctx, "CreateUser", arn, requestTags(in.Tags)); err != nil {
		return nil, err
	}
	if err := checkTags(in.Tags, "TagsPerUser"); err != nil {
		return nil, err
	}
	if in.PermissionsBoundary != "" {
		if err := h.checkBoundary(ctx, in.PermissionsBoundary); err != nil {
			return nil, err
		}
	}
	u, err := h.cfg.Store.CreateUser(ctx, store.User{
		Name:                in.UserName,
		Path:                path,
		ID:                  iamwire.NewID(iamwire.PrefixUser),
		ARN:                 arn,
		PermissionsBoundary: in.PermissionsBoundary,
		Tags:                tagMap(in.Tags),
		CreatedAt:           h.cfg.Now(),
	})
	if err != nil {
		return nil, err
	}
	return iamwire.CreateUserResult{User: userOut(u)}, nil
}

func (h *Handler) getUser(ctx context.Context, in *iamwire.GetUserInput) (any, error) {
	if in.UserName == "" {
		// The account root asking about itself: IAM answers with the
		// root "user" (its ID is the account's).
		if id, ok := authz.FromContext(ctx); ok && id.IsAdmin() {
			if err := h.check(ctx, "GetUser", id.ARN, nil); err != nil {
				return nil, err
			}
			return iamwire.GetUserResult{User: iamwire.User{Path: "", UserId: h.cfg.AccountID, Arn: id.ARN}}, nil
		}
	}
	u, err := h.readUser(ctx, "GetUser", in.UserName)
	if err != nil {
		return nil, err
	}
	return iamwire.GetUserResult{User: userOut(u)}, nil
}

func (h *Handler) updateUser(ctx context.Context, in *iamwire.UpdateUserInput) (any, error) {
	if err := h.check(ctx, "UpdateUser", h.userARN(ctx, in.UserName), nil); err != nil {
		return nil, err
	}
	_, err := h.cfg.Store.UpdateUser(ctx, in.UserName, func(u *store.User) error {
		if in.NewUserName != "" {
			u.Name = in.NewUserName
		}
		if in.NewPath != "" {
			u.Path = in.NewPath
		}
		u.ARN = iamwire.UserARN(h.cfg.AccountID, u.Path, u.Name)
		return nil
	})
	return nil, err
}

func (h *Handler) deleteUser(ctx context.Context, in *iamwire.DeleteUserInput) (any, error) {
	if err := h.check(ctx, "DeleteUser", h.userARN(ctx, in.UserName), nil); err != nil {
		return nil, err
	}
	_, err := h.cfg.Store.DeleteUser(ctx, in.UserName)
	return nil, err
}

func (h *Handler) listUsers(ctx context.Context, in *iamwire.ListUsersInput) (any, error) {
	if err := h.check(ctx, "ListUsers", "*", nil); err != nil {
		return nil, err
	}
	p, err := pageOf(in.Paging)
	if err != nil {
		return nil, err
	}
	users, next, err := h.cfg.Store.ListUsers(ctx, in.PathPrefix, p)
	if err != nil {
		return nil, err
	}
	out := iamwire.ListUsersResult{Users: iamwire.Users{Members: make([]iamwire.User, 0, len(users))}, Page: markerOf(next)}
	for _, u := range users {
		uo := userOut(u)
		uo.Tags, uo.PermissionsBoundary = nil, nil // as ListUsers leaves them out
		out.Users.Members = append(out.Users.Members, uo)
	}
	return out, nil
}

func (h *Handler) listUserTags(ctx context.Context, in *iamwire.ListUserTagsInput) (any, error) {
	u, err := h.readUser(ctx, "ListUserTags", in.UserName)
	if err != nil {
		return nil, err
	}
	return tagsPage(u.Tags, in.Paging)
}

func (h *Handler) putUserPolicy(ctx context.Context, in *iamwire.PutUserPolicyInput) (any, error) {
	if err := h.check(ctx, "PutUserPolicy", h.userARN(ctx, in.UserName), nil); err != nil {
		return nil, err
	}
	if _, err := policy.Parse(in.PolicyName, in.PolicyDocument, policy.Identity); err != nil {
		return nil, err
	}
	_, err := h.cfg.Store.UpdateUser(ctx, in.UserName, func(u *store.User) error {
		u.Policies[in.PolicyName] = in.PolicyDocument
		if inlineSize(u.Policies) > iamwire.MaxUserPolicySize {
			return iamwire.InlinePolicySizeExceeded(iamwire.EntityUser, u.Name, iamwire.MaxUserPolicySize)
		}
		return nil
	})
	return nil, err
}

func (h *Handler) getUserPolicy(ctx context.Context, in *iamwire.GetUserPolicyInput) (any, error) {
	u, err := h.readUser(ctx, "GetUserPolicy", in.UserName)
	if err != nil {
		return nil, err
	}
	doc, ok := u.Policies[in.PolicyName]
	if !ok {
		return nil, iamwire.NoSuchEntityPolicy(iamwire.EntityUser, in.PolicyName)
	}
	return iamwire.GetUserPolicyResult{UserName: u.Name, PolicyName: in.PolicyName, PolicyDocument: iamwire.Document(doc)}, nil
}

func (h *Handler) listUserPolicies(ctx context.Context, in *iamwire.ListUserPoliciesInput) (any, error) {
	u, err := h.readUser(ctx, "ListUserPolicies", in.UserName)
	if err != nil {
		return nil, err
	}
	return policyNames(u.Policies, in.Paging)
}

func (h *Handler) setUserBoundary(ctx context.Context, action, name, boundary string) (any, error) {
	if boundary != "" {
		if err := h.checkBoundary(ctx, boundary); err != nil {
			return nil, err
		}
	}
	return h.editUser(ctx, action, name, nil, func(u *store.User) error {
		u.PermissionsBoundary = boundary
		return nil
	})
}

// emptyForUser answers a listing of what podid has none of (groups, MFA
// devices, ...) for an existing user.
func emptyForUser[T any](ctx context.Context, h *Handler, action, name string, empty T) (any, error) {
	if _, err := h.readUser(ctx, action, name); err != nil {
		return nil, err
	}
	return empty, nil
}

// noLoginProfile: podid's users have no console password.
func (h *Handler) noLoginProfile(ctx context.Context, action, name string) (any, error) {
	u, err := h.readUser(ctx, action, name)
	if err != nil {
		return nil, err
	}
	return nil, iamwire.NoSuchLoginProfile(u.Name)
}

func keyOut(k store.AccessKey) iamwire.AccessKeyMetadata {
	return iamwire.AccessKeyMetadata{UserName: k.UserName, AccessKeyId: k.ID, Status: string(k.Status), CreateDate: iamwire.TS(k.CreatedAt)}
}

func (h *Handler) createAccessKey(ctx context.Context, in *iamwire.CreateAccessKeyInput) (any, error) {
	u, err := h.readUser(ctx, "CreateAccessKey", in.UserName)
	if err != nil {
		return nil, err
	}
	k, err := h.cfg.Store.CreateAccessKey(ctx, store.AccessKey{
		ID:        iamwire.NewAccessKeyID(),
		UserName:  u.Name,
		Status:    store.AccessKeyActive,
		CreatedAt: h.cfg.Now(),
	}, iamwire.MaxAccessKeysPerUser)
	if err != nil {
		return nil, err
	}
	// The audit trail records the new key's ID, never its secret.
	audit.Note(ctx).ResponseElements = map[string]any{"accessKey": map[string]any{
		"userName": k.UserName, "accessKeyId": k.ID, "status": string(k.Status), "createDate": k.CreatedAt.UTC().Format(time.RFC3339),
	}}
	return iamwire.CreateAccessKeyResult{AccessKey: iamwire.AccessKey{
		UserName:        k.UserName,
		AccessKeyId:     k.ID,
		Status:          string(k.Status),
		SecretAccessKey: h.cfg.Secrets.Secret(k.ID),
		CreateDate:      iamwire.TS(k.CreatedAt),
	}}, nil
}

func (h *Handler) listAccessKeys(ctx context.Context, in *iamwire.ListAccessKeysInput) (any, error) {
	u, err := h.readUser(ctx, "ListAccessKeys", in.UserName)
	if err != nil {
		return nil, err
	}
	keys, err := h.cfg.Store.ListAccessKeys(ctx, u.Name)
	if err != nil {
		return nil, err
	}
	out := iamwire.ListAccessKeysResult{}
	out.AccessKeyMetadata.Members = make([]iamwire.AccessKeyMetadata, 0, len(keys))
	for _, k := range keys {
		out.AccessKeyMetadata.Members = append(out.AccessKeyMetadata.Members, keyOut(k))
	}
	return out, nil
}

func (h *Handler) deleteAccessKey(ctx context.Context, in *iamwire.DeleteAccessKeyInput) (any, error) {
	u, err := h.readUser(ctx, "DeleteAccessKey", in.UserName)
	if err != nil {
		return nil, err
	}
	_, err = h.cfg.Store.DeleteAccessKey(ctx, u.Name, in.AccessKeyId)
	return nil, err
}

func (h *Handler) updateAccessKey(ctx context.Context, in *iamwire.UpdateAccessKeyInput) (any, error) {
	u, err := h.readUser(ctx, "UpdateAccessKey", in.UserName)
	if err != nil {
		return nil, err
	}
	status := store.AccessKeyStatus(in.Status)
	if status != store.AccessKeyActive && status != store.AccessKeyInactive {
		return nil, iamwire.InvalidInput("Status %s is not valid: use Active or Inactive.", in.Status)
	}
	_, err = h.cfg.Store.SetAccessKeyStatus(ctx, u.Name, in.AccessKeyId, status)
	return nil, err
}

func (h *Handler) getAccessKeyLastUsed(ctx context.Context, in *iamwire.GetAccessKeyLastUsedInput) (any, error) {
	k, u, err := h.cfg.Store.LookupAccessKey(ctx, in.AccessKeyId)
	arn := u.ARN
	if err != nil {
		arn = "*"
	}
	if cerr := h.check(ctx, "GetAccessKeyLastUsed", arn, nil); cerr != nil {
		return nil, cerr
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, iamwire.NoSuchAccessKey(in.AccessKeyId)
	}
	if err != nil {
		return nil, fmt.Errorf("looking up access key %s: %w", in.AccessKeyId, err)
	}
	return iamwire.GetAccessKeyLastUsedResult{UserName: k.UserName,
		AccessKeyLastUsed: iamwire.AccessKeyLastUsed{ServiceName: "N/A", Region: "N/A"}}, nil
}

package iamhttp

import (
	"context"

	"github.com/podid/podid/internal/iam/iamwire"
	"github.com/podid/podid/internal/iam/policy"
	"github.com/podid/podid/internal/store"
)

// roleOut is a role as IAM returns it.
func roleOut(r store.Role) iamwire.Role {
	out := iamwire.Role{
		Path:                     r.Path,
		RoleName:                 r.Name,
		RoleId:                   r.ID,
		Arn:                      r.ARN,
		CreateDate:               iamwire.TS(r.CreatedAt),
		AssumeRolePolicyDocument: iamwire.Document(r.AssumeRolePolicy),
		Description:              r.Description,
		MaxSessionDuration:       r.MaxSessionDuration,
		Tags:                     iamwire.TagList(tagList(r.Tags)),
	}
	if r.PermissionsBoundary != "" {
		out.PermissionsBoundary = &iamwire.Boundary{PermissionsBoundaryType: "PermissionsBoundaryPolicy", PermissionsBoundaryArn: r.PermissionsBoundary}
	}
	return out
}

// roleARN is the ARN of the role named name for authorization: the stored
// role's (its path), or the ARN it would have at path "/".
func (h *Handler) roleARN(ctx context.Context, name string) string {
	if r, err := h.cfg.Store.GetRole(ctx, name); err == nil {
		return r.ARN
	}
	return iamwire.RoleARN(h.cfg.AccountID, "/", name)
}

// readRole authorizes iam:action on the role and reads it.
func (h *Handler) readRole(ctx context.Context, action, name string) (store.Role, error) {
	r, err := h.cfg.Store.GetRole(ctx, name)
	arn := r.ARN
	if err != nil {
		arn = iamwire.RoleARN(h.cfg.AccountID, "/", name)
	}
	if cerr := h.check(ctx, action, arn, nil); cerr != nil {
		return store.Role{}, cerr
	}
	return r, err
}

// editRole authorizes iam:action on the role and updates it with fn.
func (h *Handler) editRole(ctx context.Context, action, name string, reqCtx map[string][]string, fn func(*store.Role) error) (any, error) {
	if err := h.check(ctx, action, h.roleARN(ctx, name), reqCtx); err != nil {
		return nil, err
	}
	_, err := h.cfg.Store.UpdateRole(ctx, name, fn)
	return nil, err
}

// checkTrust validates a trust policy as CreateRole and
// UpdateAssumeRolePolicy do.
func checkTrust(doc string) error {
	if n := iamwire.PolicySize(doc); n > iamwire.MaxTrustPolicySize {
		return iamwire.LimitExceeded(iamwire.QuotaTrustPolicySize, iamwire.MaxTrustPolicySize)
	}
	_, err := policy.Parse("trust", doc, policy.Trust)
	return err
}

func (h *Handler) createRole(ctx context.Context, in *iamwire.CreateRoleInput) (any, error) {
	path := iamwire.NormalizePath(in.Path)
	arn := iamwire.RoleARN(h.cfg.AccountID, path, in.RoleName)
	if err := h.check(ctx, "CreateRole", arn, requestTags(in.Tags)); err != nil {
		return nil, err
	}
	if err := checkTags(in.Tags, "TagsPerRole"); err != nil {
		return nil, err
	}
	if err := checkTrust(in.AssumeRolePolicyDocument); err != nil {
		return nil, err
	}
	maxSession := int32(iamwire.DefaultMaxSessionSecs)
	if in.MaxSessionDuration != nil {
		maxSession = *in.MaxSessionDuration
	}
	r, err := h.cfg.Store.CreateRole(ctx, store.Role{
		Name:                in.RoleName,
		Path:                path,
		ID:                  iamwire.NewID(iamwire.PrefixRole),
		ARN:                 arn,
		AssumeRolePolicy:    in.AssumeRolePolicyDocument,
		Description:         in.Description,
		MaxSessionDuration:  maxSession,
		PermissionsBoundary: in.PermissionsBoundary,
		Tags:                tagMap(in.Tags),
		CreatedAt:           h.cfg.Now(),
	})
	if err != nil {
		return nil, err
	}
	return iamwire.CreateRoleResult{Role: roleOut(r)}, nil
}

func (h *Handler) getRole(ctx context.Context, in *iamwire.GetRoleInput) (any, error) {
	r, err := h.readRole(ctx, "GetRole", in.RoleName)
	if err != nil {
		return nil, err
	}
	out := roleOut(r)
	out.RoleLastUsed = &iamwire.RoleLastUsed{}
	return iamwire.GetRoleResult{Role: out}, nil
}

func (h *Handler) listRoles(ctx context.Context, in *iamwire.ListRolesInput) (any, error) {
	if err := h.check(ctx, "ListRoles", "*", nil); err != nil {
		return nil, err
	}
	p, err := pageOf(in.Paging)
	if err != nil {
		return nil, err
	}
	roles, next, err := h.cfg.Store.ListRoles(ctx, in.PathPrefix, p)
	if err != nil {
		return nil, err
	}
	out := iamwire.ListRolesResult{Roles: iamwire.Roles{Members: make([]iamwire.Role, 0, len(roles))}, Page: markerOf(next)}
	for _, r := range roles {
		ro := roleOut(r)
		ro.Tags, ro.PermissionsBoundary = nil, nil // as ListRoles leaves them out
		out.Roles.Members = append(out.Roles.Members, ro)
	}
	return out, nil
}

func (h *Handler) updateRole(ctx context.Context, in *iamwire.UpdateRoleInput) (any, error) {
	_, err := h.editRole(ctx, "UpdateRole", in.RoleName, nil, func(r *store.Role) error {
		if in.Description != nil {
			r.Description = *in.Description
		}
		if in.MaxSessionDuration != nil {
			r.MaxSessionDuration = *in.MaxSessionDuration
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return iamwire.UpdateRoleResult{}, nil
}

func (h *Handler) updateRoleDescription(ctx context.Context, in *iamwire.UpdateRoleDescriptionInput) (any, error) {
	if err := h.check(ctx, "UpdateRoleDescription", h.roleARN(ctx, in.RoleName), nil); err != nil {
		return nil, err
	}
	r, err := h.cfg.Store.UpdateRole(ctx, in.RoleName, func(r *store.Role) error {
		r.Description = in.Description
		return nil
	})
	if err != nil {
		return nil, err
	}
	return iamwire.UpdateRoleDescriptionResult{Role: roleOut(r)}, nil
}

func (h *Handler) updateAssumeRolePolicy(ctx context.Context, in *iamwire.UpdateAssumeRolePolicyInput) (any, error) {
	if err := h.check(ctx, "UpdateAssumeRolePolicy", h.roleARN(ctx, in.RoleName), nil); err != nil {
		return nil, err
	}
	if err := checkTrust(in.PolicyDocument); err != nil {
		return nil, err
	}
	_, err := h.cfg.Store.UpdateRole(ctx, in.RoleName, func(r *store.Role) error {
		r.AssumeRolePolicy = in.PolicyDocument
		return nil
	})
	return nil, err
}

func (h *Handler) deleteRole(ctx context.Context, in *iamwire.DeleteRoleInput) (any, error) {
	if err := h.check(ctx, "DeleteRole", h.roleARN(ctx, in.RoleName), nil); err != nil {
		return nil, err
	}
	_, err := h.cfg.Store.DeleteRole(ctx, in.RoleName)
	return nil, err
}

func (h *Handler) listRoleTags(ctx context.Context, in *iamwire.ListRoleTagsInput) (any, error) {
	r, err := h.readRole(ctx, "ListRoleTags", in.RoleName)
	if err != nil {
		return nil, err
	}
	return tagsPage(r.Tags, in.Paging)
}

func (h *Handler) putRolePolicy(ctx context.Context, in *iamwire.PutRolePolicyInput) (any, error) {
	if err := h.check(ctx, "PutRolePolicy", h.roleARN(ctx, in.RoleName), nil); err != nil {
		return nil, err
	}
	if _, err := policy.Parse(in.PolicyName, in.PolicyDocument, policy.Identity); err != nil {
		return nil, err
	}
	_, err := h.cfg.Store.UpdateRole(ctx, in.RoleName, func(r *store.Role) error {
		r.Policies[in.PolicyName] = in.PolicyDocument
		if inlineSize(r.Policies) > iamwire.MaxRolePolicySize {
			return iamwire.InlinePolicySizeExceeded(iamwire.EntityRole, r.Name, iamwire.MaxRolePolicySize)
		}
		return nil
	})
	return nil, err
}

func (h *Handler) getRolePolicy(ctx context.Context, in *iamwire.GetRolePolicyInput) (any, error) {
	r, err := h.readRole(ctx, "GetRolePolicy", in.RoleName)
	if err != nil {
		return nil, err
	}
	doc, ok := r.Policies[in.PolicyName]
	if !ok {
		return nil, iamwire.NoSuchEntityPolicy(iamwire.EntityRole, in.PolicyName)
	}
	return iamwire.GetRolePolicyResult{RoleName: r.Name, PolicyName: in.PolicyName, PolicyDocument: iamwire.Document(doc)}, nil
}

func (h *Handler) listRolePolicies(ctx context.Context, in *iamwire.ListRolePoliciesInput) (any, error) {
	r, err := h.readRole(ctx, "ListRolePolicies", in.RoleName)
	if err != nil {
		return nil, err
	}
	return policyNames(r.Policies, in.Paging)
}

// checkBoundary refuses a permissions boundary that names no policy
// (podid has no AWS managed policies: those are taken as they are).
func (h *Handler) checkBoundary(ctx context.Context, arn string) error {
	p, err := iamwire.ParseARN(arn)
	if err != nil || p.Type != "policy" {
		return iamwire.InvalidARN(arn)
	}
	if p.Account == "aws" {
		return nil
	}
	_, err = h.cfg.Store.GetPolicy(ctx, arn)
	return err
}

func (h *Handler) setRoleBoundary(ctx context.Context, action, name, boundary string) (any, error) {
	if err := h.check(ctx, action, h.roleARN(ctx, name), nil); err != nil {
		return nil, err
	}
	if boundary != "" {
		if err := h.checkBoundary(ctx, boundary); err != nil {
			return nil, err
		}
	}
	_, err := h.cfg.Store.UpdateRole(ctx, name, func(r *store.Role) error {
		r.PermissionsBoundary = boundary
		return nil
	})
	return nil, err
}

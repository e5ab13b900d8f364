// Package iamhttp serves podid's IAM API as a handler family of the host
// (internal/httpx): IAM's awsQuery actions (Version=2010-05-08) at POST /,
// the endpoint STS shares. Requests are told apart as AWS's endpoints are:
// by the SigV4 scope's service (iam or sts), or, unsigned, by the Action.
//
// A request reads: decode (iamwire.ParseRequest, validated as IAM's front
// end does) → authz.Check("iam:ACTION" on the entity's ARN) → the store
// (store.IAM) → iamwire.Marshal. Errors go back to the host, which words
// the store's and the policy engine's in IAM's terms (httpx.MapError) and
// writes them in IAM's namespace.
package iamhttp

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/podid/podid/internal/authz"
	"github.com/podid/podid/internal/httpx"
	"github.com/podid/podid/internal/iam/accesskey"
	"github.com/podid/podid/internal/iam/iamwire"
	"github.com/podid/podid/internal/sigv4"
	"github.com/podid/podid/internal/store"
)

// Config configures a Handler.
type Config struct {
	// Store holds IAM's records.
	Store store.IAM
	// Secrets derives access keys' secrets (CreateAccessKey's answer).
	Secrets *accesskey.Secrets
	// AccountID is the account of every ARN.
	AccountID string
	// Authorizer decides every call ("iam:ACTION" on the entity's ARN).
	Authorizer authz.Authorizer
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Handler is the IAM API.
type Handler struct {
	cfg Config
}

// New returns the IAM API's handler.
func New(cfg Config) *Handler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Handler{cfg: cfg}
}

// Mount mounts IAM and STS (sts: STS's awsQuery handler, family
// httpx.STS) at POST / and GET / (the awsQuery protocol takes its
// parameters in the query too, as presigned URLs such as an EKS token's
// GetCallerIdentity carry them), each request routed to the service it is
// for.
func (h *Handler) Mount(host *httpx.Host, sts httpx.HandlerFunc) error {
	pick := func(r *http.Request) httpx.Route {
		if IsIAMRequest(r) {
			return httpx.Route{Family: httpx.IAM, Handler: h.Serve}
		}
		return httpx.Route{Family: httpx.STS, Handler: sts}
	}
	return errors.Join(host.HandleShared("POST /{$}", httpx.STS, pick), host.HandleShared("GET /{$}", httpx.STS, pick))
}

// IsIAMRequest tells an IAM request at the shared awsQuery endpoint: its
// SigV4 scope (Authorization header or presigned query) names service iam;
// unsigned (or signed without a scope that parses), its Action is one of
// IAM's.
func IsIAMRequest(r *http.Request) bool {
	if svc := sigv4.ScopeService(r); svc != "" {
		return svc == "iam"
	}
	action := r.URL.Query().Get("Action")
	if action == "" {
		body, err := httpx.ReadBody(r)
		if err != nil {
			return false // STS's handler reports the body's error
		}
		params, err := iamwire.ParseForm("", string(body))
		if err != nil {
			return false
		}
		action = params.Get("Action")
	}
	_, ok := iamActions[action]
	return ok && action != ""
}

var iamActions = func() map[string]struct{} {
	m := map[string]struct{}{}
	for _, a := range iamwire.Actions() {
		m[a] = struct{}{}
	}
	return m
}()

// Serve answers one IAM request (family httpx.IAM).
func (h *Handler) Serve(w http.ResponseWriter, r *http.Request) error {
	body, err := httpx.ReadBody(r)
	if err != nil {
		return err
	}
	params, err := iamwire.ParseForm(r.URL.RawQuery, string(body))
	if err != nil {
		return err
	}
	action, in, err := iamwire.ParseRequest(params)
	if action != "" {
		httpx.SetOperation(r.Context(), action)
	}
	if err != nil {
		return err
	}
	result, err := h.call(r.Context(), action, in)
	if err != nil {
		return err
	}
	b, err := iamwire.Marshal(action, httpx.RequestID(r.Context()), result)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(b)
	return err
}

// check asks the Authorizer whether the caller may perform iam:action on
// resource.
func (h *Handler) check(ctx context.Context, action, resource string, reqCtx map[string][]string) error {
	return authz.Check(ctx, h.cfg.Authorizer, "iam:"+action, resource, reqCtx)
}

// call runs one decoded action.
func (h *Handler) call(ctx context.Context, action string, in any) (any, error) {
	switch in := in.(type) {
	// Roles.
	case *iamwire.CreateRoleInput:
		return h.createRole(ctx, in)
	case *iamwire.GetRoleInput:
		return h.getRole(ctx, in)
	case *iamwire.ListRolesInput:
		return h.listRoles(ctx, in)
	case *iamwire.UpdateRoleInput:
		return h.updateRole(ctx, in)
	case *iamwire.UpdateRoleDescriptionInput:
		return h.updateRoleDescription(ctx, in)
	case *iamwire.UpdateAssumeRolePolicyInput:
		return h.updateAssumeRolePolicy(ctx, in)
	case *iamwire.DeleteRoleInput:
		return h.deleteRole(ctx, in)
	case *iamwire.TagRoleInput:
		return h.editRole(ctx, action, in.RoleName, requestTags(in.Tags), func(r *store.Role) error {
			return addTags(r.Tags, in.Tags, "TagsPerRole")
		})
	case *iamwire.UntagRoleInput:
		return h.editRole(ctx, action, in.RoleName, tagKeys(in.TagKeys), func(r *store.Role) error {
			removeTags(r.Tags, in.TagKeys)
			return nil
		})
	case *iamwire.ListRoleTagsInput:
		return h.listRoleTags(ctx, in)
	case *iamwire.ListInstanceProfilesForRoleInput:
		if _, err := h.readRole(ctx, action, in.RoleName); err != nil {
			return nil, err
		}
		return iamwire.ListInstanceProfilesForRoleResult{}, nil
	case *iamwire.PutRolePolicyInput:
		return h.putRolePolicy(ctx, in)
	case *iamwire.GetRolePolicyInput:
		return h.getRolePolicy(ctx, in)
	case *iamwire.DeleteRolePolicyInput:
		return h.editRole(ctx, action, in.RoleName, nil, func(r *store.Role) error {
			return deleteInline(r.Policies, iamwire.EntityRole, in.PolicyName)
		})
	case *iamwire.ListRolePoliciesInput:
		return h.listRolePolicies(ctx, in)
	case *iamwire.PutRolePermissionsBoundaryInput:
		return h.setRoleBoundary(ctx, action, in.RoleName, in.PermissionsBoundary)
	case *iamwire.DeleteRolePermissionsBoundaryInput:
		return h.setRoleBoundary(ctx, action, in.RoleName, "")

	// Managed policies.
	case *iamwire.CreatePolicyInput:
		return h.createPolicy(ctx, in)
	case *iamwire.GetPolicyInput:
		return h.getPolicy(ctx, in)
	case *iamwire.DeletePolicyInput:
		return h.deletePolicy(ctx, in)
	case *iamwire.ListPoliciesInput:
		return h.listPolicies(ctx, in)
	case *iamwire.GetPolicyVersionInput:
		return h.getPolicyVersion(ctx, in)
	case *iamwire.ListPolicyVersionsInput:
		return h.listPolicyVersions(ctx, in)
	case *iamwire.CreatePolicyVersionInput:
		return h.createPolicyVersion(ctx, in)
	case *iamwire.DeletePolicyVersionInput:
		return h.deletePolicyVersion(ctx, in)
	case *iamwire.SetDefaultPolicyVersionInput:
		return h.setDefaultPolicyVersion(ctx, in)
	case *iamwire.TagPolicyInput:
		return h.editPolicy(ctx, action, in.PolicyArn, requestTags(in.Tags), func(mp *store.ManagedPolicy) error {
			return addTags(mp.Tags, in.Tags, "TagsPerPolicy")
		})
	case *iamwire.UntagPolicyInput:
		return h.editPolicy(ctx, action, in.PolicyArn, tagKeys(in.TagKeys), func(mp *store.ManagedPolicy) error {
			removeTags(mp.Tags, in.TagKeys)
			return nil
		})
	case *iamwire.ListPolicyTagsInput:
		return h.listPolicyTags(ctx, in)
	case *iamwire.ListEntitiesForPolicyInput:
		return h.listEntitiesForPolicy(ctx, in)

	// Attachments.
	case *iamwire.AttachRolePolicyInput:
		return h.attach(ctx, action, store.KindRole, in.RoleName, in.PolicyArn)
	case *iamwire.DetachRolePolicyInput:
		return h.detach(ctx, action, store.KindRole, in.RoleName, in.PolicyArn)
	case *iamwire.ListAttachedRolePoliciesInput:
		r, err := h.readRole(ctx, action, in.RoleName)
		if err != nil {
			return nil, err
		}
		return listAttached(r.AttachedPolicies, in.PathPrefix, in.Paging)
	case *iamwire.AttachUserPolicyInput:
		return h.attach(ctx, action, store.KindUser, in.UserName, in.PolicyArn)
	case *iamwire.DetachUserPolicyInput:
		return h.detach(ctx, action, store.KindUser, in.UserName, in.PolicyArn)
	case *iamwire.ListAttachedUserPoliciesInput:
		u, err := h.readUser(ctx, action, in.UserName)
		if err != nil {
			return nil, err
		}
		return listAttached(u.AttachedPolicies, in.PathPrefix, in.Paging)

	// Users.
	case *iamwire.CreateUserInput:
		return h.createUser(ctx, in)
	case *iamwire.GetUserInput:
		return h.getUser(ctx, in)
	case *iamwire.UpdateUserInput:
		return h.updateUser(ctx, in)
	case *iamwire.DeleteUserInput:
		return h.deleteUser(ctx, in)
	case *iamwire.ListUsersInput:
		return h.listUsers(ctx, in)
	case *iamwire.TagUserInput:
		return h.editUser(ctx, action, in.UserName, requestTags(in.Tags), func(u *store.User) error {
			return addTags(u.Tags, in.Tags, "TagsPerUser")
		})
	case *iamwire.UntagUserInput:
		return h.editUser(ctx, action, in.UserName, tagKeys(in.TagKeys), func(u *store.User) error {
			removeTags(u.Tags, in.TagKeys)
			return nil
		})
	case *iamwire.ListUserTagsInput:
		return h.listUserTags(ctx, in)
	case *iamwire.PutUserPolicyInput:
		return h.putUserPolicy(ctx, in)
	case *iamwire.GetUserPolicyInput:
		return h.getUserPolicy(ctx, in)
	case *iamwire.DeleteUserPolicyInput:
		return h.editUser(ctx, action, in.UserName, nil, func(u *store.User) error {
			return deleteInline(u.Policies, iamwire.EntityUser, in.PolicyName)
		})
	case *iamwire.ListUserPoliciesInput:
		return h.listUserPolicies(ctx, in)
	case *iamwire.PutUserPermissionsBoundaryInput:
		return h.setUserBoundary(ctx, action, in.UserName, in.PermissionsBoundary)
	case *iamwire.DeleteUserPermissionsBoundaryInput:
		return h.setUserBoundary(ctx, action, in.UserName, "")

	// Access keys.
	case *iamwire.CreateAccessKeyInput:
		return h.createAccessKey(ctx, in)
	case *iamwire.ListAccessKeysInput:
		return h.listAccessKeys(ctx, in)
	case *iamwire.DeleteAccessKeyInput:
		return h.deleteAccessKey(ctx, in)
	case *iamwire.UpdateAccessKeyInput:
		return h.updateAccessKey(ctx, in)
	case *iamwire.GetAccessKeyLastUsedInput:
		return h.getAccessKeyLastUsed(ctx, in)

	// OpenID Connect providers.
	case *iamwire.CreateOpenIDConnectProviderInput:
		return h.createOIDCProvider(ctx, in)
	case *iamwire.GetOpenIDConnectProviderInput:
		return h.getOIDCProvider(ctx, in)
	case *iamwire.ListOpenIDConnectProvidersInput:
		return h.listOIDCProviders(ctx)
	case *iamwire.DeleteOpenIDConnectProviderInput:
		return h.deleteOIDCProvider(ctx, in)
	case *iamwire.UpdateOpenIDConnectProviderThumbprintInput:
		return h.updateOIDCThumbprints(ctx, in)
	case *iamwire.AddClientIDToOpenIDConnectProviderInput:
		return h.editOIDCProvider(ctx, action, in.OpenIDConnectProviderArn, nil, func(p *store.OIDCProvider) error {
			return addClientID(p, in.ClientID)
		})
	case *iamwire.RemoveClientIDFromOpenIDConnectProviderInput:
		return h.editOIDCProvider(ctx, action, in.OpenIDConnectProviderArn, nil, func(p *store.OIDCProvider) error {
			p.ClientIDs = slices.DeleteFunc(p.ClientIDs, func(id string) bool { return id == in.ClientID })
			return nil
		})
	case *iamwire.TagOpenIDConnectProviderInput:
		return h.tagOIDCProvider(ctx, in)
	case *iamwire.UntagOpenIDConnectProviderInput:
		return h.editOIDCProvider(ctx, action, in.OpenIDConnectProviderArn, tagKeys(in.TagKeys), func(p *store.OIDCProvider) error {
			removeTags(p.Tags, in.TagKeys)
			return nil
		})
	case *iamwire.ListOpenIDConnectProviderTagsInput:
		return h.listOIDCProviderTags(ctx, in)

	// What podid has none of: empty answers for an existing user.
	case *iamwire.ListGroupsForUserInput:
		return emptyForUser(ctx, h, action, in.UserName, iamwire.ListGroupsForUserResult{})
	case *iamwire.ListSigningCertificatesInput:
		return emptyForUser(ctx, h, action, in.UserName, iamwire.ListSigningCertificatesResult{})
	case *iamwire.ListSSHPublicKeysInput:
		return emptyForUser(ctx, h, action, in.UserName, iamwire.ListSSHPublicKeysResult{})
	case *iamwire.ListServiceSpecificCredentialsInput:
		return emptyForUser(ctx, h, action, in.UserName, iamwire.ListServiceSpecificCredentialsResult{})
	case *iamwire.ListMFADevicesInput:
		return emptyForUser(ctx, h, action, in.UserName, iamwire.ListMFADevicesResult{})
	case *iamwire.GetLoginProfileInput:
		return h.noLoginProfile(ctx, action, in.UserName)
	case *iamwire.DeleteLoginProfileInput:
		return h.noLoginProfile(ctx, action, in.UserName)
	case *iamwire.ListVirtualMFADevicesInput:
		if err := h.check(ctx, action, "*", nil); err != nil {
			return nil, err
		}
		return iamwire.ListVirtualMFADevicesResult{}, nil
	}
	return nil, iamwire.InvalidInput("Could not find operation %s for version %s", action, iamwire.APIVersion)
}

// The paging of listings the store pages (roles, users): the marker is the
// last key returned, base64url-encoded, as iamwire.Paginate makes it.

func pageOf(p iamwire.Paging) (store.Page, error) {
	sp := store.Page{Limit: p.Max()}
	if p.Marker != "" {
		after, err := base64.RawURLEncoding.DecodeString(p.Marker)
		if err != nil {
			return sp, iamwire.InvalidInput("Invalid Marker.")
		}
		sp.After = string(after)
	}
	return sp, nil
}

func markerOf(next string) iamwire.Page {
	if next == "" {
		return iamwire.Page{}
	}
	return iamwire.PageOf(base64.RawURLEncoding.EncodeToString([]byte(next)))
}

// tagMap, tagList and the tag edits.

func tagMap(tags []iamwire.Tag) map[string]string {
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[t.Key] = t.Value
	}
	return m
}

func tagList(m map[string]string) []iamwire.Tag {
	out := make([]iamwire.Tag, 0, len(m))
	for k, v := range m {
		out = append(out, iamwire.Tag{Key: k, Value: v})
	}
	slices.SortFunc(out, func(a, b iamwire.Tag) int { return strings.Compare(a.Key, b.Key) })
	return out
}

func requestTags(tags []iamwire.Tag) map[string][]string { return authz.RequestTags(tagMap(tags)) }

func tagKeys(keys []string) map[string][]string {
	if len(keys) == 0 {
		return nil
	}
	return map[string][]string{"aws:TagKeys": keys}
}

// addTags adds tags to m (mergeTags) within IAM's quota of 50.
func addTags(m map[string]string, tags []iamwire.Tag, quota string) error {
	mergeTags(m, tags)
	if len(m) > iamwire.MaxTagsPerEntity {
		return iamwire.LimitExceeded(quota, iamwire.MaxTagsPerEntity)
	}
	return nil
}

// mergeTags adds tags to m: IAM's tag keys ignore case, a key given in
// another case replaces the stored one.
func mergeTags(m map[string]string, tags []iamwire.Tag) {
	for _, t := range tags {
		for k := range m {
			if strings.EqualFold(k, t.Key) {
				delete(m, k)
			}
		}
		m[t.Key] = t.Value
	}
}

func removeTags(m map[string]string, keys []string) {
	for _, key := range keys {
		for k := range m {
			if strings.EqualFold(k, key) {
				delete(m, k)
			}
		}
	}
}

// checkTags refuses more than IAM's 50 tags, or a key twice.
func checkTags(tags []iamwire.Tag, quota string) error {
	seen := map[string]bool{}
	for _, t := range tags {
		k := strings.ToLower(t.Key)
		if seen[k] {
			return iamwire.InvalidInput("Duplicate tag keys found. Please note that Tag keys are case insensitive.")
		}
		seen[k] = true
	}
	if len(tags) > iamwire.MaxTagsPerEntity {
		return iamwire.LimitExceeded(quota, iamwire.MaxTagsPerEntity)
	}
	return nil
}

// inlineSize is the aggregate size of an entity's inline policies.
func inlineSize(policies map[string]string) int {
	n := 0
	for _, doc := range policies {
		n += iamwire.PolicySize(doc)
	}
	return n
}

func deleteInline(policies map[string]string, entity, name string) error {
	if _, ok := policies[name]; !ok {
		return iamwire.NoSuchEntityPolicy(entity, name)
	}
	delete(policies, name)
	return nil
}

// policyNames lists inline policy names in order, one page.
func policyNames(policies map[string]string, p iamwire.Paging) (iamwire.ListPolicyNamesResult, error) {
	names := make([]string, 0, len(policies))
	for n := range policies {
		names = append(names, n)
	}
	slices.Sort(names)
	page, next, err := iamwire.Paginate(names, func(s string) string { return s }, p.Marker, p.Max())
	if err != nil {
		return iamwire.ListPolicyNamesResult{}, err
	}
	return iamwire.ListPolicyNamesResult{PolicyNames: iamwire.Strings{Members: page}, Page: iamwire.PageOf(next)}, nil
}

// tagsPage is one page of an entity's tags.
func tagsPage(m map[string]string, p iamwire.Paging) (iamwire.ListTagsResult, error) {
	page, next, err := iamwire.Paginate(tagList(m), func(t iamwire.Tag) string { return t.Key }, p.Marker, p.Max())
	if err != nil {
		return iamwire.ListTagsResult{}, err
	}
	return iamwire.ListTagsResult{Tags: iamwire.Tags{Members: page}, Page: iamwire.PageOf(next)}, nil
}

package iamhttp

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/podid/podid/internal/iam/iamwire"
	"github.com/podid/podid/internal/iam/policy"
	"github.com/podid/podid/internal/store"
)

// policyOut is a managed policy as IAM returns it.
func policyOut(mp store.ManagedPolicy) iamwire.Policy {
	return iamwire.Policy{
		PolicyName:       mp.Name,
		PolicyId:         mp.ID,
		Arn:              mp.ARN,
		Path:             mp.Path,
		DefaultVersionId: mp.DefaultVersion,
		AttachmentCount:  int32(mp.AttachmentCount),
		IsAttachable:     true,
		Description:      mp.Description,
		CreateDate:       iamwire.TS(mp.CreatedAt),
		UpdateDate:       iamwire.TS(mp.UpdatedAt),
		Tags:             iamwire.TagList(tagList(mp.Tags)),
	}
}

func versionOut(mp store.ManagedPolicy, v store.PolicyVersion, withDocument bool) iamwire.PolicyVersion {
	out := iamwire.PolicyVersion{VersionId: v.ID, IsDefaultVersion: v.ID == mp.DefaultVersion, CreateDate: iamwire.TS(v.CreatedAt)}
	if withDocument {
		out.Document = iamwire.Document(v.Document)
	}
	return out
}

// checkPolicyARN refuses a PolicyArn that is not a policy's ARN
// (ValidationError) and, as podid has no AWS managed policies, one of
// those (NoSuchEntity).
func checkPolicyARN(arn string) error {
	p, err := iamwire.ParseARN(arn)
	if err != nil || p.Type != "policy" {
		return iamwire.InvalidARN(arn)
	}
	if p.Account == "aws" {
		return iamwire.NoSuchPolicy(arn)
	}
	return nil
}

// checkManaged validates a managed policy document.
func checkManaged(name, doc string) error {
	if iamwire.PolicySize(doc) > iamwire.MaxManagedPolicySize {
		return iamwire.LimitExceeded(iamwire.QuotaPolicySize, iamwire.MaxManagedPolicySize)
	}
	_, err := policy.Parse(name, doc, policy.Identity)
	return err
}

// readPolicy authorizes iam:action on the policy and reads it.
func (h *Handler) readPolicy(ctx context.Context, action, arn string) (store.ManagedPolicy, error) {
	if err := h.check(ctx, action, arn, nil); err != nil {
		return store.ManagedPolicy{}, err
	}
	if err := checkPolicyARN(arn); err != nil {
		return store.ManagedPolicy{}, err
	}
	return h.cfg.Store.GetPolicy(ctx, arn)
}

// editPolicy authorizes iam:action on the policy and updates it with fn.
func (h *Handler) editPolicy(ctx context.Context, action, arn string, reqCtx map[string][]string, fn func(*store.ManagedPolicy) error) (any, error) {
	if err := h.check(ctx, action, arn, reqCtx); err != nil {
		return nil, err
	}
	if err := checkPolicyARN(arn); err != nil {
		return nil, err
	}
	_, err := h.cfg.Store.UpdatePolicy(ctx, arn, fn)
	return nil, err
}

func (h *Handler) createPolicy(ctx context.Context, in *iamwire.CreatePolicyInput) (any, error) {
	path := iamwire.NormalizePath(in.Path)
	arn := iamwire.PolicyARN(h.cfg.AccountID, path, in.PolicyName)
	if err := h.check(ctx, "CreatePolicy", arn, requestTags(in.Tags)); err != nil {
		return nil, err
	}
	if err := checkTags(in.Tags, "TagsPerPolicy"); err != nil {
		return nil, err
	}
	if err := checkManaged(in.PolicyName, in.PolicyDocument); err != nil {
		return nil, err
	}
	now := h.cfg.Now()
	mp, err := h.cfg.Store.CreatePolicy(ctx, store.ManagedPolicy{
		Name:           in.PolicyName,
		Path:           path,
		ID:             iamwire.NewID(iamwire.PrefixPolicy),
		ARN:            arn,
		Description:    in.Description,
		DefaultVersion: "v1",
		Versions:       []store.PolicyVersion{{ID: "v1", Document: in.PolicyDocument, CreatedAt: now}},
		NextVersion:    2,
		Tags:           tagMap(in.Tags),
		CreatedAt:      now,
		UpdatedAt:      now,
	})
	if err != nil {
		return nil, err
	}
	return iamwire.CreatePolicyResult{Policy: policyOut(mp)}, nil
}

func (h *Handler) getPolicy(ctx context.Context, in *iamwire.GetPolicyInput) (any, error) {
	mp, err := h.readPolicy(ctx, "GetPolicy", in.PolicyArn)
	if err != nil {
		return nil, err
	}
	return iamwire.GetPolicyResult{Policy: policyOut(mp)}, nil
}

func (h *Handler) deletePolicy(ctx context.Context, in *iamwire.DeletePolicyInput) (any, error) {
	if err := h.check(ctx, "DeletePolicy", in.PolicyArn, nil); err != nil {
		return nil, err
	}
	if err := checkPolicyARN(in.PolicyArn); err != nil {
		return nil, err
	}
	_, err := h.cfg.Store.DeletePolicy(ctx, in.PolicyArn)
	return nil, err
}

// allPolicies reads every managed policy under pathPrefix.
func (h *Handler) allPolicies(ctx context.Context, pathPrefix string) ([]store.ManagedPolicy, error) {
	return readAll(func(p store.Page) ([]store.ManagedPolicy, string, error) {
		return h.cfg.Store.ListPolicies(ctx, pathPrefix, p)
	})
}

// readAll reads every page of a store listing (IAM's entities number in
// the thousands at most).
func readAll[T any](list func(store.Page) ([]T, string, error)) ([]T, error) {
	var all []T
	p := store.Page{Limit: 1000}
	for range 10_000 {
		items, next, err := list(p)
		if err != nil {
			return nil, err
		}
		all = append(all, items...)
		if next == "" {
			return all, nil
		}
		p.After = next
	}
	return nil, errors.New("listing: no last page after 10,000 pages")
}

func (h *Handler) listPolicies(ctx context.Context, in *iamwire.ListPoliciesInput) (any, error) {
	if err := h.check(ctx, "ListPolicies", "*", nil); err != nil {
		return nil, err
	}
	var all []store.ManagedPolicy
	if in.Scope != "AWS" { // podid has no AWS managed policies
		var err error
		if all, err = h.allPolicies(ctx, in.PathPrefix); err != nil {
			return nil, err
		}
	}
	if in.OnlyAttached != nil && *in.OnlyAttached {
		all = slices.DeleteFunc(all, func(mp store.ManagedPolicy) bool { return mp.AttachmentCount == 0 })
	}
	page, next, err := iamwire.Paginate(all, func(mp store.ManagedPolicy) string { return store.IAMKey(mp.Name) }, in.Marker, in.Max())
	if err != nil {
		return nil, err
	}
	out := iamwire.ListPoliciesResult{Policies: iamwire.Policies{Members: make([]iamwire.Policy, 0, len(page))}, Page: iamwire.PageOf(next)}
	for _, mp := range page {
		po := policyOut(mp)
		po.Tags = nil // as ListPolicies leaves them out
		out.Policies.Members = append(out.Policies.Members, po)
	}
	return out, nil
}

func (h *Handler) getPolicyVersion(ctx context.Context, in *iamwire.GetPolicyVersionInput) (any, error) {
	mp, err := h.readPolicy(ctx, "GetPolicyVersion", in.PolicyArn)
	if err != nil {
		return nil, err
	}
	v, ok := mp.Version(in.VersionId)
	if !ok {
		return nil, iamwire.NoSuchPolicyVersion(in.PolicyArn, in.VersionId)
	}
	return iamwire.GetPolicyVersionResult{PolicyVersion: versionOut(mp, v, true)}, nil
}

func (h *Handler) listPolicyVersions(ctx context.Context, in *iamwire.ListPolicyVersionsInput) (any, error) {
	mp, err := h.readPolicy(ctx, "ListPolicyVersions", in.PolicyArn)
	if err != nil {
		return nil, err
	}
	// Newest first, as IAM lists them.
	versions := slices.Clone(mp.Versions)
	slices.Reverse(versions)
	page, next, err := iamwire.Paginate(versions, versionKey, in.Marker, in.Max())
	if err != nil {
		return nil, err
	}
	out := iamwire.ListPolicyVersionsResult{Page: iamwire.PageOf(next)}
	out.Versions.Members = make([]iamwire.PolicyVersion, 0, len(page))
	for _, v := range page {
		out.Versions.Members = append(out.Versions.Members, versionOut(mp, v, false))
	}
	return out, nil
}

// versionKey orders versions newest first for Paginate (which wants
// ascending keys): "v12" before "v3".
func versionKey(v store.PolicyVersion) string {
	n, _ := strconv.Atoi(strings.TrimPrefix(v.ID, "v"))
	return strconv.Itoa(1_000_000_000 - n)
}

func (h *Handler) createPolicyVersion(ctx context.Context, in *iamwire.CreatePolicyVersionInput) (any, error) {
	if err := h.check(ctx, "CreatePolicyVersion", in.PolicyArn, nil); err != nil {
		return nil, err
	}
	if err := checkPolicyARN(in.PolicyArn); err != nil {
		return nil, err
	}
	if err := checkManaged(in.PolicyArn, in.PolicyDocument); err != nil {
		return nil, err
	}
	var created store.PolicyVersion
	mp, err := h.cfg.Store.UpdatePolicy(ctx, in.PolicyArn, func(mp *store.ManagedPolicy) error {
		if len(mp.Versions) >= iamwire.MaxPolicyVersions {
			return iamwire.PolicyVersionsExceeded(mp.ARN)
		}
		now := h.cfg.Now()
		created = store.PolicyVersion{ID: "v" + strconv.Itoa(mp.NextVersion), Document: in.PolicyDocument, CreatedAt: now}
		mp.Versions = append(mp.Versions, created)
		mp.NextVersion++
		if in.SetAsDefault != nil && *in.SetAsDefault {
			mp.DefaultVersion = created.ID
			mp.UpdatedAt = now
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	v, _ := mp.Version(created.ID)
	return iamwire.CreatePolicyVersionResult{PolicyVersion: versionOut(mp, v, false)}, nil
}

func (h *Handler) deletePolicyVersion(ctx context.Context, in *iamwire.DeletePolicyVersionInput) (any, error) {
	return h.editPolicy(ctx, "DeletePolicyVersion", in.PolicyArn, nil, func(mp *store.ManagedPolicy) error {
		if _, ok := mp.Version(in.VersionId); !ok {
			return iamwire.NoSuchPolicyVersion(mp.ARN, in.VersionId)
		}
		if in.VersionId == mp.DefaultVersion {
			return iamwire.DeleteConflict(iamwire.MsgDeleteConflictDefaultVer)
		}
		mp.Versions = slices.DeleteFunc(mp.Versions, func(v store.PolicyVersion) bool { return v.ID == in.VersionId })
		return nil
	})
}

func (h *Handler) setDefaultPolicyVersion(ctx context.Context, in *iamwire.SetDefaultPolicyVersionInput) (any, error) {
	return h.editPolicy(ctx, "SetDefaultPolicyVersion", in.PolicyArn, nil, func(mp *store.ManagedPolicy) error {
		if _, ok := mp.Version(in.VersionId); !ok {
			return iamwire.NoSuchPolicyVersion(mp.ARN, in.VersionId)
		}
		mp.DefaultVersion = in.VersionId
		mp.UpdatedAt = h.cfg.Now()
		return nil
	})
}

func (h *Handler) listPolicyTags(ctx context.Context, in *iamwire.ListPolicyTagsInput) (any, error) {
	mp, err := h.readPolicy(ctx, "ListPolicyTags", in.PolicyArn)
	if err != nil {
		return nil, err
	}
	return tagsPage(mp.Tags, in.Paging)
}

func (h *Handler) listEntitiesForPolicy(ctx context.Context, in *iamwire.ListEntitiesForPolicyInput) (any, error) {
	if _, err := h.readPolicy(ctx, "ListEntitiesForPolicy", in.PolicyArn); err != nil {
		return nil, err
	}
	var out iamwire.ListEntitiesForPolicyResult
	if in.EntityFilter == "" || in.EntityFilter == "Role" {
		roles, err := readAll(func(p store.Page) ([]store.Role, string, error) {
			return h.cfg.Store.ListRoles(ctx, in.PathPrefix, p)
		})
		if err != nil {
			return nil, err
		}
		for _, r := range roles {
			if slices.Contains(r.AttachedPolicies, in.PolicyArn) {
				out.PolicyRoles.Members = append(out.PolicyRoles.Members, iamwire.PolicyRole{RoleName: r.Name, RoleId: r.ID})
			}
		}
	}
	if in.EntityFilter == "" || in.EntityFilter == "User" {
		users, err := readAll(func(p store.Page) ([]store.User, string, error) {
			return h.cfg.Store.ListUsers(ctx, in.PathPrefix, p)
		})
		if err != nil {
			return nil, err
		}
		for _, u := range users {
			if slices.Contains(u.AttachedPolicies, in.PolicyArn) {
				out.PolicyUsers.Members = append(out.PolicyUsers.Members, iamwire.PolicyUser{UserName: u.Name, UserId: u.ID})
			}
		}
	}
	return out, nil
}

// attach attaches a managed policy to a role or user (iam:action on the
// entity, with iam:PolicyARN).
func (h *Handler) attach(ctx context.Context, action string, kind store.Kind, name, arn string) (any, error) {
	if err := h.check(ctx, action, h.entityARN(ctx, kind, name), policyARNKey(arn)); err != nil {
		return nil, err
	}
	if err := checkPolicyARN(arn); err != nil {
		return nil, err
	}
	return nil, h.cfg.Store.AttachPolicy(ctx, kind, name, arn, iamwire.MaxAttachedPerEntity)
}

func (h *Handler) detach(ctx context.Context, action string, kind store.Kind, name, arn string) (any, error) {
	if err := h.check(ctx, action, h.entityARN(ctx, kind, name), policyARNKey(arn)); err != nil {
		return nil, err
	}
	if _, err := iamwire.ParseARN(arn); err != nil {
		return nil, iamwire.InvalidARN(arn)
	}
	return nil, h.cfg.Store.DetachPolicy(ctx, kind, name, arn)
}

func policyARNKey(arn string) map[string][]string {
	return map[string][]string{"iam:PolicyARN": {arn}}
}

func (h *Handler) entityARN(ctx context.Context, kind store.Kind, name string) string {
	if kind == store.KindUser {
		return h.userARN(ctx, name)
	}
	return h.roleARN(ctx, name)
}

// listAttached is one page of an entity's attached policies, by name.
func listAttached(arns []string, pathPrefix string, p iamwire.Paging) (any, error) {
	var all []iamwire.AttachedPolicy
	for _, arn := range arns {
		pa, err := iamwire.ParseARN(arn)
		if err != nil || !strings.HasPrefix(pa.Path, pathPrefix) {
			continue
		}
		all = append(all, iamwire.AttachedPolicy{PolicyName: pa.Name, PolicyArn: arn})
	}
	slices.SortFunc(all, func(a, b iamwire.AttachedPolicy) int { return strings.Compare(a.PolicyName, b.PolicyName) })
	page, next, err := iamwire.Paginate(all, func(a iamwire.AttachedPolicy) string { return a.PolicyName }, p.Marker, p.Max())
	if err != nil {
		return nil, err
	}
	out := iamwire.ListAttachedPoliciesResult{Page: iamwire.PageOf(next)}
	out.AttachedPolicies.Members = page
	return out, nil
}

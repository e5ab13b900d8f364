package iamhttp

import (
	"context"
	"errors"
	"net/url"
	"slices"

	"github.com/podid/podid/internal/audit"
	"github.com/podid/podid/internal/iam/iamwire"
	"github.com/podid/podid/internal/store"
)

// OpenID Connect providers: the issuers roles may trust for
// AssumeRoleWithWebIdentity (EKS's IAM roles for service accounts).
// Terraform's aws_iam_openid_connect_provider and eksctl (which looks one
// up for a cluster's issuer) manage them.

// oidcHostPath validates a provider URL as IAM does (https, a host, no
// query or fragment) and returns what names the provider: HOST/PATH, the
// port left out (eksctl sends its issuer with ":443" and names the
// provider without it).
func oidcHostPath(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Opaque != "" || u.Hostname() == "" || u.User != nil ||
		u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", iamwire.InvalidOIDCProviderURL()
	}
	return u.Hostname() + u.EscapedPath(), nil
}

// oidcOut is a provider as GetOpenIDConnectProvider returns it.
func oidcOut(p store.OIDCProvider) iamwire.GetOpenIDConnectProviderResult {
	return iamwire.GetOpenIDConnectProviderResult{
		Url:            p.URL,
		ClientIDList:   iamwire.Strings{Members: p.ClientIDs},
		ThumbprintList: iamwire.Strings{Members: p.Thumbprints},
		CreateDate:     iamwire.TS(p.CreatedAt),
		Tags:           iamwire.Tags{Members: tagList(p.Tags)},
	}
}

// noteOIDC names the provider in the request's audit event.
func noteOIDC(ctx context.Context, arn string) {
	d := audit.Note(ctx)
	d.Resources = append(d.Resources, audit.Resource{Type: audit.TypeOIDCProvider, ARN: arn})
}

func (h *Handler) createOIDCProvider(ctx context.Context, in *iamwire.CreateOpenIDConnectProviderInput) (any, error) {
	hostPath, err := oidcHostPath(in.Url)
	if err != nil {
		return nil, err
	}
	arn := iamwire.OIDCProviderARN(h.cfg.AccountID, hostPath)
	if err := h.check(ctx, "CreateOpenIDConnectProvider", arn, requestTags(in.Tags)); err != nil {
		return nil, err
	}
	if err := checkTags(in.Tags, "TagsPerOpenIDConnectProvider"); err != nil {
		return nil, err
	}
	if len(in.ThumbprintList) > iamwire.MaxThumbprints {
		return nil, iamwire.TooManyThumbprints()
	}
	clientIDs := uniq(in.ClientIDList)
	if len(clientIDs) > iamwire.MaxClientIDs {
		return nil, iamwire.LimitExceeded(iamwire.QuotaClientIDs, iamwire.MaxClientIDs)
	}
	p, err := h.cfg.Store.CreateOIDCProvider(ctx, store.OIDCProvider{
		ARN:         arn,
		URL:         hostPath,
		ClientIDs:   clientIDs,
		Thumbprints: uniq(in.ThumbprintList),
		Tags:        tagMap(in.Tags),
		CreatedAt:   h.cfg.Now(),
	})
	if err != nil {
		return nil, err
	}
	noteOIDC(ctx, arn)
	audit.Note(ctx).ResponseElements = map[string]any{"openIDConnectProviderArn": arn}
	return iamwire.CreateOpenIDConnectProviderResult{OpenIDConnectProviderArn: p.ARN, Tags: iamwire.TagList(tagList(p.Tags))}, nil
}

// readOIDCProvider authorizes iam:action on the provider and reads it.
func (h *Handler) readOIDCProvider(ctx context.Context, action, arn string) (store.OIDCProvider, error) {
	if err := h.check(ctx, action, arn, nil); err != nil {
		return store.OIDCProvider{}, err
	}
	return h.cfg.Store.GetOIDCProvider(ctx, arn)
}

// editOIDCProvider authorizes iam:action on the provider and updates it
// with fn.
func (h *Handler) editOIDCProvider(ctx context.Context, action, arn string, reqCtx map[string][]string, fn func(*store.OIDCProvider) error) (any, error) {
	if err := h.check(ctx, action, arn, reqCtx); err != nil {
		return nil, err
	}
	_, err := h.cfg.Store.UpdateOIDCProvider(ctx, arn, fn)
	return nil, err
}

func (h *Handler) getOIDCProvider(ctx context.Context, in *iamwire.GetOpenIDConnectProviderInput) (any, error) {
	p, err := h.readOIDCProvider(ctx, "GetOpenIDConnectProvider", in.OpenIDConnectProviderArn)
	if err != nil {
		return nil, err
	}
	return oidcOut(p), nil
}

func (h *Handler) deleteOIDCProvider(ctx context.Context, in *iamwire.DeleteOpenIDConnectProviderInput) (any, error) {
	if err := h.check(ctx, "DeleteOpenIDConnectProvider", in.OpenIDConnectProviderArn, nil); err != nil {
		return nil, err
	}
	_, err := h.cfg.Store.DeleteOIDCProvider(ctx, in.OpenIDConnectProviderArn)
	if errors.Is(err, store.ErrNotFound) {
		// Worded unlike the other actions' NoSuchEntity.
		return nil, iamwire.NoSuchOIDCProviderToDelete(in.OpenIDConnectProviderArn)
	}
	return nil, err
}

func (h *Handler) listOIDCProviders(ctx context.Context) (any, error) {
	if err := h.check(ctx, "ListOpenIDConnectProviders", "*", nil); err != nil {
		return nil, err
	}
	all, err := readAll(func(p store.Page) ([]store.OIDCProvider, string, error) {
		return h.cfg.Store.ListOIDCProviders(ctx, p)
	})
	if err != nil {
		return nil, err
	}
	out := iamwire.ListOpenIDConnectProvidersResult{}
	out.OpenIDConnectProviderList.Members = make([]iamwire.OpenIDConnectProviderListEntry, 0, len(all))
	for _, p := range all {
		out.OpenIDConnectProviderList.Members = append(out.OpenIDConnectProviderList.Members, iamwire.OpenIDConnectProviderListEntry{Arn: p.ARN})
	}
	return out, nil
}

func (h *Handler) updateOIDCThumbprints(ctx context.Context, in *iamwire.UpdateOpenIDConnectProviderThumbprintInput) (any, error) {
	if len(in.ThumbprintList) > iamwire.MaxThumbprints {
		return nil, iamwire.TooManyThumbprints()
	}
	return h.editOIDCProvider(ctx, "UpdateOpenIDConnectProviderThumbprint", in.OpenIDConnectProviderArn, nil, func(p *store.OIDCProvider) error {
		p.Thumbprints = uniq(in.ThumbprintList)
		return nil
	})
}

// addClientID adds a client ID (adding one present changes nothing, as
// IAM's does) within IAM's quota.
func addClientID(p *store.OIDCProvider, id string) error {
	if slices.Contains(p.ClientIDs, id) {
		return nil
	}
	if len(p.ClientIDs) >= iamwire.MaxClientIDs {
		return iamwire.LimitExceeded(iamwire.QuotaClientIDs, iamwire.MaxClientIDs)
	}
	p.ClientIDs = append(p.ClientIDs, id)
	return nil
}

func (h *Handler) tagOIDCProvider(ctx context.Context, in *iamwire.TagOpenIDConnectProviderInput) (any, error) {
	return h.editOIDCProvider(ctx, "TagOpenIDConnectProvider", in.OpenIDConnectProviderArn, requestTags(in.Tags), func(p *store.OIDCProvider) error {
		mergeTags(p.Tags, in.Tags)
		if len(p.Tags) > iamwire.MaxTagsPerEntity {
			return iamwire.OIDCProviderTagsExceeded()
		}
		return nil
	})
}

func (h *Handler) listOIDCProviderTags(ctx context.Context, in *iamwire.ListOpenIDConnectProviderTagsInput) (any, error) {
	p, err := h.readOIDCProvider(ctx, "ListOpenIDConnectProviderTags", in.OpenIDConnectProviderArn)
	if err != nil {
		return nil, err
	}
	return tagsPage(p.Tags, in.Paging)
}

// uniq returns list without repeats, in first-seen order.
func uniq(list []string) []string {
	out := make([]string, 0, len(list))
	for _, s := range list {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

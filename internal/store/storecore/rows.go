package storecore

import (
	"strings"

	"github.com/podid/podid/internal/store"
)

// The column lists both backends' tables have, in the order of the Row
// types' Dest and of the Values functions.
const (
	AssociationColumns = `region, id, cluster_name, namespace, service_account, role_arn, target_role_arn,
	external_id, policy, disable_session_tags, owner_arn, tags, created_at, modified_at, revision`
	ClusterColumns = `region, name, created_at, version, role_arn, client_request_token, config, tags,
	issuer_url, issuer_jwks_url, issuer_podid_url, api_server_endpoint, api_server_ca, issuer_jwks, issuer_signing_keys, revision`
	// PublicClusterColumns are ClusterColumns without the key sets.
	PublicClusterColumns = `region, name, created_at, version, role_arn, client_request_token, config, tags,
	issuer_url, issuer_jwks_url, issuer_podid_url, api_server_endpoint, api_server_ca, revision`
)

// AssociationColumnsOf is AssociationColumns qualified by a table alias,
// for a query that joins another table with columns of the same names.
func AssociationColumnsOf(alias string) string {
	cols := strings.Split(AssociationColumns, ",")
	for i, c := range cols {
		cols[i] = alias + "." + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}

// AssociationRow receives one row of AssociationColumns.
type AssociationRow struct {
	a                 store.Association
	tags              []byte
	created, modified int64
}

// Dest are the scan destinations, in AssociationColumns order.
func (r *AssociationRow) Dest() []any {
	a := &r.a
	return []any{&a.Region, &a.ID, &a.ClusterName, &a.Namespace, &a.ServiceAccount, &a.RoleARN, &a.TargetRoleARN,
		&a.ExternalID, &a.Policy, &a.DisableSessionTags, &a.OwnerARN, &r.tags, &r.created, &r.modified, &a.Revision}
}

// Association is the record scanned.
func (r *AssociationRow) Association() (store.Association, error) {
	a := r.a
	a.CreatedAt = FromMicros(r.created)
	a.ModifiedAt = FromMicros(r.modified)
	var err error
	if a.Tags, err = DecodeTags(r.tags); err != nil {
		return store.Association{}, err
	}
	return a, nil
}

// AssociationValues are a's values in AssociationColumns order.
func AssociationValues(a store.Association) ([]any, error) {
	tags, err := EncodeTags(a.Tags)
	if err != nil {
		return nil, err
	}
	return []any{a.Region, a.ID, a.ClusterName, a.Namespace, a.ServiceAccount, a.RoleARN, a.TargetRoleARN,
		a.ExternalID, a.Policy, a.DisableSessionTags, a.OwnerARN, string(tags),
		Micros(a.CreatedAt), Micros(a.ModifiedAt), a.Revision}, nil
}

// ClusterRow receives one row of ClusterColumns (or of
// PublicClusterColumns).
type ClusterRow struct {
	c       store.Cluster
	tags    []byte
	created int64
}

// Dest are the scan destinations in ClusterColumns order, or in
// PublicClusterColumns order when public.
func (r *ClusterRow) Dest(public bool) []any {
	c := &r.c
	d := []any{&c.Region, &c.Name, &r.created, &c.Version, &c.RoleARN, &c.ClientRequestToken, &c.Config, &r.tags,
		&c.Issuer.URL, &c.Issuer.JWKSURL, &c.Issuer.PodidURL, &c.APIServer.Endpoint, &c.APIServer.CAData}
	if !public {
		d = append(d, &c.Issuer.JWKS, &c.Issuer.SigningKeys)
	}
	return append(d, &c.Revision)
}

// Cluster is the record scanned.
func (r *ClusterRow) Cluster() (store.Cluster, error) {
	c := r.c
	c.CreatedAt = FromMicros(r.created)
	var err error
	if c.Tags, err = DecodeTags(r.tags); err != nil {
		return store.Cluster{}, err
	}
	return c, nil
}

// ClusterValues are c's values in ClusterColumns order.
func ClusterValues(c store.Cluster) ([]any, error) {
	tags, err := EncodeTags(c.Tags)
	if err != nil {
		return nil, err
	}
	return []any{c.Region, c.Name, Micros(c.CreatedAt), c.Version, c.RoleARN, c.ClientRequestToken, c.Config, string(tags),
		c.Issuer.URL, c.Issuer.JWKSURL, c.Issuer.PodidURL, c.APIServer.Endpoint, c.APIServer.CAData,
		c.Issuer.JWKS, c.Issuer.SigningKeys, c.Revision}, nil
}

// AssociationUpdateValues are the values of an association update:
// role_arn, target_role_arn, external_id, policy, disable_session_tags,
// owner_arn, tags, created_at, modified_at, revision, then the key
// (region, cluster_name, id) for the WHERE clause.
func AssociationUpdateValues(a store.Association) ([]any, error) {
	v, err := AssociationValues(a)
	if err != nil {
		return nil, err
	}
	return append(v[5:], a.Region, a.ClusterName, a.ID), nil
}

// ClusterUpdateValues are the values of a cluster update: ClusterColumns
// but the key, then the key (region, name) for the WHERE clause.
func ClusterUpdateValues(c store.Cluster) ([]any, error) {
	v, err := ClusterValues(c)
	if err != nil {
		return nil, err
	}
	return append(v[2:], c.Region, c.Name), nil
}

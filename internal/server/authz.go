package server

import (
	"errors"
	"net/http"

	"github.com/podid/podid/eksapi"
	"github.com/podid/podid/internal/authz"
	"github.com/podid/podid/internal/store"
)

// passedToService is the iam:PassedToService of the roles an association
// names: EKS Pod Identity's service principal.
const passedToService = "pods.eks.amazonaws.com"

// passRoleContext is iam:PassRole's request context (read only, as
// Authorizers take it): made once, not for each role of each request.
var passRoleContext = map[string][]string{"iam:PassedToService": {passedToService}}

// authorize asks Config.Authorizer whether the caller may perform op on
// the resource the request names (after the body is decoded: CreateCluster
// names its cluster there, and the tags a request sets are condition
// keys). The resource is what IAM would name: the cluster for cluster
// operations and for creating or listing its associations, the
// association for the others, the tagged ARN for the tag operations,
// every cluster for ListClusters (action is "eks:" + op). An association
// write that names roles also needs iam:PassRole on each of them, as EKS
// requires.
func (s *Server) authorize(r *http.Request, op, action string, in any) error {
	if s.cfg.Authorizer == nil {
		return nil
	}
	region := s.region(r)
	var resource string
	var tags map[string]string
	var roles []*string
	switch op {
	case opCreateCluster:
		var name string
		if c, ok := in.(*createClusterInput); ok {
			name, tags = deref(c.Name), c.Tags
		}
		resource = s.ClusterARN(region, name)
	case opListClusters, opDescribeClusterVersions, opDescribeAddonVersions:
		resource = "*"
		if op == opListClusters {
			resource = s.ClusterARN(region, "*")
		}
	case opCreateAddon:
		resource = s.ClusterARN(region, r.PathValue("name"))
		if c, ok := in.(*createAddonInput); ok {
			tags = c.Tags
		}
	case opDescribeAddon, opDeleteAddon, opUpdateAddon:
		resource = s.addonARN(region, r.PathValue("name"), r.PathValue("addonName"))
	case opDescribeAssociation, opDeleteAssociation:
		resource = s.AssociationARN(region, r.PathValue("name"), r.PathValue("associationId"))
	case opUpdateAssociation:
		resource = s.AssociationARN(region, r.PathValue("name"), r.PathValue("associationId"))
		if u, ok := in.(*eksapi.UpdatePodIdentityAssociationInput); ok {
			roles = []*string{u.RoleArn, u.TargetRoleArn}
		}
	case opTagResource, opUntagResource, opListTags:
		resource = r.PathValue("resourceArn")
		if t, ok := in.(*eksapi.TagResourceInput); ok {
			tags = t.Tags
		}
	case opCreateAssociation:
		resource = s.ClusterARN(region, r.PathValue("name"))
		if c, ok := in.(*eksapi.CreatePodIdentityAssociationInput); ok {
			tags, roles = c.Tags, []*string{c.RoleArn, c.TargetRoleArn}
		}
	default:
		resource = s.ClusterARN(region, r.PathValue("name"))
	}
	// Not yet validated: bounded before a refusal echoes it.
	ctx := r.Context()
	reqCtx := authz.RequestTags(tags)
	if op != opCreateCluster && resource != "*" && authz.NeedsResourceTags(ctx, s.cfg.Authorizer) {
		rt, err := s.resourceTags(r, op, region)
		if err != nil {
			return err
		}
		reqCtx = authz.WithResourceTags(reqCtx, rt)
	}
	if err := authz.Check(ctx, s.cfg.Authorizer, action, truncate(resource, 2048), reqCtx); err != nil {
		return err
	}
	for _, role := range roles {
		if role == nil || *role == "" {
			continue
		}
		err := authz.Check(ctx, s.cfg.Authorizer, "iam:PassRole", truncate(*role, 2048), passRoleContext)
		if err != nil {
			return err
		}
	}
	return nil
}

// resourceTags returns the tags of the resource op acts on, for
// aws:ResourceTag/KEY (the EKS service authorization reference lists it for
// clusters and pod identity associations): the association's for the
// association operations, the tagged resource's for the tag operations,
// the cluster's for the cluster's operations. A resource that does not
// exist (yet) has none (the handler reports it missing); add-ons' tags are
// not modelled [INF]. A store failure is an error: a Deny conditioned on a
// tag must not pass for want of it.
func (s *Server) resourceTags(r *http.Request, op, region string) (map[string]string, error) {
	ctx := r.Context()
	cluster, id := r.PathValue("name"), r.PathValue("associationId")
	switch op {
	case opDescribeAddon, opDeleteAddon, opUpdateAddon:
		return nil, nil
	case opTagResource, opUntagResource, opListTags:
		res, err := s.parseResourceARN(region, r.PathValue("resourceArn"))
		if err != nil {
			return nil, nil
		}
		region, cluster, id = res.region, res.cluster, res.id
	case opDescribeAssociation, opDeleteAssociation, opUpdateAssociation:
	default:
		id = ""
	}
	var tags map[string]string
	var err error
	if id != "" {
		var a store.Association
		a, err = s.store.GetAssociation(ctx, region, cluster, id)
		tags = a.Tags
	} else {
		var c store.Cluster
		c, err = s.store.GetCluster(ctx, region, cluster)
		tags = c.Tags
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	return tags, err
}

package server

import (
	"context"
	"net/http"
)

// Authorizer decides whether the caller of a request (the identity the
// authentication Middleware put in ctx) may perform an action on a
// resource. podid has no IAM: the policy is its implementer's (sigv4.Authorize:
// the admin identity may do everything, a vended session only reads).
type Authorizer interface {
	// Authorize returns nil to allow action ("eks:UpdatePodIdentityAssociation")
	// on resourceARN, or the refusal: an *eksapi.Error (403
	// AccessDeniedException) is sent as is, any other error is a 500.
	Authorize(ctx context.Context, action, resourceARN string) error
}

// AuthorizerFunc adapts a function to an Authorizer.
type AuthorizerFunc func(ctx context.Context, action, resourceARN string) error

// Authorize calls f.
func (f AuthorizerFunc) Authorize(ctx context.Context, action, resourceARN string) error {
	return f(ctx, action, resourceARN)
}

// authorize asks Config.Authorizer whether the caller may perform op on
// the resource the request names (after the body is decoded: CreateCluster
// names its cluster there). The resource is what IAM would name: the
// cluster for cluster operations and for creating or listing its
// associations, the association for the others, the tagged ARN for the
// tag operations, every cluster for ListClusters.
func (s *Server) authorize(r *http.Request, op string, in any) error {
	if s.cfg.Authorizer == nil {
		return nil
	}
	var resource string
	switch op {
	case opCreateCluster:
		var name string
		if c, ok := in.(*createClusterInput); ok {
			name = deref(c.Name)
		}
		resource = s.ClusterARN(name)
	case opListClusters:
		resource = s.ClusterARN("*")
	case opDescribeAssociation, opUpdateAssociation, opDeleteAssociation:
		resource = s.AssociationARN(r.PathValue("name"), r.PathValue("associationId"))
	case opTagResource, opUntagResource, opListTags:
		resource = r.PathValue("resourceArn")
	default:
		resource = s.ClusterARN(r.PathValue("name"))
	}
	// Not yet validated: bounded before a refusal echoes it.
	return s.cfg.Authorizer.Authorize(r.Context(), "eks:"+op, truncate(resource, 2048))
}

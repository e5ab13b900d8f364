package server

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/podid/podid/internal/httpx"
	"github.com/podid/podid/internal/store"
)

// Response headers podid sets.
const (
	// HeaderRequestID is on every response (set by the host).
	HeaderRequestID = httpx.HeaderRequestID
	// HeaderRevision is on every successful write to an association or a
	// cluster: the store revision that includes the write. A reader of the
	// change feed that has applied this revision has seen the write.
	HeaderRevision = "X-Podid-Revision"
)

// Operation names, as they appear in logs and idempotency keys.
const (
	opCreateAssociation   = "CreatePodIdentityAssociation"
	opDescribeAssociation = "DescribePodIdentityAssociation"
	opUpdateAssociation   = "UpdatePodIdentityAssociation"
	opDeleteAssociation   = "DeletePodIdentityAssociation"
	opListAssociations    = "ListPodIdentityAssociations"
	opTagResource         = "TagResource"
	opUntagResource       = "UntagResource"
	opListTags            = "ListTagsForResource"
	opCreateCluster       = "CreateCluster"
	opDescribeCluster     = "DescribeCluster"

	opDescribeClusterVersions = "DescribeClusterVersions"
	opCreateAddon             = "CreateAddon"
	opListAddons              = "ListAddons"
	opDescribeAddon           = "DescribeAddon"
	opDeleteAddon             = "DeleteAddon"
	opUpdateAddon             = "UpdateAddon"
	opDescribeAddonVersions   = "DescribeAddonVersions"
	opDeleteCluster           = "DeleteCluster"
	opListClusters            = "ListClusters"
)

// Mount mounts the EKS API's operations on host (family httpx.EKS).
func (s *Server) Mount(host *httpx.Host) error {
	ops := []struct {
		pattern, op string
		fn          httpx.HandlerFunc
	}{
		{"POST /clusters", opCreateCluster, handle(s, opCreateCluster, s.createCluster)},
		{"GET /clusters", opListClusters, handle(s, opListClusters, s.listClusters)},
		{"GET /clusters/{name}", opDescribeCluster, handle(s, opDescribeCluster, s.describeCluster)},
		{"DELETE /clusters/{name}", opDeleteCluster, handle(s, opDeleteCluster, s.deleteCluster)},
		{"GET /cluster-versions", opDescribeClusterVersions, handle(s, opDescribeClusterVersions, s.describeClusterVersions)},

		{"POST /clusters/{name}/addons", opCreateAddon, handle(s, opCreateAddon, s.createAddon)},
		{"GET /clusters/{name}/addons", opListAddons, handle(s, opListAddons, s.listAddons)},
		{"GET /clusters/{name}/addons/{addonName}", opDescribeAddon, handle(s, opDescribeAddon, s.describeAddon)},
		{"DELETE /clusters/{name}/addons/{addonName}", opDeleteAddon, handle(s, opDeleteAddon, s.deleteAddon)},
		{"POST /clusters/{name}/addons/{addonName}/update", opUpdateAddon, handle(s, opUpdateAddon, s.updateAddon)},
		{"GET /addons/supported-versions", opDescribeAddonVersions, handle(s, opDescribeAddonVersions, s.describeAddonVersions)},

		{"POST /clusters/{name}/pod-identity-associations", opCreateAssociation, handle(s, opCreateAssociation, s.createAssociation)},
		{"GET /clusters/{name}/pod-identity-associations", opListAssociations, handle(s, opListAssociations, s.listAssociations)},
		{"GET /clusters/{name}/pod-identity-associations/{associationId}", opDescribeAssociation, handle(s, opDescribeAssociation, s.describeAssociation)},
		{"POST /clusters/{name}/pod-identity-associations/{associationId}", opUpdateAssociation, handle(s, opUpdateAssociation, s.updateAssociation)},
		{"DELETE /clusters/{name}/pod-identity-associations/{associationId}", opDeleteAssociation, handle(s, opDeleteAssociation, s.deleteAssociation)},

		// The SDKs percent-encode the ARN into one path segment; the
		// greedy wildcard also takes an unencoded ARN with its slashes
		// (hand-written curl). PathValue returns it decoded either way.
		{"POST /tags/{resourceArn...}", opTagResource, handle(s, opTagResource, s.tagResource)},
		{"GET /tags/{resourceArn...}", opListTags, handle(s, opListTags, s.listTags)},
		{"DELETE /tags/{resourceArn...}", opUntagResource, handle(s, opUntagResource, s.untagResource)},
	}
	var errs []error
	for _, o := range ops {
		errs = append(errs, host.Handle(o.pattern, httpx.EKS, o.op, o.fn))
	}
	return errors.Join(errs...)
}

// RequestID returns the X-Amzn-RequestId of the request ctx belongs to, or
// "" outside a request (httpx.RequestID).
func RequestID(ctx context.Context) string { return httpx.RequestID(ctx) }

// noInput is the input of operations without a body; their body, if any,
// is not read.
type noInput = httpx.NoInput

// handle adapts an operation to the host: decode the JSON body into In
// (unless In is noInput), authorize, call fn, encode its result, or return
// the error with the resource it is about.
func handle[In, Out any](s *Server, op string, fn func(w http.ResponseWriter, r *http.Request, in *In) (*Out, error)) httpx.HandlerFunc {
	action := "eks:" + op // once, not each request
	return httpx.JSON(func(w http.ResponseWriter, r *http.Request, in *In) (*Out, error) {
		if err := s.authorize(r, op, action, in); err != nil {
			return nil, err
		}
		out, err := fn(w, r, in)
		if err != nil {
			return nil, s.resourceError(r, op, err)
		}
		return out, nil
	})
}

// resourceError says which resource a store error is about, for the
// host's error mapping: the tagged ARN, the association (when its cluster
// exists) or the cluster, and the quota a create hit.
func (s *Server) resourceError(r *http.Request, op string, err error) error {
	var exists *store.ExistsError
	if !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrLimitExceeded) &&
		!errors.Is(err, store.ErrIdempotencyMismatch) && !errors.As(err, &exists) {
		return err
	}
	re := &httpx.ResourceError{Kind: httpx.KindCluster, Cluster: r.PathValue("name"), Err: err}
	if prev := (*httpx.ResourceError)(nil); errors.As(err, &prev) {
		if prev.Kind != httpx.KindCluster {
			return err
		}
		re.Cluster = prev.Cluster
	}
	switch {
	case errors.Is(err, store.ErrNotFound) && (op == opTagResource || op == opUntagResource || op == opListTags):
		return &httpx.ResourceError{Kind: httpx.KindTagged, ARN: r.PathValue("resourceArn"), Err: err}
	case errors.Is(err, store.ErrNotFound) && r.PathValue("associationId") != "":
		if _, cerr := s.store.GetCluster(r.Context(), s.region(r), re.Cluster); cerr == nil {
			re.Kind, re.AssociationID = httpx.KindAssociation, r.PathValue("associationId")
		}
	case errors.Is(err, store.ErrLimitExceeded):
		re.Limit = s.cfg.MaxAssociationsPerCluster
	case errors.As(err, &exists) && op != opCreateCluster:
		re.Kind = httpx.KindAssociation
	}
	return re
}

// setRevision sets X-Podid-Revision on a successful write.
func setRevision(w http.ResponseWriter, rev int64) {
	w.Header().Set(HeaderRevision, strconv.FormatInt(rev, 10))
}

// truncate shortens s to at most n bytes for messages.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

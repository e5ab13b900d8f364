package server

import (
	"net/http"
	"strings"

	"github.com/podid/podid/eksapi"
	"github.com/podid/podid/internal/httpx"
	"github.com/podid/podid/internal/store"
)

// taggable is a resource the tag APIs address: a cluster (id empty) or an
// association.
type taggable struct {
	region  string
	cluster string
	id      string
}

// parseResourceARN resolves a tag API ARN. A string that is not an ARN is a
// BadRequestException; an ARN that cannot name a resource of this server
// (another account, region or resource type, a malformed name) is a
// NotFoundException, as is one that could but does not exist (reported by
// the store). The resource must be region's, the request's: as on AWS,
// each region's endpoint tags its own resources only.
func (s *Server) parseResourceARN(region, arn string) (taggable, error) {
	if arn == "" {
		return taggable{}, badRequest("The parameter resourceArn must not be empty.")
	}
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[1] == "" || parts[2] == "" || parts[5] == "" {
		return taggable{}, badRequest("The parameter resourceArn is not a valid ARN: %q.", truncate(arn, 2048))
	}
	if parts[2] != "eks" {
		return taggable{}, badRequest("The parameter resourceArn is not an Amazon EKS resource ARN: %q.", truncate(arn, 2048))
	}
	notFound := &httpx.ResourceError{Kind: httpx.KindTagged, ARN: arn, Err: store.ErrNotFound}
	resource, ok := strings.CutPrefix(arn, s.names.arnPrefix(region))
	if !ok {
		return taggable{}, notFound
	}
	if name, ok := strings.CutPrefix(resource, "cluster/"); ok {
		if checkClusterName("name", name) != nil {
			return taggable{}, notFound
		}
		return taggable{region: region, cluster: name}, nil
	}
	if rest, ok := strings.CutPrefix(resource, "podidentityassociation/"); ok {
		cluster, id, ok := strings.Cut(rest, "/")
		if !ok || checkClusterName("name", cluster) != nil || checkAssociationID(cluster, id) != nil {
			return taggable{}, notFound
		}
		return taggable{region: region, cluster: cluster, id: id}, nil
	}
	return taggable{}, notFound
}

type emptyOutput struct{}

func (s *Server) tagResource(w http.ResponseWriter, r *http.Request, in *eksapi.TagResourceInput) (*emptyOutput, error) {
	res, err := s.parseResourceARN(s.region(r), r.PathValue("resourceArn"))
	if err != nil {
		return nil, err
	}
	if len(in.Tags) == 0 {
		return nil, badRequest("The parameter tags must contain at least one tag.")
	}
	if p := tagProblem(in.Tags, nil); p != "" {
		return nil, badRequest("%s", p)
	}
	merge := func(tags map[string]string) (map[string]string, error) {
		if p := tagProblem(in.Tags, tags); p != "" {
			return nil, badRequest("%s", p)
		}
		out := copyTags(tags)
		for k, v := range in.Tags {
			out[k] = v
		}
		return out, nil
	}
	rev, err := s.updateTags(r, res, merge)
	if err != nil {
		return nil, err
	}
	setRevision(w, rev)
	return &emptyOutput{}, nil
}

func (s *Server) untagResource(w http.ResponseWriter, r *http.Request, _ *noInput) (*emptyOutput, error) {
	res, err := s.parseResourceARN(s.region(r), r.PathValue("resourceArn"))
	if err != nil {
		return nil, err
	}
	keys := r.URL.Query()["tagKeys"]
	if len(keys) == 0 {
		return nil, badRequest("The parameter tagKeys must contain at least one tag key.")
	}
	if len(keys) > maxTags {
		return nil, badRequest("The parameter tagKeys can contain at most %d tag keys.", maxTags)
	}
	for _, k := range keys {
		if k == "" || len([]rune(k)) > maxTagKeyLen {
			return nil, badRequest("Tag keys must be 1-%d characters long: %q.", maxTagKeyLen, truncate(k, maxTagKeyLen))
		}
		if reservedTagKey(k) {
			return nil, badRequest("Tag keys beginning with \"aws:\" are reserved for AWS use and cannot be removed: %q.", truncate(k, maxTagKeyLen))
		}
	}
	remove := func(tags map[string]string) (map[string]string, error) {
		out := copyTags(tags)
		for _, k := range keys {
			delete(out, k) // removing an absent key is a no-op
		}
		return out, nil
	}
	rev, err := s.updateTags(r, res, remove)
	if err != nil {
		return nil, err
	}
	setRevision(w, rev)
	return &emptyOutput{}, nil
}

// updateTags rewrites a resource's tags in one store transaction and
// returns the write's revision. An association's modifiedAt does not move:
// tags are not association parameters (spec §11.11 [INF]).
func (s *Server) updateTags(r *http.Request, res taggable, edit func(map[string]string) (map[string]string, error)) (int64, error) {
	ctx := r.Context()
	if res.id == "" {
		c, err := s.store.UpdateCluster(ctx, res.region, res.cluster, func(c *store.Cluster) error {
			tags, err := edit(c.Tags)
			c.Tags = tags
			return err
		})
		return c.Revision, err
	}
	a, err := s.store.UpdateAssociation(ctx, res.region, res.cluster, res.id, func(a *store.Association) error {
		tags, err := edit(a.Tags)
		a.Tags = tags
		return err
	}, store.WriteOptions{})
	return a.Revision, err
}

func (s *Server) listTags(w http.ResponseWriter, r *http.Request, _ *noInput) (*eksapi.TagsOutput, error) {
	res, err := s.parseResourceARN(s.region(r), r.PathValue("resourceArn"))
	if err != nil {
		return nil, err
	}
	var tags map[string]string
	if res.id == "" {
		c, err := s.store.GetCluster(r.Context(), res.region, res.cluster)
		if err != nil {
			return nil, err
		}
		tags = c.Tags
	} else {
		a, err := s.store.GetAssociation(r.Context(), res.region, res.cluster, res.id)
		if err != nil {
			return nil, err
		}
		tags = a.Tags
	}
	if tags == nil {
		tags = map[string]string{}
	}
	return &eksapi.TagsOutput{Tags: tags}, nil
}

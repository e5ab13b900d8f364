package server

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/podid/podid/eksapi"
	"github.com/podid/podid/internal/store"
)

func (s *Server) createAssociation(w http.ResponseWriter, r *http.Request, in *eksapi.CreatePodIdentityAssociationInput) (*eksapi.AssociationOutput, error) {
	cluster := r.PathValue("name")
	if err := checkClusterName("clusterName", cluster); err != nil {
		return nil, err
	}
	ns, sa, role := deref(in.Namespace), deref(in.ServiceAccount), deref(in.RoleArn)
	target, policy := deref(in.TargetRoleArn), deref(in.Policy)
	disableTags := in.DisableSessionTags != nil && *in.DisableSessionTags
	if err := checkNamespace(ns); err != nil {
		return nil, err.WithCluster(cluster)
	}
	if err := checkServiceAccount(sa); err != nil {
		return nil, err.WithCluster(cluster)
	}
	if err := s.checkRoleARN("roleArn", role, true); err != nil {
		return nil, err.WithCluster(cluster)
	}
	if target != "" {
		if err := s.checkRoleARN("targetRoleArn", target, false); err != nil {
			return nil, err.WithCluster(cluster)
		}
	}
	if policy != "" {
		if err := checkPolicy(policy); err != nil {
			return nil, err.WithCluster(cluster)
		}
		if !disableTags {
			return nil, errPolicyNeedsNoTags().WithCluster(cluster)
		}
	}
	if p := tagProblem(in.Tags, nil); p != "" {
		return nil, invalidParam("%s", p).WithCluster(cluster)
	}
	if err := checkToken(in.ClientRequestToken); err != nil {
		return nil, err.WithCluster(cluster)
	}

	now := s.nowMillis()
	region := s.region(r)
	a := store.Association{
		Region:             region,
		ID:                 newAssociationID(),
		ClusterName:        cluster,
		Namespace:          ns,
		ServiceAccount:     sa,
		RoleARN:            role,
		Policy:             policy,
		DisableSessionTags: disableTags,
		Tags:               copyTags(in.Tags),
		CreatedAt:          now,
		ModifiedAt:         now,
	}
	if target != "" {
		a.TargetRoleARN = target
		a.ExternalID = s.externalID(region, cluster, ns, sa)
	}
	opts := store.WriteOptions{MaxPerCluster: s.cfg.MaxAssociationsPerCluster}
	if tok := deref(in.ClientRequestToken); tok != "" {
		// The parameters as they take effect: an absent member and its
		// default are the same request.
		params := struct {
			Namespace, ServiceAccount, RoleArn, TargetRoleArn, Policy string
			DisableSessionTags                                        bool
			Tags                                                      map[string]string
		}{ns, sa, role, target, policy, disableTags, a.Tags}
		opts.Idempotency = idempotency(opCreateAssociation, region, cluster, tok, params)
	}
	got, err := s.store.CreateAssociation(r.Context(), a, opts)
	if err != nil {
		return nil, err
	}
	setRevision(w, got.Revision)
	return &s.associationOutput(got).out, nil
}

func (s *Server) describeAssociation(w http.ResponseWriter, r *http.Request, _ *noInput) (*eksapi.AssociationOutput, error) {
	cluster, id, perr := associationPath(r)
	if perr != nil {
		return nil, perr
	}
	a, err := s.store.GetAssociation(r.Context(), s.region(r), cluster, id)
	if err != nil {
		return nil, err
	}
	return &s.associationOutput(a).out, nil
}

func (s *Server) updateAssociation(w http.ResponseWriter, r *http.Request, in *eksapi.UpdatePodIdentityAssociationInput) (*eksapi.AssociationOutput, error) {
	cluster, id, perr := associationPath(r)
	if perr != nil {
		return nil, perr
	}
	if in.RoleArn == nil && in.TargetRoleArn == nil && in.DisableSessionTags == nil && in.Policy == nil {
		return nil, invalidParam("An update must change at least one of roleArn, targetRoleArn, disableSessionTags and policy.").WithCluster(cluster)
	}
	if in.RoleArn != nil {
		if err := s.checkRoleARN("roleArn", *in.RoleArn, true); err != nil {
			return nil, err.WithCluster(cluster)
		}
	}
	if in.TargetRoleArn != nil && *in.TargetRoleArn != "" {
		if err := s.checkRoleARN("targetRoleArn", *in.TargetRoleArn, false); err != nil {
			return nil, err.WithCluster(cluster)
		}
	}
	if in.Policy != nil && *in.Policy != "" {
		if err := checkPolicy(*in.Policy); err != nil {
			return nil, err.WithCluster(cluster)
		}
	}
	if err := checkToken(in.ClientRequestToken); err != nil {
		return nil, err.WithCluster(cluster)
	}
	var opts store.WriteOptions
	if tok := deref(in.ClientRequestToken); tok != "" {
		var buf [512]byte
		opts.Idempotency = idempotencyOf(opUpdateAssociation, s.region(r), cluster, tok, appendUpdateParams(buf[:0], id, in))
	}
	now := s.nowMillis()
	got, err := s.store.UpdateAssociation(r.Context(), s.region(r), cluster, id, func(a *store.Association) error {
		return s.applyUpdate(a, in, now)
	}, opts)
	if err != nil {
		return nil, err
	}
	setRevision(w, got.Revision)
	return &s.associationOutput(got).out, nil
}

// applyUpdate applies an UpdatePodIdentityAssociation request to a: absent
// members stay, "" clears targetRoleArn (with externalId) and policy. The
// result must differ from a and keep policy ⇒ disableSessionTags.
func (s *Server) applyUpdate(a *store.Association, in *eksapi.UpdatePodIdentityAssociationInput, now time.Time) error {
	before := *a
	if in.RoleArn != nil {
		a.RoleARN = *in.RoleArn
	}
	if in.TargetRoleArn != nil {
		a.TargetRoleARN = *in.TargetRoleArn
		a.ExternalID = ""
		if a.TargetRoleARN != "" {
			a.ExternalID = s.externalID(a.Region, a.ClusterName, a.Namespace, a.ServiceAccount)
		}
	}
	if in.DisableSessionTags != nil {
		a.DisableSessionTags = *in.DisableSessionTags
	}
	if in.Policy != nil {
		a.Policy = *in.Policy
	}
	if a.Policy != "" && !a.DisableSessionTags {
		return errPolicyNeedsNoTags().WithCluster(a.ClusterName)
	}
	if a.RoleARN == before.RoleARN && a.TargetRoleARN == before.TargetRoleARN &&
		a.DisableSessionTags == before.DisableSessionTags && a.Policy == before.Policy {
		return invalidParam("The update does not change association %s: roleArn, targetRoleArn, disableSessionTags and policy already have the requested values.", a.ID).WithCluster(a.ClusterName)
	}
	// modifiedAt moves on every update, even within one millisecond.
	a.ModifiedAt = now
	if prev := before.ModifiedAt.Truncate(time.Millisecond); !now.After(prev) {
		a.ModifiedAt = prev.Add(time.Millisecond)
	}
	return nil
}

func errPolicyNeedsNoTags() *eksapi.Error {
	return invalidParam("disableSessionTags must be set to true when a policy is specified.")
}

func (s *Server) deleteAssociation(w http.ResponseWriter, r *http.Request, _ *noInput) (*eksapi.AssociationOutput, error) {
	cluster, id, perr := associationPath(r)
	if perr != nil {
		return nil, perr
	}
	a, err := s.store.DeleteAssociation(r.Context(), s.region(r), cluster, id)
	if err != nil {
		return nil, err
	}
	setRevision(w, a.Revision)
	return &s.associationOutput(a).out, nil
}

func (s *Server) listAssociations(w http.ResponseWriter, r *http.Request, _ *noInput) (*eksapi.ListPodIdentityAssociationsOutput, error) {
	cluster := r.PathValue("name")
	if err := checkClusterName("clusterName", cluster); err != nil {
		return nil, err
	}
	q := r.URL.Query()
	limit, perr := maxResultsParam(q)
	if perr != nil {
		return nil, perr.WithCluster(cluster)
	}
	f := store.AssociationFilter{Namespace: q.Get("namespace"), ServiceAccount: q.Get("serviceAccount")}
	region := s.region(r)
	scope := pageScope(opListAssociations, region, cluster, f.Namespace, f.ServiceAccount)
	after, err := s.decodePageToken(r.Context(), scope, q.Get("nextToken"))
	if err != nil {
		return nil, withCluster(err, cluster)
	}
	items, next, err := s.store.ListAssociations(r.Context(), region, cluster, f, store.Page{After: after, Limit: limit})
	if err != nil {
		return nil, err
	}
	out := &eksapi.ListPodIdentityAssociationsOutput{Associations: make([]eksapi.PodIdentityAssociationSummary, 0, len(items))}
	for _, a := range items {
		out.Associations = append(out.Associations, eksapi.PodIdentityAssociationSummary{
			ClusterName:    a.ClusterName,
			Namespace:      a.Namespace,
			ServiceAccount: a.ServiceAccount,
			AssociationArn: s.AssociationARN(a.Region, a.ClusterName, a.ID),
			AssociationId:  a.ID,
			OwnerArn:       a.OwnerARN,
		})
	}
	if next != "" {
		if out.NextToken, err = s.encodePageToken(r.Context(), scope, next); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// associationPath validates the {name} and {associationId} path labels.
func associationPath(r *http.Request) (cluster, id string, err *eksapi.Error) {
	cluster, id = r.PathValue("name"), r.PathValue("associationId")
	if err := checkClusterName("clusterName", cluster); err != nil {
		return "", "", err
	}
	if err := checkAssociationID(cluster, id); err != nil {
		return "", "", err
	}
	return cluster, id, nil
}

// associationAnswer is the answer of the operations that return one
// association (Create, Describe, Update, Delete) and what it points to,
// allocated together: one allocation where each pointer would be one of
// its own.
type associationAnswer struct {
	out               eksapi.AssociationOutput
	shape             eksapi.PodIdentityAssociation
	created, modified eksapi.Time
	disable           bool
}

// associationOutput is a stored association's answer, the association on
// the wire (spec §3.1): tags always present ({}), disableSessionTags
// always present.
func (s *Server) associationOutput(a store.Association) *associationAnswer {
	tags := a.Tags
	if tags == nil {
		tags = map[string]string{}
	}
	ans := &associationAnswer{
		created:  eksapi.NewTime(a.CreatedAt),
		modified: eksapi.NewTime(a.ModifiedAt),
		disable:  a.DisableSessionTags,
	}
	ans.shape = eksapi.PodIdentityAssociation{
		ClusterName:        a.ClusterName,
		Namespace:          a.Namespace,
		ServiceAccount:     a.ServiceAccount,
		RoleArn:            a.RoleARN,
		AssociationArn:     s.AssociationARN(a.Region, a.ClusterName, a.ID),
		AssociationId:      a.ID,
		Tags:               tags,
		CreatedAt:          &ans.created,
		ModifiedAt:         &ans.modified,
		OwnerArn:           a.OwnerARN,
		DisableSessionTags: &ans.disable,
		TargetRoleArn:      a.TargetRoleARN,
		ExternalId:         a.ExternalID,
		Policy:             a.Policy,
	}
	ans.out.Association = &ans.shape
	return ans
}

const idAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// newAssociationID returns "a-" and 17 characters of [a-z0-9] from
// crypto/rand, uniformly (bytes >= 252 are rejected to avoid modulo bias).
func newAssociationID() string {
	id := make([]byte, 2, associationIDLen)
	copy(id, "a-")
	var buf [32]byte
	for len(id) < associationIDLen {
		rand.Read(buf[:])
		for _, b := range buf {
			if b >= 252 || len(id) == associationIDLen {
				continue
			}
			id = append(id, idAlphabet[b%36])
		}
	}
	return string(id)
}

// idempotency builds the store's replay key for a client request token:
// scoped by operation, region, cluster and token, with a digest of the
// request's other parameters (their json.Marshal encoding).
func idempotency(op, region, cluster, token string, params any) *store.Idempotency {
	b, err := json.Marshal(params)
	if err != nil { // plain strings, bools and maps: cannot happen
		b = fmt.Appendf(nil, "%#v", params)
	}
	return idempotencyOf(op, region, cluster, token, b)
}

// idempotencyOf is idempotency of the parameters' encoding.
func idempotencyOf(op, region, cluster, token string, params []byte) *store.Idempotency {
	sum := sha256.Sum256(params)
	var h [2 * sha256.Size]byte
	hex.Encode(h[:], sum[:])
	return &store.Idempotency{Key: op + "/" + region + "/" + cluster + "/" + token, Hash: string(h[:])}
}

// appendUpdateParams appends what an Update's idempotency digest covers:
// json.Marshal of struct{ID string; eksapi.UpdatePodIdentityAssociationInput}
// with no client request token, byte for byte (digests stored before must
// still match a retry), without its reflection.
func appendUpdateParams(b []byte, id string, in *eksapi.UpdatePodIdentityAssociationInput) []byte {
	o := eksapi.JSONObject{B: append(b, '{')}
	o.Str("ID", id, false)
	optStr := func(k string, v *string) {
		if v != nil {
			o.Str(k, *v, false)
		}
	}
	optStr("roleArn", in.RoleArn)
	if in.DisableSessionTags != nil {
		o.Key("disableSessionTags")
		o.B = strconv.AppendBool(o.B, *in.DisableSessionTags)
	}
	optStr("targetRoleArn", in.TargetRoleArn)
	optStr("policy", in.Policy)
	return append(o.B, '}')
}

func (s *Server) nowMillis() time.Time {
	return s.now().UTC().Truncate(time.Millisecond)
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func copyTags(tags map[string]string) map[string]string {
	out := make(map[string]string, len(tags))
	for k, v := range tags {
		out[k] = v
	}
	return out
}

// withCluster sets the clusterName member of an AWS error.
func withCluster(err error, cluster string) error {
	if ae, ok := err.(*eksapi.Error); ok {
		return ae.WithCluster(cluster)
	}
	return err
}

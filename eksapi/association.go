package eksapi

import (
	"encoding/json"
	"net/url"
	"strconv"
)

// The outputs of the four single-association operations share one shape,
// {"association": PodIdentityAssociation}.
type (
	CreatePodIdentityAssociationOutput   = AssociationOutput
	DescribePodIdentityAssociationOutput = AssociationOutput
	DeletePodIdentityAssociationOutput   = AssociationOutput
)

// Operation names, used as the root of XML response documents
// (<UpdatePodIdentityAssociationResponse>).
const (
	OpCreatePodIdentityAssociation   = "CreatePodIdentityAssociation"
	OpDescribePodIdentityAssociation = "DescribePodIdentityAssociation"
	OpUpdatePodIdentityAssociation   = "UpdatePodIdentityAssociation"
	OpDeletePodIdentityAssociation   = "DeletePodIdentityAssociation"
	OpListPodIdentityAssociations    = "ListPodIdentityAssociations"
)

// NewAssociationOutput returns the output {"association": a} of Create,
// Describe, Update or Delete PodIdentityAssociation. a may be nil (no
// association member).
func NewAssociationOutput(a *PodIdentityAssociation) *AssociationOutput {
	return &AssociationOutput{Association: a}
}

// NewUpdatePodIdentityAssociationOutput returns the UpdatePodIdentityAssociation
// output {"association": a}; a may be nil.
func NewUpdatePodIdentityAssociationOutput(a *PodIdentityAssociation) *UpdatePodIdentityAssociationOutput {
	return NewAssociationOutput(a)
}

// NewListPodIdentityAssociationsOutput returns a List page. A nil items is
// sent as "associations":[]; an empty nextToken marks the last page and is
// omitted.
func NewListPodIdentityAssociationsOutput(items []PodIdentityAssociationSummary, nextToken string) *ListPodIdentityAssociationsOutput {
	if items == nil {
		items = []PodIdentityAssociationSummary{}
	}
	return &ListPodIdentityAssociationsOutput{Associations: items, NextToken: nextToken}
}

// Summary returns the List item for a: its identifying members only.
func (a *PodIdentityAssociation) Summary() PodIdentityAssociationSummary {
	return PodIdentityAssociationSummary{
		ClusterName:    a.ClusterName,
		Namespace:      a.Namespace,
		ServiceAccount: a.ServiceAccount,
		AssociationArn: a.AssociationArn,
		AssociationId:  a.AssociationId,
		OwnerArn:       a.OwnerArn,
	}
}

// parseJSON decodes one JSON document into a new T. Like the SDK it skips
// unknown members and treats null members as absent.
func parseJSON[T any](data []byte) (*T, error) {
	v := new(T)
	if err := json.Unmarshal(data, v); err != nil {
		return nil, err
	}
	return v, nil
}

// ParseAssociationOutput decodes the JSON body of a Create, Describe, Update
// or Delete PodIdentityAssociation response. To parse a string s, pass
// []byte(s).
func ParseAssociationOutput(data []byte) (*AssociationOutput, error) {
	return parseJSON[AssociationOutput](data)
}

// ParseUpdatePodIdentityAssociationOutput decodes the JSON body of an
// UpdatePodIdentityAssociation response.
func ParseUpdatePodIdentityAssociationOutput(data []byte) (*UpdatePodIdentityAssociationOutput, error) {
	return ParseAssociationOutput(data)
}

// ParseListPodIdentityAssociationsOutput decodes the JSON body of a
// ListPodIdentityAssociations response.
func ParseListPodIdentityAssociationsOutput(data []byte) (*ListPodIdentityAssociationsOutput, error) {
	return parseJSON[ListPodIdentityAssociationsOutput](data)
}

// ParsePodIdentityAssociation decodes one association object.
func ParsePodIdentityAssociation(data []byte) (*PodIdentityAssociation, error) {
	return parseJSON[PodIdentityAssociation](data)
}

// ParseClusterOutput decodes the JSON body of a Create, Describe or Delete
// Cluster response.
func ParseClusterOutput(data []byte) (*ClusterOutput, error) {
	return parseJSON[ClusterOutput](data)
}

// fieldVisitor receives the members of a shape by JSON name; it is how the
// query and value forms walk a shape.
type fieldVisitor interface {
	str(name, v string) // called only for set (non-empty) strings
	boolean(name string, v bool)
	time(name string, v Time)
	tags(name string, m map[string]string) // called only for a non-nil map
}

func (a *PodIdentityAssociation) visit(v fieldVisitor) {
	// The order of members does not matter to the forms that visit them.
	s := a.Summary()
	s.visit(v)
	visitStr(v, "roleArn", a.RoleArn)
	if a.Tags != nil {
		v.tags("tags", a.Tags)
	}
	if a.CreatedAt != nil {
		v.time("createdAt", *a.CreatedAt)
	}
	if a.ModifiedAt != nil {
		v.time("modifiedAt", *a.ModifiedAt)
	}
	if a.DisableSessionTags != nil {
		v.boolean("disableSessionTags", *a.DisableSessionTags)
	}
	visitStr(v, "targetRoleArn", a.TargetRoleArn)
	visitStr(v, "externalId", a.ExternalId)
	visitStr(v, "policy", a.Policy)
}

func (s *PodIdentityAssociationSummary) visit(v fieldVisitor) {
	visitStr(v, "clusterName", s.ClusterName)
	visitStr(v, "namespace", s.Namespace)
	visitStr(v, "serviceAccount", s.ServiceAccount)
	visitStr(v, "associationArn", s.AssociationArn)
	visitStr(v, "associationId", s.AssociationId)
	visitStr(v, "ownerArn", s.OwnerArn)
}

func visitStr(v fieldVisitor, name, s string) {
	if s != "" {
		v.str(name, s)
	}
}

// queryWriter writes members in the AWS query form under a prefix.
type queryWriter struct {
	q      url.Values
	prefix string // "" or "Association."
}

func (w queryWriter) key(name string) string      { return w.prefix + queryName(name) }
func (w queryWriter) str(name, v string)          { w.q.Set(w.key(name), v) }
func (w queryWriter) boolean(name string, v bool) { w.q.Set(w.key(name), strconv.FormatBool(v)) }
func (w queryWriter) time(name string, v Time)    { w.q.Set(w.key(name), formatISO(v)) }
func (w queryWriter) tags(name string, m map[string]string) {
	for i, k := range sortedKeys(m) {
		entry := w.key(name) + ".entry." + strconv.Itoa(i+1) + "."
		w.q.Set(entry+"key", k)
		w.q.Set(entry+"value", m[k])
	}
}

// valueWriter writes members into a JSON-like tree.
type valueWriter map[string]any

func (w valueWriter) str(name, v string)          { w[name] = v }
func (w valueWriter) boolean(name string, v bool) { w[name] = v }
func (w valueWriter) time(name string, v Time)    { w[name] = float64(v.UnixMilli()) / 1e3 }
func (w valueWriter) tags(name string, m map[string]string) {
	t := make(map[string]any, len(m))
	for k, v := range m {
		t[k] = v
	}
	w[name] = t
}

// ToQuery returns a in the AWS query form: members by their capitalised
// names (ClusterName=c1), tags as Tags.entry.N.key / Tags.entry.N.value in
// key order, booleans true/false, timestamps ISO 8601 in UTC.
func (a *PodIdentityAssociation) ToQuery() url.Values {
	q := url.Values{}
	a.visit(queryWriter{q: q})
	return q
}

// ToQuery returns s in the AWS query form.
func (s *PodIdentityAssociationSummary) ToQuery() url.Values {
	q := url.Values{}
	s.visit(queryWriter{q: q})
	return q
}

// ToQuery returns o in the AWS query form: Association.ClusterName=... .
func (o *AssociationOutput) ToQuery() url.Values {
	q := url.Values{}
	if o.Association != nil {
		o.Association.visit(queryWriter{q: q, prefix: "Association."})
	}
	return q
}

// ToQuery returns o in the AWS query form: Associations.member.N.ClusterName
// (N from 1) and NextToken.
func (o *ListPodIdentityAssociationsOutput) ToQuery() url.Values {
	q := url.Values{}
	for i := range o.Associations {
		o.Associations[i].visit(queryWriter{q: q, prefix: "Associations.member." + strconv.Itoa(i+1) + "."})
	}
	if o.NextToken != "" {
		q.Set("NextToken", o.NextToken)
	}
	return q
}

// ToValue returns a as the JSON-like tree of its wire form, the value
// encoding/json decodes its JSON into: strings, bools, float64 epoch
// seconds for timestamps, map[string]any for objects and tags.
func (a *PodIdentityAssociation) ToValue() map[string]any {
	w := valueWriter{}
	a.visit(w)
	if a.Tags == nil {
		w["tags"] = nil // the wire form writes "tags":null
	}
	return w
}

// ToValue returns s as a JSON-like tree.
func (s *PodIdentityAssociationSummary) ToValue() map[string]any {
	w := valueWriter{}
	s.visit(w)
	return w
}

// ToValue returns o as a JSON-like tree.
func (o *AssociationOutput) ToValue() map[string]any {
	v := map[string]any{}
	if o.Association != nil {
		v["association"] = o.Association.ToValue()
	}
	return v
}

// ToValue returns o as a JSON-like tree; associations is a []any (nil
// Associations gives nil, as the wire form writes null).
func (o *ListPodIdentityAssociationsOutput) ToValue() map[string]any {
	var items []any
	if o.Associations != nil {
		items = make([]any, len(o.Associations))
		for i := range o.Associations {
			items[i] = o.Associations[i].ToValue()
		}
	}
	v := map[string]any{"associations": nil}
	if items != nil {
		v["associations"] = items
	}
	if o.NextToken != "" {
		v["nextToken"] = o.NextToken
	}
	return v
}

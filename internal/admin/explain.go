package admin

import (
	"context"
	"fmt"
	"net/http"

	"github.com/google/uuid"

	"github.com/podid/podid/eksapi"
	"github.com/podid/podid/internal/authz"
	"github.com/podid/podid/internal/eksauth"
	"github.com/podid/podid/internal/httpx"
	"github.com/podid/podid/internal/iam/enforce"
	"github.com/podid/podid/internal/store"
)

// ExplainPath is the explain endpoint (POST).
const ExplainPath = Prefix + "explain"

// Explainer decides a pod's credential request without making it
// (*enforce.Enforcer).
type Explainer interface {
	ExplainPodIdentity(ctx context.Context, r enforce.PodRequest) (enforce.Explanation, error)
}

// ExplainInput is a pod's credential request to explain: the cluster and
// either the association or the pod's namespace and service account (the
// association EKS Auth would find for them), and the pod (default names
// when left out; they only fill the session tags).
type ExplainInput struct {
	ClusterName    string `json:"clusterName"`
	AssociationID  string `json:"associationId,omitempty"`
	Namespace      string `json:"namespace,omitempty"`
	ServiceAccount string `json:"serviceAccount,omitempty"`
	PodName        string `json:"podName,omitempty"`
	PodUID         string `json:"podUid,omitempty"`
}

// ExplainOutput is the answer: enforce.Explanation's fields, the
// association, and the server's --iam mode (with "off", the answer is what
// enforcement would decide; requests are not refused).
type ExplainOutput struct {
	enforce.Explanation
	AssociationID string `json:"associationId"`
	IAM           string `json:"iam"`
}

func (h *Handler) explain(r *http.Request) (any, error) {
	var in ExplainInput
	if err := httpx.DecodeJSON(r, &in); err != nil {
		return nil, err
	}
	if in.ClusterName == "" || (in.AssociationID == "" && (in.Namespace == "" || in.ServiceAccount == "")) {
		return nil, invalidParameter("clusterName and either associationId or namespace and serviceAccount are required.")
	}
	region := h.region(r)
	resource := h.cfg.ClusterARN(region, in.ClusterName)
	if in.AssociationID != "" {
		resource = h.cfg.AssociationARN(region, in.ClusterName, in.AssociationID)
	}
	if err := h.authorize(r, authz.ActionExplain, resource); err != nil {
		return nil, err
	}
	if h.cfg.Explainer == nil {
		return nil, invalidParameter("This server does not evaluate IAM policies.")
	}
	a, err := h.association(r.Context(), region, in)
	if err != nil {
		return nil, err
	}
	if in.PodName == "" {
		in.PodName = a.ServiceAccount + "-pod"
	}
	if in.PodUID == "" {
		in.PodUID = uuid.NewString()
	}
	clusterARN := h.cfg.ClusterARN(region, in.ClusterName)
	req := enforce.PodRequest{
		ClusterARN: clusterARN, RoleARN: a.RoleARN, TargetRoleARN: a.TargetRoleARN, ExternalID: a.ExternalID,
		SessionName: eksauth.SessionName(in.ClusterName, in.PodName, uuid.NewString()),
	}
	if !a.DisableSessionTags {
		req.Tags = eksauth.SessionTags(clusterARN, in.ClusterName, a.Namespace, a.ServiceAccount, in.PodName, in.PodUID)
	}
	x, err := h.cfg.Explainer.ExplainPodIdentity(r.Context(), req)
	if err != nil {
		return nil, err
	}
	return ExplainOutput{Explanation: x, AssociationID: a.ID, IAM: h.cfg.IAMMode}, nil
}

// association finds the association an explain input names.
func (h *Handler) association(ctx context.Context, region string, in ExplainInput) (store.Association, error) {
	if in.AssociationID != "" {
		a, err := h.cfg.Store.GetAssociation(ctx, region, in.ClusterName, in.AssociationID)
		if err != nil {
			return a, &httpx.ResourceError{Kind: httpx.KindAssociation, Cluster: in.ClusterName, AssociationID: in.AssociationID, Err: err}
		}
		return a, nil
	}
	items, _, err := h.cfg.Store.ListAssociations(ctx, region, in.ClusterName,
		store.AssociationFilter{Namespace: in.Namespace, ServiceAccount: in.ServiceAccount}, store.Page{Limit: 1})
	if err != nil {
		return store.Association{}, &httpx.ResourceError{Kind: httpx.KindCluster, Cluster: in.ClusterName, Err: err}
	}
	if len(items) == 0 {
		return store.Association{}, eksapi.NewError(eksapi.CodeResourceNotFound, fmt.Sprintf(
			"No Pod Identity Association found for cluster %s, namespace %s and service account %s.",
			in.ClusterName, in.Namespace, in.ServiceAccount))
	}
	return items[0], nil
}

package webhook

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"

	"github.com/podid/podid/eksapi"
	"github.com/podid/podid/internal/admin"
)

// ServiceAccount names a Kubernetes service account.
type ServiceAccount struct {
	Namespace, Name string
}

// EKSLister is the part of the EKS API the webhook calls (*eks.Client).
type EKSLister interface {
	ListPodIdentityAssociations(ctx context.Context, in *eks.ListPodIdentityAssociationsInput, opts ...func(*eks.Options)) (*eks.ListPodIdentityAssociationsOutput, error)
}

// Podid is the webhook's client of podid: the cluster's associations
// through the EKS API, and podid's revision in effect through its admin
// API (GET /podid/v1/wait).
type Podid struct {
	// EKS lists associations; Cluster is the cluster whose.
	EKS     EKSLister
	Cluster string
	// Admin asks podid for its revision in effect.
	Admin *admin.Client
}

// errWaitTimeout: podid answered the wait with RequestTimeoutException.
var errWaitTimeout = errors.New("revision not in effect before the timeout")

// ServiceAccounts lists the service accounts that have an association in
// the cluster.
func (p *Podid) ServiceAccounts(ctx context.Context) (map[ServiceAccount]bool, error) {
	out := map[ServiceAccount]bool{}
	pages := eks.NewListPodIdentityAssociationsPaginator(p.EKS, &eks.ListPodIdentityAssociationsInput{
		ClusterName: aws.String(p.Cluster), MaxResults: aws.Int32(100),
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("listing the pod identity associations of cluster %s: %w", p.Cluster, err)
		}
		for _, a := range page.Associations {
			out[ServiceAccount{aws.ToString(a.Namespace), aws.ToString(a.ServiceAccount)}] = true
		}
	}
	return out, nil
}

// HasAssociation asks whether sa has an association in the cluster.
func (p *Podid) HasAssociation(ctx context.Context, sa ServiceAccount) (bool, error) {
	out, err := p.EKS.ListPodIdentityAssociations(ctx, &eks.ListPodIdentityAssociationsInput{
		ClusterName: aws.String(p.Cluster), Namespace: aws.String(sa.Namespace), ServiceAccount: aws.String(sa.Name),
		MaxResults: aws.Int32(1),
	})
	if err != nil {
		return false, fmt.Errorf("listing the pod identity associations of %s/%s in cluster %s: %w", sa.Namespace, sa.Name, p.Cluster, err)
	}
	return len(out.Associations) > 0, nil
}

// Wait returns podid's revision in effect for credential requests once
// it is at least revision, waiting up to timeout (errWaitTimeout after).
// Wait(ctx, 0, ...) answers at once: it reads the revision in effect.
func (p *Podid) Wait(ctx context.Context, revision int64, timeout time.Duration) (int64, error) {
	out, err := p.Admin.Wait(ctx, admin.WaitInput{Revision: revision}, timeout)
	if ue, ok := errors.AsType[*eksapi.UnknownError](err); ok && ue.Code == admin.CodeRequestTimeout {
		return 0, errWaitTimeout
	}
	if err != nil {
		return 0, fmt.Errorf("podid's wait: %w", err)
	}
	return out.Revision, nil
}

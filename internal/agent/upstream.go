package agent

import (
	"context"
	"errors"
	"time"

	"github.com/podid/podid/eksapi"
	"github.com/podid/podid/internal/agent/eksauthclient"
)

// AssumeRoler calls EKS Auth's AssumeRoleForPodIdentity;
// *eksauthclient.Client is one.
type AssumeRoler interface {
	AssumeRoleForPodIdentity(ctx context.Context, clusterName, token string) (*eksapi.AssumeRoleForPodIdentityOutput, error)
}

// Upstream is the Source that asks EKS Auth.
type Upstream struct {
	// Client calls EKS Auth.
	Client AssumeRoler
	// Metrics, if set, records call latency.
	Metrics *Metrics
}

// Credentials implements Source.
func (u *Upstream) Credentials(ctx context.Context, req Request) (*Credentials, error) {
	start := time.Now()
	out, err := u.Client.AssumeRoleForPodIdentity(ctx, req.Cluster, req.Token)
	outcome := "ok"
	if err != nil {
		outcome = "error"
		var e *eksauthclient.Error
		if errors.As(err, &e) && e.Fault != "unknown" { // bounded label values
			outcome = e.Code
		}
	}
	u.Metrics.upstreamCall(outcome, time.Since(start))
	if err != nil {
		return nil, err
	}
	if err := eksauthclient.Validate(out); err != nil {
		return nil, err
	}
	acct, err := eksauthclient.AccountID(out)
	if err != nil {
		return nil, err
	}
	c := out.Credentials
	return NewCredentials(c.AccessKeyId, c.SecretAccessKey, c.SessionToken, acct, c.Expiration.Time), nil
}

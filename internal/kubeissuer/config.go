package kubeissuer

import (
	"context"
	"encoding/base64"
	"fmt"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/podid/podid/internal/admin"
)

// ClientConfig is the configuration to reach the API server with: from
// the kubeconfig file (its context kubeContext, or its current one) when
// kubeconfig is set, else the in-cluster configuration of a pod (its
// service account token and the cluster's CA).
func ClientConfig(kubeconfig, kubeContext string) (*rest.Config, error) {
	if kubeconfig == "" {
		cfg, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("no --kubeconfig and not in a cluster: %w", err)
		}
		return cfg, nil
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: kubeconfig},
		&clientcmd.ConfigOverrides{CurrentContext: kubeContext},
	).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("loading kubeconfig %s: %w", kubeconfig, err)
	}
	return cfg, nil
}

// Doc is the admin API's issuer document for iss: an external issuer with
// static keys, and the API server's endpoint and CA.
func (i Issuer) Doc() admin.IssuerDoc {
	d := admin.IssuerDoc{IssuerURL: i.URL, JWKS: i.JWKS, APIServerEndpoint: i.Endpoint}
	if len(i.CAData) > 0 {
		d.CertificateAuthorityData = base64.StdEncoding.EncodeToString(i.CAData)
	}
	return d
}

// AdminRecord records issuers for cluster through podid's admin API.
func AdminRecord(c *admin.Client, cluster string) Record {
	return func(ctx context.Context, iss Issuer) error {
		if _, err := c.SetIssuer(ctx, cluster, iss.Doc()); err != nil {
			return fmt.Errorf("recording cluster %s's issuer in podid: %w", cluster, err)
		}
		return nil
	}
}

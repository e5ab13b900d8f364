package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
)

const (
	benchRegion  = "us-east-1"
	benchAccount = "000000000000"
	roleA        = "arn:aws:iam::000000000000:role/bench-a"
	roleB        = "arn:aws:iam::000000000000:role/bench-b"
)

// newEKS returns the Go SDK client every measurement uses, with the same
// settings for every target: static credentials (so requests are SigV4
// signed as in real use), no retries (an error is an error), and enough
// idle keep-alive connections for every worker.
func newEKS(url string, workers int) *eks.Client {
	hc := awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConns = 2 * workers
		t.MaxIdleConnsPerHost = 2 * workers
		t.MaxConnsPerHost = 0
		t.IdleConnTimeout = 90 * time.Second
	}).WithTimeout(60 * time.Second)
	return eks.New(eks.Options{
		Region:       benchRegion,
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDPODIDBENCH", "podid-bench-secret", ""),
		HTTPClient:   hc,
		Retryer:      aws.NopRetryer{},
	})
}

// createCluster creates a minimal cluster (podid and moto accept the same
// request).
func createCluster(ctx context.Context, c *eks.Client, name string) error {
	_, err := c.CreateCluster(ctx, &eks.CreateClusterInput{
		Name:    aws.String(name),
		RoleArn: aws.String("arn:aws:iam::000000000000:role/eks"),
		ResourcesVpcConfig: &ekstypes.VpcConfigRequest{
			SubnetIds: []string{"subnet-1", "subnet-2"},
		},
	})
	if err != nil {
		return fmt.Errorf("creating cluster %s: %w", name, err)
	}
	return nil
}

// createAssociation creates namespace/sa-<i> in cluster and returns its ID.
func createAssociation(ctx context.Context, c *eks.Client, cluster, namespace string, i int) (string, error) {
	out, err := c.CreatePodIdentityAssociation(ctx, &eks.CreatePodIdentityAssociationInput{
		ClusterName:    aws.String(cluster),
		Namespace:      aws.String(namespace),
		ServiceAccount: aws.String(fmt.Sprintf("sa-%d", i)),
		RoleArn:        aws.String(roleA),
	})
	if err != nil {
		return "", fmt.Errorf("creating association %s/%s/sa-%d: %w", cluster, namespace, i, err)
	}
	return aws.ToString(out.Association.AssociationId), nil
}

// rawCall sends one unsigned request and returns the response body, for
// capturing the exact bytes podid answers with.
func rawCall(ctx context.Context, method, url, body string) ([]byte, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return doOK(http.DefaultClient, req)
}

// doOK sends req with hc and returns the body of a 200 response (up to
// 1 MiB); any other status is an error with the body.
func doOK(hc *http.Client, req *http.Request) ([]byte, error) {
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s %s: %s: %s", req.Method, req.URL, resp.Status, b)
	}
	return b, nil
}

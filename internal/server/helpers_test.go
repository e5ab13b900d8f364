package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

const (
	account = "000000000000"
	role1   = "arn:aws:iam::000000000000:role/pod-role-1"
	role2   = "arn:aws:iam::000000000000:role/team/pod-role-2"
	target1 = "arn:aws:iam::111122223333:role/target-1"
	policy1 = `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}`
)

func createCluster(t testing.TB, c *eks.Client, name string) *types.Cluster {
	t.Helper()
	out, err := c.CreateCluster(context.Background(), &eks.CreateClusterInput{
		Name:               aws.String(name),
		RoleArn:            aws.String("arn:aws:iam::000000000000:role/eks-cluster"),
		ResourcesVpcConfig: &types.VpcConfigRequest{SubnetIds: []string{"subnet-1", "subnet-2"}},
	})
	if err != nil {
		t.Fatalf("CreateCluster(%s): %v", name, err)
	}
	return out.Cluster
}

func createAssoc(t testing.TB, c *eks.Client, cluster, ns, sa string, edit ...func(*eks.CreatePodIdentityAssociationInput)) *types.PodIdentityAssociation {
	t.Helper()
	in := &eks.CreatePodIdentityAssociationInput{
		ClusterName:    aws.String(cluster),
		Namespace:      aws.String(ns),
		ServiceAccount: aws.String(sa),
		RoleArn:        aws.String(role1),
	}
	for _, e := range edit {
		e(in)
	}
	out, err := c.CreatePodIdentityAssociation(context.Background(), in)
	if err != nil {
		t.Fatalf("CreatePodIdentityAssociation(%s/%s/%s): %v", cluster, ns, sa, err)
	}
	return out.Association
}

// wantAPIError checks that err is the SDK's typed error T (a pointer type
// like *types.ResourceInUseException) with a message containing msg.
func wantAPIError[T smithy.APIError](t *testing.T, err error, msg string) T {
	t.Helper()
	var target T
	if !errors.As(err, &target) {
		t.Fatalf("error = %v (%T), want %T", err, err, target)
	}
	if !strings.Contains(target.ErrorMessage(), msg) {
		t.Errorf("error message = %q, want it to contain %q", target.ErrorMessage(), msg)
	}
	return target
}

// rawResponse returns the HTTP response behind an SDK result.
func rawResponse(t *testing.T, md middleware.Metadata) *http.Response {
	t.Helper()
	r, ok := awsmiddleware.GetRawResponse(md).(*smithyhttp.Response)
	if !ok {
		t.Fatal("no raw response in the result metadata")
	}
	return r.Response
}

// rawResult is a raw HTTP exchange with the server.
type rawResult struct {
	status int
	header http.Header
	body   []byte
	json   map[string]any
}

func do(t *testing.T, method, url string, body io.Reader) rawResult {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	res := rawResult{status: resp.StatusCode, header: resp.Header, body: b}
	if len(b) > 0 {
		if err := json.Unmarshal(b, &res.json); err != nil {
			t.Errorf("%s %s: body is not a JSON object: %v: %q", method, url, err, b)
		}
	}
	if resp.Header.Get("X-Amzn-RequestId") == "" {
		t.Errorf("%s %s: no X-Amzn-RequestId", method, url)
	}
	return res
}

// checkAWSError checks an AWS-shaped restJson1 error: status, header and
// __type agree, and a message is present.
func checkAWSError(t *testing.T, res rawResult, status int, code string) {
	t.Helper()
	if res.status != status {
		t.Errorf("status = %d, want %d (body %s)", res.status, status, res.body)
	}
	if got := res.header.Get("X-Amzn-ErrorType"); got != code {
		t.Errorf("X-Amzn-ErrorType = %q, want %q", got, code)
	}
	if got := res.header.Get("Content-Type"); got != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", got)
	}
	if got, _ := res.json["__type"].(string); got != code {
		t.Errorf("__type = %q, want %q (body %s)", got, code, res.body)
	}
	if msg, _ := res.json["message"].(string); msg == "" {
		t.Errorf("no message in %s", res.body)
	}
}

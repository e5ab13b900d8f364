package eksauth_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"

	"github.com/podid/podid/eksapi"
	stsupstream "github.com/podid/podid/internal/sts/upstream"
)

// TestSessionCannotAssumeForPods: AssumeRoleForPodIdentity is the node
// agent's (the admin identity); a pod's vended session that presents a
// valid token is refused with EKS Auth's AccessDeniedException (HTTP 400),
// worded as IAM words it. The session still reads: podid wait and the
// issuer.
func TestSessionCannotAssumeForPods(t *testing.T) {
	e := newEnv(t, envOptions{})
	token := e.podToken(t)
	out, ae := e.assumeRole(t, "c1", eksapi.AssumeRoleForPodIdentityInput{Token: token})
	if ae != nil {
		t.Fatalf("the admin identity (node agent): %+v", ae)
	}
	pc := &aws.Credentials{AccessKeyID: out.Credentials.AccessKeyId, SecretAccessKey: out.Credentials.SecretAccessKey, SessionToken: out.Credentials.SessionToken}

	ae = e.do(t, pc, "POST", "/clusters/c1/assume-role-for-pod-identity", "eks-auth", eksapi.AssumeRoleForPodIdentityInput{Token: token}, nil)
	want := &apiError{Status: 400, Header: "AccessDeniedException", Type: "AccessDeniedException",
		Message: "User: " + out.AssumedRoleUser.Arn + " is not authorized to perform: eks-auth:AssumeRoleForPodIdentity on resource: arn:aws:eks:" + region + ":" + account + ":cluster/c1"}
	if ae == nil || *ae != *want {
		t.Errorf("a pod session assuming for pods: got %+v, want %+v", ae, want)
	}
	if ae := e.do(t, pc, "GET", "/podid/v1/wait?timeout=10s", "eks", nil, nil); ae != nil {
		t.Errorf("a pod session waiting: %+v", ae)
	}
}

// TestUpstreamWithoutCredentials: with an upstream STS and no credentials
// of podid's own, the pod gets a 503 whose message says nothing of
// podid's credential chain (the server's log has it).
func TestUpstreamWithoutCredentials(t *testing.T) {
	for _, k := range []string{
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN",
	} {
		t.Setenv(k, "")
	}
	for k, name := range map[string]string{"AWS_CONFIG_FILE": "config", "AWS_SHARED_CREDENTIALS_FILE": "credentials"} {
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv(k, p)
	}
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	// Nothing listens on port 1: had the SDK found credentials, the call
	// would fail there, still without reaching anything.
	up, err := stsupstream.New(context.Background(), "http://127.0.0.1:1", region)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, envOptions{assumer: up})
	e.createCluster(t, "c1")
	e.associate(t, &eks.CreatePodIdentityAssociationInput{
		ClusterName: aws.String("c1"), Namespace: aws.String("ns-a"), ServiceAccount: aws.String("sa1"),
		RoleArn: aws.String("arn:aws:iam::" + account + ":role/r"),
	})
	_, ae := e.assumeRole(t, "c1", eksapi.AssumeRoleForPodIdentityInput{Token: e.mint(t, "c1", pod)})
	want := &apiError{Status: 503, Header: "ServiceUnavailableException", Type: "ServiceUnavailableException",
		Message: "EKS Auth could not assume the role: the credentials service is unavailable. Try again later."}
	if ae == nil || *ae != *want {
		t.Errorf("got %+v, want %+v", ae, want)
	}
	if ae != nil && (strings.Contains(ae.Message, "IMDS") || strings.Contains(ae.Message, "get credentials")) {
		t.Errorf("the message leaks podid's credential chain: %q", ae.Message)
	}
}

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/podid/podid/eksapi"
	"github.com/podid/podid/internal/proctest"
)

// apiError is the code and HTTP status of an SDK call's error.
func apiError(err error) (code string, status int) {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	return code, status
}

// vend gets a pod's credentials from EKS Auth directly.
func vend(t *testing.T, srv *server, cluster, token string, creds *aws.Credentials) aws.Credentials {
	t.Helper()
	r := srv.assumeRoleForPodIdentity(t, cluster, token, creds, "eks-auth")
	var out eksapi.AssumeRoleForPodIdentityOutput
	if r.status != 200 || json.Unmarshal(r.body, &out) != nil || out.Credentials == nil || out.AssumedRoleUser == nil {
		t.Fatalf("AssumeRoleForPodIdentity: %d %s", r.status, r.body)
	}
	return aws.Credentials{AccessKeyID: out.Credentials.AccessKeyId, SecretAccessKey: out.Credentials.SecretAccessKey,
		SessionToken: out.Credentials.SessionToken}
}

// TestSigV4Refusals: with --auth sigv4, unsigned requests and requests
// signed with a wrong secret, an unknown key or an altered session token
// are refused on the EKS API, STS and EKS Auth, each in its protocol's
// error shape; the admin's and vended sessions' signatures are accepted.
func TestSigV4Refusals(t *testing.T) {
	t.Parallel()
	const cluster, namespace, sa = "e2e-sigv4", "ns-e", "app"
	srv := startServer(t, nil)
	createCluster(t, srv.EKS(nil), cluster)
	assoc := createAssociation(t, srv.EKS(nil), &eks.CreatePodIdentityAssociationInput{ClusterName: aws.String(cluster),
		Namespace: aws.String(namespace), ServiceAccount: aws.String(sa), RoleArn: aws.String(roleARN(account, "sigv4-role"))})
	srv.wait(t)
	token := srv.token(t, cluster, newPod(namespace, sa, "sig"))
	session := vend(t, srv, cluster, token, &srv.Admin)
	altered := session
	altered.SessionToken = session.SessionToken[:len(session.SessionToken)/2] + "AAAA" + session.SessionToken[len(session.SessionToken)/2+4:]

	wrongSecret := srv.Admin
	wrongSecret.SecretAccessKey = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	unknownKey := aws.Credentials{AccessKeyID: "AKIAIOSFODNN7EXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}
	type want struct {
		status int
		code   string // "" for success
	}
	tests := []struct {
		name  string
		creds *aws.Credentials // nil: unsigned
		// eksAPI, stsAPI and eksAuth are the answers of ListClusters,
		// GetCallerIdentity and AssumeRoleForPodIdentity.
		eksAPI, stsAPI, eksAuth want
	}{
		{"admin", &srv.Admin, want{200, ""}, want{200, ""}, want{200, ""}},
		{"unsigned", nil, want{403, "MissingAuthenticationTokenException"}, want{403, "MissingAuthenticationToken"}, want{403, "MissingAuthenticationTokenException"}},
		{"wrong secret", &wrongSecret, want{403, "InvalidSignatureException"}, want{403, "SignatureDoesNotMatch"}, want{403, "InvalidSignatureException"}},
		{"unknown access key", &unknownKey, want{403, "UnrecognizedClientException"}, want{403, "InvalidClientTokenId"}, want{403, "UnrecognizedClientException"}},
		{"altered session token", &altered, want{403, "UnrecognizedClientException"}, want{403, "InvalidClientTokenId"}, want{403, "UnrecognizedClientException"}},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var provider aws.CredentialsProvider = aws.AnonymousCredentials{}
			if tt.creds != nil {
				provider = proctest.StaticCredentials(*tt.creds)
			}
			check := func(api string, err error, w want) {
				t.Helper()
				code, status := apiError(err)
				if err == nil {
					status = 200
				}
				if code != w.code || status != w.status {
					t.Errorf("%s: %d %s (%v), want %d %s", api, status, code, err, w.status, w.code)
				}
			}
			_, err := srv.EKS(provider).ListClusters(ctx, &eks.ListClustersInput{})
			check("EKS ListClusters", err, tt.eksAPI)
			_, err = srv.STS(provider).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
			check("STS GetCallerIdentity", err, tt.stsAPI)
			r := srv.assumeRoleForPodIdentity(t, cluster, token, tt.creds, "eks-auth")
			if tt.eksAuth.code == "" {
				if r.status != 200 {
					t.Errorf("EKS Auth: %d %s, want 200", r.status, r.body)
				}
				return
			}
			checkEKSAuthError(t, r, tt.eksAuth.status, tt.eksAuth.code)
		})
	}

	t.Run("vended session", func(t *testing.T) {
		out, err := srv.STS(proctest.StaticCredentials(session)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil || !assumedRoleRE(account, "sigv4-role", cluster, "sig").MatchString(aws.ToString(out.Arn)) {
			t.Errorf("GetCallerIdentity with vended credentials: %v, %v; want the sigv4-role session", err, out)
		}
	})
	t.Run("vended session is not the admin", func(t *testing.T) {
		for _, tt := range []struct{ method, path, body string }{
			{http.MethodPost, "/podid/v1/sessions/inspect", `{"sessionToken":"` + session.SessionToken + `"}`},
			{http.MethodPost, "/podid/v1/clusters/" + cluster + "/tokens", `{"namespace":"kube-system","serviceAccount":"admin","podName":"x","podUid":"u"}`},
			{http.MethodPut, "/podid/v1/clusters/" + cluster + "/issuer", `{"podidIssued":true}`},
		} {
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, strings.NewReader(tt.body))
			req.Header.Set("Content-Type", "application/json")
			r := do(t, req, []byte(tt.body), "eks", &session)
			if code, msg := r.awsError(); r.status != 403 || code != "AccessDeniedException" || !strings.Contains(msg, ":assumed-role/sigv4-role/") {
				t.Errorf("%s %s with a pod's session: %d %s %q, want 403 AccessDeniedException naming the session", tt.method, tt.path, r.status, code, msg)
			}
		}
	})
	// A pod must not repoint its own association at another role (with
	// --upstream-sts, a real privilege escalation) nor vend credentials.
	t.Run("vended session cannot write EKS or assume for pods", func(t *testing.T) {
		_, err := srv.EKS(proctest.StaticCredentials(session)).UpdatePodIdentityAssociation(ctx, &eks.UpdatePodIdentityAssociationInput{
			ClusterName: aws.String(cluster), AssociationId: assoc.AssociationId, RoleArn: aws.String(roleARN(account, "admin-role"))})
		if code, status := apiError(err); status != 403 || code != "AccessDeniedException" ||
			!strings.Contains(err.Error(), "is not authorized to perform: eks:UpdatePodIdentityAssociation on resource: "+aws.ToString(assoc.AssociationArn)) {
			t.Errorf("UpdatePodIdentityAssociation with a pod's session: %v, want 403 AccessDeniedException", err)
		}
		if _, err := srv.EKS(proctest.StaticCredentials(session)).DescribePodIdentityAssociation(ctx, &eks.DescribePodIdentityAssociationInput{
			ClusterName: aws.String(cluster), AssociationId: assoc.AssociationId}); err != nil {
			t.Errorf("DescribePodIdentityAssociation with a pod's session: %v", err)
		}
		checkEKSAuthError(t, srv.assumeRoleForPodIdentity(t, cluster, token, &session, "eks-auth"), 400, "AccessDeniedException")
	})
	t.Run("EKS Auth signed for another service", func(t *testing.T) {
		checkEKSAuthError(t, srv.assumeRoleForPodIdentity(t, cluster, token, &srv.Admin, "eks"), 403, "InvalidSignatureException")
	})
}

// TestAuthNone: with --auth none, unsigned requests (and any signature)
// are accepted on every API, and vended credentials are still attributed
// to their session.
func TestAuthNone(t *testing.T) {
	t.Parallel()
	const cluster, namespace, sa = "e2e-none", "ns-f", "app"
	srv := startServer(t, nil, "--auth", "none")
	if srv.Admin.AccessKeyID != "" {
		t.Fatalf("--auth none made admin keys in %s", srv.DataDir)
	}
	ctx := context.Background()
	anon := srv.EKS(aws.AnonymousCredentials{})
	createCluster(t, anon, cluster)
	createAssociation(t, anon, &eks.CreatePodIdentityAssociationInput{ClusterName: aws.String(cluster),
		Namespace: aws.String(namespace), ServiceAccount: aws.String(sa), RoleArn: aws.String(roleARN(account, "none-role"))})
	anything := aws.Credentials{AccessKeyID: "podid", SecretAccessKey: "podid"}
	if _, err := srv.EKS(proctest.StaticCredentials(anything)).ListClusters(ctx, &eks.ListClustersInput{}); err != nil {
		t.Errorf("ListClusters with made-up keys: %v", err)
	}
	if _, err := srv.STS(aws.AnonymousCredentials{}).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Errorf("unsigned GetCallerIdentity: %v", err)
	}
	srv.wait(t)
	p := newPod(namespace, sa, "none")
	session := vend(t, srv, cluster, srv.token(t, cluster, p), nil)
	out, err := srv.STS(proctest.StaticCredentials(session)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || !assumedRoleRE(account, "none-role", cluster, p.name).MatchString(aws.ToString(out.Arn)) {
		t.Errorf("GetCallerIdentity with vended credentials: %v, %+v; want the none-role session", err, out)
	}
	ag := startAgent(t, srv, cluster)
	id := mustRunChild(t, ag, srv.token(t, cluster, newPod(namespace, sa, "none")), srv.URL)
	if re := assumedRoleRE(account, "none-role", cluster, "none"); !re.MatchString(id.ARN) {
		t.Errorf("child: ARN %s, want a match of %s", id.ARN, re)
	}
}

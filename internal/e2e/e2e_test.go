package e2e

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/podid/podid/eksapi"
	podidsts "github.com/podid/podid/internal/sts"
)

const (
	// account owns the servers' clusters and association roles.
	account = "111122223333"
	// targetAccount owns the target roles (a cross-account chain, as the
	// EKS docs show it).
	targetAccount = "444455556666"
)

func roleARN(acct, name string) string { return "arn:aws:iam::" + acct + ":role/" + name }

func clusterARN(name string) string {
	return "arn:aws:eks:" + region + ":" + account + ":cluster/" + name
}

// newPod is a pod of namespace/serviceAccount with a fresh UID.
func newPod(namespace, serviceAccount, name string) pod {
	return pod{namespace: namespace, serviceAccount: serviceAccount, name: name, uid: uuid.NewString()}
}

// sessionNameRE matches EKS Auth's role session names for cluster and pod
// name (spec §7.3): eks-{first 10 of cluster}-{pod, cut to fit 64}-{uuid}.
func sessionNameRE(cluster, podName string) string {
	cluster = cluster[:min(len(cluster), 10)]
	podName = podName[:min(len(podName), 64-len("eks-")-len(cluster)-2-36)]
	return regexp.QuoteMeta("eks-"+cluster+"-"+podName+"-") + `[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`
}

// assumedRoleRE matches the assumed-role ARN of a pod's session.
func assumedRoleRE(acct, role, cluster, podName string) *regexp.Regexp {
	return regexp.MustCompile(`^` + regexp.QuoteMeta("arn:aws:sts::"+acct+":assumed-role/"+role+"/") + sessionNameRE(cluster, podName) + `$`)
}

// podTags are the six session tags EKS Auth sets for p in cluster (spec
// §7.1), in order.
func podTags(cluster string, p pod) []podidsts.TagView {
	return []podidsts.TagView{
		{Key: "eks-cluster-arn", Value: clusterARN(cluster)},
		{Key: "eks-cluster-name", Value: cluster},
		{Key: "kubernetes-namespace", Value: p.namespace},
		{Key: "kubernetes-service-account", Value: p.serviceAccount},
		{Key: "kubernetes-pod-name", Value: p.name},
		{Key: "kubernetes-pod-uid", Value: p.uid},
	}
}

var podTagKeys = []string{"eks-cluster-arn", "eks-cluster-name", "kubernetes-namespace",
	"kubernetes-service-account", "kubernetes-pod-name", "kubernetes-pod-uid"}

func createCluster(t *testing.T, c *eks.Client, name string) {
	t.Helper()
	createClusterIn(t, c, account, name)
}

// createClusterIn creates a cluster with a cluster role of acct (the
// server's account).
func createClusterIn(t *testing.T, c *eks.Client, acct, name string) {
	t.Helper()
	_, err := c.CreateCluster(context.Background(), &eks.CreateClusterInput{
		Name:               aws.String(name),
		RoleArn:            aws.String(roleARN(acct, "eks-cluster-role")),
		ResourcesVpcConfig: &types.VpcConfigRequest{SubnetIds: []string{"subnet-0123456789abcdef0"}},
	})
	if err != nil {
		t.Fatalf("CreateCluster %s: %v", name, err)
	}
}

func createAssociation(t *testing.T, c *eks.Client, in *eks.CreatePodIdentityAssociationInput) *types.PodIdentityAssociation {
	t.Helper()
	out, err := c.CreatePodIdentityAssociation(context.Background(), in)
	if err != nil {
		t.Fatalf("CreatePodIdentityAssociation %s/%s: %v", aws.ToString(in.Namespace), aws.ToString(in.ServiceAccount), err)
	}
	return out.Association
}

const readPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`

// TestCredentials runs pods through the whole credential path: podid
// token, the agent, EKS Auth, STS, and the unmodified SDK in the child;
// session inspection shows what each session carries.
func TestCredentials(t *testing.T) {
	t.Parallel()
	const cluster = "e2e-credentials-cluster"
	// Debug logs: the most a log could leak (checked at the end).
	srv := startServer(t, nil, "--log-level", "debug")
	c := srv.eks(nil)
	createCluster(t, c, cluster)

	type hop struct {
		policy string
		tags   bool
	}
	tests := []struct {
		name string
		in   eks.CreatePodIdentityAssociationInput
		pod  string
		// finalRole is the role of the final session (its account is
		// targetAccount when target is set).
		finalRole string
		target    bool
		want      hop // the final session
	}{
		{
			name:      "association role",
			in:        eks.CreatePodIdentityAssociationInput{ServiceAccount: aws.String("plain"), RoleArn: aws.String(roleARN(account, "plain-role"))},
			pod:       "app1",
			finalRole: "plain-role",
			want:      hop{tags: true},
		},
		{
			name:      "long pod name cut to fit the session name",
			in:        eks.CreatePodIdentityAssociationInput{ServiceAccount: aws.String("longpod"), RoleArn: aws.String(roleARN(account, "longpod-role"))},
			pod:       "a-very-long-pod-name-0123456789",
			finalRole: "longpod-role",
			want:      hop{tags: true},
		},
		{
			name: "policy on the first hop without a target role",
			in: eks.CreatePodIdentityAssociationInput{ServiceAccount: aws.String("policy"), RoleArn: aws.String(roleARN(account, "policy-role")),
				Policy: aws.String(readPolicy), DisableSessionTags: aws.Bool(true)},
			pod:       "app2",
			finalRole: "policy-role",
			want:      hop{policy: readPolicy},
		},
		{
			name: "target role: tags carried over, external ID",
			in: eks.CreatePodIdentityAssociationInput{ServiceAccount: aws.String("target"), RoleArn: aws.String(roleARN(account, "hop-role")),
				TargetRoleArn: aws.String(roleARN(targetAccount, "target-role"))},
			pod:       "app3",
			finalRole: "target-role",
			target:    true,
			want:      hop{tags: true},
		},
		{
			name: "target role: policy on the target hop",
			in: eks.CreatePodIdentityAssociationInput{ServiceAccount: aws.String("target-policy"), RoleArn: aws.String(roleARN(account, "hop-policy-role")),
				TargetRoleArn: aws.String(roleARN(targetAccount, "target-policy-role")), Policy: aws.String(readPolicy), DisableSessionTags: aws.Bool(true)},
			pod:       "app4",
			finalRole: "target-policy-role",
			target:    true,
			want:      hop{policy: readPolicy},
		},
		{
			name: "session tags disabled",
			in: eks.CreatePodIdentityAssociationInput{ServiceAccount: aws.String("notags"), RoleArn: aws.String(roleARN(account, "notags-role")),
				DisableSessionTags: aws.Bool(true)},
			pod:       "app5",
			finalRole: "notags-role",
		},
	}
	const namespace = "ns-a"
	assocs := make([]*types.PodIdentityAssociation, len(tests))
	for i := range tests {
		in := tests[i].in
		in.ClusterName, in.Namespace = aws.String(cluster), aws.String(namespace)
		assocs[i] = createAssociation(t, c, &in)
	}
	srv.wait(t)
	ag := startAgent(t, srv, cluster, "--log-level", "debug")
	var secrets []string // tokens and credentials that must not reach the logs

	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := assocs[i]
			if tt.target && aws.ToString(a.ExternalId) == "" {
				t.Errorf("association with a target role has no externalId: %+v", a)
			}
			p := newPod(namespace, aws.ToString(tt.in.ServiceAccount), tt.pod)
			token := srv.token(t, cluster, p)
			id := mustRunChild(t, ag, token, srv.url)
			secrets = append(secrets, token, id.SessionToken)

			acct := account
			if tt.target {
				acct = targetAccount
			}
			if re := assumedRoleRE(acct, tt.finalRole, cluster, p.name); !re.MatchString(id.ARN) {
				t.Errorf("GetCallerIdentity ARN = %s, want a match of %s", id.ARN, re)
			}
			if id.Account != acct {
				t.Errorf("GetCallerIdentity Account = %s, want %s", id.Account, acct)
			}
			if id.Source != endpointcreds.ProviderName {
				t.Errorf("child's credentials came from %q, want the container provider (%s)", id.Source, endpointcreds.ProviderName)
			}
			if !strings.HasPrefix(id.AccessKeyID, "ASIA") || id.SessionToken == "" {
				t.Errorf("child's credentials: access key %q, session token set: %t; want ASIA… temporary credentials", id.AccessKeyID, id.SessionToken != "")
			}
			maxLife := 6 * time.Hour
			if tt.target {
				maxLife = time.Hour
			}
			if left := time.Until(id.Expires); left <= 0 || left > maxLife {
				t.Errorf("credentials expire in %s, want within (0, %s]", left, maxLife)
			}

			v := srv.inspect(t, id.SessionToken)
			if v.AssumedRoleARN != id.ARN || v.AccessKeyID != id.AccessKeyID {
				t.Errorf("inspected session is %s (%s), want the child's %s (%s)", v.AssumedRoleARN, v.AccessKeyID, id.ARN, id.AccessKeyID)
			}
			wantTags, wantKeys := []podidsts.TagView{}, []string{}
			if tt.want.tags {
				wantTags, wantKeys = podTags(cluster, p), podTagKeys
			}
			if diff := cmp.Diff(v.Tags, wantTags); diff != "" {
				t.Errorf("session tags (-got +want):\n%s", diff)
			}
			if diff := cmp.Diff(v.TransitiveTagKeys, wantKeys); diff != "" {
				t.Errorf("transitive tag keys (-got +want):\n%s", diff)
			}
			if v.Policy != tt.want.policy {
				t.Errorf("final session's policy = %q, want %q", v.Policy, tt.want.policy)
			}
			var wantChain []string
			wantExternalID := ""
			if tt.target {
				wantExternalID = aws.ToString(a.ExternalId)
				// The first hop: the association role, same session name.
				_, session, _ := strings.Cut(strings.TrimPrefix(id.ARN, "arn:aws:sts::"+acct+":assumed-role/"), "/")
				wantChain = []string{"arn:aws:sts::" + account + ":assumed-role/" + roleNameOf(aws.ToString(tt.in.RoleArn)) + "/" + session}
			}
			if v.ExternalID != wantExternalID {
				t.Errorf("final session's external ID = %q, want %q", v.ExternalID, wantExternalID)
			}
			if diff := cmp.Diff(v.Chain, wantChain, cmpEmptyIsNil); diff != "" {
				t.Errorf("session chain (-got +want):\n%s", diff)
			}
			if id.UserID != v.AssumedRoleID || !strings.HasPrefix(id.UserID, "AROA") {
				t.Errorf("GetCallerIdentity UserId = %q, want the session's AROA… ID %q", id.UserID, v.AssumedRoleID)
			}
			if v.SourcePrincipal != "pods.eks.amazonaws.com" {
				t.Errorf("source principal = %q, want pods.eks.amazonaws.com", v.SourcePrincipal)
			}
		})
	}

	t.Run("agent protocol", func(t *testing.T) {
		secrets = append(secrets, checkAgentProtocol(t, srv, ag, cluster, newPod(namespace, "plain", "proto"))...)
	})
	t.Run("OIDC discovery verifies podid tokens", func(t *testing.T) {
		p := newPod(namespace, "plain", "oidc")
		checkDiscovery(t, srv, c, cluster, p, srv.token(t, cluster, p))
	})
	t.Run("no tokens or secrets in the logs", func(t *testing.T) {
		if len(secrets) < 2*len(tests) {
			t.Fatalf("only %d secrets collected", len(secrets))
		}
		for _, p := range []*proc{srv.proc, ag.proc} {
			log := p.log.String()
			// The admin keys are printed once, on creation, by design.
			log = strings.ReplaceAll(log, "export AWS_SECRET_ACCESS_KEY="+srv.admin.SecretAccessKey, "")
			for _, s := range append(secrets, srv.admin.SecretAccessKey) {
				// The whole value or its last 24 characters (a JWT's
				// signature, a key's tail).
				if strings.Contains(log, s) || strings.Contains(log, s[len(s)-24:]) {
					t.Errorf("%s's log holds a token or secret (…%s)", p.name, s[len(s)-6:])
				}
			}
		}
	})
}

// cmpEmptyIsNil treats nil and empty slices alike.
var cmpEmptyIsNil = cmp.FilterValues(func(x, y []string) bool { return len(x) == 0 && len(y) == 0 }, cmp.Ignore())

func roleNameOf(arn string) string { return arn[strings.LastIndexByte(arn, '/')+1:] }

// agentErrorRE matches the agent's relay of an EKS Auth error (spec §8.3).
func agentErrorRE(code, fault string) *regexp.Regexp {
	return regexp.MustCompile(`^\[[^\]]+\]: \(` + code + `\): .+, fault: ` + fault + `\n$`)
}

// checkAgentError checks that the agent answered an EKS Auth error code
// with status, relayed as the AWS agent does (fault: server for 5xx).
func checkAgentError(t *testing.T, r response, status int, code string) {
	t.Helper()
	fault := "client"
	if status >= 500 {
		fault = "server"
	}
	if r.status != status || !agentErrorRE(code, fault).Match(r.body) {
		t.Errorf("agent answered %d %q, want %d and a %s relay", r.status, r.body, status, code)
	}
	if ct := r.header.Get("Content-Type"); ct != "text/plain; charset=utf-8" {
		t.Errorf("agent's error Content-Type = %q, want text/plain; charset=utf-8 (http.Error's)", ct)
	}
}

// checkEKSAuthError checks a direct EKS Auth error.
func checkEKSAuthError(t *testing.T, r response, status int, code string) string {
	t.Helper()
	gotCode, msg := r.awsError()
	if r.status != status || gotCode != code || msg == "" {
		t.Errorf("EKS Auth answered %d %s %q (body %q), want %d %s with a message", r.status, gotCode, msg, r.body, status, code)
	}
	return msg
}

// TestAssociationLifecycle: an update of the role is in effect for fresh
// pods once podid wait says so; after a delete, fresh pods get
// ResourceNotFoundException through the agent and from EKS Auth.
func TestAssociationLifecycle(t *testing.T) {
	t.Parallel()
	const cluster, namespace, sa = "e2e-lifecycle", "ns-b", "app"
	srv := startServer(t, nil)
	c := srv.eks(nil)
	createCluster(t, c, cluster)
	a := createAssociation(t, c, &eks.CreatePodIdentityAssociationInput{ClusterName: aws.String(cluster),
		Namespace: aws.String(namespace), ServiceAccount: aws.String(sa), RoleArn: aws.String(roleARN(account, "role-v1"))})
	waitFor := []string{"--cluster", cluster, "--association-id", aws.ToString(a.AssociationId)}
	srv.wait(t, waitFor...)
	ag := startAgent(t, srv, cluster)

	checkRole := func(t *testing.T, acct, role string) {
		t.Helper()
		p := newPod(namespace, sa, "web")
		id := mustRunChild(t, ag, srv.token(t, cluster, p), srv.url)
		if re := assumedRoleRE(acct, role, cluster, p.name); !re.MatchString(id.ARN) {
			t.Errorf("GetCallerIdentity ARN = %s, want a match of %s", id.ARN, re)
		}
	}
	checkRole(t, account, "role-v1")

	updates := []struct {
		name       string
		in         eks.UpdatePodIdentityAssociationInput
		acct, role string
	}{
		{"role changed", eks.UpdatePodIdentityAssociationInput{RoleArn: aws.String(roleARN(account, "role-v2"))}, account, "role-v2"},
		{"target role added", eks.UpdatePodIdentityAssociationInput{TargetRoleArn: aws.String(roleARN(targetAccount, "role-target"))}, targetAccount, "role-target"},
	}
	for _, u := range updates {
		t.Run("update/"+u.name, func(t *testing.T) {
			in := u.in
			in.ClusterName, in.AssociationId = aws.String(cluster), a.AssociationId
			if _, err := c.UpdatePodIdentityAssociation(context.Background(), &in); err != nil {
				t.Fatal(err)
			}
			srv.wait(t, waitFor...)
			checkRole(t, u.acct, u.role)
		})
	}

	t.Run("delete", func(t *testing.T) {
		if _, err := c.DeletePodIdentityAssociation(context.Background(), &eks.DeletePodIdentityAssociationInput{
			ClusterName: aws.String(cluster), AssociationId: a.AssociationId}); err != nil {
			t.Fatal(err)
		}
		srv.wait(t, waitFor...)
		p := newPod(namespace, sa, "web")
		tok := srv.token(t, cluster, p)
		_, err := runChild(t, ag, tok, srv.url)
		if err == nil || !strings.Contains(err.Error(), "ResourceNotFoundException") {
			t.Errorf("child after the delete: %v; want a failure naming ResourceNotFoundException", err)
		}
		checkAgentError(t, ag.credentials(t, srv.token(t, cluster, newPod(namespace, sa, "web"))), 404, "ResourceNotFoundException")
		msg := checkEKSAuthError(t, srv.assumeRoleForPodIdentity(t, cluster, tok, &srv.admin, "eks-auth"), 404, "ResourceNotFoundException")
		for _, want := range []string{cluster, namespace, sa} {
			if !strings.Contains(msg, want) {
				t.Errorf("ResourceNotFoundException message %q does not name %s", msg, want)
			}
		}
	})

	t.Run("cluster deleted", func(t *testing.T) {
		tokens := []string{srv.token(t, cluster, newPod(namespace, sa, "web")), srv.token(t, cluster, newPod(namespace, sa, "web"))}
		if _, err := c.DeleteCluster(context.Background(), &eks.DeleteClusterInput{Name: aws.String(cluster)}); err != nil {
			t.Fatal(err)
		}
		srv.wait(t)
		msg := checkEKSAuthError(t, srv.assumeRoleForPodIdentity(t, cluster, tokens[0], &srv.admin, "eks-auth"), 404, "ResourceNotFoundException")
		if !strings.Contains(msg, cluster) {
			t.Errorf("ResourceNotFoundException message %q does not name the cluster", msg)
		}
		checkAgentError(t, ag.credentials(t, tokens[1]), 404, "ResourceNotFoundException")
	})
}

// revisionOf is the X-Podid-Revision of a write's response.
func revisionOf(t *testing.T, md middleware.Metadata) string {
	t.Helper()
	raw, ok := awsmiddleware.GetRawResponse(md).(*smithyhttp.Response)
	if !ok {
		t.Fatal("no raw response in the result metadata")
	}
	rev := raw.Header.Get("X-Podid-Revision")
	if rev == "" {
		t.Fatal("the write's response has no X-Podid-Revision")
	}
	return rev
}

// TestPropagationDelay: with --propagation-delay, an update is not seen by
// EKS Auth at once; podid wait --revision (the write's X-Podid-Revision)
// returns once it is, and from then on fresh pods get the new role.
func TestPropagationDelay(t *testing.T) {
	t.Parallel()
	const delay = 2 * time.Second
	const cluster, namespace, sa = "e2e-delay", "ns-c", "app"
	srv := startServer(t, nil, "--propagation-delay", delay.String())
	c := srv.eks(nil)
	createCluster(t, c, cluster)
	a := createAssociation(t, c, &eks.CreatePodIdentityAssociationInput{ClusterName: aws.String(cluster),
		Namespace: aws.String(namespace), ServiceAccount: aws.String(sa), RoleArn: aws.String(roleARN(account, "old-role"))})
	srv.wait(t)

	assumedRole := func(t *testing.T, token string) string {
		t.Helper()
		r := srv.assumeRoleForPodIdentity(t, cluster, token, &srv.admin, "eks-auth")
		var out eksapi.AssumeRoleForPodIdentityOutput
		if r.status != 200 || json.Unmarshal(r.body, &out) != nil || out.AssumedRoleUser == nil {
			t.Fatalf("AssumeRoleForPodIdentity: %d %s", r.status, r.body)
		}
		return out.AssumedRoleUser.Arn
	}
	before, after := srv.token(t, cluster, newPod(namespace, sa, "p1")), srv.token(t, cluster, newPod(namespace, sa, "p2"))

	start := time.Now()
	out, err := c.UpdatePodIdentityAssociation(context.Background(), &eks.UpdatePodIdentityAssociationInput{
		ClusterName: aws.String(cluster), AssociationId: a.AssociationId, RoleArn: aws.String(roleARN(account, "new-role"))})
	if err != nil {
		t.Fatal(err)
	}
	rev := revisionOf(t, out.ResultMetadata)
	got := assumedRole(t, before)
	if elapsed := time.Since(start); elapsed < delay/2 {
		if !strings.Contains(got, ":assumed-role/old-role/") {
			t.Errorf("%s after the update (delay %s): assumed %s, want old-role still", elapsed, delay, got)
		}
	} else {
		t.Logf("the first request came %s after the update: too late to expect the old role", elapsed)
	}
	if _, err := srv.cli(t, nil, "wait", "--revision", rev, "--timeout", "200ms"); exitCode(err) != 1 {
		t.Errorf("podid wait --timeout 200ms right after the update: %v; want exit status 1 (not in effect yet)", err)
	}
	srv.wait(t, "--revision", rev)
	if waited := time.Since(start); waited < delay/2 {
		t.Errorf("podid wait --revision %s returned %s after the update, want about %s (the propagation delay)", rev, waited, delay)
	}
	if got := assumedRole(t, after); !strings.Contains(got, ":assumed-role/new-role/") {
		t.Errorf("after podid wait: assumed %s, want new-role", got)
	}
}

// externalIssuer is a Kubernetes cluster's service-account issuer whose
// private key the test holds, so it can sign any token.
type externalIssuer struct {
	url string
	key *rsa.PrivateKey
	kid string
}

func newExternalIssuer(t *testing.T, url string) *externalIssuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return &externalIssuer{url: url, key: key, kid: "e2e-" + uuid.NewString()[:8]}
}

// jwksFile writes the issuer's public JWKS (what kubectl get --raw
// /openid/v1/jwks prints) to a file.
func (i *externalIssuer) jwksFile(t *testing.T) string {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &i.key.PublicKey, KeyID: i.kid, Algorithm: "RS256", Use: "sig"}}})
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(f, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// claims are a projected token's claims for p, valid for a day from now.
func (i *externalIssuer) claims(p pod) map[string]any {
	now := time.Now().Unix()
	return map[string]any{
		"iss": i.url, "sub": "system:serviceaccount:" + p.namespace + ":" + p.serviceAccount,
		"aud": []string{"pods.eks.amazonaws.com"}, "iat": now, "nbf": now, "exp": now + 86400,
		"kubernetes.io": map[string]any{
			"namespace":      p.namespace,
			"pod":            map[string]string{"name": p.name, "uid": p.uid},
			"serviceaccount": map[string]string{"name": p.serviceAccount, "uid": uuid.NewString()},
		},
	}
}

// sign signs claims as a JWT with key (an *rsa.PrivateKey for RS256, a
// []byte for HS256) under kid.
func sign(t *testing.T, key any, kid string, claims map[string]any) string {
	t.Helper()
	alg := jose.RS256
	if _, ok := key.([]byte); ok {
		alg = jose.HS256
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestTokenRefusals: EKS Auth accepts a cluster's own tokens only: an
// expired, forged, wrong-audience, wrong-issuer or other cluster's token is
// refused with InvalidTokenException or ExpiredTokenException, and the
// agent relays EKS Auth's status and error (or, for tokens whose time
// claims fail, refuses them itself with 400, as the AWS agent does).
func TestTokenRefusals(t *testing.T) {
	t.Parallel()
	const podidCluster, otherCluster, extCluster = "e2e-tokens", "e2e-tokens-other", "e2e-external"
	const namespace, sa = "ns-d", "app"
	srv := startServer(t, nil)
	c := srv.eks(nil)
	for _, name := range []string{podidCluster, otherCluster, extCluster} {
		createCluster(t, c, name)
		createAssociation(t, c, &eks.CreatePodIdentityAssociationInput{ClusterName: aws.String(name),
			Namespace: aws.String(namespace), ServiceAccount: aws.String(sa), RoleArn: aws.String(roleARN(account, name+"-role"))})
	}
	iss := newExternalIssuer(t, "https://oidc.e2e.example/id/"+strings.ToUpper(strings.ReplaceAll(uuid.NewString(), "-", "")))
	srv.mustCLI(t, "issuer", "set", "--cluster", extCluster, "--issuer-url", iss.url, "--jwks-file", iss.jwksFile(t))
	srv.wait(t)
	agents := map[string]*agent{extCluster: startAgent(t, srv, extCluster), podidCluster: startAgent(t, srv, podidCluster)}

	forger, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p := newPod(namespace, sa, "tok")
	edited := func(edit func(m map[string]any)) map[string]any {
		m := iss.claims(p)
		edit(m)
		return m
	}
	hour := int64(time.Hour / time.Second)
	now := time.Now().Unix()
	tests := []struct {
		name    string
		cluster string
		token   string
		status  int    // EKS Auth's
		code    string // EKS Auth's error; "" for success
		// agentRefusal, when set, is the start of the agent's own 400
		// answer (it checks the time claims without the signature).
		agentRefusal string
	}{
		{name: "external issuer's token", cluster: extCluster, token: sign(t, iss.key, iss.kid, iss.claims(p)), status: 200},
		{name: "podid token", cluster: podidCluster, token: srv.token(t, podidCluster, p), status: 200},
		{name: "expired", cluster: extCluster, status: 400, code: "ExpiredTokenException",
			token: sign(t, iss.key, iss.kid, edited(func(m map[string]any) {
				m["iat"], m["nbf"], m["exp"] = now-3*hour, now-3*hour, now-hour
			})),
			agentRefusal: "Service account token failed basic claim validations: token has invalid claims: token is expired"},
		{name: "not yet valid", cluster: extCluster, status: 400, code: "InvalidTokenException",
			token: sign(t, iss.key, iss.kid, edited(func(m map[string]any) {
				m["iat"], m["nbf"], m["exp"] = now+hour, now+hour, now+2*hour
			})),
			agentRefusal: "Service account token failed basic claim validations: token has invalid claims: token is not valid yet"},
		{name: "forged: another key under the issuer's key ID", cluster: extCluster, status: 400, code: "InvalidTokenException",
			token: sign(t, forger, iss.kid, iss.claims(p))},
		{name: "forged: unknown key ID", cluster: extCluster, status: 400, code: "InvalidTokenException",
			token: sign(t, forger, "forger-key", iss.claims(p))},
		{name: "forged: HS256", cluster: extCluster, status: 400, code: "InvalidTokenException",
			token: sign(t, []byte("0123456789abcdef0123456789abcdef"), iss.kid, iss.claims(p))},
		{name: "wrong audience", cluster: extCluster, status: 400, code: "InvalidTokenException",
			token: sign(t, iss.key, iss.kid, edited(func(m map[string]any) { m["aud"] = []string{"sts.amazonaws.com"} }))},
		{name: "wrong issuer", cluster: extCluster, status: 400, code: "InvalidTokenException",
			token: sign(t, iss.key, iss.kid, edited(func(m map[string]any) { m["iss"] = "https://oidc.e2e.example/id/OTHER" }))},
		{name: "no kubernetes.io claims", cluster: extCluster, status: 400, code: "InvalidTokenException",
			token: sign(t, iss.key, iss.kid, edited(func(m map[string]any) { delete(m, "kubernetes.io") }))},
		{name: "subject of another service account", cluster: extCluster, status: 400, code: "InvalidTokenException",
			token: sign(t, iss.key, iss.kid, edited(func(m map[string]any) { m["sub"] = "system:serviceaccount:kube-system:admin" }))},
		{name: "other podid cluster's token", cluster: podidCluster, status: 400, code: "InvalidTokenException",
			token: srv.token(t, otherCluster, p)},
		{name: "podid token at the external cluster", cluster: extCluster, status: 400, code: "InvalidTokenException",
			token: srv.token(t, podidCluster, p)},
		{name: "external token at a podid cluster", cluster: podidCluster, status: 400, code: "InvalidTokenException",
			token: sign(t, iss.key, iss.kid, iss.claims(p))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Run("EKS Auth", func(t *testing.T) {
				r := srv.assumeRoleForPodIdentity(t, tt.cluster, tt.token, &srv.admin, "eks-auth")
				if tt.code == "" {
					var out eksapi.AssumeRoleForPodIdentityOutput
					if r.status != 200 || json.Unmarshal(r.body, &out) != nil || out.AssumedRoleUser == nil ||
						!strings.Contains(out.AssumedRoleUser.Arn, ":assumed-role/"+tt.cluster+"-role/") {
						t.Errorf("AssumeRoleForPodIdentity: %d %s; want %s-role's credentials", r.status, r.body, tt.cluster)
					}
					return
				}
				msg := checkEKSAuthError(t, r, tt.status, tt.code)
				if tt.code == "ExpiredTokenException" && !strings.HasPrefix(msg, "The token included in the request is expired: current date/time ") {
					t.Errorf("ExpiredTokenException message = %q, want AWS's wording", msg)
				}
			})
			t.Run("agent", func(t *testing.T) {
				r := agents[tt.cluster].credentials(t, tt.token)
				switch {
				case tt.agentRefusal != "":
					if r.status != 400 || !strings.HasPrefix(string(r.body), tt.agentRefusal) {
						t.Errorf("agent answered %d %q, want 400 %q", r.status, r.body, tt.agentRefusal)
					}
				case tt.code == "":
					var creds struct{ AccessKeyId, SecretAccessKey, Token, AccountId, Expiration string }
					if r.status != 200 || json.Unmarshal(r.body, &creds) != nil || creds.Token == "" || creds.AccountId != account {
						t.Errorf("agent answered %d %s, want credentials of account %s", r.status, r.body, account)
					}
				default:
					checkAgentError(t, r, tt.status, tt.code)
				}
			})
		})
	}

	t.Run("child", func(t *testing.T) {
		id := mustRunChild(t, agents[extCluster], sign(t, iss.key, iss.kid, iss.claims(p)), srv.url)
		if re := assumedRoleRE(account, extCluster+"-role", extCluster, p.name); !re.MatchString(id.ARN) {
			t.Errorf("with the external issuer's token: ARN %s, want a match of %s", id.ARN, re)
		}
		_, err := runChild(t, agents[extCluster], sign(t, forger, iss.kid, iss.claims(p)), srv.url)
		if err == nil || !strings.Contains(err.Error(), "InvalidTokenException") {
			t.Errorf("with a forged token: %v; want a failure naming InvalidTokenException", err)
		}
	})
}

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
	createCluster(t, srv.eks(nil), cluster)
	createAssociation(t, srv.eks(nil), &eks.CreatePodIdentityAssociationInput{ClusterName: aws.String(cluster),
		Namespace: aws.String(namespace), ServiceAccount: aws.String(sa), RoleArn: aws.String(roleARN(account, "sigv4-role"))})
	srv.wait(t)
	token := srv.token(t, cluster, newPod(namespace, sa, "sig"))
	session := vend(t, srv, cluster, token, &srv.admin)
	altered := session
	altered.SessionToken = session.SessionToken[:len(session.SessionToken)/2] + "AAAA" + session.SessionToken[len(session.SessionToken)/2+4:]

	wrongSecret := srv.admin
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
		{"admin", &srv.admin, want{200, ""}, want{200, ""}, want{200, ""}},
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
				provider = staticCreds(*tt.creds)
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
			_, err := srv.eks(provider).ListClusters(ctx, &eks.ListClustersInput{})
			check("EKS ListClusters", err, tt.eksAPI)
			_, err = srv.sts(provider).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
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
		out, err := srv.sts(staticCreds(session)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
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
			req, _ := http.NewRequest(tt.method, srv.url+tt.path, strings.NewReader(tt.body))
			req.Header.Set("Content-Type", "application/json")
			r := do(t, req, []byte(tt.body), "eks", &session)
			if code, msg := r.awsError(); r.status != 403 || code != "AccessDeniedException" || !strings.Contains(msg, ":assumed-role/sigv4-role/") {
				t.Errorf("%s %s with a pod's session: %d %s %q, want 403 AccessDeniedException naming the session", tt.method, tt.path, r.status, code, msg)
			}
		}
	})
	t.Run("EKS Auth signed for another service", func(t *testing.T) {
		checkEKSAuthError(t, srv.assumeRoleForPodIdentity(t, cluster, token, &srv.admin, "eks"), 403, "InvalidSignatureException")
	})
}

// TestAuthNone: with --auth none, unsigned requests (and any signature)
// are accepted on every API, and vended credentials are still attributed
// to their session.
func TestAuthNone(t *testing.T) {
	t.Parallel()
	const cluster, namespace, sa = "e2e-none", "ns-f", "app"
	srv := startServer(t, nil, "--auth", "none")
	if srv.admin.AccessKeyID != "" {
		t.Fatalf("--auth none made admin keys in %s", srv.dataDir)
	}
	ctx := context.Background()
	anon := srv.eks(aws.AnonymousCredentials{})
	createCluster(t, anon, cluster)
	createAssociation(t, anon, &eks.CreatePodIdentityAssociationInput{ClusterName: aws.String(cluster),
		Namespace: aws.String(namespace), ServiceAccount: aws.String(sa), RoleArn: aws.String(roleARN(account, "none-role"))})
	anything := aws.Credentials{AccessKeyID: "podid", SecretAccessKey: "podid"}
	if _, err := srv.eks(staticCreds(anything)).ListClusters(ctx, &eks.ListClustersInput{}); err != nil {
		t.Errorf("ListClusters with made-up keys: %v", err)
	}
	if _, err := srv.sts(aws.AnonymousCredentials{}).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Errorf("unsigned GetCallerIdentity: %v", err)
	}
	srv.wait(t)
	p := newPod(namespace, sa, "none")
	session := vend(t, srv, cluster, srv.token(t, cluster, p), nil)
	out, err := srv.sts(staticCreds(session)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || !assumedRoleRE(account, "none-role", cluster, p.name).MatchString(aws.ToString(out.Arn)) {
		t.Errorf("GetCallerIdentity with vended credentials: %v, %+v; want the none-role session", err, out)
	}
	ag := startAgent(t, srv, cluster)
	id := mustRunChild(t, ag, srv.token(t, cluster, newPod(namespace, sa, "none")), srv.url)
	if re := assumedRoleRE(account, "none-role", cluster, "none"); !re.MatchString(id.ARN) {
		t.Errorf("child: ARN %s, want a match of %s", id.ARN, re)
	}
}

// startMoto starts moto_server (skipping the test if it is not installed)
// on a free loopback port and returns its URL once it answers. A port
// taken between the pick and moto's bind is retried (three attempts).
func startMoto(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("moto_server")
	if err != nil {
		t.Skip("moto_server not on PATH")
	}
	// moto_server may be a pyenv shim: it keeps HOME and PATH.
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	for attempt := 1; ; attempt++ {
		port := freePort(t)
		url := "http://127.0.0.1:" + strconv.Itoa(port)
		p := startProc(t, "moto_server", env, bin, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
		if err := p.pollHTTP(url+"/moto-api/data.json", 60*time.Second); err == nil {
			return url
		} else if attempt == 3 {
			t.Fatalf("moto_server: %v", err)
		} else {
			t.Logf("moto_server attempt %d: %v", attempt, err)
			p.stop()
		}
	}
}

// TestUpstreamSTS: with --upstream-sts, EKS Auth makes its role
// assumptions against another STS (moto's) with podid's own credentials
// from the default chain; the child's GetCallerIdentity at that STS
// shows the association's (or the target) role.
func TestUpstreamSTS(t *testing.T) {
	t.Parallel()
	const motoAccount = "123456789012" // moto's default account
	const cluster, namespace = "e2e-upstream", "ns-g"
	motoURL := startMoto(t)
	dir := t.TempDir()
	srv := startServer(t, cleanEnv(dir, "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE",
		"AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "AWS_REGION="+region),
		"--upstream-sts", motoURL, "--account-id", motoAccount)
	c := srv.eks(nil)
	createClusterIn(t, c, motoAccount, cluster)
	tests := []struct {
		sa, role, target string
		finalRole        string
	}{
		{sa: "plain", role: "up-role", finalRole: "up-role"},
		{sa: "chained", role: "up-hop-role", target: "up-target-role", finalRole: "up-target-role"},
	}
	for _, tt := range tests {
		in := &eks.CreatePodIdentityAssociationInput{ClusterName: aws.String(cluster), Namespace: aws.String(namespace),
			ServiceAccount: aws.String(tt.sa), RoleArn: aws.String(roleARN(motoAccount, tt.role))}
		if tt.target != "" {
			in.TargetRoleArn = aws.String(roleARN(motoAccount, tt.target))
		}
		createAssociation(t, c, in)
	}
	srv.wait(t)
	ag := startAgent(t, srv, cluster)
	for _, tt := range tests {
		t.Run(tt.sa, func(t *testing.T) {
			p := newPod(namespace, tt.sa, "up")
			id := mustRunChild(t, ag, srv.token(t, cluster, p), motoURL)
			if re := assumedRoleRE(motoAccount, tt.finalRole, cluster, p.name); !re.MatchString(id.ARN) {
				t.Errorf("GetCallerIdentity at moto: ARN %s, want a match of %s", id.ARN, re)
			}
		})
	}
}

// checkAgentProtocol checks the agent's /v1/credentials answers (spec
// §8.3): the JSON the SDKs read, the Host check, an empty token, and one
// EKS Auth call for concurrent requests with one token, later ones served
// from the cache.
func checkAgentProtocol(t *testing.T, srv *server, ag *agent, cluster string, p pod) (secrets []string) {
	token := srv.token(t, cluster, p)
	secrets = append(secrets, token)
	before := agentUpstreamCalls(t, ag)
	const n = 8
	answers := make([]response, n)
	var wg sync.WaitGroup
	for i := range answers {
		wg.Go(func() { answers[i] = ag.credentials(t, token) })
	}
	wg.Wait()
	if calls := agentUpstreamCalls(t, ag) - before; calls != 1 {
		t.Errorf("%d concurrent requests with one token made %v EKS Auth calls, want 1", n, calls)
	}
	again := ag.credentials(t, token)
	if calls := agentUpstreamCalls(t, ag) - before; calls != 1 {
		t.Errorf("a later request with the same token made an EKS Auth call (%v in all), want a cache hit", calls)
	}
	for i, r := range append(answers, again) {
		if r.status != 200 || r.header.Get("Content-Type") != "application/json" {
			t.Fatalf("answer %d: %d %s %q, want 200 application/json", i, r.status, r.header.Get("Content-Type"), r.body)
		}
		if string(r.body) != string(answers[0].body) {
			t.Errorf("answer %d differs from the first: %s vs %s", i, r.body, answers[0].body)
		}
	}
	var creds map[string]any
	if err := json.Unmarshal(answers[0].body, &creds); err != nil {
		t.Fatal(err)
	}
	exp, _ := creds["Expiration"].(string)
	if _, err := time.Parse(time.RFC3339, exp); err != nil {
		t.Errorf("Expiration = %#v, want an RFC 3339 string", creds["Expiration"])
	}
	for _, k := range []string{"AccessKeyId", "SecretAccessKey", "Token"} {
		if v, _ := creds[k].(string); v == "" {
			t.Errorf("%s missing from %s", k, answers[0].body)
		} else if k != "AccessKeyId" {
			secrets = append(secrets, v)
		}
	}
	if creds["AccountId"] != account {
		t.Errorf("AccountId = %#v, want %s", creds["AccountId"], account)
	}

	req, _ := http.NewRequest(http.MethodGet, ag.url+"/v1/credentials", nil)
	req.Host = "metadata.evil.example"
	req.Header.Set("Authorization", token)
	if r := do(t, req, nil, "", nil); r.status != 403 || !strings.HasPrefix(string(r.body), "Access Denied. Called agent through invalid address") {
		t.Errorf("wrong Host: %d %q, want 403 Access Denied", r.status, r.body)
	}
	if r := ag.credentials(t, ""); r.status != 400 || string(r.body) != "Service account token cannot be empty\n" {
		t.Errorf("empty token: %d %q, want 400 Service account token cannot be empty", r.status, r.body)
	}
	return secrets
}

// agentUpstreamCalls reads the agent's count of successful EKS Auth calls
// from its /metrics.
func agentUpstreamCalls(t *testing.T, ag *agent) float64 {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, ag.url+"/metrics", nil)
	r := do(t, req, nil, "", nil)
	const name = `podid_agent_upstream_duration_seconds_count{outcome="ok"} `
	for _, line := range strings.Split(string(r.body), "\n") {
		if v, ok := strings.CutPrefix(line, name); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("metrics line %q: %v", line, err)
			}
			return f
		}
	}
	return 0 // not observed yet
}

// checkDiscovery verifies a podid token as an outside relying party
// would: DescribeCluster's OIDC issuer, its discovery document, its JWKS.
func checkDiscovery(t *testing.T, srv *server, c *eks.Client, cluster string, p pod, token string) {
	out, err := c.DescribeCluster(context.Background(), &eks.DescribeClusterInput{Name: aws.String(cluster)})
	if err != nil {
		t.Fatal(err)
	}
	var issuer string
	if id := out.Cluster.Identity; id != nil && id.Oidc != nil {
		issuer = aws.ToString(id.Oidc.Issuer)
	}
	if !strings.HasPrefix(issuer, srv.url+"/") {
		t.Fatalf("DescribeCluster identity.oidc.issuer = %q, want one under %s", issuer, srv.url)
	}
	get := func(url string, v any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		r := do(t, req, nil, "", nil)
		if r.status != 200 || json.Unmarshal(r.body, v) != nil {
			t.Fatalf("GET %s: %d %s", url, r.status, r.body)
		}
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	get(issuer+"/.well-known/openid-configuration", &doc)
	if doc.Issuer != issuer {
		t.Errorf("discovery issuer = %q, want %q", doc.Issuer, issuer)
	}
	var keys jose.JSONWebKeySet
	get(doc.JWKSURI, &keys)
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	found := keys.Key(tok.Headers[0].KeyID)
	if len(found) != 1 {
		t.Fatalf("JWKS at %s has %d keys with the token's key ID %q", doc.JWKSURI, len(found), tok.Headers[0].KeyID)
	}
	var claims struct {
		jwt.Claims
		K8s struct {
			Namespace string `json:"namespace"`
			Pod       struct {
				Name string `json:"name"`
				UID  string `json:"uid"`
			} `json:"pod"`
		} `json:"kubernetes.io"`
	}
	if err := tok.Claims(found[0].Key, &claims); err != nil {
		t.Fatalf("the token does not verify with the JWKS key: %v", err)
	}
	if err := claims.ValidateWithLeeway(jwt.Expected{Issuer: issuer, AnyAudience: jwt.Audience{"pods.eks.amazonaws.com"},
		Subject: "system:serviceaccount:" + p.namespace + ":" + p.serviceAccount, Time: time.Now()}, time.Minute); err != nil {
		t.Errorf("token claims: %v", err)
	}
	if claims.K8s.Namespace != p.namespace || claims.K8s.Pod.Name != p.name || claims.K8s.Pod.UID != p.uid {
		t.Errorf("kubernetes.io claims = %+v, want pod %+v", claims.K8s, p)
	}
}

// jwksServer serves an issuer's JWKS as a Kubernetes API server's
// /openid/v1/jwks does, counting fetches; keys can be changed.
type jwksServer struct {
	*httptest.Server
	keys    atomic.Pointer[[]byte]
	fetches atomic.Int64
}

func newJWKSServer(t *testing.T, issuers ...*externalIssuer) *jwksServer {
	t.Helper()
	s := &jwksServer{}
	s.set(t, issuers...)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/openid/v1/jwks" {
			http.Error(w, "down", http.StatusInternalServerError)
			return
		}
		s.fetches.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write(*s.keys.Load())
	}))
	t.Cleanup(s.Close)
	return s
}

// set makes the served JWKS the public keys of issuers.
func (s *jwksServer) set(t *testing.T, issuers ...*externalIssuer) {
	t.Helper()
	var set jose.JSONWebKeySet
	for _, i := range issuers {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &i.key.PublicKey, KeyID: i.kid, Algorithm: "RS256", Use: "sig"})
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	s.keys.Store(&b)
}

// TestJWKSURL: a cluster whose issuer's keys come from a URL (podid issuer
// set --jwks-url) accepts tokens of a key added later (the JWKS is re-read
// when a token names an unknown key ID, rate-limited), and an unreachable
// JWKS is a server fault (ServiceUnavailableException), not a bad token.
func TestJWKSURL(t *testing.T) {
	t.Parallel()
	const cluster, downCluster, namespace, sa = "e2e-jwks-url", "e2e-jwks-down", "ns-h", "app"
	srv := startServer(t, nil)
	c := srv.eks(nil)
	issuerURL := "https://oidc.e2e.example/id/JWKSURL"
	old := newExternalIssuer(t, issuerURL)
	rotated := &externalIssuer{url: issuerURL, key: newExternalIssuer(t, issuerURL).key, kid: "rotated-" + uuid.NewString()[:8]}
	js := newJWKSServer(t, old)
	for name, jwksURL := range map[string]string{cluster: js.URL + "/openid/v1/jwks", downCluster: js.URL + "/down"} {
		createCluster(t, c, name)
		createAssociation(t, c, &eks.CreatePodIdentityAssociationInput{ClusterName: aws.String(name),
			Namespace: aws.String(namespace), ServiceAccount: aws.String(sa), RoleArn: aws.String(roleARN(account, name+"-role"))})
		srv.mustCLI(t, "issuer", "set", "--cluster", name, "--issuer-url", issuerURL, "--jwks-url", jwksURL)
	}
	srv.wait(t)
	p := newPod(namespace, sa, "jwks")

	if r := srv.assumeRoleForPodIdentity(t, cluster, sign(t, old.key, old.kid, old.claims(p)), &srv.admin, "eks-auth"); r.status != 200 {
		t.Fatalf("token of the served key: %d %s", r.status, r.body)
	}
	js.set(t, old, rotated)
	tok := sign(t, rotated.key, rotated.kid, rotated.claims(p))
	// The verifier re-reads a JWKS at most every few seconds: poll until
	// the new key is in, bounded by a deadline.
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for attempts := 1; ; attempts++ {
		r := srv.assumeRoleForPodIdentity(t, cluster, tok, &srv.admin, "eks-auth")
		if r.status == 200 {
			t.Logf("the rotated key's token was accepted after %d attempts, %d JWKS fetches", attempts, js.fetches.Load())
			break
		}
		checkEKSAuthError(t, r, 400, "InvalidTokenException")
		if time.Now().After(deadline) {
			t.Fatalf("the rotated key's token is still refused after %d attempts (%d JWKS fetches)", attempts, js.fetches.Load())
		}
		<-tick.C
	}
	if n := js.fetches.Load(); n > 3 {
		t.Errorf("the JWKS was fetched %d times, want at most 3 (re-reads are rate-limited)", n)
	}

	t.Run("unreachable JWKS", func(t *testing.T) {
		tok := sign(t, old.key, old.kid, old.claims(p))
		checkEKSAuthError(t, srv.assumeRoleForPodIdentity(t, downCluster, tok, &srv.admin, "eks-auth"), 503, "ServiceUnavailableException")
		checkAgentError(t, startAgent(t, srv, downCluster).credentials(t, tok), 503, "ServiceUnavailableException")
	})
}

// exitCode is the exit status in a cli error (-1 if it is not one).
func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// TestRestart: podid serve stops cleanly on SIGTERM and, restarted on the
// same data directory and address, keeps its admin keys (not printed
// again), clusters, associations and token signing keys (a token minted
// before still works), and its session key (credentials vended before
// still sign requests); the running agent carries on against it.
func TestRestart(t *testing.T) {
	t.Parallel()
	const cluster, namespace, sa = "e2e-restart", "ns-r", "app"
	dir := t.TempDir()
	listen := "127.0.0.1:" + strconv.Itoa(freePort(t))
	srv := startServerIn(t, dir, listen, nil)
	c := srv.eks(nil)
	createCluster(t, c, cluster)
	createAssociation(t, c, &eks.CreatePodIdentityAssociationInput{ClusterName: aws.String(cluster),
		Namespace: aws.String(namespace), ServiceAccount: aws.String(sa), RoleArn: aws.String(roleARN(account, "restart-role"))})
	srv.wait(t)
	ag := startAgent(t, srv, cluster)
	p := newPod(namespace, sa, "r1")
	token := srv.token(t, cluster, p)
	before := mustRunChild(t, ag, token, srv.url)
	vended := vend(t, srv, cluster, srv.token(t, cluster, newPod(namespace, sa, "r0")), &srv.admin)
	later := srv.token(t, cluster, newPod(namespace, sa, "r2")) // first used after the restart

	srv.proc.stop()
	if code := srv.proc.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("podid serve exited with status %d on SIGTERM, want 0", code)
	}
	again := startServerIn(t, dir, listen, nil)
	if again.url != srv.url || again.admin != srv.admin {
		t.Fatalf("restarted server: %s, admin key %s; want %s and the same admin keys", again.url, again.admin.AccessKeyID, srv.url)
	}
	if strings.Contains(again.proc.log.String(), again.admin.SecretAccessKey) {
		t.Error("the restarted server printed the admin secret again")
	}
	again.wait(t)

	out, err := again.sts(staticCreds(vended)).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil || !assumedRoleRE(account, "restart-role", cluster, "r0").MatchString(aws.ToString(out.Arn)) {
		t.Errorf("credentials vended before the restart: %v; want them still accepted", err)
	}
	if v := again.inspect(t, before.SessionToken); v.AssumedRoleARN != before.ARN {
		t.Errorf("session from before the restart inspects as %s, want %s", v.AssumedRoleARN, before.ARN)
	}
	r := again.assumeRoleForPodIdentity(t, cluster, token, &again.admin, "eks-auth")
	var fresh eksapi.AssumeRoleForPodIdentityOutput
	if r.status != 200 || json.Unmarshal(r.body, &fresh) != nil || !assumedRoleRE(account, "restart-role", cluster, p.name).MatchString(fresh.AssumedRoleUser.Arn) {
		t.Errorf("token minted before the restart: %d %s", r.status, r.body)
	}
	id := mustRunChild(t, ag, later, srv.url)
	if re := assumedRoleRE(account, "restart-role", cluster, "r2"); !re.MatchString(id.ARN) {
		t.Errorf("through the agent after the restart: ARN %s, want a match of %s", id.ARN, re)
	}
}

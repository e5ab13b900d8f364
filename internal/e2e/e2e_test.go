package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/podid/podid/internal/proctest"
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
	c := srv.EKS(nil)
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
		tokenArgs []string // more podid token flags
		want      hop      // the final session
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
		{
			name:      "node-bound token",
			in:        eks.CreatePodIdentityAssociationInput{ServiceAccount: aws.String("nodebound"), RoleArn: aws.String(roleARN(account, "nodebound-role"))},
			pod:       "app6",
			tokenArgs: []string{"--node-name", "ip-10-0-1-23.ec2.internal", "--service-account-uid", "5a6c0c52-4d1e-4b7e-9d2f-0d3c1f7a9b10"},
			finalRole: "nodebound-role",
			want:      hop{tags: true},
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
			token := srv.token(t, cluster, p, tt.tokenArgs...)
			id := mustRunChild(t, ag, token, srv.URL)
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
	t.Run("agent named localhost", func(t *testing.T) {
		p := newPod(namespace, "plain", "lh")
		token := srv.token(t, cluster, p)
		byName := &agent{&proctest.Agent{URL: strings.Replace(ag.URL, "127.0.0.1", "localhost", 1), Proc: ag.Proc}}
		id := mustRunChild(t, byName, token, srv.URL)
		secrets = append(secrets, token, id.SessionToken)
		if re := assumedRoleRE(account, "plain-role", cluster, p.name); !re.MatchString(id.ARN) {
			t.Errorf("through %s: ARN %s, want a match of %s", byName.URL, id.ARN, re)
		}
	})
	t.Run("boto3 workload", func(t *testing.T) {
		p := newPod(namespace, "plain", "py")
		token := srv.token(t, cluster, p)
		id, err := runBoto3(t, ag, token, srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, token, id.SessionToken)
		if re := assumedRoleRE(account, "plain-role", cluster, p.name); !re.MatchString(id.ARN) || id.Account != account {
			t.Errorf("boto3 GetCallerIdentity: %s (account %s), want a match of %s", id.ARN, id.Account, re)
		}
		if id.Source != "container-role" || !strings.HasPrefix(id.AccessKeyID, "ASIA") {
			t.Errorf("boto3's credentials: method %q, key %q; want container-role and an ASIA… key", id.Source, id.AccessKeyID)
		}
	})
	t.Run("workload role chaining keeps the transitive tags", func(t *testing.T) {
		p := newPod(namespace, "plain", "chain")
		token := srv.token(t, cluster, p)
		creds := vend(t, srv, cluster, token, &srv.Admin)
		secrets = append(secrets, token, creds.SecretAccessKey, creds.SessionToken)
		client := srv.STS(proctest.StaticCredentials(creds))
		other := roleARN(targetAccount, "workload-other-role")
		_, err := client.AssumeRole(context.Background(), &sts.AssumeRoleInput{RoleArn: aws.String(other),
			RoleSessionName: aws.String("workload"), DurationSeconds: aws.Int32(7200)})
		if code, status := apiError(err); code != "ValidationError" || status != 400 {
			t.Errorf("chained AssumeRole for 2 hours: %v; want 400 ValidationError (role chaining lasts at most 1 hour)", err)
		}
		out, err := client.AssumeRole(context.Background(), &sts.AssumeRoleInput{RoleArn: aws.String(other), RoleSessionName: aws.String("workload")})
		if err != nil {
			t.Fatal(err)
		}
		if left := time.Until(aws.ToTime(out.Credentials.Expiration)); left <= 0 || left > time.Hour {
			t.Errorf("chained session expires in %s, want within an hour", left)
		}
		v := srv.inspect(t, aws.ToString(out.Credentials.SessionToken))
		if diff := cmp.Diff(v.Tags, podTags(cluster, p)); diff != "" {
			t.Errorf("chained session's tags (-got +want):\n%s", diff)
		}
		if diff := cmp.Diff(v.TransitiveTagKeys, podTagKeys); diff != "" {
			t.Errorf("chained session's transitive keys (-got +want):\n%s", diff)
		}
		if len(v.Chain) != 1 || !assumedRoleRE(account, "plain-role", cluster, p.name).MatchString(v.Chain[0]) {
			t.Errorf("chained session's chain = %q, want the pod's plain-role session", v.Chain)
		}
	})
	t.Run("OIDC discovery verifies podid tokens", func(t *testing.T) {
		p := newPod(namespace, "plain", "oidc")
		checkDiscovery(t, srv, c, cluster, p, srv.token(t, cluster, p))
	})
	t.Run("no tokens or secrets in the logs", func(t *testing.T) {
		if len(secrets) < 2*len(tests) {
			t.Fatalf("only %d secrets collected", len(secrets))
		}
		for _, p := range []*proctest.Proc{srv.Proc, ag.Proc} {
			log := p.Log()
			// The admin keys are printed once, on creation, by design.
			log = strings.ReplaceAll(log, "export AWS_SECRET_ACCESS_KEY="+srv.Admin.SecretAccessKey, "")
			for _, s := range append(secrets, srv.Admin.SecretAccessKey) {
				// The whole value or its last 24 characters (a JWT's
				// signature, a key's tail).
				if strings.Contains(log, s) || strings.Contains(log, s[len(s)-24:]) {
					t.Errorf("%s's log holds a token or secret (…%s)", p.Name(), s[len(s)-6:])
				}
			}
		}
	})
}

// cmpEmptyIsNil treats nil and empty slices alike.
var cmpEmptyIsNil = cmp.FilterValues(func(x, y []string) bool { return len(x) == 0 && len(y) == 0 }, cmp.Ignore())

func roleNameOf(arn string) string { return arn[strings.LastIndexByte(arn, '/')+1:] }

// checkEKSAuthError checks a direct EKS Auth error.
func checkEKSAuthError(t *testing.T, r response, status int, code string) string {
	t.Helper()
	gotCode, msg := r.awsError()
	if r.status != status || gotCode != code || msg == "" {
		t.Errorf("EKS Auth answered %d %s %q (body %q), want %d %s with a message", r.status, gotCode, msg, r.body, status, code)
	}
	return msg
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
	if !strings.HasPrefix(issuer, srv.URL+"/") {
		t.Fatalf("DescribeCluster identity.oidc.issuer = %q, want one under %s", issuer, srv.URL)
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

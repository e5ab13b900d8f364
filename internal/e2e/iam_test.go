package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	ststypes "github.com/aws/aws-sdk-go-v2/service/sts/types"

	"github.com/podid/podid/internal/proctest"
)

// iamClient is the SDK's IAM client against srv (IAM shares STS's
// endpoint, as AWS_ENDPOINT_URL_IAM points it).
func (s *server) iamClient(creds aws.CredentialsProvider) *iam.Client {
	if creds == nil {
		creds = proctest.StaticCredentials(s.Admin)
	}
	return iam.NewFromConfig(aws.Config{Region: region, Credentials: creds}, func(o *iam.Options) {
		o.BaseEndpoint = aws.String(s.URL)
	})
}

func createRole(t *testing.T, c *iam.Client, name, trust string) {
	t.Helper()
	if _, err := c.CreateRole(context.Background(), &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(trust)}); err != nil {
		t.Fatalf("CreateRole %s: %v", name, err)
	}
}

func putRolePolicy(t *testing.T, c *iam.Client, role, name, doc string) {
	t.Helper()
	if _, err := c.PutRolePolicy(context.Background(), &iam.PutRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String(name), PolicyDocument: aws.String(doc)}); err != nil {
		t.Fatalf("PutRolePolicy %s: %v", role, err)
	}
}

// podsTrust is the association role trust of the EKS user guide, with the
// confused-deputy conditions on the cluster.
func podsTrust(actions, cluster string) string {
	return `{"Version":"2012-10-17","Statement":[{"Sid":"Pods","Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},
	 "Action":` + actions + `,"Condition":{"StringEquals":{"aws:SourceAccount":"` + account + `","aws:SourceArn":"` + clusterARN(cluster) + `"}}}]}`
}

// trustRole is a trust policy letting role's sessions assume the role,
// with extra (a Condition member, or "").
func trustRole(role, actions, extra string) string {
	if extra != "" {
		extra = "," + extra
	}
	return `{"Version":"2012-10-17","Statement":[{"Sid":"FromRole","Effect":"Allow","Principal":{"AWS":"` + roleARN(account, role) + `"},
	 "Action":` + actions + extra + `}]}`
}

const bothActions = `["sts:AssumeRole","sts:TagSession"]`

// explain calls POST /podid/v1/explain with the admin keys.
func (s *server) explain(t *testing.T, in map[string]string) map[string]any {
	t.Helper()
	body, _ := json.Marshal(in)
	req, err := http.NewRequest(http.MethodPost, s.URL+"/podid/v1/explain", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	r := do(t, req, body, "podid", &s.Admin)
	var out map[string]any
	if r.status != 200 || json.Unmarshal(r.body, &out) != nil {
		t.Fatalf("explain: %d %s", r.status, r.body)
	}
	return out
}

// TestIAMEnforced runs each denial of a pod's credential request and of
// role chaining through real clients against podid serve --iam enforce,
// with its allowed counterpart: the refusal's wire shape, and the server
// log and explain naming what decided it.
func TestIAMEnforced(t *testing.T) {
	t.Parallel()
	const dev, prod = "iam-dev", "iam-prod"
	srv := startServerWith(t, proctest.IAM("enforce"), proctest.Args("--log-level", "info"))
	ctx := context.Background()
	ic := srv.iamClient(nil)
	ec := srv.EKS(nil)
	createCluster(t, ec, dev)
	createCluster(t, ec, prod)

	createRole(t, ic, "pods-ok", podsTrust(bothActions, dev))
	createRole(t, ic, "pods-notag", podsTrust(`"sts:AssumeRole"`, dev))
	createRole(t, ic, "ec2-role", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"]}]}`)
	createRole(t, ic, "target-ok", trustRole("pods-ok", bothActions, `"Condition":{"StringEquals":{"sts:ExternalId":"not-yet-known"}}`))
	createRole(t, ic, "target-untrusting", trustRole("someone-else", bothActions, ""))
	// Chaining from a pod's session: "trusts-pod" names the pod's role
	// (enough in one account); "unrelated" only trusts the account, so the
	// pod's role policies would have to allow sts:AssumeRole on it.
	createRole(t, ic, "trusts-pod", trustRole("pods-ok", bothActions, ""))
	createRole(t, ic, "trusts-pod-notag", trustRole("pods-notag", `"sts:AssumeRole"`, ""))
	createRole(t, ic, "unrelated", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"`+account+`"},"Action":["sts:AssumeRole","sts:TagSession"]}]}`)
	// AWS's usual "TLS only" statement: EKS's own hops are TLS, so it
	// holds for the association role whatever the agent used; a pod
	// chaining over plain HTTP is refused by it.
	tlsOnly := func(trust string) string {
		return strings.TrimSuffix(trust, `]}`) + `,{"Sid":"TLSOnly","Effect":"Deny","Principal":"*","Action":"sts:*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`
	}
	createRole(t, ic, "pods-tls", tlsOnly(podsTrust(bothActions, dev)))
	createRole(t, ic, "trusts-pod-tls", tlsOnly(trustRole("pods-ok", bothActions, "")))

	assoc := func(cluster, sa, role string, mod func(*eks.CreatePodIdentityAssociationInput)) string {
		in := &eks.CreatePodIdentityAssociationInput{ClusterName: aws.String(cluster), Namespace: aws.String("default"),
			ServiceAccount: aws.String(sa), RoleArn: aws.String(roleARN(account, role))}
		if mod != nil {
			mod(in)
		}
		return aws.ToString(createAssociation(t, ec, in).AssociationId)
	}
	target := func(role string, disable bool) func(*eks.CreatePodIdentityAssociationInput) {
		return func(in *eks.CreatePodIdentityAssociationInput) {
			if role != "" {
				in.TargetRoleArn = aws.String(roleARN(account, role))
			}
			in.DisableSessionTags = aws.Bool(disable)
		}
	}
	assoc(dev, "ok", "pods-ok", nil)
	assoc(dev, "tls", "pods-tls", nil)
	assoc(dev, "notag", "pods-notag", nil)
	notagDisabled := assoc(dev, "notag-disabled", "pods-notag", target("", true))
	assoc(dev, "ec2", "ec2-role", nil)
	assoc(dev, "missing", "no-such-role", nil)
	targetID := assoc(dev, "target", "pods-ok", target("target-ok", false))
	assoc(dev, "untrusting", "pods-ok", target("target-untrusting", false))
	assoc(prod, "ok", "pods-ok", nil)
	srv.wait(t)

	credentials := func(cluster, sa string) response {
		tok := srv.token(t, cluster, newPod("default", sa, sa+"-1"))
		return srv.assumeRoleForPodIdentity(t, cluster, tok, &srv.Admin, "eks-auth")
	}
	denied := []struct {
		name, cluster, sa, reason string
	}{
		{"missing sts:TagSession", dev, "notag", "no statement of the trust policy allowed sts:TagSession"},
		{"wrong service principal", dev, "ec2", "no statement of the trust policy allowed sts:AssumeRole"},
		{"a role that does not exist", dev, "missing", "role " + roleARN(account, "no-such-role") + " does not exist"},
		{"SourceArn of another cluster", prod, "ok", "no statement of the trust policy allowed sts:AssumeRole"},
		{"target role not trusting", dev, "untrusting", "no statement of the trust policy allowed sts:AssumeRole"},
		{"ExternalId mismatch", dev, "target", "no statement of the trust policy allowed sts:AssumeRole"},
	}
	for _, tt := range denied {
		t.Run("denied/"+tt.name, func(t *testing.T) {
			r := credentials(tt.cluster, tt.sa)
			checkEKSAuthError(t, r, http.StatusBadRequest, "AccessDeniedException")
			if _, msg := r.awsError(); strings.Contains(msg, "Statement") || strings.Contains(msg, "{") {
				t.Errorf("the refusal shows policy text: %q", msg)
			}
			x := srv.explain(t, map[string]string{"clusterName": tt.cluster, "namespace": "default", "serviceAccount": tt.sa, "podName": "p", "podUid": "u"})
			if x["allowed"] != false || !strings.Contains(x["reason"].(string), tt.reason) {
				t.Errorf("explain: %v, want denied with %q", x, tt.reason)
			}
		})
	}
	for _, sa := range []string{"ok", "tls"} {
		t.Run("allowed/"+sa, func(t *testing.T) {
			if r := credentials(dev, sa); r.status != 200 {
				t.Errorf("credentials: %d %s", r.status, r.body)
			}
			x := srv.explain(t, map[string]string{"clusterName": dev, "namespace": "default", "serviceAccount": sa})
			if x["allowed"] != true || x["sid"] != "Pods" {
				t.Errorf("explain: %v", x)
			}
		})
	}
	t.Run("allowed/no tags without sts:TagSession", func(t *testing.T) {
		if r := credentials(dev, "notag-disabled"); r.status != 200 {
			t.Errorf("credentials: %d %s", r.status, r.body)
		}
		if x := srv.explain(t, map[string]string{"clusterName": dev, "associationId": notagDisabled}); x["allowed"] != true {
			t.Errorf("explain: %v", x)
		}
	})
	t.Run("allowed/target role trusting the external ID", func(t *testing.T) {
		d, err := ec.DescribePodIdentityAssociation(ctx, &eks.DescribePodIdentityAssociationInput{ClusterName: aws.String(dev), AssociationId: aws.String(targetID)})
		if err != nil {
			t.Fatal(err)
		}
		doc := trustRole("pods-ok", bothActions, `"Condition":{"StringEquals":{"sts:ExternalId":"`+aws.ToString(d.Association.ExternalId)+`"}}`)
		if _, err := ic.UpdateAssumeRolePolicy(ctx, &iam.UpdateAssumeRolePolicyInput{RoleName: aws.String("target-ok"), PolicyDocument: aws.String(doc)}); err != nil {
			t.Fatal(err)
		}
		// In effect at once: no wait.
		if r := credentials(dev, "target"); r.status != 200 {
			t.Errorf("credentials after trusting the external ID: %d %s", r.status, r.body)
		}
		x := srv.explain(t, map[string]string{"clusterName": dev, "associationId": targetID})
		if x["allowed"] != true || x["hop"] != "target role" || x["sid"] != "FromRole" {
			t.Errorf("explain: %v", x)
		}
	})

	// A pod's own credentials, chaining through STS.
	podCreds := func(sa string) aws.Credentials {
		tok := srv.token(t, dev, newPod("default", sa, sa+"-chain"))
		return vend(t, srv, dev, tok, &srv.Admin)
	}
	assume := func(creds aws.Credentials, role string, tags ...ststypes.Tag) error {
		_, err := srv.STS(proctest.StaticCredentials(creds)).AssumeRole(ctx, &sts.AssumeRoleInput{
			RoleArn: aws.String(role), RoleSessionName: aws.String("chained"), Tags: tags})
		return err
	}
	okPod := podCreds("ok")
	t.Run("chain/a role trusting the pod's role", func(t *testing.T) {
		if err := assume(okPod, roleARN(account, "trusts-pod")); err != nil {
			t.Errorf("AssumeRole: %v", err)
		}
	})
	for _, tt := range []struct{ name, role string }{
		{"an unrelated role", roleARN(account, "unrelated")},
		{"another cluster's role", roleARN(account, "pods-ok")},
		{"a role in another account", roleARN(targetAccount, "trusts-pod")},
		{"a TLS-only role, in plain HTTP", roleARN(account, "trusts-pod-tls")},
	} {
		t.Run("chain/denied/"+tt.name, func(t *testing.T) {
			err := assume(okPod, tt.role)
			want := "User: " + "arn:aws:sts::" + account + ":assumed-role/pods-ok/"
			if code, status := apiError(err); code != "AccessDenied" || status != 403 || !strings.Contains(err.Error(), want) ||
				!strings.Contains(err.Error(), "is not authorized to perform: sts:AssumeRole on resource: "+tt.role) {
				t.Errorf("AssumeRole %s: %v, want AccessDenied (403) naming the session", tt.role, err)
			}
		})
	}
	t.Run("chain/allowed by the pod role's policy", func(t *testing.T) {
		// The pod's session passes its six tags on (transitive): the
		// chained assumption needs sts:TagSession as well.
		putRolePolicy(t, ic, "pods-ok", "may-assume", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"`+roleARN(account, "unrelated")+`"}]}`)
		if err := assume(okPod, roleARN(account, "unrelated")); err == nil || !strings.Contains(err.Error(), "sts:TagSession") {
			t.Errorf("AssumeRole without sts:TagSession in the role policy: %v, want AccessDenied for sts:TagSession", err)
		}
		putRolePolicy(t, ic, "pods-ok", "may-assume", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sts:AssumeRole","sts:TagSession"],"Resource":"`+roleARN(account, "unrelated")+`"}]}`)
		if err := assume(okPod, roleARN(account, "unrelated")); err != nil {
			t.Errorf("AssumeRole after the role policy allows it: %v", err)
		}
	})
	t.Run("chain/denied/tags without sts:TagSession (disableSessionTags pod)", func(t *testing.T) {
		pod := podCreds("notag-disabled")
		tags := []ststypes.Tag{{Key: aws.String("eks-cluster-name"), Value: aws.String(prod)}, {Key: aws.String("kubernetes-namespace"), Value: aws.String("kube-system")}}
		err := assume(pod, roleARN(account, "trusts-pod-notag"), tags...)
		if code, _ := apiError(err); code != "AccessDenied" || !strings.Contains(err.Error(), "sts:TagSession") {
			t.Errorf("AssumeRole with tags: %v, want AccessDenied for sts:TagSession", err)
		}
		if err := assume(pod, roleARN(account, "trusts-pod-notag")); err != nil {
			t.Errorf("AssumeRole without tags: %v", err)
		}
	})
	t.Run("session/reads need the role's policies", func(t *testing.T) {
		c := srv.EKS(proctest.StaticCredentials(okPod))
		_, err := c.ListClusters(ctx, &eks.ListClustersInput{})
		if code, _ := apiError(err); code != "AccessDeniedException" {
			t.Errorf("ListClusters without a policy: %v", err)
		}
		putRolePolicy(t, ic, "pods-ok", "eks-read", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"eks:List*","Resource":"*"}]}`)
		if _, err := c.ListClusters(ctx, &eks.ListClustersInput{}); err != nil {
			t.Errorf("ListClusters with eks:List*: %v", err)
		}
	})

	// The server's log says what decided each refusal.
	log := srv.Proc.Log()
	for _, want := range []string{`reason="no statement of the trust policy allowed sts:TagSession"`, `does not exist"`} {
		if !strings.Contains(log, want) {
			t.Errorf("the server log lacks %s", want)
		}
	}
}

// TestNodeCredentials: podid node-credentials create issues keys a node's
// agent gets its pods' credentials with (on its cluster only) and that can
// do nothing else; delete takes them away.
func TestNodeCredentials(t *testing.T) {
	t.Parallel()
	const dev, prod = "node-dev", "node-prod"
	srv := startServerWith(t, proctest.IAM("enforce"))
	ctx := context.Background()
	ic := srv.iamClient(nil)
	ec := srv.EKS(nil)
	createCluster(t, ec, dev)
	createCluster(t, ec, prod)
	createRole(t, ic, "node-app", podsTrust(bothActions, dev))
	for _, cl := range []string{dev, prod} {
		createAssociation(t, ec, &eks.CreatePodIdentityAssociationInput{ClusterName: aws.String(cl), Namespace: aws.String("default"),
			ServiceAccount: aws.String("app"), RoleArn: aws.String(roleARN(account, "node-app"))})
	}
	srv.wait(t)

	out := srv.mustCLI(t, "node-credentials", "create", "--cluster", dev)
	var keys aws.Credentials
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "export AWS_ACCESS_KEY_ID="); ok {
			keys.AccessKeyID = v
		}
		if v, ok := strings.CutPrefix(line, "export AWS_SECRET_ACCESS_KEY="); ok {
			keys.SecretAccessKey = v
		}
	}
	if !strings.HasPrefix(keys.AccessKeyID, "AKIA") || keys.SecretAccessKey == "" {
		t.Fatalf("node-credentials create printed %q", out)
	}
	secret := srv.mustCLI(t, "node-credentials", "create", "--cluster", dev, "--output", "secret")
	for _, want := range []string{"kind: Secret", "AWS_ACCESS_KEY_ID: AKIA", "AWS_SECRET_ACCESS_KEY: "} {
		if !strings.Contains(secret, want) {
			t.Errorf("--output secret lacks %q:\n%s", want, secret)
		}
	}
	if list := srv.mustCLI(t, "node-credentials", "list"); !strings.Contains(list, "podid-node-"+dev) || !strings.Contains(list, keys.AccessKeyID) {
		t.Errorf("node-credentials list: %q", list)
	}

	// The agent on the node gets its pods' credentials with them.
	ag := proctest.StartAgentAs(t, bins.podid, srv.Server, dev, keys)
	tok := srv.token(t, dev, newPod("default", "app", "app-1"))
	if r := (&agent{ag}).credentials(t, tok); r.status != 200 {
		t.Errorf("agent with the node's keys: %d %s", r.status, r.body)
	}
	// And nothing else: another cluster's pods, EKS writes and reads,
	// podid's admin API, IAM.
	prodTok := srv.token(t, prod, newPod("default", "app", "app-1"))
	r := srv.assumeRoleForPodIdentity(t, prod, prodTok, &keys, "eks-auth")
	if msg := checkEKSAuthError(t, r, http.StatusBadRequest, "AccessDeniedException"); !strings.Contains(msg, "eks-auth:AssumeRoleForPodIdentity on resource: "+clusterARN(prod)) {
		t.Errorf("another cluster's EKS Auth: %q", msg)
	}
	nodeEKS := srv.EKS(proctest.StaticCredentials(keys))
	_, err := nodeEKS.CreatePodIdentityAssociation(ctx, &eks.CreatePodIdentityAssociationInput{ClusterName: aws.String(dev),
		Namespace: aws.String("kube-system"), ServiceAccount: aws.String("steal"), RoleArn: aws.String(roleARN(account, "node-app"))})
	if code, status := apiError(err); code != "AccessDeniedException" || status != 403 || !strings.Contains(err.Error(), ":user/podid-node/podid-node-"+dev+" is not authorized to perform: eks:CreatePodIdentityAssociation") {
		t.Errorf("an EKS write with the node's keys: %v", err)
	}
	if _, err := nodeEKS.ListClusters(ctx, &eks.ListClustersInput{}); err == nil {
		t.Error("an EKS read with the node's keys was allowed")
	}
	if _, err := srv.iamClient(proctest.StaticCredentials(keys)).CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("x")}); err == nil {
		t.Error("IAM CreateUser with the node's keys was allowed")
	}
	// GetCallerIdentity needs no permission on AWS: the node's keys, which
	// allow nothing but EKS Auth, may still ask who they are.
	if who, err := srv.STS(proctest.StaticCredentials(keys)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil || !strings.HasSuffix(aws.ToString(who.Arn), ":user/podid-node/podid-node-"+dev) {
		t.Errorf("GetCallerIdentity with the node's keys: %v", err)
	}
	if _, err := srv.CLI(t, []string{"PODID_ADMIN_ACCESS_KEY_ID=" + keys.AccessKeyID, "PODID_ADMIN_SECRET_ACCESS_KEY=" + keys.SecretAccessKey},
		"token", "--cluster", dev, "--namespace", "default", "--service-account", "app", "--pod-name", "p", "--pod-uid", "u"); err == nil || !strings.Contains(err.Error(), "AccessDenied") {
		t.Errorf("podid token with the node's keys: %v", err)
	}

	srv.mustCLI(t, "node-credentials", "delete", "--cluster", dev)
	r = srv.assumeRoleForPodIdentity(t, dev, tok, &keys, "eks-auth")
	if code, _ := r.awsError(); r.status != 403 || code != "InvalidSignatureException" && code != "UnrecognizedClientException" {
		t.Errorf("after delete: %d %s", r.status, r.body)
	}
}

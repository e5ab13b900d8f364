package eksauth_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	awssts "github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/go-cmp/cmp"

	"github.com/podid/podid/eksapi"
	"github.com/podid/podid/internal/admin"
	"github.com/podid/podid/internal/agent/eksauthclient"
	"github.com/podid/podid/internal/eksauth"
	"github.com/podid/podid/internal/satoken"
	"github.com/podid/podid/internal/sts"
)

var pod = admin.MintTokenInput{
	Namespace: "ns-a", ServiceAccount: "sa1", ServiceAccountUID: "aad7d4eb-1",
	PodName: "app1", PodUID: "fd6df8ef-c1f9-4dee-b6e9-a0b50c8f3012",
}

// associate creates an association through the EKS API and waits until it
// is in effect.
func (e *env) associate(t testing.TB, in *eks.CreatePodIdentityAssociationInput) string {
	t.Helper()
	out, err := e.eksClient(t).CreatePodIdentityAssociation(context.Background(), in)
	if err != nil {
		t.Fatalf("CreatePodIdentityAssociation: %v", err)
	}
	e.waitAll(t)
	return *out.Association.AssociationId
}

// session opens the session behind vended credentials.
func (e *env) session(t *testing.T, c *eksapi.Credentials) *sts.Session {
	t.Helper()
	s, err := e.sts.VerifyCredentials(sts.Credentials{AccessKeyID: c.AccessKeyId, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken})
	if err != nil {
		t.Fatalf("vended credentials do not verify: %v", err)
	}
	return s
}

var sessionNameRE = regexp.MustCompile(`^eks-c1-app1-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestAssumeRoleForPodIdentity(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.createCluster(t, "c1")
	id := e.associate(t, &eks.CreatePodIdentityAssociationInput{
		ClusterName: aws.String("c1"), Namespace: aws.String("ns-a"), ServiceAccount: aws.String("sa1"),
		RoleArn: aws.String("arn:aws:iam::" + account + ":role/app-role"),
	})
	tok := e.mint(t, "c1", pod)
	before := time.Now().Truncate(time.Second)
	out, ae := e.assumeRole(t, "c1", eksapi.AssumeRoleForPodIdentityInput{Token: tok, EksNodeName: "node-1", InstanceId: "i-0abc", Zone: "usw2-az1"})
	if ae != nil {
		t.Fatalf("AssumeRoleForPodIdentity: %+v", ae)
	}

	// Every member, as the agent dereferences them.
	if err := eksauthclient.Validate(out); err != nil {
		t.Errorf("response fails the agent's checks: %v", err)
	}
	sessionName := strings.TrimPrefix(out.AssumedRoleUser.Arn, "arn:aws:sts::"+account+":assumed-role/app-role/")
	if !sessionNameRE.MatchString(sessionName) {
		t.Errorf("assumedRoleUser.arn = %s, want ...assumed-role/app-role/eks-c1-app1-UUID", out.AssumedRoleUser.Arn)
	}
	if !strings.HasSuffix(out.AssumedRoleUser.AssumeRoleId, ":"+sessionName) || !strings.HasPrefix(out.AssumedRoleUser.AssumeRoleId, "AROA") {
		t.Errorf("assumeRoleId = %s", out.AssumedRoleUser.AssumeRoleId)
	}
	want := &eksapi.AssumeRoleForPodIdentityOutput{
		Subject:  &eksapi.Subject{Namespace: "ns-a", ServiceAccount: "sa1"},
		Audience: "pods.eks.amazonaws.com",
		PodIdentityAssociation: &eksapi.PodIdentityAssociationRef{
			AssociationArn: "arn:aws:eks:us-west-2:" + account + ":podidentityassociation/c1/" + id,
			AssociationId:  id,
		},
		AssumedRoleUser: out.AssumedRoleUser,
		Credentials:     out.Credentials,
	}
	if diff := cmp.Diff(out, want); diff != "" {
		t.Errorf("response (-got +want):\n%s", diff)
	}
	if exp := out.Credentials.Expiration.Time; exp.Before(before.Add(6*time.Hour)) || exp.After(time.Now().Add(6*time.Hour+time.Second)) {
		t.Errorf("expiration %v, want 6 h from now", exp)
	}

	s := e.session(t, out.Credentials)
	wantTags := []sts.Tag{
		{Key: "eks-cluster-arn", Value: "arn:aws:eks:us-west-2:" + account + ":cluster/c1"},
		{Key: "eks-cluster-name", Value: "c1"},
		{Key: "kubernetes-namespace", Value: "ns-a"},
		{Key: "kubernetes-service-account", Value: "sa1"},
		{Key: "kubernetes-pod-name", Value: "app1"},
		{Key: "kubernetes-pod-uid", Value: pod.PodUID},
	}
	if diff := cmp.Diff(s.Tags, wantTags); diff != "" {
		t.Errorf("session tags (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(s.TransitiveTagKeys, []string{"eks-cluster-arn", "eks-cluster-name", "kubernetes-namespace", "kubernetes-service-account", "kubernetes-pod-name", "kubernetes-pod-uid"}); diff != "" {
		t.Errorf("transitive keys (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(s.SourceContext, map[string]string{"eksNodeName": "node-1", "instanceId": "i-0abc", "zone": "usw2-az1"}); diff != "" {
		t.Errorf("source context (-got +want):\n%s", diff)
	}
	if s.SourcePrincipal != "pods.eks.amazonaws.com" || s.Policy != "" || len(s.Chain) != 0 {
		t.Errorf("session principal %q policy %q chain %v", s.SourcePrincipal, s.Policy, s.Chain)
	}

	// The credentials are real: STS's GetCallerIdentity, through the AWS
	// SDK, answers for the assumed role.
	stsc := awssts.NewFromConfig(aws.Config{
		Region:      region,
		Credentials: credentials.NewStaticCredentialsProvider(out.Credentials.AccessKeyId, out.Credentials.SecretAccessKey, out.Credentials.SessionToken),
		HTTPClient:  e.HTTP.Client(),
	}, func(o *awssts.Options) { o.BaseEndpoint = aws.String(e.URL) })
	who, err := stsc.GetCallerIdentity(context.Background(), &awssts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("GetCallerIdentity: %v", err)
	}
	if *who.Arn != out.AssumedRoleUser.Arn {
		t.Errorf("GetCallerIdentity ARN = %s, want %s", *who.Arn, out.AssumedRoleUser.Arn)
	}

	// The agent's own client reads the same answer.
	c, err := eksauthclient.New(eksauthclient.Config{Endpoint: e.URL, Region: region, HTTPClient: e.HTTP.Client(),
		Credentials: credentials.NewStaticCredentialsProvider(e.admin.AccessKeyID, e.admin.SecretAccessKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	out2, err := c.AssumeRoleForPodIdentity(context.Background(), "c1", tok)
	if err != nil {
		t.Fatalf("eksauthclient: %v", err)
	}
	if acct, _ := eksauthclient.AccountID(out2); acct != account {
		t.Errorf("agent's account ID = %q, want %s", acct, account)
	}
}

func TestTargetRoleChaining(t *testing.T) {
	const policy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`
	for _, tt := range []struct {
		name   string
		policy string // a policy requires disableSessionTags
	}{
		{"session tags", ""},
		{"policy, no tags", policy},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			e.createCluster(t, "c1")
			in := &eks.CreatePodIdentityAssociationInput{
				ClusterName: aws.String("c1"), Namespace: aws.String("ns-a"), ServiceAccount: aws.String("sa1"),
				RoleArn:       aws.String("arn:aws:iam::" + account + ":role/hop"),
				TargetRoleArn: aws.String("arn:aws:iam::444455556666:role/target"),
			}
			if tt.policy != "" {
				in.Policy, in.DisableSessionTags = aws.String(tt.policy), aws.Bool(true)
			}
			id := e.associate(t, in)
			full, err := e.eksClient(t).DescribePodIdentityAssociation(context.Background(), &eks.DescribePodIdentityAssociationInput{
				ClusterName: aws.String("c1"), AssociationId: aws.String(id)})
			if err != nil {
				t.Fatal(err)
			}
			externalID := aws.ToString(full.Association.ExternalId)
			if externalID == "" {
				t.Fatal("association with a target role has no externalId")
			}

			out, ae := e.assumeRole(t, "c1", eksapi.AssumeRoleForPodIdentityInput{Token: e.mint(t, "c1", pod)})
			if ae != nil {
				t.Fatalf("AssumeRoleForPodIdentity: %+v", ae)
			}
			if !strings.HasPrefix(out.AssumedRoleUser.Arn, "arn:aws:sts::444455556666:assumed-role/target/eks-c1-app1-") {
				t.Errorf("assumedRoleUser.arn = %s, want the target role's session", out.AssumedRoleUser.Arn)
			}
			if exp := out.Credentials.Expiration.Time; exp.After(time.Now().Add(time.Hour + time.Second)) {
				t.Errorf("chained credentials expire at %v, more than 1 h away", exp)
			}
			s := e.session(t, out.Credentials)
			first := strings.Replace(out.AssumedRoleUser.Arn, "444455556666:assumed-role/target", account+":assumed-role/hop", 1)
			if diff := cmp.Diff(s.Chain, []string{first}); diff != "" {
				t.Errorf("chain (-got +want):\n%s", diff)
			}
			if s.ExternalID != externalID || s.Policy != tt.policy {
				t.Errorf("target session externalId %q policy %q, want %q and %q", s.ExternalID, s.Policy, externalID, tt.policy)
			}
			wantTags := 6 // transitive: the target session inherits them
			if tt.policy != "" {
				wantTags = 0
			}
			if len(s.Tags) != wantTags {
				t.Errorf("target session tags = %v, want %d", s.Tags, wantTags)
			}
		})
	}
}

func TestDisableSessionTagsAndPolicy(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.createCluster(t, "c1")
	const policy = `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]}`
	e.associate(t, &eks.CreatePodIdentityAssociationInput{
		ClusterName: aws.String("c1"), Namespace: aws.String("ns-a"), ServiceAccount: aws.String("sa1"),
		RoleArn: aws.String("arn:aws:iam::" + account + ":role/r"), DisableSessionTags: aws.Bool(true), Policy: aws.String(policy),
	})
	out, ae := e.assumeRole(t, "c1", eksapi.AssumeRoleForPodIdentityInput{Token: e.mint(t, "c1", pod)})
	if ae != nil {
		t.Fatalf("AssumeRoleForPodIdentity: %+v", ae)
	}
	s := e.session(t, out.Credentials)
	if len(s.Tags) != 0 || len(s.TransitiveTagKeys) != 0 {
		t.Errorf("disableSessionTags: session tags %v transitive %v, want none", s.Tags, s.TransitiveTagKeys)
	}
	if s.Policy != policy {
		t.Errorf("policy without a target role: session policy %q, want the association's", s.Policy)
	}
}

func TestLongNames(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.createCluster(t, "a-very-long-cluster-name")
	e.associate(t, &eks.CreatePodIdentityAssociationInput{
		ClusterName: aws.String("a-very-long-cluster-name"), Namespace: aws.String("ns-a"), ServiceAccount: aws.String("sa1"),
		RoleArn: aws.String("arn:aws:iam::" + account + ":role/r"),
	})
	p := pod
	p.PodName = "deployment-with-a-long-name-7f9c8d6b5-x2x4z"
	out, ae := e.assumeRole(t, "a-very-long-cluster-name", eksapi.AssumeRoleForPodIdentityInput{Token: e.mint(t, "a-very-long-cluster-name", p)})
	if ae != nil {
		t.Fatalf("AssumeRoleForPodIdentity: %+v", ae)
	}
	name := out.AssumedRoleUser.Arn[strings.LastIndexByte(out.AssumedRoleUser.Arn, '/')+1:]
	if len(name) != 64 || !strings.HasPrefix(name, "eks-a-very-lon-deployment-w-") {
		t.Errorf("session name %q (%d chars), want 64 starting eks-a-very-lon-deployment-w-", name, len(name))
	}
}

func TestSessionName(t *testing.T) {
	const id = "498124c2-a555-40bf-9059-ca9a26821eb0"
	for _, tt := range []struct{ cluster, pod, want string }{
		{"eksworkshop-eksctl", "app1", "eks-eksworksho-app1-" + id},
		{"c", "p", "eks-c-p-" + id},
		{"eksworkshop-eksctl", "abcdefghijklmnop", "eks-eksworksho-abcdefghijkl-" + id},
	} {
		got := eksauth.SessionName(tt.cluster, tt.pod, id)
		if got != tt.want || len(got) > 64 {
			t.Errorf("SessionName(%q, %q) = %q (%d), want %q", tt.cluster, tt.pod, got, len(got), tt.want)
		}
	}
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestAssumeRoleErrors(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, c := range []string{"c1", "c2"} {
		e.createCluster(t, c)
	}
	e.associate(t, &eks.CreatePodIdentityAssociationInput{
		ClusterName: aws.String("c1"), Namespace: aws.String("ns-a"), ServiceAccount: aws.String("sa1"),
		RoleArn: aws.String("arn:aws:iam::" + account + ":role/r"),
	})
	good := e.mint(t, "c1", pod)
	parts := strings.Split(good, ".")
	other := pod
	other.ServiceAccount = "unassociated"
	cl, err := e.Store.GetCluster(context.Background(), region, "c1")
	if err != nil {
		t.Fatal(err)
	}
	claims := satoken.Claims{Namespace: "ns-a", ServiceAccount: "sa1", PodName: "app1", PodUID: "u1"}
	iss := e.Server.Server.IssuerURL(cl)
	expired, err := satoken.Mint(cl.Issuer.SigningKeys, iss, claims, time.Now().Add(-25*time.Hour), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	wrongAud := func() string {
		// Signed by c1's key, for another audience.
		var set jose.JSONWebKeySet
		if err := json.Unmarshal(cl.Issuer.SigningKeys, &set); err != nil {
			t.Fatal(err)
		}
		sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: set.Keys[0]}, nil)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := jwt.Signed(sig).Claims(map[string]any{
			"iss": iss, "aud": []string{"sts.amazonaws.com"}, "sub": "system:serviceaccount:ns-a:sa1",
			"exp":           time.Now().Add(time.Hour).Unix(),
			"kubernetes.io": map[string]any{"namespace": "ns-a", "pod": map[string]string{"name": "p", "uid": "u"}, "serviceaccount": map[string]string{"name": "sa1"}},
		}).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}()
	wrongIssuer, err := satoken.Mint(cl.Issuer.SigningKeys, "https://elsewhere.example", claims, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		cluster string
		body    any // an input, or raw []byte
		status  int
		code    string
		msg     string // prefix
	}{
		{"expired", "c1", eksapi.AssumeRoleForPodIdentityInput{Token: expired}, 400, "ExpiredTokenException", "The token included in the request is expired: current date/time "},
		{"wrong audience", "c1", eksapi.AssumeRoleForPodIdentityInput{Token: wrongAud}, 400, "InvalidTokenException", ""},
		{"wrong issuer", "c1", eksapi.AssumeRoleForPodIdentityInput{Token: wrongIssuer}, 400, "InvalidTokenException", ""},
		{"other cluster's token", "c2", eksapi.AssumeRoleForPodIdentityInput{Token: good}, 400, "InvalidTokenException", "The token included in the request is invalid"},
		{"forged payload", "c1", eksapi.AssumeRoleForPodIdentityInput{Token: parts[0] + "." + b64(`{"sub":"x"}`) + "." + parts[2]}, 400, "InvalidTokenException", ""},
		{"alg none", "c1", eksapi.AssumeRoleForPodIdentityInput{Token: b64(`{"alg":"none"}`) + "." + parts[1] + "." + parts[2]}, 400, "InvalidTokenException", ""},
		{"garbage token", "c1", eksapi.AssumeRoleForPodIdentityInput{Token: "garbage"}, 400, "InvalidParameterException", "1 validation error detected: Value '***' at 'token'"},
		{"no token", "c1", eksapi.AssumeRoleForPodIdentityInput{}, 400, "InvalidParameterException", "1 validation error detected: Value null at 'token'"},
		{"bad cluster name", "-c1", eksapi.AssumeRoleForPodIdentityInput{Token: good}, 400, "InvalidParameterException", "1 validation error detected: Value '-c1' at 'clusterName'"},
		{"long cluster name", strings.Repeat("c", 101), eksapi.AssumeRoleForPodIdentityInput{Token: good}, 400, "InvalidParameterException", ""},
		{"unknown cluster", "nope", eksapi.AssumeRoleForPodIdentityInput{Token: good}, 404, "ResourceNotFoundException", "No cluster found for name: nope."},
		{"no association", "c1", eksapi.AssumeRoleForPodIdentityInput{Token: e.mint(t, "c1", other)}, 404, "ResourceNotFoundException", "No Pod Identity Association found"},
		{"not JSON", "c1", []byte("{"), 400, "SerializationException", ""},
		{"oversized", "c1", eksapi.AssumeRoleForPodIdentityInput{Token: good, EksNodeName: strings.Repeat("n", 70<<10)}, 413, "RequestEntityTooLargeException", ""},
		{"long node name", "c1", eksapi.AssumeRoleForPodIdentityInput{Token: good, EksNodeName: strings.Repeat("n", 300)}, 400, "InvalidParameterException", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ae := e.assumeRole(t, tt.cluster, tt.body)
			if ae == nil {
				t.Fatalf("succeeded, want %s", tt.code)
			}
			if ae.Status != tt.status || ae.Type != tt.code || !strings.HasPrefix(ae.Message, tt.msg) {
				t.Errorf("got %d %s %q, want %d %s %q...", ae.Status, ae.Type, ae.Message, tt.status, tt.code, tt.msg)
			}
			if strings.Contains(ae.Message, parts[2]) {
				t.Errorf("error message quotes the token's signature")
			}
		})
	}
}

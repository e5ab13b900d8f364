package eksauth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/google/go-cmp/cmp"

	"github.com/podid/podid/eksapi"
	"github.com/podid/podid/internal/admin"
	"github.com/podid/podid/internal/eksauth"
	"github.com/podid/podid/internal/satoken"
	"github.com/podid/podid/internal/sts"
)

// recorder records the role assumptions and passes them to next, or
// fails them with err.
type recorder struct {
	next        eksauth.Assumer
	err         error
	maxDuration int32 // refuse longer sessions as a capped STS does

	mu    sync.Mutex
	calls []sts.AssumeRoleInput
}

func (r *recorder) AssumeRole(ctx context.Context, in sts.AssumeRoleInput) (sts.AssumeRoleOutput, error) {
	r.mu.Lock()
	r.calls = append(r.calls, in)
	r.mu.Unlock()
	if r.err != nil {
		return sts.AssumeRoleOutput{}, r.err
	}
	if r.maxDuration != 0 && in.DurationSeconds > r.maxDuration {
		return sts.AssumeRoleOutput{}, &sts.Error{Code: sts.CodeValidation, Status: 400,
			Message: "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."}
	}
	return r.next.AssumeRole(ctx, in)
}

// TestDurationCapped: an STS that caps sessions at 1 h (an upstream one,
// by the role's MaxSessionDuration) still yields credentials.
func TestDurationCapped(t *testing.T) {
	rec := &recorder{maxDuration: 3600}
	e := newEnv(t, envOptions{assumer: rec})
	rec.next = e.sts
	e.createCluster(t, "c1")
	e.associate(t, &eks.CreatePodIdentityAssociationInput{
		ClusterName: aws.String("c1"), Namespace: aws.String("ns-a"), ServiceAccount: aws.String("sa1"),
		RoleArn: aws.String("arn:aws:iam::" + account + ":role/r"),
	})
	out, ae := e.assumeRole(t, "c1", eksapi.AssumeRoleForPodIdentityInput{Token: e.mint(t, "c1", pod)})
	if ae != nil {
		t.Fatalf("AssumeRoleForPodIdentity: %+v", ae)
	}
	var got []int32
	for _, c := range rec.calls {
		got = append(got, c.DurationSeconds)
	}
	if diff := cmp.Diff(got, []int32{21600, 3600}); diff != "" {
		t.Errorf("durations asked (-got +want):\n%s", diff)
	}
	if exp := out.Credentials.Expiration.Time; exp.After(time.Now().Add(time.Hour + time.Second)) {
		t.Errorf("expiration %v, want within 1 h", exp)
	}
}

func TestAssumptionInputs(t *testing.T) {
	rec := &recorder{}
	e := newEnv(t, envOptions{assumer: rec})
	rec.next = e.sts
	e.createCluster(t, "c1")
	const policy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`
	e.associate(t, &eks.CreatePodIdentityAssociationInput{
		ClusterName: aws.String("c1"), Namespace: aws.String("ns-a"), ServiceAccount: aws.String("sa1"),
		RoleArn: aws.String("arn:aws:iam::" + account + ":role/hop"), TargetRoleArn: aws.String("arn:aws:iam::444455556666:role/target"),
		Policy: aws.String(policy), DisableSessionTags: aws.Bool(true),
	})
	if _, ae := e.assumeRole(t, "c1", eksapi.AssumeRoleForPodIdentityInput{Token: e.mint(t, "c1", pod), Zone: "usw2-az1"}); ae != nil {
		t.Fatalf("AssumeRoleForPodIdentity: %+v", ae)
	}
	if len(rec.calls) != 2 {
		t.Fatalf("%d assumptions, want 2", len(rec.calls))
	}
	first, second := rec.calls[0], rec.calls[1]
	session := first.RoleSessionName
	want := []sts.AssumeRoleInput{
		{RoleARN: "arn:aws:iam::" + account + ":role/hop", RoleSessionName: session, DurationSeconds: 21600,
			SourceContext: map[string]string{"zone": "usw2-az1"}, SourceARN: "arn:aws:eks:us-west-2:" + account + ":cluster/c1", CallerLogs: true},
		{RoleARN: "arn:aws:iam::444455556666:role/target", RoleSessionName: session, DurationSeconds: 3600,
			ExternalID: "us-west-2/" + account + "/c1/ns-a/sa1", Policy: policy, Caller: second.Caller,
			SourceContext: map[string]string{"zone": "usw2-az1"}, CallerLogs: true},
	}
	if diff := cmp.Diff(rec.calls, want); diff != "" {
		t.Errorf("assumptions (-got +want):\n%s", diff)
	}
	if second.Caller == nil || !strings.HasPrefix(second.Caller.AccessKeyID, "ASIA") {
		t.Errorf("second assumption's caller = %+v, want the first session's credentials", second.Caller)
	}
}

func TestSTSErrorMapping(t *testing.T) {
	for _, tt := range []struct {
		name   string
		err    error
		status int
		code   string
		msg    string
	}{
		{"access denied", &sts.Error{Code: "AccessDenied", Status: 403, Message: "User: x is not authorized to perform: sts:TagSession"},
			400, "AccessDeniedException", "Unauthorized Exception! EKS does not have permissions to assume the associated role."},
		{"packed policy too large", &sts.Error{Code: "PackedPolicyTooLarge", Status: 400, Message: "Packed policy consumes 120% of allotted space"},
			400, "InvalidRequestException", "PackedPolicyTooLarge: Packed policy consumes 120% of allotted space"},
		{"throttled", &sts.Error{Code: "Throttling", Status: 400, Message: "Rate exceeded"}, 429, "ThrottlingException", "Rate exceeded"},
		{"sts down", &sts.Error{Code: "InternalFailure", Status: 500, Message: "oops"}, 503, "ServiceUnavailableException", ""},
		{"transport", errors.New("dial tcp: connection refused"), 500, "InternalServerException", "An internal error occurred."},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOptions{assumer: &recorder{err: tt.err}})
			e.createCluster(t, "c1")
			e.associate(t, &eks.CreatePodIdentityAssociationInput{
				ClusterName: aws.String("c1"), Namespace: aws.String("ns-a"), ServiceAccount: aws.String("sa1"),
				RoleArn: aws.String("arn:aws:iam::" + account + ":role/r"),
			})
			_, ae := e.assumeRole(t, "c1", eksapi.AssumeRoleForPodIdentityInput{Token: e.mint(t, "c1", pod)})
			if ae == nil || ae.Status != tt.status || ae.Type != tt.code || !strings.HasPrefix(ae.Message, tt.msg) {
				t.Errorf("got %+v, want %d %s %q", ae, tt.status, tt.code, tt.msg)
			}
		})
	}
}

// TestEventualConsistency: with a propagation delay, a new association is
// not usable at once; podid wait says when it is, and so for an update and
// a delete.
func TestEventualConsistency(t *testing.T) {
	const delay = 1500 * time.Millisecond
	e := newEnv(t, envOptions{delay: delay})
	e.createCluster(t, "c1")
	ctx := context.Background()
	tok := e.mint(t, "c1", pod)
	// The delay runs from the commit, which is after sent and may be well
	// before the answer arrives on a loaded machine: sent is the bound.
	sent := time.Now()
	out, err := e.eksClient(t).CreatePodIdentityAssociation(ctx, &eks.CreatePodIdentityAssociationInput{
		ClusterName: aws.String("c1"), Namespace: aws.String("ns-a"), ServiceAccount: aws.String("sa1"),
		RoleArn: aws.String("arn:aws:iam::" + account + ":role/r1"),
	})
	if err != nil {
		t.Fatal(err)
	}
	id := *out.Association.AssociationId
	if _, ae := e.assumeRole(t, "c1", eksapi.AssumeRoleForPodIdentityInput{Token: tok}); ae == nil || ae.Type != "ResourceNotFoundException" {
		t.Errorf("right after create: %+v, want ResourceNotFoundException (not yet propagated)", ae)
	}
	// A wait too short times out.
	if ae := e.do(t, nil, "GET", "/podid/v1/wait?cluster=c1&associationId="+id+"&timeout=10ms", "eks", nil, nil); ae == nil || ae.Status != 408 || ae.Type != "RequestTimeoutException" {
		t.Errorf("short wait: %+v, want 408 RequestTimeoutException", ae)
	}
	var w admin.WaitOutput
	if ae := e.do(t, nil, "GET", "/podid/v1/wait?cluster=c1&associationId="+id+"&timeout=20s", "eks", nil, &w); ae != nil {
		t.Fatalf("wait: %+v", ae)
	}
	if since := time.Since(sent); since < delay-10*time.Millisecond { // ModifiedAt may be stored truncated
		t.Errorf("wait returned %v after the create was sent, before the %v delay", since, delay)
	}
	if o, ae := e.assumeRole(t, "c1", eksapi.AssumeRoleForPodIdentityInput{Token: tok}); ae != nil || !strings.Contains(o.AssumedRoleUser.Arn, ":assumed-role/r1/") {
		t.Fatalf("after wait: %+v %+v", o, ae)
	}

	if _, err := e.eksClient(t).UpdatePodIdentityAssociation(ctx, &eks.UpdatePodIdentityAssociationInput{
		ClusterName: aws.String("c1"), AssociationId: aws.String(id), RoleArn: aws.String("arn:aws:iam::" + account + ":role/r2"),
	}); err != nil {
		t.Fatal(err)
	}
	if ae := e.do(t, nil, "GET", "/podid/v1/wait?cluster=c1&associationId="+id, "eks", nil, &w); ae != nil {
		t.Fatalf("wait: %+v", ae)
	}
	if o, ae := e.assumeRole(t, "c1", eksapi.AssumeRoleForPodIdentityInput{Token: tok}); ae != nil || !strings.Contains(o.AssumedRoleUser.Arn, ":assumed-role/r2/") {
		t.Fatalf("after update and wait: %+v %+v", o, ae)
	}

	if _, err := e.eksClient(t).DeletePodIdentityAssociation(ctx, &eks.DeletePodIdentityAssociationInput{
		ClusterName: aws.String("c1"), AssociationId: aws.String(id),
	}); err != nil {
		t.Fatal(err)
	}
	if ae := e.do(t, nil, "GET", "/podid/v1/wait?cluster=c1&associationId="+id, "eks", nil, &w); ae != nil {
		t.Fatalf("wait: %+v", ae)
	}
	if _, ae := e.assumeRole(t, "c1", eksapi.AssumeRoleForPodIdentityInput{Token: tok}); ae == nil || ae.Type != "ResourceNotFoundException" {
		t.Errorf("after delete and wait: %+v, want ResourceNotFoundException", ae)
	}
	if p := e.cache.Propagation(); p.Count < 2 || p.P50 < delay-100*time.Millisecond {
		t.Errorf("measured propagation %+v, want >= 2 samples of about %v", p, delay)
	}
	for _, q := range []string{"revision=x", "timeout=never"} {
		if ae := e.do(t, nil, "GET", "/podid/v1/wait?"+q, "eks", nil, nil); ae == nil || ae.Type != "InvalidParameterException" {
			t.Errorf("wait?%s: %+v, want InvalidParameterException", q, ae)
		}
	}
}

func TestIssuerAdmin(t *testing.T) {
	e := newEnv(t, envOptions{})
	podidToken := e.podToken(t)
	// Verified (and so remembered by the verifier) before the switch
	// below, which must still refuse it.
	if _, ae := e.assumeRole(t, "c1", eksapi.AssumeRoleForPodIdentityInput{Token: podidToken}); ae != nil {
		t.Fatalf("podid's token: %+v", ae)
	}

	var doc admin.IssuerDoc
	if ae := e.do(t, nil, "GET", "/podid/v1/clusters/c1/issuer", "eks", nil, &doc); ae != nil {
		t.Fatal(ae)
	}
	// podid's signing key, with the time it was made.
	podidKeys := doc.Keys
	if len(podidKeys) != 1 || podidKeys[0].CreatedAt == nil || time.Since(podidKeys[0].CreatedAt.Time) > time.Minute {
		t.Errorf("issuer keys %+v: want podid's key with its creation time", podidKeys)
	}
	if diff := cmp.Diff(doc, admin.IssuerDoc{IssuerURL: e.URL + "/clusters-oidc/c1", PodidIssued: true, Keys: podidKeys}); diff != "" {
		t.Errorf("issuer (-got +want):\n%s", diff)
	}
	// DescribeCluster names the same issuer.
	dc, err := e.eksClient(t).DescribeCluster(context.Background(), &eks.DescribeClusterInput{Name: aws.String("c1")})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(dc.Cluster.Identity.Oidc.Issuer); got != doc.IssuerURL {
		t.Errorf("DescribeCluster issuer = %q, want %q", got, doc.IssuerURL)
	}
	// Its discovery document is public (no signature) and points at the keys.
	resp, err := http.Get(doc.IssuerURL + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var oidc map[string]any
	json.NewDecoder(resp.Body).Decode(&oidc)
	resp.Body.Close()
	if resp.StatusCode != 200 || oidc["jwks_uri"] != doc.IssuerURL+"/keys" {
		t.Errorf("discovery: %d %v", resp.StatusCode, oidc)
	}
	// The key the issuer document lists is the one the JWKS serves.
	resp, err = http.Get(doc.IssuerURL + "/keys")
	if err != nil {
		t.Fatal(err)
	}
	var served struct{ Keys []struct{ Kid string } }
	json.NewDecoder(resp.Body).Decode(&served)
	resp.Body.Close()
	if len(served.Keys) != 1 || len(podidKeys) != 1 || served.Keys[0].Kid != podidKeys[0].KeyID {
		t.Errorf("JWKS keys %+v, issuer document's %+v: want the same key", served.Keys, podidKeys)
	}

	// Switch to an external issuer whose keys a JWKS URL serves.
	extKeys, err := satoken.NewSigningKeys()
	if err != nil {
		t.Fatal(err)
	}
	pub, err := satoken.PublicJWKS(extKeys)
	if err != nil {
		t.Fatal(err)
	}
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(pub) }))
	defer jwks.Close()
	const extIss = "https://kubernetes.default.svc.cluster.local"
	set := admin.IssuerDoc{IssuerURL: extIss, JWKSURL: jwks.URL}
	doc = admin.IssuerDoc{}
	if ae := e.do(t, nil, "PUT", "/podid/v1/clusters/c1/issuer", "eks", set, &doc); ae != nil {
		t.Fatal(ae)
	}
	if diff := cmp.Diff(doc, set); diff != "" {
		t.Errorf("issuer after set (-got +want):\n%s", diff)
	}
	extToken, err := satoken.Mint(extKeys, extIss, satoken.Claims{Namespace: "ns-a", ServiceAccount: "sa1", PodName: "p", PodUID: "u"}, time.Now(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, ae := e.assumeRole(t, "c1", eksapi.AssumeRoleForPodIdentityInput{Token: extToken}); ae != nil {
		t.Errorf("external issuer's token: %+v", ae)
	}
	if _, ae := e.assumeRole(t, "c1", eksapi.AssumeRoleForPodIdentityInput{Token: podidToken}); ae == nil || ae.Type != "InvalidTokenException" {
		t.Errorf("podid's token after the switch: %+v, want InvalidTokenException", ae)
	}
	if ae := e.do(t, nil, "POST", "/podid/v1/clusters/c1/tokens", "eks", pod, nil); ae == nil || ae.Type != "InvalidRequestException" {
		t.Errorf("minting for an external issuer: %+v, want InvalidRequestException", ae)
	}
	if resp, err := http.Get(e.URL + "/clusters-oidc/c1/keys"); err != nil || resp.StatusCode != 404 {
		t.Errorf("keys of an external-issuer cluster: %v %v, want 404", resp.Status, err)
	}
	// Keys that cannot be fetched are not the token's fault: 503, retried.
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	if ae := e.do(t, nil, "PUT", "/podid/v1/clusters/c1/issuer", "eks", admin.IssuerDoc{IssuerURL: extIss, JWKSURL: down.URL}, nil); ae != nil {
		t.Fatal(ae)
	}
	if _, ae := e.assumeRole(t, "c1", eksapi.AssumeRoleForPodIdentityInput{Token: extToken}); ae == nil || ae.Status != 503 || ae.Type != "ServiceUnavailableException" {
		t.Errorf("unreachable JWKS URL: %+v, want 503 ServiceUnavailableException", ae)
	}

	// A static JWKS; then back to podid, which kept the cluster's key.
	set = admin.IssuerDoc{IssuerURL: extIss, JWKS: pub}
	doc = admin.IssuerDoc{}
	if ae := e.do(t, nil, "PUT", "/podid/v1/clusters/c1/issuer", "eks", set, &doc); ae != nil {
		t.Fatal(ae)
	}
	if extKIDs, _ := satoken.Keys(pub); len(doc.Keys) != 1 || doc.Keys[0] != (admin.IssuerKey{KeyID: extKIDs[0].KeyID}) {
		t.Errorf("static JWKS issuer keys %+v: want its key ID %v, no time", doc.Keys, extKIDs)
	}
	if _, ae := e.assumeRole(t, "c1", eksapi.AssumeRoleForPodIdentityInput{Token: extToken}); ae != nil {
		t.Errorf("static JWKS: %+v", ae)
	}
	doc = admin.IssuerDoc{}
	if ae := e.do(t, nil, "PUT", "/podid/v1/clusters/c1/issuer", "eks", admin.IssuerDoc{PodidIssued: true}, &doc); ae != nil {
		t.Fatal(ae)
	}
	if diff := cmp.Diff(doc.Keys, podidKeys); diff != "" {
		t.Errorf("back to podid: keys (-got +want):\n%s", diff)
	}
	if _, ae := e.assumeRole(t, "c1", eksapi.AssumeRoleForPodIdentityInput{Token: podidToken}); ae != nil {
		t.Errorf("podid's token after switching back: %+v", ae)
	}

	for _, tt := range []struct {
		name string
		doc  any
	}{
		{"no keys", admin.IssuerDoc{IssuerURL: extIss}},
		{"both keys", admin.IssuerDoc{IssuerURL: extIss, JWKSURL: jwks.URL, JWKS: pub}},
		{"private JWKS", admin.IssuerDoc{IssuerURL: extIss, JWKS: extKeys}},
		{"not a URL", admin.IssuerDoc{IssuerURL: "kubernetes", JWKSURL: jwks.URL}},
		{"podid with URL", admin.IssuerDoc{IssuerURL: extIss, PodidIssued: true}},
	} {
		if ae := e.do(t, nil, "PUT", "/podid/v1/clusters/c1/issuer", "eks", tt.doc, nil); ae == nil || ae.Type != "InvalidParameterException" {
			t.Errorf("%s: %+v, want InvalidParameterException", tt.name, ae)
		}
	}
	if ae := e.do(t, nil, "GET", "/podid/v1/clusters/nope/issuer", "eks", nil, nil); ae == nil || ae.Status != 404 {
		t.Errorf("unknown cluster: %+v, want 404", ae)
	}
}

// TestAdminOnly: vended credentials authenticate, but cannot mint tokens
// or change issuers.
func TestAdminOnly(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.createCluster(t, "c1")
	e.associate(t, &eks.CreatePodIdentityAssociationInput{
		ClusterName: aws.String("c1"), Namespace: aws.String("ns-a"), ServiceAccount: aws.String("sa1"),
		RoleArn: aws.String("arn:aws:iam::" + account + ":role/r"),
	})
	out, ae := e.assumeRole(t, "c1", eksapi.AssumeRoleForPodIdentityInput{Token: e.mint(t, "c1", pod)})
	if ae != nil {
		t.Fatal(ae)
	}
	pc := &aws.Credentials{AccessKeyID: out.Credentials.AccessKeyId, SecretAccessKey: out.Credentials.SecretAccessKey, SessionToken: out.Credentials.SessionToken}
	if ae := e.do(t, pc, "POST", "/podid/v1/clusters/c1/tokens", "eks", pod, nil); ae == nil || ae.Type != "AccessDeniedException" {
		t.Errorf("pod minting a token: %+v, want AccessDeniedException", ae)
	}
	if ae := e.do(t, pc, "PUT", "/podid/v1/clusters/c1/issuer", "eks", admin.IssuerDoc{PodidIssued: true}, nil); ae == nil || ae.Type != "AccessDeniedException" {
		t.Errorf("pod setting the issuer: %+v, want AccessDeniedException", ae)
	}
	// Reading is fine.
	if ae := e.do(t, pc, "GET", "/podid/v1/clusters/c1/issuer", "eks", nil, nil); ae != nil {
		t.Errorf("pod reading the issuer: %+v", ae)
	}
}

// TestLogLine: a credential request logs one line at info level, EKS
// Auth's, naming the pod, the role, the access key ID and the expiration;
// STS's line for the same session goes at debug level; neither holds the
// token, the secret key or the session token.
func TestLogLine(t *testing.T) {
	var logs syncBuffer
	e := newEnv(t, envOptions{logs: &logs})
	tok := e.podToken(t)
	out, ae := e.assumeRole(t, "c1", eksapi.AssumeRoleForPodIdentityInput{Token: tok})
	if ae != nil {
		t.Fatal(ae)
	}
	var info []string
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		switch {
		case strings.Contains(line, "level=INFO"):
			info = append(info, line)
		case strings.Contains(line, `msg="sts: assumed role"`) && !strings.Contains(line, "level=DEBUG"):
			t.Errorf("STS's line not at debug level: %s", line)
		}
		for name, secret := range map[string]string{"token": tok, "secret key": out.Credentials.SecretAccessKey, "session token": out.Credentials.SessionToken} {
			if strings.Contains(line, secret) {
				t.Errorf("log line holds the %s: %s", name, line)
			}
		}
	}
	if len(info) != 1 {
		t.Fatalf("info lines %q, want EKS Auth's one", info)
	}
	for _, want := range []string{`msg="eksauth: credentials vended"`, "namespace=ns-a", "serviceAccount=sa1", "pod=app1",
		"role=" + out.AssumedRoleUser.Arn, "accessKeyId=" + out.Credentials.AccessKeyId,
		"expiration=" + out.Credentials.Expiration.Time.Format("2006-01-02T15:04:05")} {
		if !strings.Contains(info[0], want) {
			t.Errorf("EKS Auth's line %s lacks %s", info[0], want)
		}
	}
}

// syncBuffer is a bytes.Buffer for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

package e2e

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/uuid"

	"github.com/podid/podid/eksapi"
)

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
	c := srv.EKS(nil)
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
				r := srv.assumeRoleForPodIdentity(t, tt.cluster, tt.token, &srv.Admin, "eks-auth")
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
		id := mustRunChild(t, agents[extCluster], sign(t, iss.key, iss.kid, iss.claims(p)), srv.URL)
		if re := assumedRoleRE(account, extCluster+"-role", extCluster, p.name); !re.MatchString(id.ARN) {
			t.Errorf("with the external issuer's token: ARN %s, want a match of %s", id.ARN, re)
		}
		_, err := runChild(t, agents[extCluster], sign(t, forger, iss.kid, iss.claims(p)), srv.URL)
		if err == nil || !strings.Contains(err.Error(), "InvalidTokenException") {
			t.Errorf("with a forged token: %v; want a failure naming InvalidTokenException", err)
		}
	})
}

// jwksServer serves an issuer's JWKS as a Kubernetes API server's
// /openid/v1/jwks does, counting fetches; keys can be changed.
type jwksServer struct {
	*httptest.Server
	keys    atomic.Pointer[[]byte]
	fetches atomic.Int64
	down    atomic.Bool // /down answers 500 (it serves the keys until then)
}

func newJWKSServer(t *testing.T, issuers ...*externalIssuer) *jwksServer {
	t.Helper()
	s := &jwksServer{}
	s.set(t, issuers...)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/openid/v1/jwks" && (r.URL.Path != "/down" || s.down.Load()) {
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
	c := srv.EKS(nil)
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
	js.down.Store(true) // issuer set fetched it once; it fails from now on
	srv.wait(t)
	p := newPod(namespace, sa, "jwks")

	if r := srv.assumeRoleForPodIdentity(t, cluster, sign(t, old.key, old.kid, old.claims(p)), &srv.Admin, "eks-auth"); r.status != 200 {
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
		r := srv.assumeRoleForPodIdentity(t, cluster, tok, &srv.Admin, "eks-auth")
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
	if n := js.fetches.Load(); n > 4 {
		t.Errorf("the JWKS was fetched %d times, want at most 4 (once by issuer set, then re-reads are rate-limited)", n)
	}

	t.Run("unreachable JWKS", func(t *testing.T) {
		tok := sign(t, old.key, old.kid, old.claims(p))
		checkEKSAuthError(t, srv.assumeRoleForPodIdentity(t, downCluster, tok, &srv.Admin, "eks-auth"), 503, "ServiceUnavailableException")
		checkAgentError(t, startAgent(t, srv, downCluster).credentials(t, tok), 503, "ServiceUnavailableException")
	})
}

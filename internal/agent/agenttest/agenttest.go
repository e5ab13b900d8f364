// Package agenttest provides a fake EKS Auth server for testing the node
// agent and its EKS Auth client: an httptest server that answers
// AssumeRoleForPodIdentity with eksapi-encoded responses and checks the
// SigV4 signature of every request with the AWS SDK's own signer.
package agenttest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/podid/podid/eksapi"
)

// Test credentials and region the fake expects requests to be signed with.
const (
	AccessKeyID     = "AKIDPODIDAGENTTEST"
	SecretAccessKey = "agenttest-secret-access-key"
	Region          = "us-west-2"
	AccountID       = "111122223333"
)

// Credentials returns a provider of the credentials the fake verifies.
func Credentials() aws.CredentialsProvider {
	return aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: AccessKeyID, SecretAccessKey: SecretAccessKey, Source: "agenttest"}, nil
	})
}

// Call is one request the fake received.
type Call struct {
	Cluster string
	Token   string
	Header  http.Header
	Path    string // escaped path as sent
	Body    []byte
	// SignatureErr is nil when the request carried a valid SigV4
	// signature for service eks-auth in Region.
	SignatureErr error
}

// Responder decides the answer to a call: an output, or an error to write.
type Responder func(c Call) (*eksapi.AssumeRoleForPodIdentityOutput, *eksapi.Error)

// Fake is a fake EKS Auth server.
type Fake struct {
	// URL is the server's base URL.
	URL string
	// Now is the fake's clock for credential expirations.
	Now func() time.Time

	calls   atomic.Int64
	mu      sync.Mutex
	respond Responder
	log     []Call
	block   chan struct{}
}

// NewFake starts a fake EKS Auth server closed at the end of the test.
// It answers every call with Success until SetResponder changes that.
func NewFake(t testing.TB) *Fake {
	t.Helper()
	f := &Fake{Now: time.Now}
	f.respond = f.Success
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

// SetResponder replaces how the fake answers.
func (f *Fake) SetResponder(r Responder) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.respond = r
}

// Hold makes calls wait until the returned release function runs; it lets
// tests pile up concurrent requests.
func (f *Fake) Hold() (release func()) {
	ch := make(chan struct{})
	f.mu.Lock()
	f.block = ch
	f.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			f.mu.Lock()
			f.block = nil
			f.mu.Unlock()
			close(ch)
		})
	}
}

// Calls is the number of AssumeRoleForPodIdentity calls received.
func (f *Fake) Calls() int64 { return f.calls.Load() }

// Log returns the calls received so far.
func (f *Fake) Log() []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Call(nil), f.log...)
}

// Success answers with credentials derived from the token (so different
// tokens get different keys), valid for 6 hours from f.Now.
func (f *Fake) Success(c Call) (*eksapi.AssumeRoleForPodIdentityOutput, *eksapi.Error) {
	sum := sha256.Sum256([]byte(c.Token))
	id := hex.EncodeToString(sum[:6])
	n := f.calls.Load()
	return &eksapi.AssumeRoleForPodIdentityOutput{
		Subject:  &eksapi.Subject{Namespace: "ns-a", ServiceAccount: "sa1"},
		Audience: "pods.eks.amazonaws.com",
		PodIdentityAssociation: &eksapi.PodIdentityAssociationRef{
			AssociationArn: "arn:aws:eks:us-west-2:" + AccountID + ":podidentityassociation/" + c.Cluster + "/a-0123456789abcdefg",
			AssociationId:  "a-0123456789abcdefg",
		},
		AssumedRoleUser: &eksapi.AssumedRoleUser{
			Arn:          "arn:aws:sts::" + AccountID + ":assumed-role/app-role/eks-" + c.Cluster + "-app1-" + id,
			AssumeRoleId: "AROAEXAMPLE:eks-" + c.Cluster + "-app1-" + id,
		},
		Credentials: &eksapi.Credentials{
			AccessKeyId:     fmt.Sprintf("ASIA%s%04d", id, n),
			SecretAccessKey: "secret-" + id,
			SessionToken:    "session-" + id,
			Expiration:      eksapi.NewTime(f.Now().Add(6 * time.Hour)),
		},
	}, nil
}

// Err returns a responder that always fails with code, message and the
// status EKS Auth gives that code (spec §6.2: AccessDeniedException is 400).
func Err(code, message string) Responder {
	return func(Call) (*eksapi.AssumeRoleForPodIdentityOutput, *eksapi.Error) {
		e := eksapi.NewError(code, message)
		if code == eksapi.CodeAccessDenied {
			e.Status = http.StatusBadRequest
		}
		return nil, e
	}
}

var pathRE = regexp.MustCompile(`^/clusters/([^/]+)/assume-role-for-pod-identity$`)

// ServeHTTP implements the EKS Auth operation.
func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Amzn-RequestId", fmt.Sprintf("req-%d", f.calls.Load()+1))
	m := pathRE.FindStringSubmatch(r.URL.Path)
	if r.Method != http.MethodPost || m == nil {
		eksapi.NewError(eksapi.CodeUnknownOperation, "unknown operation "+r.Method+" "+r.URL.Path).WriteJSON(w)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		eksapi.NewError(eksapi.CodeSerialization, err.Error()).WriteJSON(w)
		return
	}
	var in eksapi.AssumeRoleForPodIdentityInput
	if err := json.Unmarshal(body, &in); err != nil {
		eksapi.NewError(eksapi.CodeSerialization, "cannot parse request body").WriteJSON(w)
		return
	}
	c := Call{
		Cluster:      m[1],
		Token:        in.Token,
		Header:       r.Header.Clone(),
		Path:         r.URL.EscapedPath(),
		Body:         body,
		SignatureErr: verifySignature(r, body),
	}
	f.calls.Add(1)
	f.mu.Lock()
	f.log = append(f.log, c)
	respond, block := f.respond, f.block
	f.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-r.Context().Done():
			return
		}
	}
	out, apiErr := respond(c)
	if apiErr != nil {
		apiErr.WriteJSON(w)
		return
	}
	b, err := json.Marshal(out)
	if err != nil {
		eksapi.NewError(eksapi.CodeInternalServer, err.Error()).WriteJSON(w)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

var authRE = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$`)

// verifySignature re-signs a copy of r with the SDK's signer at the
// request's X-Amz-Date and compares the Authorization headers.
func verifySignature(r *http.Request, body []byte) error {
	auth := r.Header.Get("Authorization")
	m := authRE.FindStringSubmatch(auth)
	if m == nil {
		return fmt.Errorf("malformed Authorization header %q", auth)
	}
	if m[1] != AccessKeyID || m[3] != Region || m[4] != "eks-auth" {
		return fmt.Errorf("credential scope %s/%s/%s/%s, want %s/…/%s/eks-auth", m[1], m[2], m[3], m[4], AccessKeyID, Region)
	}
	when, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return fmt.Errorf("bad X-Amz-Date: %w", err)
	}
	if when.Format("20060102") != m[2] {
		return fmt.Errorf("scope date %s does not match X-Amz-Date", m[2])
	}
	cp, err := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return err
	}
	for _, k := range strings.Split(m[5], ";") {
		if k != "host" && k != "x-amz-date" && k != "content-length" {
			cp.Header[http.CanonicalHeaderKey(k)] = r.Header.Values(k)
		}
	}
	sum := sha256.Sum256(body)
	creds := aws.Credentials{AccessKeyID: AccessKeyID, SecretAccessKey: SecretAccessKey}
	if err := v4.NewSigner().SignHTTP(r.Context(), creds, cp, hex.EncodeToString(sum[:]), "eks-auth", Region, when); err != nil {
		return err
	}
	want := authRE.FindStringSubmatch(cp.Header.Get("Authorization"))
	if want == nil || want[6] != m[6] {
		return fmt.Errorf("signature mismatch")
	}
	return nil
}

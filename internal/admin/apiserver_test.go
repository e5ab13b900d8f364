package admin_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/go-jose/go-jose/v4"

	"github.com/podid/podid/eksapi"
	"github.com/podid/podid/internal/admin"
)

// TestClientAPIServer: an external issuer set with its API server's
// endpoint and CA (as podid cluster register sets it) shows them in
// DescribeCluster; setting the issuer without them goes back to podid's
// endpoint and the CA podid made for the cluster.
func TestClientAPIServer(t *testing.T) {
	e := newEnv(t, 0)
	ctx := context.Background()
	ca := base64.StdEncoding.EncodeToString(testCA(t))
	doc := admin.IssuerDoc{IssuerURL: "https://k8s.example:6443", JWKS: testJWKS(t),
		APIServerEndpoint: "https://k8s.example:6443", CertificateAuthorityData: ca}
	out, err := e.client.SetIssuer(ctx, "c1", doc)
	if err != nil {
		t.Fatal(err)
	}
	if out.APIServerEndpoint != doc.APIServerEndpoint || out.CertificateAuthorityData != ca {
		t.Errorf("SetIssuer returned API server %q CA %q, want what was set", out.APIServerEndpoint, out.CertificateAuthorityData)
	}
	describe := func() (endpoint, caData string) {
		t.Helper()
		d, err := e.EKS(t).DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String("c1")})
		if err != nil {
			t.Fatal(err)
		}
		if d.Cluster.CertificateAuthority != nil {
			caData = aws.ToString(d.Cluster.CertificateAuthority.Data)
		}
		return aws.ToString(d.Cluster.Endpoint), caData
	}
	if ep, got := describe(); ep != doc.APIServerEndpoint || got != ca {
		t.Errorf("DescribeCluster: endpoint %q CA %q, want the API server's", ep, got)
	}

	for name, bad := range map[string]admin.IssuerDoc{
		"http endpoint":     {APIServerEndpoint: "http://k8s.example"},
		"CA, no endpoint":   {CertificateAuthorityData: ca},
		"CA not base64":     {APIServerEndpoint: doc.APIServerEndpoint, CertificateAuthorityData: "%%%"},
		"CA not PEM":        {APIServerEndpoint: doc.APIServerEndpoint, CertificateAuthorityData: base64.StdEncoding.EncodeToString([]byte("hello"))},
		"CA with trailing":  {APIServerEndpoint: doc.APIServerEndpoint, CertificateAuthorityData: base64.StdEncoding.EncodeToString(append(testCA(t), "x"...))},
		"podid and servers": {PodidIssued: true, APIServerEndpoint: doc.APIServerEndpoint},
	} {
		if !bad.PodidIssued {
			bad.IssuerURL, bad.JWKS = doc.IssuerURL, doc.JWKS
		}
		if _, err := e.client.SetIssuer(ctx, "c1", bad); !isCode(err, eksapi.CodeInvalidParameter) {
			t.Errorf("%s: %v, want InvalidParameterException", name, err)
		}
	}

	if _, err := e.client.SetIssuer(ctx, "c1", admin.IssuerDoc{IssuerURL: doc.IssuerURL, JWKS: doc.JWKS}); err != nil {
		t.Fatal(err)
	}
	// podid's own endpoint, and the CA podid made for the cluster.
	if ep, got := describe(); ep != e.URL || got == ca {
		t.Errorf("after setting the issuer alone: endpoint %q CA %q, want podid's", ep, got)
	}
}

func testJWKS(t *testing.T) json.RawMessage {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: key.Public(), KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func testCA(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kubernetes"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

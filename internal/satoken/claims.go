package satoken

import (
	"errors"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Claims are what a verified token says about its pod, and its registered
// claims.
type Claims struct {
	Issuer    string
	Subject   string
	Audience  []string
	IssuedAt  time.Time
	NotBefore time.Time
	Expiry    time.Time

	Namespace         string
	ServiceAccount    string
	ServiceAccountUID string
	PodName           string
	PodUID            string
	// NodeName and NodeUID are set when the token is bound to a node
	// (Kubernetes 1.30+); optional.
	NodeName string
	NodeUID  string
}

// SubjectFor is the "sub" of a service account's token.
func SubjectFor(namespace, serviceAccount string) string {
	return "system:serviceaccount:" + namespace + ":" + serviceAccount
}

// payload is the JSON claim set of a projected service-account token.
type payload struct {
	Issuer    string           `json:"iss,omitempty"`
	Subject   string           `json:"sub,omitempty"`
	Audience  jwt.Audience     `json:"aud,omitempty"`
	Expiry    *jwt.NumericDate `json:"exp,omitempty"`
	NotBefore *jwt.NumericDate `json:"nbf,omitempty"`
	IssuedAt  *jwt.NumericDate `json:"iat,omitempty"`
	JTI       string           `json:"jti,omitempty"`
	K8s       *k8sClaims       `json:"kubernetes.io,omitempty"`
}

// k8sClaims is the "kubernetes.io" private claim (k8s.io/kubernetes
// pkg/serviceaccount/claims.go).
type k8sClaims struct {
	Namespace      string           `json:"namespace,omitempty"`
	Pod            *ref             `json:"pod,omitempty"`
	Node           *ref             `json:"node,omitempty"`
	ServiceAccount *ref             `json:"serviceaccount,omitempty"`
	WarnAfter      *jwt.NumericDate `json:"warnafter,omitempty"`
}

type ref struct {
	Name string `json:"name"`
	UID  string `json:"uid"`
}

// Mint signs a token shaped like a kubelet-projected one for the pod in c,
// issued by issuerURL with the first key of keys (a cluster's signing
// keys), valid from now for ttl. c's Issuer, Subject, Audience and times
// are ignored: they follow from the arguments.
func Mint(keys []byte, issuerURL string, c Claims, now time.Time, ttl time.Duration) (string, error) {
	if c.Namespace == "" || c.ServiceAccount == "" || c.PodName == "" || c.PodUID == "" {
		return "", errors.New("minting a token needs namespace, service account, pod name and pod UID")
	}
	if ttl <= 0 {
		return "", errors.New("minting a token needs a positive lifetime")
	}
	jwk, err := signingKey(keys)
	if err != nil {
		return "", err
	}
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.RS256, Key: jwk},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", fmt.Errorf("creating signer: %w", err)
	}
	now = now.Truncate(time.Second)
	p := payload{
		Issuer:    issuerURL,
		Subject:   SubjectFor(c.Namespace, c.ServiceAccount),
		Audience:  jwt.Audience{Audience},
		IssuedAt:  jwt.NewNumericDate(now),
		NotBefore: jwt.NewNumericDate(now),
		Expiry:    jwt.NewNumericDate(now.Add(ttl)),
		K8s: &k8sClaims{
			Namespace:      c.Namespace,
			Pod:            &ref{Name: c.PodName, UID: c.PodUID},
			ServiceAccount: &ref{Name: c.ServiceAccount, UID: c.ServiceAccountUID},
		},
	}
	if c.NodeName != "" {
		p.K8s.Node = &ref{Name: c.NodeName, UID: c.NodeUID}
	}
	tok, err := jwt.Signed(signer).Claims(p).Serialize()
	if err != nil {
		return "", fmt.Errorf("signing token: %w", err)
	}
	return tok, nil
}

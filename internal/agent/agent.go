// Package agent is podid's node agent: it serves the container-credentials
// endpoint GET /v1/credentials that the AWS SDKs call when
// AWS_CONTAINER_CREDENTIALS_FULL_URI points at it (spec §8), exchanging the
// pod's service-account token for credentials through EKS Auth.
//
// Three pieces are joined by one small interface, Source: the Handler
// (request checks and the AWS agent's response and error forms), the Cache
// (a Source decorator that renews ahead of expiry, merges concurrent
// identical requests and drops entries after irrecoverable errors) and
// Upstream (EKS Auth through package eksauthclient). Agent wires them with
// the probes and Prometheus metrics.
package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"
)

// Request asks for the credentials of one service-account token.
type Request struct {
	// Cluster is the EKS cluster name the token belongs to.
	Cluster string
	// Token is the raw service-account token. It is a secret: never log
	// it (use TokenID).
	Token string
	// TokenExpiry is the token's exp claim, if known: a cache stops
	// renewing credentials for a token past it.
	TokenExpiry time.Time
}

// TokenID is a short, non-reversible identifier of the token for logs.
func (r Request) TokenID() string { return tokenID(r.Token) }

func tokenID(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:6])
}

// Source gives credentials for a request. Upstream, Cache and anything a
// test substitutes implement it.
type Source interface {
	Credentials(ctx context.Context, req Request) (*Credentials, error)
}

// Credentials are temporary AWS credentials as the agent returns them.
// They are immutable; the JSON the SDKs read is computed once.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	AccountID       string
	Expiration      time.Time

	body []byte
}

// credentialsJSON is the AWS agent's response document (spec §8.3).
type credentialsJSON struct {
	AccessKeyID     string `json:"AccessKeyId,omitempty"`
	SecretAccessKey string `json:"SecretAccessKey,omitempty"`
	Token           string `json:"Token,omitempty"`
	AccountID       string `json:"AccountId,omitempty"`
	Expiration      string `json:"Expiration,omitempty"`
}

// NewCredentials returns credentials with their response body precomputed.
func NewCredentials(accessKeyID, secretAccessKey, sessionToken, accountID string, expiration time.Time) *Credentials {
	c := &Credentials{
		AccessKeyID:     accessKeyID,
		SecretAccessKey: secretAccessKey,
		SessionToken:    sessionToken,
		AccountID:       accountID,
		Expiration:      expiration,
	}
	doc := credentialsJSON{AccessKeyID: accessKeyID, SecretAccessKey: secretAccessKey, Token: sessionToken, AccountID: accountID}
	if !expiration.IsZero() {
		doc.Expiration = expiration.UTC().Format(time.RFC3339Nano)
	}
	c.body, _ = json.Marshal(doc) // only strings: cannot fail
	return c
}

// JSON is the response body: {"AccessKeyId","SecretAccessKey","Token",
// "AccountId","Expiration"} with Expiration in RFC 3339. Callers must not
// modify it.
func (c *Credentials) JSON() []byte { return c.body }

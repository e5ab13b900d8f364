// Package satoken mints and verifies Kubernetes service-account tokens of
// the kind EKS Pod Identity exchanges for credentials: kubelet-projected
// tokens with audience pods.eks.amazonaws.com and the "kubernetes.io"
// claims, signed RS256 by the cluster's issuer.
//
// A cluster's issuer is either podid itself (a per-cluster RSA key kept in
// the store as a private JSON Web Key Set, see NewSigningKeys) or an
// external Kubernetes issuer whose public keys come from a static JWKS or a
// JWKS URL. Verifier checks a token against either; Discovery serves the
// OpenID discovery document and public keys of podid-issued clusters.
package satoken

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/podid/podid/internal/store"
)

// Audience is the audience of every EKS Pod Identity token.
const Audience = "pods.eks.amazonaws.com"

// keyBits is the size of the RSA keys podid generates.
const keyBits = 2048

// signingKeySet is a stored private key set: a JSON Web Key Set with one
// more member, when each key was made (JWKS readers ignore it).
type signingKeySet struct {
	Keys    []jose.JSONWebKey    `json:"keys"`
	Created map[string]time.Time `json:"podidCreated,omitempty"`
}

// NewSigningKeys generates a cluster's signing key: a private JSON Web Key
// Set holding one RSA 2048 key for RS256, its key ID the RFC 7638
// thumbprint, and the time it was made.
func NewSigningKeys() ([]byte, error) {
	priv, err := rsa.GenerateKey(rand.Reader, keyBits)
	if err != nil {
		return nil, fmt.Errorf("generating RSA key: %w", err)
	}
	jwk := jose.JSONWebKey{Key: priv, Algorithm: string(jose.RS256), Use: "sig"}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("computing key thumbprint: %w", err)
	}
	jwk.KeyID = base64.RawURLEncoding.EncodeToString(tp)
	return json.Marshal(signingKeySet{
		Keys:    []jose.JSONWebKey{jwk},
		Created: map[string]time.Time{jwk.KeyID: time.Now().UTC().Truncate(time.Second)},
	})
}

// KeyInfo describes one key of a key set.
type KeyInfo struct {
	KeyID string
	// Created is when podid made the key; zero when not recorded (an
	// external issuer's key, or a key made before podid recorded it).
	Created time.Time
}

// Keys lists the key IDs of a key set (podid's private set or a public
// JWKS) with the creation times podid recorded.
func Keys(set []byte) ([]KeyInfo, error) {
	var s struct {
		Keys []struct {
			KeyID string `json:"kid"`
		} `json:"keys"`
		Created map[string]time.Time `json:"podidCreated"`
	}
	if err := json.Unmarshal(set, &s); err != nil {
		return nil, fmt.Errorf("parsing key set: %w", err)
	}
	out := make([]KeyInfo, 0, len(s.Keys))
	for _, k := range s.Keys {
		out = append(out, KeyInfo{KeyID: k.KeyID, Created: s.Created[k.KeyID]})
	}
	return out, nil
}

// NewIssuer returns the issuer of a new podid-issued cluster: fresh signing
// keys and no external URL. It fits the server's NewClusterIssuer hook.
func NewIssuer(ctx context.Context, clusterName string) (store.Issuer, error) {
	if err := ctx.Err(); err != nil {
		return store.Issuer{}, err
	}
	keys, err := NewSigningKeys()
	if err != nil {
		return store.Issuer{}, fmt.Errorf("cluster %s: %w", clusterName, err)
	}
	return store.Issuer{SigningKeys: keys}, nil
}

// PodidIssued reports whether podid issues the cluster's tokens itself
// (it holds signing keys and no external key source is configured).
func PodidIssued(iss store.Issuer) bool {
	return len(iss.SigningKeys) > 0 && len(iss.JWKS) == 0 && iss.JWKSURL == ""
}

// maxKeys bounds the keys taken from one key set.
const maxKeys = 32

// signingKey returns the first RSA private key of a private key set.
func signingKey(keys []byte) (jose.JSONWebKey, error) {
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(keys, &set); err != nil {
		return jose.JSONWebKey{}, fmt.Errorf("parsing signing keys: %w", err)
	}
	for _, k := range set.Keys {
		if _, ok := k.Key.(*rsa.PrivateKey); ok && k.KeyID != "" {
			return k, nil
		}
	}
	return jose.JSONWebKey{}, errors.New("signing keys hold no RSA private key with a key ID")
}

// PublicJWKS returns the public half of a private key set as a JSON Web
// Key Set, for the cluster's /keys document.
func PublicJWKS(signingKeys []byte) ([]byte, error) {
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(signingKeys, &set); err != nil {
		return nil, fmt.Errorf("parsing signing keys: %w", err)
	}
	pub := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	for _, k := range set.Keys {
		if _, ok := k.Key.(*rsa.PrivateKey); !ok {
			continue
		}
		pub.Keys = append(pub.Keys, k.Public())
	}
	if len(pub.Keys) == 0 {
		return nil, errors.New("signing keys hold no RSA private key")
	}
	return json.Marshal(pub)
}

// keySet is a parsed set of RS256 verification keys.
type keySet struct {
	byID map[string]*rsa.PublicKey
	all  []*rsa.PublicKey
}

func (s *keySet) lookup(kid string) []*rsa.PublicKey {
	if kid == "" {
		return s.all
	}
	if k, ok := s.byID[kid]; ok {
		return []*rsa.PublicKey{k}
	}
	return nil
}

// parseKeySet reads the RSA signature keys of a JWKS. With allowPrivate the
// set may hold private keys (podid's own signing keys) and their public
// halves are used; otherwise private material is an error, as it has no
// business in a verification key set. Keys for other uses or algorithms are
// skipped.
func parseKeySet(b []byte, allowPrivate bool) (*keySet, error) {
	var raw struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("parsing JWKS: %w", err)
	}
	s := &keySet{byID: map[string]*rsa.PublicKey{}}
	for _, r := range raw.Keys {
		if len(s.all) == maxKeys {
			break
		}
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(r); err != nil {
			continue // unsupported key types are not ours to judge
		}
		if k.Use != "" && k.Use != "sig" || k.Algorithm != "" && k.Algorithm != string(jose.RS256) {
			continue
		}
		var pub *rsa.PublicKey
		switch key := k.Key.(type) {
		case *rsa.PublicKey:
			pub = key
		case *rsa.PrivateKey:
			if !allowPrivate {
				return nil, errors.New("JWKS holds private key material")
			}
			pub = &key.PublicKey
		default:
			continue
		}
		if pub.N.BitLen() < keyBits {
			continue
		}
		s.all = append(s.all, pub)
		if k.KeyID != "" {
			s.byID[k.KeyID] = pub
		}
	}
	if len(s.all) == 0 {
		return nil, errors.New("JWKS holds no RSA signature key")
	}
	return s, nil
}

// ValidateJWKS checks that b is a public JSON Web Key Set with at least
// one usable RS256 key, as an external issuer's static keys must be.
func ValidateJWKS(b []byte) error {
	_, err := parseKeySet(b, false)
	return err
}

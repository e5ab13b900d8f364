// Package accesskey is IAM users' long-term access keys (AKIA...): their
// secrets and the lookup that authenticates requests signed with them.
//
// A key's secret is derived, HMAC-SHA256 of its ID under a master key
// kept with the store's secrets (SecretName), as STS derives its
// sessions' secrets: the store's table of keys (store.AccessKey) holds no
// secret, every replica derives the same one, and IAM hands it out once,
// in CreateAccessKey's answer.
package accesskey

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/podid/podid/internal/authz"
	"github.com/podid/podid/internal/sigv4"
	"github.com/podid/podid/internal/store"
)

// SecretName is the store secret holding the master key.
const SecretName = "iam-access-key-master"

// masterSize is the master key's size in bytes.
const masterSize = 32

// Secrets derives access keys' secrets.
type Secrets struct {
	master []byte
}

// SecretStore is where the master key lives (store.Store satisfies it).
type SecretStore interface {
	Secret(ctx context.Context, name string, gen func() ([]byte, error)) ([]byte, error)
}

// FromStore returns the Secrets of the master key in st, creating a
// random one the first time; every replica gets the same key.
func FromStore(ctx context.Context, st SecretStore) (*Secrets, error) {
	master, err := st.Secret(ctx, SecretName, func() ([]byte, error) {
		k := make([]byte, masterSize)
		_, err := rand.Read(k)
		return k, err
	})
	if err != nil {
		return nil, fmt.Errorf("loading the access key master key: %w", err)
	}
	return New(master)
}

// New returns the Secrets of master (at least 16 bytes).
func New(master []byte) (*Secrets, error) {
	if len(master) < 16 {
		return nil, fmt.Errorf("access key master key is %d bytes, want at least 16", len(master))
	}
	return &Secrets{master: master}, nil
}

// Secret returns the secret access key of access key id: 40 characters of
// base64, the shape of IAM's.
func (s *Secrets) Secret(id string) string {
	m := hmac.New(sha256.New, s.master)
	m.Write([]byte("podid/iam/access-key/v1/"))
	m.Write([]byte(id))
	return base64.StdEncoding.EncodeToString(m.Sum(nil)[:30])
}

// Lookup finds users' access keys in the store for the SigV4
// authenticator (it implements sigv4.UserKeys).
type Lookup struct {
	Store   store.IAM
	Secrets *Secrets
	// AccountID is the account of the users' identities.
	AccountID string
}

var _ sigv4.UserKeys = (*Lookup)(nil)

// UserKey implements sigv4.UserKeys: an Active key of an existing user
// authenticates as that user (arn:aws:iam::ACCOUNT:user/PATH/NAME); a
// deleted, unknown or Inactive key is sigv4.ErrUnknownKey, refused as IAM
// refuses it (InvalidClientTokenId).
func (l *Lookup) UserKey(ctx context.Context, id string) (*authz.Identity, string, error) {
	k, u, err := l.Store.LookupAccessKey(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, "", fmt.Errorf("access key %s: %w", id, sigv4.ErrUnknownKey)
	case err != nil:
		return nil, "", err
	case k.Status != store.AccessKeyActive:
		return nil, "", fmt.Errorf("access key %s is %s: %w", id, k.Status, sigv4.ErrUnknownKey)
	}
	return &authz.Identity{
		ARN:         u.ARN,
		Account:     l.AccountID,
		UserID:      u.ID,
		AccessKeyID: id,
		User:        &authz.User{Name: u.Name, Path: u.Path, ID: u.ID},
	}, l.Secrets.Secret(id), nil
}

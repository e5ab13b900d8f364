package sts

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"strings"
	"sync"
	"time"

	"github.com/podid/podid/eksapi"
)

// Session is what a vended session token carries. The token is the whole
// record (sealed), so any replica holding the shared key verifies it
// without a store lookup.
type Session struct {
	AccessKeyID     string `json:"akid"`
	RoleARN         string `json:"role"`
	RoleID          string `json:"rid"`
	RoleSessionName string `json:"name"`
	Partition       string `json:"part"`
	Account         string `json:"acct"`
	// Tags are the session's tags: the inherited transitive tags first,
	// then the ones passed to AssumeRole.
	Tags []Tag `json:"tags,omitempty"`
	// TransitiveTagKeys are the keys (inherited and new) that pass on to
	// sessions assumed from this one.
	TransitiveTagKeys []string `json:"tt,omitempty"`
	Policy            string   `json:"pol,omitempty"`
	PolicyARNs        []string `json:"parns,omitempty"`
	ExternalID        string   `json:"xid,omitempty"`
	// Chain lists the assumed-role ARNs of the sessions this one was
	// assumed from, oldest first; empty for a first assumption.
	Chain []string `json:"chain,omitempty"`
	// SourcePrincipal is who made the first assumption of the chain:
	// pods.eks.amazonaws.com or a long-term principal's ARN.
	SourcePrincipal string            `json:"src"`
	SourceContext   map[string]string `json:"sctx,omitempty"`
	Issued          time.Time         `json:"iat"`
	Expiration      time.Time         `json:"exp"`

	secret string // derived, never serialized
	token  string
}

// AssumedRoleARN is arn:PARTITION:sts::ACCOUNT:assumed-role/ROLE/SESSION.
func (s *Session) AssumedRoleARN() string {
	return assumedRoleARN(s.Partition, s.Account, roleName(s.RoleARN), s.RoleSessionName)
}

// AssumedRoleID is ROLEID:SESSION (the UserId GetCallerIdentity reports).
func (s *Session) AssumedRoleID() string { return s.RoleID + ":" + s.RoleSessionName }

// Expired reports whether the session has expired at now.
func (s *Session) Expired(now time.Time) bool { return !now.Before(s.Expiration) }

// Credentials returns the session's credentials (secret included). Only
// sessions returned by Service.Session, Service.Inspect or
// Service.VerifyCredentials carry them.
func (s *Session) Credentials() Credentials {
	return Credentials{AccessKeyID: s.AccessKeyID, SecretAccessKey: s.secret, SessionToken: s.token, Expiration: s.Expiration}
}

// The session token format, version 1:
//
//	base64url( 0x01 | keyID[4] | nonce[12] | AES-256-GCM(JSON(Session)) )
//
// with the first five bytes as additional authenticated data. The secret
// access key is not in the token: it is HMAC-SHA256(secretKey, AKID),
// truncated to 40 base64 characters, so only a holder of the shared key can
// derive it. Both keys derive from the shared master key by HMAC with fixed
// labels; keyID names the master key so that old keys keep verifying after
// a rotation.
const (
	tokenVersion1  = 0x01
	keyIDLen       = 4
	nonceLen       = 12
	headerLen      = 1 + keyIDLen
	maxTokenLength = 16 << 10
)

// KeySize is the size of a master key.
const KeySize = 32

type keySet struct {
	id     [keyIDLen]byte
	aead   cipher.AEAD
	secret []byte
	// macs holds HMAC-SHA256 states keyed with secret (hash.Hash), so
	// that secretFor pays for the key's pads once, not per call.
	macs sync.Pool
}

func deriveKeys(master []byte) (*keySet, error) {
	if len(master) < 16 {
		return nil, fmt.Errorf("sts key is %d bytes, want at least 16", len(master))
	}
	label := func(l string) []byte {
		m := hmac.New(sha256.New, master)
		m.Write([]byte(l))
		return m.Sum(nil)
	}
	block, err := aes.NewCipher(label("podid/sts/seal/v1"))
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	ks := &keySet{aead: aead, secret: label("podid/sts/secret/v1")}
	copy(ks.id[:], label("podid/sts/key-id/v1"))
	ks.macs.New = func() any { return hmac.New(sha256.New, ks.secret) }
	return ks, nil
}

func (k *keySet) secretFor(akid string) string {
	m := k.macs.Get().(hash.Hash)
	m.Reset()
	m.Write([]byte(akid))
	var sum [sha256.Size]byte
	out := base64.RawStdEncoding.EncodeToString(m.Sum(sum[:0]))[:40]
	k.macs.Put(m)
	return out
}

// sealBuffers holds the buffers seal works in: the header, the session's
// JSON sealed in place, then the token's base64 (only the returned string
// is allocated per call).
var sealBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func (k *keySet) seal(sess *Session) (string, error) {
	bp := sealBuffers.Get().(*[]byte)
	defer sealBuffers.Put(bp)
	buf := append((*bp)[:0], make([]byte, headerLen+nonceLen)...)
	if eksapi.TimeJSONOK(sess.Issued) && eksapi.TimeJSONOK(sess.Expiration) {
		buf = sess.appendJSON(buf)
	} else {
		plain, err := json.Marshal(sess)
		if err != nil {
			return "", err
		}
		buf = append(buf, plain...)
	}
	buf[0] = tokenVersion1
	copy(buf[1:headerLen], k.id[:])
	if _, err := rand.Read(buf[headerLen : headerLen+nonceLen]); err != nil {
		return "", err
	}
	// Sealed in place: the ciphertext overwrites the plaintext exactly.
	head, plain := buf[:headerLen+nonceLen], buf[headerLen+nonceLen:]
	buf = k.aead.Seal(head, head[headerLen:], plain, head[:headerLen])
	token := base64.RawURLEncoding.AppendEncode(buf[len(buf):], buf)
	*bp = buf[:0] // grown, if the session did not fit
	return string(token), nil
}

// open decodes and authenticates a token with whichever key sealed it.
func openToken(keys []*keySet, token string) (*Session, *keySet, error) {
	if len(token) == 0 || len(token) > maxTokenLength {
		return nil, nil, ErrInvalidToken
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(token)
	if err != nil || len(raw) < headerLen+nonceLen+16 || raw[0] != tokenVersion1 {
		return nil, nil, ErrInvalidToken
	}
	for _, k := range keys {
		if !bytes.Equal(raw[1:headerLen], k.id[:]) {
			continue
		}
		plain, err := k.aead.Open(nil, raw[headerLen:headerLen+nonceLen], raw[headerLen+nonceLen:], raw[:headerLen])
		if err != nil {
			return nil, nil, ErrInvalidToken
		}
		var sess Session
		if err := json.Unmarshal(plain, &sess); err != nil || sess.AccessKeyID == "" {
			return nil, nil, ErrInvalidToken
		}
		sess.secret = k.secretFor(sess.AccessKeyID)
		sess.token = token
		return &sess, k, nil
	}
	return nil, nil, ErrInvalidToken
}

// Inspect decodes and authenticates a session token without checking its
// expiry (for operators looking at an expired session). The error is
// ErrInvalidToken for anything this STS did not seal. The session returned
// is read-only (its slices and map may be shared).
func (s *Service) Inspect(token string) (*Session, error) {
	if sess := s.cache.get(token); sess != nil {
		return sess, nil
	}
	sess, _, err := openToken(s.keys, token)
	if err != nil {
		return nil, err
	}
	s.cache.put(token, sess)
	return sess, nil
}

// sessionCacheSize bounds the cache of recently sealed or opened tokens.
const sessionCacheSize = 2048

// sessionCache remembers recently sealed and opened sessions by token, so
// that a chained assumption right after the first one (EKS Auth's target
// role) and repeated requests signed with one session skip the decryption
// and decoding (half of a chained AssumeRole). Only authentic tokens enter
// it; the oldest entry leaves first.
type sessionCache struct {
	mu   sync.Mutex
	m    map[string]*Session
	ring []string
	next int
}

func newSessionCache(n int) *sessionCache {
	return &sessionCache{m: make(map[string]*Session, n), ring: make([]string, n)}
}

// get returns a copy of the cached session (nil when absent).
func (c *sessionCache) get(token string) *Session {
	c.mu.Lock()
	sess := c.m[token]
	c.mu.Unlock()
	if sess == nil {
		return nil
	}
	cp := *sess
	return &cp
}

// put caches a copy of sess (its caller may change it).
func (c *sessionCache) put(token string, sess *Session) {
	cp := *sess
	c.keep(token, &cp)
}

// keep caches sess itself, which nobody changes afterwards.
func (c *sessionCache) keep(token string, sess *Session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[token]; ok {
		return
	}
	if old := c.ring[c.next]; old != "" {
		delete(c.m, old)
	}
	c.ring[c.next] = token
	c.next = (c.next + 1) % len(c.ring)
	c.m[token] = sess
}

// Session decodes and authenticates a session token and checks that it has
// not expired: ErrInvalidToken or ErrExpiredToken otherwise.
func (s *Service) Session(token string) (*Session, error) {
	sess, err := s.Inspect(token)
	if err != nil {
		return nil, err
	}
	if sess.Expired(s.now()) {
		return nil, ErrExpiredToken
	}
	return sess, nil
}

// VerifyCredentials checks a full set of session credentials: the token is
// authentic and current, and the access key ID and secret are the ones it
// was issued with. Errors are *Error values (InvalidClientTokenId,
// ExpiredToken) wrapping ErrInvalidToken / ErrExpiredToken.
func (s *Service) VerifyCredentials(c Credentials) (*Session, error) {
	sess, err := s.Session(c.SessionToken)
	switch {
	case errors.Is(err, ErrExpiredToken):
		return nil, errExpiredToken()
	case err != nil:
		return nil, errInvalidClientToken()
	}
	if c.AccessKeyID != sess.AccessKeyID ||
		subtle.ConstantTimeCompare([]byte(c.SecretAccessKey), []byte(sess.secret)) != 1 {
		return nil, errInvalidClientToken()
	}
	return sess, nil
}

// SecretStore is where the shared key lives (store.Store satisfies it).
type SecretStore interface {
	Secret(ctx context.Context, name string, gen func() ([]byte, error)) ([]byte, error)
}

// KeySecretName is the store secret holding the session-sealing key.
const KeySecretName = "sts-session-key"

// KeyFromStore returns the session-sealing master key, creating a random
// one in the store the first time; every replica gets the same key.
func KeyFromStore(ctx context.Context, st SecretStore) ([]byte, error) {
	key, err := st.Secret(ctx, KeySecretName, func() ([]byte, error) {
		k := make([]byte, KeySize)
		_, err := rand.Read(k)
		return k, err
	})
	if err != nil {
		return nil, fmt.Errorf("loading the STS session key: %w", err)
	}
	return key, nil
}

var upperB32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// IsSessionKeyID tells a temporary access key ID, the form STS vends
// ("ASIA" and 16 characters), from a long-term one ("AKIA...").
func IsSessionKeyID(akid string) bool {
	return len(akid) == 20 && strings.HasPrefix(akid, "ASIA")
}

// newAccessKeyID returns "ASIA" and 16 random characters of [A-Z2-7].
func newAccessKeyID() (string, error) {
	b := make([]byte, 10)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "ASIA" + upperB32.EncodeToString(b), nil
}

// RoleID returns the role's unique ID: "AROA" and 17 characters derived
// from the role ARN (21 in all, as IAM's role IDs are).
func RoleID(roleARN string) string {
	sum := sha256.Sum256([]byte("podid/role-id/" + roleARN))
	return "AROA" + upperB32.EncodeToString(sum[:])[:17]
}

package server

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"

	"github.com/podid/podid/eksapi"
)

// Page tokens are opaque to clients: base64url (unpadded) of a small JSON
// object {"v":1,"a":<last key of the page>,"m":<MAC>}. The MAC (HMAC-SHA256,
// truncated to 16 bytes, keyed by a secret kept in the store so every
// replica and restart agrees) covers the version, the operation, the
// cluster, the filters and the key, so a token is only good for the
// listing that produced it. Anything else is an InvalidParameterException.
//
// The key is the last ID (or cluster name) returned, and the store pages by
// key, so every item that exists throughout a listing is returned exactly
// once whatever is created or deleted meanwhile.

const (
	pageTokenVersion   = 1
	pageTokenSecret    = "server/page-token-key"
	pageTokenMACLen    = 16
	maxPageTokenLength = 2048
)

type pageToken struct {
	V     int    `json:"v"`
	After string `json:"a"`
	MAC   []byte `json:"m"`
}

// pageScope binds a token to one listing.
func pageScope(op string, parts ...string) string {
	b, _ := json.Marshal(append([]string{op}, parts...))
	return string(b)
}

func (s *Server) pageTokenKey(ctx context.Context) ([]byte, error) {
	s.tokenKeyMu.Lock()
	defer s.tokenKeyMu.Unlock()
	if s.tokenKey != nil {
		return s.tokenKey, nil
	}
	key, err := s.store.Secret(ctx, pageTokenSecret, func() ([]byte, error) {
		k := make([]byte, 32)
		rand.Read(k)
		return k, nil
	})
	if err != nil {
		return nil, fmt.Errorf("loading the page token key: %w", err)
	}
	s.tokenKey = key
	return key, nil
}

func pageMAC(key []byte, scope, after string) []byte {
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "podid-page-token\x00%d\x00%s\x00%s", pageTokenVersion, scope, after)
	return m.Sum(nil)[:pageTokenMACLen]
}

// encodedPageToken is a page token with what it was encoded from.
type encodedPageToken struct{ scope, after, token string }

func (s *Server) encodePageToken(ctx context.Context, scope, after string) (string, error) {
	if last := s.lastToken.Load(); last != nil && last.scope == scope && last.after == after {
		return last.token, nil // the key never changes once loaded
	}
	key, err := s.pageTokenKey(ctx)
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(pageToken{V: pageTokenVersion, After: after, MAC: pageMAC(key, scope, after)})
	if err != nil {
		return "", fmt.Errorf("encoding page token: %w", err)
	}
	tok := base64.RawURLEncoding.EncodeToString(b)
	s.lastToken.Store(&encodedPageToken{scope, after, tok})
	return tok, nil
}

// decodePageToken returns the key to list after; "" for no token.
func (s *Server) decodePageToken(ctx context.Context, scope, tok string) (string, error) {
	if tok == "" {
		return "", nil
	}
	invalid := invalidParam("The parameter nextToken is not valid: use the nextToken of the previous response of the same request.")
	if len(tok) > maxPageTokenLength {
		return "", invalid
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return "", invalid
	}
	var pt pageToken
	if err := json.Unmarshal(b, &pt); err != nil || pt.V != pageTokenVersion || pt.After == "" {
		return "", invalid
	}
	key, err := s.pageTokenKey(ctx)
	if err != nil {
		return "", err
	}
	if !hmac.Equal(pt.MAC, pageMAC(key, scope, pt.After)) {
		return "", invalid
	}
	return pt.After, nil
}

// maxResultsParam reads maxResults: 1-100, default 100.
func maxResultsParam(q url.Values) (int, *eksapi.Error) {
	v, ok := q["maxResults"]
	if !ok {
		return maxResults, nil
	}
	n, err := strconv.Atoi(v[0])
	if err != nil || len(v) != 1 || n < minResults || n > maxResults {
		return 0, invalidParam("The parameter maxResults must be an integer between %d and %d.", minResults, maxResults)
	}
	return n, nil
}

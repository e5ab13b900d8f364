// Package sigv4 authenticates requests to podid's APIs (EKS, EKS Auth, STS
// and the admin API) with AWS Signature Version 4. It recomputes each
// request's signature with the AWS SDK's own signer, over the received
// method, path, query, signed headers and body, with the secret of the
// access key the request names in its Authorization header or, presigned,
// in its query string (X-Amz-Credential ... X-Amz-Signature, as EKS tokens
// and the AWS CLI's presign carry them): podid's admin identity or a session its
// STS vended. It is the HTTP host's Authenticate hook: a refusal is an
// *httpx.AuthError, which the host writes in the protocol of the route the
// request took (awsQuery XML for STS, restJson1 for the others).
package sigv4

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/podid/podid/internal/authz"
	"github.com/podid/podid/internal/awsregion"
	"github.com/podid/podid/internal/httpx"
	"github.com/podid/podid/internal/sts"
)

// Modes.
const (
	// ModeSigV4 checks every request's signature (the default).
	ModeSigV4 = "sigv4"
	// ModeNone checks no signatures (emulator use); a request carrying a
	// valid session token is still attributed to its session (an expired
	// one is refused with ExpiredToken, as the SDKs expect), anything else
	// to the admin identity.
	ModeNone = "none"
)

// MaxSkew is how far a request's X-Amz-Date may be from the server's clock.
const MaxSkew = 5 * time.Minute

// DefaultMaxBody is the body limit of a host with the default
// configuration (the host bounds the body Authenticate reads to hash).
const DefaultMaxBody = httpx.DefaultMaxBodyBytes

// SessionDecoder opens vended session tokens (*sts.Service satisfies it).
type SessionDecoder interface {
	// Session returns the session the token carries, or an error wrapping
	// sts.ErrInvalidToken or sts.ErrExpiredToken.
	Session(token string) (*sts.Session, error)
}

// UserKeys finds IAM users' long-term access keys (AKIA...).
type UserKeys interface {
	// UserKey returns the identity of access key id's user and the key's
	// secret; an error wrapping ErrUnknownKey when there is no such
	// active key (deleted, never made, Inactive, or its user is gone).
	UserKey(ctx context.Context, id string) (*authz.Identity, string, error)
}

// ErrUnknownKey: no active IAM access key has the ID (UserKeys).
var ErrUnknownKey = errors.New("no active access key with that ID")

// Config configures an Authenticator.
type Config struct {
	// Mode is ModeSigV4 (default when empty) or ModeNone.
	Mode string
	// Admin is the admin identity's long-term access key pair (see
	// LoadOrCreateAdmin).
	Admin sts.Credentials
	// AccountID and Partition ("aws" when empty) name the admin identity:
	// arn:PARTITION:iam::ACCOUNT:root.
	AccountID string
	Partition string
	// Region is the server's --region. podid serves it and every region
	// of Partition (awsregion); a request signed for another region is
	// refused as AWS refuses it. A request's scope region is put in its
	// context (authz.WithRegion): its regional resources are that
	// region's.
	Region string
	// Sessions opens session tokens; nil means only the admin identity
	// (and Users) can authenticate.
	Sessions SessionDecoder
	// Users finds IAM users' access keys; nil: none authenticate.
	Users UserKeys
	// PublicPrefixes are path prefixes served without authentication
	// (default: "/healthz" and "/clusters-oidc/").
	PublicPrefixes []string
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Logger gets one debug line per refused request (access key ID and
	// reason, never secrets, tokens or signatures); slog.Default() if nil.
	Logger *slog.Logger
}

// Authenticator authenticates requests for the host (Authenticate).
type Authenticator struct {
	cfg    Config
	admin  *authz.Identity
	signer *v4.Signer
	now    func() time.Time
	log    *slog.Logger
}

// New returns an Authenticator.
func New(cfg Config) *Authenticator {
	if cfg.Mode == "" {
		cfg.Mode = ModeSigV4
	}
	if cfg.Partition == "" {
		cfg.Partition = "aws"
	}
	if cfg.PublicPrefixes == nil {
		cfg.PublicPrefixes = []string{"/healthz", "/clusters-oidc/"}
	}
	a := &Authenticator{
		cfg: cfg,
		admin: &authz.Identity{
			ARN:         "arn:" + cfg.Partition + ":iam::" + cfg.AccountID + ":root",
			Account:     cfg.AccountID,
			UserID:      cfg.AccountID,
			AccessKeyID: cfg.Admin.AccessKeyID,
		},
		signer: v4.NewSigner(),
		now:    cfg.Now,
		log:    cfg.Logger,
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	return a
}

// Authenticate authenticates r (every path but the public ones) and
// returns it with the caller's authz.Identity in its context, or the refusal:
// an *httpx.AuthError (or ReadBody's limit, budget or deadline error), which the host
// writes in the protocol of the route r took. The body is read through
// httpx.ReadBody, once for the hash and the handler.
func (a *Authenticator) Authenticate(r *http.Request) (*http.Request, error) {
	for _, p := range a.cfg.PublicPrefixes {
		if strings.HasPrefix(r.URL.Path, p) {
			return r, nil
		}
	}
	id, region, err := a.authenticate(r)
	if err != nil {
		var f *httpx.AuthError
		if errors.As(err, &f) {
			// Info: an operator whose client is refused needs to see why
			// without turning on debug logs. No secret is logged: the key
			// ID, never a signature or a token.
			a.log.LogAttrs(r.Context(), slog.LevelInfo, "sigv4: request refused",
				slog.String("reason", refusalReason(f)), slog.String("method", r.Method), slog.String("path", r.URL.Path),
				slog.String("code", f.Code), slog.String("accessKeyId", f.AccessKeyID))
		}
		return nil, err
	}
	return r.WithContext(authz.WithCaller(r.Context(), id, region, r.TLS != nil)), nil
}

// checkRegion refuses a scope region podid does not serve, with AWS's
// message.
func (a *Authenticator) checkRegion(region, akid string) *failure {
	if region == a.cfg.Region || awsregion.InPartition(a.cfg.Partition, region) {
		return nil
	}
	return &failure{Code: failSignature, AccessKeyID: akid,
		Message: fmt.Sprintf("Credential should be scoped to a valid region, not '%s'. ", region)}
}

// refusalReason says in a few words why a request was refused, for the log.
func refusalReason(f *failure) string {
	switch {
	case f.Code == failMissing:
		return "missing signature"
	case f.Code == failInvalid:
		return "unknown access key"
	case f.Code == failExpired:
		return "expired session token"
	case f.Code == failIncomplete:
		return "malformed signature"
	case f.Code == failPresignExpired:
		return "presigned URL expired"
	case strings.HasPrefix(f.Message, "Signature expired") || strings.HasPrefix(f.Message, "Signature not yet current"):
		return "clock skew"
	case strings.HasPrefix(f.Message, "Credential should be scoped"):
		return "wrong signing scope"
	case strings.HasPrefix(f.Message, "Date in Credential scope"):
		return "signing date mismatch"
	default:
		return "signature mismatch"
	}
}

// failure is an authentication failure (an STS error code and AWS's
// message), protocol-neutral.
type failure = httpx.AuthError

const (
	failSignature  = sts.CodeSignatureDoesNotMatch
	failInvalid    = sts.CodeInvalidClientTokenID
	failExpired    = sts.CodeExpiredToken
	failMissing    = sts.CodeMissingAuthToken
	failIncomplete = sts.CodeIncompleteSignature
	// failPresignExpired: a presigned URL past its X-Amz-Expires.
	failPresignExpired = sts.CodeAccessDenied
)

// isQueryProtocol tells STS's awsQuery requests (POST / with a form body,
// or GET / with the parameters in the query, as presigned URLs are) from
// the restJson1 APIs.
func isQueryProtocol(r *http.Request) bool {
	if r.URL.Path != "/" {
		return false
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt == "application/x-www-form-urlencoded" || r.Method == http.MethodPost || r.Method == http.MethodGet
}

// scope is the SigV4 scope r is signed with, in its Authorization header
// or its presigned query; nil when neither parses.
func scope(r *http.Request) *Authorization {
	if h := r.Header.Get("Authorization"); h != "" {
		if auth, err := ParseAuthorization(h); err == nil {
			return auth
		}
		return nil
	}
	if q := r.URL.Query(); IsPresigned(q) {
		if p, err := ParsePresigned(q); err == nil {
			return &p.Authorization
		}
	}
	return nil
}

// ScopeService is the service of the SigV4 scope r is signed for, in its
// Authorization header or its presigned query; "" when neither parses.
func ScopeService(r *http.Request) string {
	if auth := scope(r); auth != nil {
		return auth.Service
	}
	return ""
}

// expectedService is the signing name a request's scope must carry, or ""
// when any is accepted (podid's own admin API). STS and IAM share the
// awsQuery endpoint: a scope of either is the request's service there.
func expectedService(r *http.Request, scope string) string {
	switch {
	case strings.Contains(r.Header.Get("X-Amz-Target"), "CloudTrail_20131101."):
		return "cloudtrail" // JSON 1.1 at POST /
	case isQueryProtocol(r) && scope == "iam":
		return "iam"
	case isQueryProtocol(r):
		return "sts"
	case strings.HasPrefix(r.URL.Path, "/podid/"):
		return ""
	case strings.HasPrefix(r.URL.Path, "/clusters/") && strings.HasSuffix(r.URL.Path, "/assume-role-for-pod-identity"):
		return "eks-auth"
	default:
		return "eks"
	}
}

const timeFormat = "20060102T150405Z"

// errContentSHA: X-Amz-Content-Sha256 is not the body's hash (podid's
// APIs have no unsigned payloads).
var errContentSHA = errors.New("x-amz-content-sha256 is not the body's hash")

const msgContentSHA = "The provided 'x-amz-content-sha256' header does not match what was computed."

// authenticate returns the caller's identity and the region of the
// request's signing scope ("" when it names none), or the refusal.
func (a *Authenticator) authenticate(r *http.Request) (*authz.Identity, string, error) {
	if a.cfg.Mode == ModeNone {
		// The scope, parsed once, gives the region and the key ID.
		var region, akid string
		if h := r.Header.Get("Authorization"); h != "" {
			// Both "" when it does not parse, as scope and
			// requestKeyID would leave them.
			akid, region, _ = authorizationScope(h)
		} else if auth := scope(r); auth != nil {
			region, akid = auth.Region, auth.AccessKeyID
		} else {
			akid = requestKeyID(r)
		}
		id, f := a.attribute(r, region, akid)
		if f != nil {
			return nil, "", f
		}
		return id, region, nil
	}
	p, f := a.present(r)
	if f != nil {
		return nil, "", f
	}
	auth := p.auth
	f = &failure{AccessKeyID: auth.AccessKeyID}
	if auth.Date != p.amzDate[:8] {
		f.Code, f.Message = failSignature, fmt.Sprintf("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.",
			auth.Date, p.amzDate[:8], p.amzDate)
		return nil, "", f
	}
	if svc := expectedService(r, auth.Service); svc != "" && auth.Service != svc {
		f.Code, f.Message = failSignature, fmt.Sprintf("Credential should be scoped to correct service: '%s'. ", svc)
		return nil, "", f
	}
	if rf := a.checkRegion(auth.Region, auth.AccessKeyID); rf != nil {
		return nil, "", rf
	}

	id, secret, err := a.lookup(r.Context(), auth.AccessKeyID, p.token)
	if lf := (*failure)(nil); errors.As(err, &lf) {
		lf.AccessKeyID = auth.AccessKeyID
		return nil, "", lf
	}
	if err != nil {
		return nil, "", err
	}

	body, err := httpx.ReadBody(r)
	var de *httpx.DecodeError
	switch {
	case errors.As(err, &de):
		f.Code, f.Message = failIncomplete, "The request body could not be read."
		return nil, "", f
	case err != nil:
		// The body's limit, the host's body budget or its read deadline,
		// for the host to map.
		return nil, "", err
	}
	creds := aws.Credentials{AccessKeyID: auth.AccessKeyID, SecretAccessKey: secret, SessionToken: p.token}
	var match bool
	if p.presigned {
		var want []string
		want, err = a.presignedSignatures(r, auth, body, p.signTime, creds)
		match = err == nil && anyEqual(want, auth.Signature)
	} else {
		var want string
		want, err = a.signature(r, auth, body, p.signTime, creds)
		match = err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(auth.Signature)) == 1
	}
	if errors.Is(err, errContentSHA) {
		f.Code, f.Message = failSignature, msgContentSHA
		return nil, "", f
	}
	if !match {
		f.Code, f.Message = failSignature, sts.MsgSignatureMismatch
		return nil, "", f
	}
	return id, auth.Region, nil
}

// anyEqual tells, in constant time per candidate, whether sig is one of
// want.
func anyEqual(want []string, sig string) bool {
	ok := 0
	for _, w := range want {
		ok |= subtle.ConstantTimeCompare([]byte(w), []byte(sig))
	}
	return ok == 1
}

// presentation is what a request presents to be authenticated, from its
// Authorization header or its presigned query: the scope and signature,
// when it was signed, and its session token.
type presentation struct {
	auth      *Authorization
	amzDate   string
	signTime  time.Time
	token     string
	presigned bool
}

// msgPresignExpired is AWS's word for a presigned URL used after its
// X-Amz-Expires (S3's AccessDenied; STS's query API has none of its own).
const msgPresignExpired = "Request has expired"

// present reads what r presents and checks its time: a header-signed
// request (or a presigned one without X-Amz-Expires) within MaxSkew of
// the server's clock, a presigned one from its X-Amz-Date (less MaxSkew)
// until X-Amz-Expires after it.
func (a *Authenticator) present(r *http.Request) (presentation, *failure) {
	authz := r.Header.Get("Authorization")
	var p presentation
	var expires time.Duration
	var hasExpires bool
	var query url.Values
	if authz == "" && r.URL.RawQuery != "" {
		query = r.URL.Query()
	}
	switch {
	case authz != "":
		auth, err := ParseAuthorization(authz)
		if err != nil {
			return presentation{}, &failure{Code: failIncomplete, Message: err.Error()}
		}
		p = presentation{auth: auth, amzDate: r.Header.Get("X-Amz-Date"), token: r.Header.Get("X-Amz-Security-Token")}
		if p.amzDate == "" {
			return presentation{}, &failure{Code: failIncomplete, AccessKeyID: auth.AccessKeyID,
				Message: "Authorization header requires existence of a 'X-Amz-Date' header (podid does not take a 'Date' header in its place). Authorization=" + authz}
		}
	case IsPresigned(query):
		ps, err := ParsePresigned(query)
		if err != nil {
			return presentation{}, &failure{Code: failIncomplete, Message: err.Error(), AccessKeyID: requestKeyID(r)}
		}
		p = presentation{auth: &ps.Authorization, amzDate: ps.AmzDate, token: ps.SecurityToken, presigned: true}
		if p.token == "" {
			p.token = r.Header.Get("X-Amz-Security-Token") // signed as a header instead
		}
		expires, hasExpires = ps.Expires, ps.HasExpires
	default:
		return presentation{}, &failure{Code: failMissing, Message: sts.MsgMissingAuthToken}
	}
	refuse := func(code, msg string) (presentation, *failure) {
		return presentation{}, &failure{Code: code, Message: msg, AccessKeyID: p.auth.AccessKeyID}
	}
	signTime, err := time.Parse(timeFormat, p.amzDate)
	if err != nil {
		return refuse(failIncomplete, fmt.Sprintf("Invalid X-Amz-Date '%s', must be in ISO 8601 format: yyyyMMddTHHmmssZ", p.amzDate))
	}
	p.signTime = signTime
	now := a.now().UTC()
	switch {
	case signTime.After(now.Add(MaxSkew)):
		return refuse(failSignature, fmt.Sprintf("Signature not yet current: %s is still later than %s (%s + 5 min.)",
			p.amzDate, now.Add(MaxSkew).Format(timeFormat), now.Format(timeFormat)))
	case hasExpires && now.After(signTime.Add(expires)):
		return refuse(failPresignExpired, msgPresignExpired)
	case !hasExpires && signTime.Before(now.Add(-MaxSkew)):
		return refuse(failSignature, fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - 5 min.)",
			p.amzDate, now.Add(-MaxSkew).Format(timeFormat), now.Format(timeFormat)))
	}
	return p, nil
}

// lookup finds the identity and secret of an access key ID: a *failure
// when it names none, another error when the lookup failed.
func (a *Authenticator) lookup(ctx context.Context, akid, token string) (*authz.Identity, string, error) {
	if akid == a.cfg.Admin.AccessKeyID && a.cfg.Admin.AccessKeyID != "" {
		if token != "" {
			return nil, "", &failure{Code: failInvalid, Message: sts.MsgInvalidClientToken}
		}
		return a.admin, a.cfg.Admin.SecretAccessKey, nil
	}
	if token == "" && a.cfg.Users != nil && strings.HasPrefix(akid, "AKIA") {
		id, secret, err := a.cfg.Users.UserKey(ctx, akid)
		if errors.Is(err, ErrUnknownKey) {
			return nil, "", &failure{Code: failInvalid, Message: sts.MsgInvalidClientToken}
		}
		if err != nil {
			return nil, "", fmt.Errorf("looking up access key %s: %w", akid, err)
		}
		return id, secret, nil
	}
	if token == "" || a.cfg.Sessions == nil {
		return nil, "", &failure{Code: failInvalid, Message: sts.MsgInvalidClientToken}
	}
	sess, err := a.cfg.Sessions.Session(token)
	switch {
	case errors.Is(err, sts.ErrExpiredToken):
		return nil, "", &failure{Code: failExpired, Message: sts.MsgExpiredToken}
	case err != nil:
		return nil, "", &failure{Code: failInvalid, Message: sts.MsgInvalidClientToken}
	case sess.AccessKeyID != akid:
		return nil, "", &failure{Code: failInvalid, Message: sts.MsgInvalidClientToken}
	}
	return sts.SessionIdentity(sess, token), sess.Credentials().SecretAccessKey, nil
}

// attribute is ModeNone's identity: the session of a valid token, else
// the admin identity (dummy credentials are fine); an authentic but expired
// session is refused. A request naming a vended key ID (STS's "ASIA" form)
// is that session or nothing: without its token, or with another
// session's, it is refused, never the admin. region is the request's
// scope's ("" for none): one podid does not serve is refused; akid the
// access key ID it names (requestKeyID).
func (a *Authenticator) attribute(r *http.Request, region, akid string) (*authz.Identity, *failure) {
	// Unchecked signatures still say which region the request is for.
	if region != "" {
		if f := a.checkRegion(region, akid); f != nil {
			return nil, f
		}
	}
	if token := requestToken(r); token != "" && a.cfg.Sessions != nil {
		sess, err := a.cfg.Sessions.Session(token)
		switch {
		case err == nil && (akid == "" || akid == sess.AccessKeyID):
			return sts.SessionIdentity(sess, token), nil
		case errors.Is(err, sts.ErrExpiredToken):
			return nil, &failure{Code: failExpired, Message: sts.MsgExpiredToken, AccessKeyID: akid}
		case err == nil:
			return nil, &failure{Code: failInvalid, Message: sts.MsgInvalidClientToken, AccessKeyID: akid}
		}
	}
	if sts.IsSessionKeyID(akid) {
		return nil, &failure{Code: failInvalid, Message: sts.MsgInvalidClientToken, AccessKeyID: akid}
	}
	return a.admin, nil
}

// requestKeyID is the access key ID a request names in its Authorization
// header or presigned query, "" when it names none.
func requestKeyID(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if auth, err := ParseAuthorization(h); err == nil {
			return auth.AccessKeyID
		}
		return ""
	}
	akid, _, _ := strings.Cut(r.URL.Query().Get("X-Amz-Credential"), "/")
	return akid
}

// requestToken is the session token a request carries in its
// X-Amz-Security-Token header, or in its presigned query when it has no
// Authorization header.
func requestToken(r *http.Request) string {
	if t := r.Header.Get("X-Amz-Security-Token"); t != "" || r.Header.Get("Authorization") != "" {
		return t
	}
	return r.URL.Query().Get("X-Amz-Security-Token")
}

// signature recomputes a header-signed request's signature with the
// SDK's signer: a copy of the request carrying only the headers the client
// signed, the body's SHA-256, the client's date, region and service.
func (a *Authenticator) signature(r *http.Request, auth *Authorization, body []byte, t time.Time, creds aws.Credentials) (string, error) {
	c, signsToken := signedCopy(r, auth, body, r.URL.RawQuery)
	sum := sha256.Sum256(body)
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" && h != hex.EncodeToString(sum[:]) {
		return "", errContentSHA
	}
	err := a.signer.SignHTTP(context.Background(), creds, c, hex.EncodeToString(sum[:]), auth.Service, auth.Region, t,
		func(o *v4.SignerOptions) { o.DisableSessionToken = !signsToken })
	if err != nil {
		return "", err
	}
	got, err := ParseAuthorization(c.Header.Get("Authorization"))
	if err != nil {
		return "", err
	}
	if strings.Join(got.SignedHeaders, ";") != strings.Join(auth.SignedHeaders, ";") {
		return "", errors.New("signed headers differ")
	}
	return got.Signature, nil
}

// unsignedPayload is the payload hash of a presigned request whose signer
// left the body out (S3's presigners and some others).
const unsignedPayload = "UNSIGNED-PAYLOAD"

// presignedSignatures recomputes a presigned request's signature with the
// SDK's presigner over the same copy, its query without X-Amz-Signature
// (the session token and the other X-Amz-* parameters stay as the client
// signed them). AWS's SDKs differ on the payload hash of a presigned
// request (the empty body's SHA-256 for STS, UNSIGNED-PAYLOAD for S3): both
// are computed for an empty body; a body is always signed, so a presigned
// URL cannot carry another body than the one it was made for.
func (a *Authenticator) presignedSignatures(r *http.Request, auth *Authorization, body []byte, t time.Time, creds aws.Credentials) ([]string, error) {
	query := r.URL.Query()
	query.Del("X-Amz-Signature")
	c, _ := signedCopy(r, auth, body, query.Encode())
	sum := sha256.Sum256(body)
	hashes := []string{hex.EncodeToString(sum[:])}
	if len(body) == 0 {
		hashes = append(hashes, unsignedPayload)
	}
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" && !slices.Contains(hashes, h) {
		return nil, errContentSHA
	}
	sigs := make([]string, 0, len(hashes))
	for _, hash := range hashes {
		uri, _, err := a.signer.PresignHTTP(context.Background(), creds, c, hash, auth.Service, auth.Region, t,
			func(o *v4.SignerOptions) { o.DisableHeaderHoisting, o.DisableSessionToken = true, true })
		if err != nil {
			return nil, err
		}
		u, err := url.Parse(uri)
		if err != nil {
			return nil, err
		}
		if u.Query().Get("X-Amz-SignedHeaders") != strings.Join(auth.SignedHeaders, ";") {
			return nil, errors.New("signed headers differ")
		}
		sigs = append(sigs, u.Query().Get("X-Amz-Signature"))
	}
	return sigs, nil
}

// signedCopy is the request the signer recomputes a signature over: r's
// method, host, path and rawQuery, and only the headers the client signed.
// signsToken tells whether those include X-Amz-Security-Token.
func signedCopy(r *http.Request, auth *Authorization, body []byte, rawQuery string) (c *http.Request, signsToken bool) {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	c = &http.Request{
		Method: r.Method,
		URL:    &url.URL{Scheme: scheme, Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: rawQuery},
		Host:   r.Host,
		Header: make(http.Header, len(auth.SignedHeaders)),
	}
	for _, name := range auth.SignedHeaders {
		switch name {
		case "host":
		case "content-length":
			c.ContentLength = int64(len(body))
		default:
			if name == "x-amz-security-token" {
				signsToken = true
			}
			c.Header[textproto.CanonicalMIMEHeaderKey(name)] = r.Header.Values(name)
		}
	}
	return c, signsToken
}

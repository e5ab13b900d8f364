// Package eksauthclient is a small EKS Auth client: it calls
// AssumeRoleForPodIdentity (restJson1, POST
// /clusters/{clusterName}/assume-role-for-pod-identity) signed with SigV4
// by the AWS SDK's own signer, retries throttling and server faults with
// bounded backoff, and decodes errors the way the Go SDK does into *Error.
//
// The aws-sdk-go-v2 eksauth module is not published on the module proxy,
// so podid carries this client instead (spec §6.1, §2.2).
package eksauthclient

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/podid/podid/eksapi"
)

// SigningName is EKS Auth's SigV4 service name.
const SigningName = "eks-auth"

// EndpointEnv names the environment variable the AWS SDKs read for EKS
// Auth's endpoint (serviceId "EKS Auth").
const EndpointEnv = "AWS_ENDPOINT_URL_EKS_AUTH"

// Defaults for Config's zero values.
const (
	DefaultMaxAttempts     = 3
	DefaultAttemptTimeout  = 10 * time.Second
	DefaultBaseBackoff     = 100 * time.Millisecond
	DefaultMaxBackoff      = 2 * time.Second
	DefaultMaxResponseSize = 1 << 20
)

// Config configures a Client. Only Endpoint and Region are required.
type Config struct {
	// Endpoint is EKS Auth's base URL, e.g. https://eks-auth.us-west-2.api.aws
	// or http://127.0.0.1:8080 for podid.
	Endpoint string
	// Region is the SigV4 signing region.
	Region string
	// Credentials sign the requests. Nil or aws.AnonymousCredentials sends
	// unsigned requests (as the SDK does with anonymous credentials).
	Credentials aws.CredentialsProvider
	// HTTPClient sends the requests; nil means a client with sane transport
	// timeouts.
	HTTPClient *http.Client
	// MaxAttempts bounds the attempts per call (default 3, like the SDK).
	MaxAttempts int
	// AttemptTimeout bounds one attempt (default 10s).
	AttemptTimeout time.Duration
	// BaseBackoff and MaxBackoff shape the full-jitter exponential backoff
	// between attempts (defaults 100ms and 2s).
	BaseBackoff, MaxBackoff time.Duration
	// MaxResponseSize bounds a response body (default 1 MiB).
	MaxResponseSize int64
	// Now is the signing clock (default time.Now).
	Now func() time.Time
	// UserAgent is sent as User-Agent (default "podid-agent").
	UserAgent string
}

// Client calls EKS Auth. It is safe for concurrent use.
type Client struct {
	cfg    Config
	base   *url.URL
	signer *v4.Signer
}

// New returns a client for cfg.
func New(cfg Config) (*Client, error) {
	if cfg.Endpoint == "" {
		return nil, errors.New("eks auth endpoint is required")
	}
	u, err := url.Parse(cfg.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("parsing eks auth endpoint %q: %w", cfg.Endpoint, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("eks auth endpoint %q: want an http or https URL", cfg.Endpoint)
	}
	if cfg.Region == "" {
		return nil, errors.New("eks auth signing region is required")
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: 10 * time.Second,
			IdleConnTimeout:       90 * time.Second,
			MaxIdleConnsPerHost:   16,
			ForceAttemptHTTP2:     true,
		}}
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.AttemptTimeout <= 0 {
		cfg.AttemptTimeout = DefaultAttemptTimeout
	}
	if cfg.BaseBackoff <= 0 {
		cfg.BaseBackoff = DefaultBaseBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.MaxResponseSize <= 0 {
		cfg.MaxResponseSize = DefaultMaxResponseSize
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "podid-agent"
	}
	if cfg.Credentials != nil {
		if _, anon := cfg.Credentials.(aws.AnonymousCredentials); !anon {
			if _, cached := cfg.Credentials.(*aws.CredentialsCache); !cached {
				cfg.Credentials = aws.NewCredentialsCache(cfg.Credentials)
			}
		}
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return &Client{cfg: cfg, base: u, signer: v4.NewSigner()}, nil
}

// NewFromEnvironment returns a client whose credentials and region come from
// the SDK's default chain (config.LoadDefaultConfig: AWS_ACCESS_KEY_ID,
// profiles, IMDS, ...). The endpoint is endpoint if non-empty, else
// AWS_ENDPOINT_URL_EKS_AUTH, else AWS_ENDPOINT_URL, else the public
// https://eks-auth.{region}.api.aws. cfg supplies the other settings.
func NewFromEnvironment(ctx context.Context, endpoint string, cfg Config) (*Client, error) {
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading aws configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = awsCfg.Region
	}
	if cfg.Region == "" {
		return nil, errors.New("no AWS region: set --region or $AWS_REGION")
	}
	switch {
	case endpoint != "":
	case os.Getenv(EndpointEnv) != "":
		endpoint = os.Getenv(EndpointEnv)
	case awsCfg.BaseEndpoint != nil && *awsCfg.BaseEndpoint != "":
		endpoint = *awsCfg.BaseEndpoint
	default:
		endpoint = "https://eks-auth." + cfg.Region + ".api.aws"
	}
	cfg.Endpoint = endpoint
	if cfg.Credentials == nil {
		cfg.Credentials = awsCfg.Credentials
		// Found now rather than at the first pod's request, with the
		// user's remedy.
		rctx, cancel := context.WithTimeout(ctx, credentialsTimeout)
		_, err := cfg.Credentials.Retrieve(rctx)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", msgNoCredentials, err)
		}
	}
	return New(cfg)
}

// credentialsTimeout bounds NewFromEnvironment's first look for credentials
// (the instance metadata service may not answer off EC2).
const credentialsTimeout = 10 * time.Second

const msgNoCredentials = "no AWS credentials in the environment; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY " +
	"(or AWS_PROFILE, or AWS_ROLE_ARN with AWS_WEB_IDENTITY_TOKEN_FILE) or use node credentials (the EC2 instance's role)"

// AssumeRoleForPodIdentity exchanges a service-account token for the
// association role's credentials. The response is checked: every member
// the model marks required is present and assumedRoleUser.arn is an ARN.
// Errors from the service are *Error.
func (c *Client) AssumeRoleForPodIdentity(ctx context.Context, clusterName, token string) (*eksapi.AssumeRoleForPodIdentityOutput, error) {
	if clusterName == "" {
		return nil, errors.New("assume role for pod identity: cluster name is required")
	}
	body, err := json.Marshal(eksapi.AssumeRoleForPodIdentityInput{Token: token})
	if err != nil {
		return nil, fmt.Errorf("encoding request: %w", err)
	}
	u := *c.base
	u.Path = c.base.Path + "/clusters/" + clusterName + "/assume-role-for-pod-identity"
	u.RawPath = c.base.EscapedPath() + "/clusters/" + url.PathEscape(clusterName) + "/assume-role-for-pod-identity"
	target := u.String()
	sum := sha256.Sum256(body)
	payloadHash := hex.EncodeToString(sum[:])

	var lastErr error
	for attempt := 1; attempt <= c.cfg.MaxAttempts; attempt++ {
		if attempt > 1 {
			if err := c.backoff(ctx, attempt-1); err != nil {
				return nil, errors.Join(lastErr, err)
			}
		}
		out, err := c.attempt(ctx, target, body, payloadHash)
		if err == nil {
			return out, nil
		}
		lastErr = err
		if !retryable(ctx, err) {
			return nil, err
		}
	}
	return nil, fmt.Errorf("after %d attempts: %w", c.cfg.MaxAttempts, lastErr)
}

func (c *Client) backoff(ctx context.Context, retry int) error {
	d := c.cfg.BaseBackoff << min(retry, 20)
	if d > c.cfg.MaxBackoff || d <= 0 {
		d = c.cfg.MaxBackoff
	}
	d = time.Duration(rand.Int64N(int64(d)) + 1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// transportError marks a failure to get any response; it is retried.
type transportError struct{ err error }

func (e *transportError) Error() string { return e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

func (c *Client) attempt(ctx context.Context, target string, body []byte, payloadHash string) (*eksapi.AssumeRoleForPodIdentityOutput, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.AttemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("building request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.cfg.UserAgent)
	if err := c.sign(ctx, req, payloadHash); err != nil {
		return nil, err
	}
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, &transportError{fmt.Errorf("calling eks auth: %w", err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxResponseSize+1))
	if err != nil {
		return nil, &transportError{fmt.Errorf("reading eks auth response: %w", err)}
	}
	if int64(len(data)) > c.cfg.MaxResponseSize {
		return nil, fmt.Errorf("eks auth response larger than %d bytes", c.cfg.MaxResponseSize)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, decodeError(resp, data)
	}
	var out eksapi.AssumeRoleForPodIdentityOutput
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("decoding eks auth response (request id %s): %w", requestID(resp.Header), err)
	}
	if err := Validate(&out); err != nil {
		return nil, fmt.Errorf("eks auth response (request id %s): %w", requestID(resp.Header), err)
	}
	return &out, nil
}

func (c *Client) sign(ctx context.Context, req *http.Request, payloadHash string) error {
	if c.cfg.Credentials == nil {
		return nil
	}
	if _, anon := c.cfg.Credentials.(aws.AnonymousCredentials); anon {
		return nil
	}
	creds, err := c.cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("retrieving credentials to sign eks auth request: %w", err)
	}
	if err := c.signer.SignHTTP(ctx, creds, req, payloadHash, SigningName, c.cfg.Region, c.cfg.Now().UTC()); err != nil {
		return fmt.Errorf("signing eks auth request: %w", err)
	}
	return nil
}

// Validate checks that out has every member the service model marks
// required and that assumedRoleUser.arn parses as an ARN, which the agent
// needs for the AccountId it returns to pods (spec §6.1).
func Validate(out *eksapi.AssumeRoleForPodIdentityOutput) error {
	var missing []string
	check := func(ok bool, name string) {
		if !ok {
			missing = append(missing, name)
		}
	}
	check(out.Subject != nil, "subject")
	if out.Subject != nil {
		check(out.Subject.Namespace != "", "subject.namespace")
		check(out.Subject.ServiceAccount != "", "subject.serviceAccount")
	}
	check(out.Audience != "", "audience")
	check(out.PodIdentityAssociation != nil, "podIdentityAssociation")
	if p := out.PodIdentityAssociation; p != nil {
		check(p.AssociationArn != "", "podIdentityAssociation.associationArn")
		check(p.AssociationId != "", "podIdentityAssociation.associationId")
	}
	check(out.AssumedRoleUser != nil, "assumedRoleUser")
	if u := out.AssumedRoleUser; u != nil {
		check(u.Arn != "", "assumedRoleUser.arn")
		check(u.AssumeRoleId != "", "assumedRoleUser.assumeRoleId")
	}
	check(out.Credentials != nil, "credentials")
	if cr := out.Credentials; cr != nil {
		check(cr.AccessKeyId != "", "credentials.accessKeyId")
		check(cr.SecretAccessKey != "", "credentials.secretAccessKey")
		check(cr.SessionToken != "", "credentials.sessionToken")
		check(!cr.Expiration.IsZero(), "credentials.expiration")
	}
	if len(missing) > 0 {
		return fmt.Errorf("missing required members: %s", strings.Join(missing, ", "))
	}
	if _, err := AccountID(out); err != nil {
		return err
	}
	return nil
}

// AccountID is the account of the assumed role, from assumedRoleUser.arn.
func AccountID(out *eksapi.AssumeRoleForPodIdentityOutput) (string, error) {
	if out.AssumedRoleUser == nil {
		return "", errors.New("missing assumedRoleUser")
	}
	a, err := arn.Parse(out.AssumedRoleUser.Arn)
	if err != nil {
		return "", fmt.Errorf("parsing assumedRoleUser.arn %q: %w", out.AssumedRoleUser.Arn, err)
	}
	if a.AccountID == "" {
		return "", fmt.Errorf("assumedRoleUser.arn %q has no account", out.AssumedRoleUser.Arn)
	}
	return a.AccountID, nil
}

// retryable reports whether err is worth another attempt: transport
// failures, 5xx faults, 429 and throttling codes, like the SDK's standard
// retryer (spec §2.2). A cancelled caller is never retried.
func retryable(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	var te *transportError
	if errors.As(err, &te) {
		return true
	}
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.StatusCode {
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable,
		http.StatusGatewayTimeout, http.StatusTooManyRequests:
		return true
	}
	switch e.Code {
	case "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
		"TooManyRequestsException", "ProvisionedThroughputExceededException", "TransactionInProgressException",
		"RequestLimitExceeded", "BandwidthLimitExceeded", "LimitExceededException", "RequestThrottled",
		"SlowDown", "PriorRequestNotComplete", "EC2ThrottledException",
		"RequestTimeout", "RequestTimeoutException":
		return true
	}
	return false
}

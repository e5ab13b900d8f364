package admin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/podid/podid/eksapi"
)

// Client calls a podid server's admin API. Requests are signed with the
// AWS SDK's SigV4 signer; errors are decoded as the SDK decodes restJson1
// errors (eksapi.ErrorFromJSON: *eksapi.Error or *eksapi.UnknownError,
// wrapped with the HTTP status).
type Client struct {
	// Endpoint is the server's base URL, e.g. http://127.0.0.1:8080.
	Endpoint string
	// Region is the signing scope's region.
	Region string
	// Credentials sign the requests (the admin identity's); nil sends
	// them unsigned (podid serve --auth none).
	Credentials aws.CredentialsProvider
	// HTTPClient sends the requests (http.DefaultClient when nil).
	HTTPClient *http.Client
	// Now is the signing clock (time.Now when nil).
	Now func() time.Time
	// WaitChunk bounds one request of Wait (DefaultWaitChunk when 0).
	WaitChunk time.Duration
	// Unsigned, with nil Credentials, says where the caller looked for
	// keys; a server that refuses an unsigned request gets it in the error.
	Unsigned string
}

// signingName is the service a request's scope names: the server accepts
// any for its own API.
const signingName = "podid"

// requestTimeout bounds a request other than a wait.
const requestTimeout = 30 * time.Second

// MintToken asks for a token for a pod of a podid-issued cluster.
func (c *Client) MintToken(ctx context.Context, cluster string, in MintTokenInput) (MintTokenOutput, error) {
	var out MintTokenOutput
	err := c.call(ctx, http.MethodPost, TokensPath(cluster), in, &out, requestTimeout)
	return out, err
}

// Issuer returns a cluster's token issuer.
func (c *Client) Issuer(ctx context.Context, cluster string) (IssuerDoc, error) {
	var out IssuerDoc
	err := c.call(ctx, http.MethodGet, IssuerPath(cluster), nil, &out, requestTimeout)
	return out, err
}

// SetIssuer sets a cluster's token issuer and returns it as set.
func (c *Client) SetIssuer(ctx context.Context, cluster string, in IssuerDoc) (IssuerDoc, error) {
	var out IssuerDoc
	err := c.call(ctx, http.MethodPut, IssuerPath(cluster), in, &out, requestTimeout)
	return out, err
}

// InspectSession returns what a session token carries (an
// sts.SessionView), as the server sent it.
func (c *Client) InspectSession(ctx context.Context, token string) (json.RawMessage, error) {
	var out json.RawMessage
	err := c.call(ctx, http.MethodPost, InspectPath, InspectRequest{SessionToken: token}, &out, requestTimeout)
	return out, err
}

// WaitInput selects the change to wait for: Revision (when Cluster and
// AssociationID are empty and Revision >= 0), the latest change of an
// association, or (Revision < 0 and no association) every write so far.
type WaitInput struct {
	Revision      int64
	Cluster       string
	AssociationID string
}

// DefaultWaitChunk bounds one wait request: servers cut responses that
// take longer than their write timeout (podid serve's is 60 s).
const DefaultWaitChunk = 45 * time.Second

// Wait returns once the change in is in effect for credential requests on
// the server, asking again every WaitChunk until timeout passes; then the
// server's RequestTimeoutException.
func (c *Client) Wait(ctx context.Context, in WaitInput, timeout time.Duration) (WaitOutput, error) {
	q := url.Values{}
	switch {
	case in.AssociationID != "":
		q.Set("cluster", in.Cluster)
		q.Set("associationId", in.AssociationID)
	case in.Revision >= 0:
		q.Set("revision", strconv.FormatInt(in.Revision, 10))
	}
	deadline := time.Now().Add(timeout)
	for {
		remaining := time.Until(deadline)
		chunk := c.WaitChunk
		if chunk <= 0 {
			chunk = DefaultWaitChunk
		}
		q.Set("timeout", min(max(remaining, time.Millisecond), chunk).Round(time.Millisecond).String())
		var out WaitOutput
		// The server answers by the timeout; allow for the round trip.
		err := c.call(ctx, http.MethodGet, WaitPath+"?"+q.Encode(), nil, &out, chunk+requestTimeout)
		var ae interface{ ErrorCode() string } // *eksapi.Error or *eksapi.UnknownError
		if errors.As(err, &ae) && ae.ErrorCode() == CodeRequestTimeout && time.Until(deadline) > 0 {
			continue // the server resolves the selector again: at least as new
		}
		return out, err
	}
}

// call sends one request and decodes the JSON answer into out; timeout
// bounds the whole exchange.
func (c *Client) call(ctx context.Context, method, path string, in, out any, timeout time.Duration) error {
	if c.Endpoint == "" {
		return errors.New("no endpoint")
	}
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.Endpoint, "/")+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("endpoint %q: %w", c.Endpoint, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if err := c.sign(ctx, req, body); err != nil {
		return err
	}
	hc := c.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("reading the answer: %w", err)
	}
	if err := responseError(resp, b); err != nil {
		var ae interface{ ErrorCode() string }
		if c.Credentials == nil && c.Unsigned != "" && errors.As(err, &ae) && ae.ErrorCode() == "MissingAuthenticationTokenException" {
			return fmt.Errorf("no admin keys found (looked in %s), so the request went unsigned: %w", c.Unsigned, err)
		}
		return err
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("the server's answer is not JSON: %w", err)
	}
	return nil
}

func (c *Client) sign(ctx context.Context, req *http.Request, body []byte) error {
	if c.Credentials == nil {
		return nil
	}
	creds, err := c.Credentials.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("retrieving credentials: %w", err)
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), signingName, c.Region, now()); err != nil {
		return fmt.Errorf("signing the request: %w", err)
	}
	return nil
}

// responseError is nil for a 200, else the AWS error the answer carries
// (with its HTTP status), or the status and body when it carries none.
func responseError(resp *http.Response, body []byte) error {
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	err := eksapi.ErrorFromJSON(resp.StatusCode, resp.Header, body)
	var ue *eksapi.UnknownError
	var ae *eksapi.Error
	if errors.As(err, &ae) || errors.As(err, &ue) && ue.Code != "UnknownError" {
		return fmt.Errorf("%w (HTTP %d)", err, resp.StatusCode)
	}
	return fmt.Errorf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(body))
}

// Explain asks whether a pod's credential request would succeed and what
// decides it (POST /podid/v1/explain), without making it.
func (c *Client) Explain(ctx context.Context, in ExplainInput) (ExplainOutput, error) {
	var out ExplainOutput
	err := c.call(ctx, http.MethodPost, ExplainPath, in, &out, requestTimeout)
	return out, err
}

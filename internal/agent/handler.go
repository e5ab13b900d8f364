package agent

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/podid/podid/internal/agent/eksauthclient"
)

// The addresses pods call the agent on (spec §8.1).
const (
	IPv4Host = "169.254.170.23"
	IPv6Host = "fd00:ec2::23"
)

// DefaultAllowedHosts are the Host header values the agent answers, as the
// AWS agent's: its link-local addresses.
var DefaultAllowedHosts = []string{IPv4Host, IPv6Host}

// LoopbackHosts are added to the allowed hosts when the agent listens on
// loopback.
var LoopbackHosts = []string{"127.0.0.1", "::1", "localhost"}

// HandlerConfig configures a Handler.
type HandlerConfig struct {
	// Cluster is the cluster name sent to EKS Auth.
	Cluster string
	// Source gives the credentials, usually a *Cache over an *Upstream.
	Source Source
	// AllowedHosts are the Host header values (without port or brackets)
	// the handler answers; others get 403 like the AWS agent. Nil means
	// DefaultAllowedHosts.
	AllowedHosts []string
	// RateLimit bounds requests per second over all callers, with burst
	// RateBurst; excess gets 429. Zero means no limit.
	RateLimit float64
	RateBurst int
	// Now is the clock for token time claims (default time.Now).
	Now func() time.Time
	// Logger receives failed requests (default slog.Default()).
	Logger *slog.Logger
	// Metrics, if set, counts responses by code.
	Metrics *Metrics
	// MaxTokens bounds the memo of parsed token claims (default
	// DefaultMaxCacheSize).
	MaxTokens int
}

// Handler serves GET /v1/credentials as the AWS agent does (spec §8.3):
// the raw token in Authorization, the Host check, the basic token checks,
// then the JSON the SDKs read, or text errors with EKS Auth's status.
type Handler struct {
	cfg     HandlerConfig
	allowed []string
	denied  string // the list as the AWS agent prints it
	limiter *rate.Limiter
	claims  claimsMemo
}

// NewHandler returns a handler for cfg.
func NewHandler(cfg HandlerConfig) *Handler {
	if cfg.AllowedHosts == nil {
		cfg.AllowedHosts = DefaultAllowedHosts
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxTokens <= 0 {
		cfg.MaxTokens = DefaultMaxCacheSize
	}
	var lim *rate.Limiter // nil: no limit, and no lock on the hot path
	if cfg.RateLimit > 0 {
		lim = rate.NewLimiter(rate.Limit(cfg.RateLimit), max(cfg.RateBurst, 1))
	}
	allowed := make([]string, len(cfg.AllowedHosts))
	for i, h := range cfg.AllowedHosts {
		allowed[i] = stripHost(h)
	}
	return &Handler{
		cfg:     cfg,
		allowed: allowed,
		denied:  fmt.Sprint(allowed),
		limiter: lim,
		claims:  claimsMemo{max: cfg.MaxTokens},
	}
}

var jsonContentType = []string{"application/json"}

// ServeHTTP implements http.Handler. Like the AWS agent it does not check
// the method.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.limiter != nil && !h.limiter.Allow() {
		h.fail(w, r, "", http.StatusTooManyRequests, "Too Many Requests. The agent's request rate limit is exceeded, retry later")
		return
	}
	if host := stripHost(r.Host); !h.hostAllowed(host) {
		h.fail(w, r, "", http.StatusForbidden, fmt.Sprintf(
			"Access Denied. Called agent through invalid address, please use either %s address not %s", h.denied, host))
		return
	}
	var token string
	if v := r.Header["Authorization"]; len(v) > 0 { // canonical key: skip Get's canonicalization
		token = v[0]
	}
	req, status, msg := h.request(token)
	if status != 0 {
		h.fail(w, r, token, status, msg)
		return
	}
	creds, err := h.cfg.Source.Credentials(r.Context(), req)
	if err != nil {
		status, msg := errorResponse(err)
		h.fail(w, r, token, status, msg)
		return
	}
	w.Header()["Content-Type"] = jsonContentType
	h.cfg.Metrics.response(http.StatusOK)
	w.Write(creds.JSON())
}

// request checks the token as the AWS agent does; a non-zero status is
// the failure to answer.
func (h *Handler) request(token string) (Request, int, string) {
	if token == "" {
		return Request{}, http.StatusBadRequest, "Service account token cannot be empty"
	}
	claims, ok := h.claims.get(token)
	if !ok {
		var err error
		if claims, err = ParseClaims(token); err != nil {
			return Request{}, http.StatusBadRequest, "Service account token cannot be parsed: " + err.Error()
		}
		h.claims.put(token, claims)
	}
	if err := claims.Validate(h.cfg.Now()); err != nil {
		return Request{}, http.StatusBadRequest, "Service account token failed basic claim validations: " + err.Error()
	}
	return Request{Cluster: h.cfg.Cluster, Token: token, TokenExpiry: claims.Expiry}, 0, ""
}

// errorResponse gives the status and text the AWS agent gives for a
// credential error: EKS Auth's status (500 without one) and
// "[requestId]: (Code): message, fault: client|server".
func errorResponse(err error) (int, string) {
	var e *eksauthclient.Error
	if !errors.As(err, &e) {
		return http.StatusInternalServerError, err.Error()
	}
	status := e.StatusCode
	if status == 0 {
		status = http.StatusInternalServerError
	}
	return status, fmt.Sprintf("[%s]: (%s): %s, fault: %s", e.RequestID, e.Code, e.Message, e.Fault)
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, token string, status int, msg string) {
	h.cfg.Metrics.response(status)
	attrs := []any{"status", status, "remote", r.RemoteAddr, "error", msg}
	if token != "" {
		attrs = append(attrs, "token", tokenID(token))
	}
	h.cfg.Logger.Warn("credential request failed", attrs...)
	http.Error(w, msg, status)
}

func (h *Handler) hostAllowed(host string) bool {
	for _, a := range h.allowed {
		if strings.EqualFold(a, host) {
			return true
		}
	}
	return false
}

// stripHost drops a port and IPv6 brackets from a Host header value:
// "[fd00:ec2::23]:80" and "[fd00:ec2::23]" give "fd00:ec2::23",
// "169.254.170.23:80" gives "169.254.170.23"; a bare IPv6 address stays.
func stripHost(host string) string {
	if strings.HasPrefix(host, "[") {
		if i := strings.IndexByte(host, ']'); i > 0 {
			host = host[1:i]
		}
	} else if i := strings.IndexByte(host, ':'); i >= 0 && strings.LastIndexByte(host, ':') == i {
		host = host[:i]
	}
	return host
}

// claimsMemo remembers parsed claims so a cached request does not decode
// its token again. Bounded: when full, it starts over.
type claimsMemo struct {
	mu  sync.RWMutex
	max int
	m   map[string]Claims
}

func (c *claimsMemo) get(token string) (Claims, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	cl, ok := c.m[token]
	return cl, ok
}

func (c *claimsMemo) put(token string, cl Claims) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= c.max {
		c.m = make(map[string]Claims)
	}
	c.m[token] = cl
}

// Package httpx is podid's one HTTP host. Every API podid serves (the EKS
// API, EKS Auth, STS, OIDC discovery, the admin API under /podid/v1/)
// mounts its handlers here as a Family, and gets the same request path:
//
//	request ID (X-Amzn-RequestId) → panic recovery → access log →
//	body limits → /healthz → route (404/405 when none) → authenticate →
//	handler → response, or the error mapped once and written in the
//	family's protocol (restJson1 or awsQuery XML)
//
// Handlers return errors; none writes an error body. MapError is the one
// mapping from Go errors (the store's sentinels, satoken and STS errors,
// authentication failures, oversized or malformed bodies) to AWS error
// shapes, and WriteError the one place that writes them.
//
// What a request can hold before its signature is checked is bounded (a
// body is read to be hashed before the signature over it can be
// verified): each body by the body limit (413), all bodies being received
// at once by a server-wide budget (503 throttling error), the time to
// receive one by a read deadline (408 RequestTimeout), and the
// connections of one client address by LimitConnsPerAddress.
package httpx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path"
	"runtime/debug"
	"strings"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/semaphore"
)

// HeaderRequestID is on every response the host writes.
const HeaderRequestID = "X-Amzn-RequestId"

// requestIDKey is HeaderRequestID as a key of http.Header.
var requestIDKey = http.CanonicalHeaderKey(HeaderRequestID)

// Defaults of the body bounds (Config).
const (
	// DefaultMaxBodyBytes bounds request bodies when Config.MaxBodyBytes
	// is 0: twice the largest request any podid API takes. That is an EKS
	// CreateCluster or CreatePodIdentityAssociation (TagResource is
	// smaller) with its 50 tags at their longest, 128-character keys and
	// 256-character values, every character one JSON would escape as
	// \uXXXX (6 bytes): 50 x 384 x 6 = 115,200 bytes, plus the other
	// members (ARNs of 2048 characters, 16 subnets, a 2048-character
	// session policy, escaped the same way): about 130 KB. STS, IAM, EKS
	// Auth and the admin API are held to 64 KiB by their families (IAM's
	// largest document, a role's 10,240 characters of inline policy, is
	// about 40 KB once form-encoded).
	DefaultMaxBodyBytes = 256 << 10
	// DefaultBodyBudget bounds the bytes of the request bodies being
	// received at once when Config.BodyBudget is 0: 128 bodies at the
	// default limit (a client address's connections,
	// DefaultMaxConnsPerAddress, hold half of it at most), thousands of
	// real requests (they are a few KiB).
	DefaultBodyBudget = 32 << 20
	// DefaultBodyReadTimeout bounds the time to receive a body when
	// Config.BodyReadTimeout is 0 (256 KiB take 2s at 1 Mbit/s).
	DefaultBodyReadTimeout = 10 * time.Second
)

// HandlerFunc serves one operation. It writes the successful response (or
// sets headers and leaves the body to an adapter such as JSON) and returns
// any failure for the host to map and write.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Config configures a Host.
type Config struct {
	// Logger gets one access-log line per request and the causes of
	// internal errors. nil: slog.Default().
	Logger *slog.Logger
	// MaxBodyBytes bounds every request body (a family may set a lower
	// bound). Default DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// BodyBudget bounds the bytes of the request bodies ReadBody is
	// receiving at once, counted by their declared length (the body
	// limit when undeclared). Every body is received before its signature
	// can be checked, so this is what unauthenticated requests can hold
	// together: a body that would exceed it is refused at once
	// (ErrBodyBudget, a 503 throttling error the SDKs retry). Default
	// DefaultBodyBudget; negative: no budget.
	BodyBudget int64
	// BodyReadTimeout bounds the time ReadBody waits for a body once it
	// starts reading it: a slower body is cut (ErrBodyTimeout, a 408
	// RequestTimeout) and its connection closed. Default
	// DefaultBodyReadTimeout; negative: none (the http.Server's own
	// ReadTimeout still applies).
	BodyReadTimeout time.Duration
	// Health answers GET /healthz: nil for 200, an error for a 503
	// ServiceUnavailableException. nil: always healthy.
	Health func(ctx context.Context) error
	// Authenticate runs before every handler (after routing, so a failure
	// is written in the route's protocol) except on the public families
	// and /healthz. It returns the request to serve (carrying the caller's
	// identity in its context) or the failure. nil: no authentication.
	Authenticate func(r *http.Request) (*http.Request, error)
	// Observer, when set, sees every request (the audit trail).
	Observer Observer
}

// Observer sees every request the host serves: Begin when it arrives,
// Done once it is answered. Done runs on the request's goroutine after
// the response is written and must not block.
type Observer interface {
	// Begin returns the context to serve the request with (it may carry
	// what handlers add for Done).
	Begin(ctx context.Context) context.Context
	// Done gets the request the handler saw (after authentication, so its
	// context carries the caller's identity; the arriving request when
	// none was routed) and what the host knows of the outcome.
	Done(r *http.Request, c Completed)
}

// Completed is what the host knows of an answered request.
type Completed struct {
	Family *Family
	// Op is the operation (the mounted name, or SetOperation's).
	Op     string
	Status int
	// ErrorCode and ErrorMessage are the mapped error's (MapError), ""
	// when the request succeeded.
	ErrorCode, ErrorMessage string
	RequestID               string
	Start                   time.Time
	// Body is the request body if anything read it through ReadBody
	// (authentication or the handler), else nil.
	Body []byte
	// Routed is false for requests no route took (404, 405, /healthz).
	Routed bool
}

// Host is the HTTP host. Mount handlers with Handle, then serve it.
type Host struct {
	cfg      Config
	budget   *semaphore.Weighted // nil: no body budget
	log      *slog.Logger
	mux      *http.ServeMux
	families map[string]*Family      // pattern → family, for 405 and empty labels
	targets  map[string]http.Handler // X-Amz-Target → handler (HandleTarget)
}

// New returns a Host with no routes but /healthz.
func New(cfg Config) *Host {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if cfg.BodyBudget == 0 {
		cfg.BodyBudget = DefaultBodyBudget
	}
	if cfg.BodyReadTimeout == 0 {
		cfg.BodyReadTimeout = DefaultBodyReadTimeout
	}
	h := &Host{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux(), families: map[string]*Family{}, targets: map[string]http.Handler{}}
	if cfg.BodyBudget > 0 {
		h.budget = semaphore.NewWeighted(cfg.BodyBudget)
	}
	// Everything unmatched gets an AWS-shaped 404 or 405 instead of
	// ServeMux's plain text. "/tags" is named so ServeMux does not redirect
	// it to "/tags/" once "/tags/..." is mounted.
	fallback := h.wrap(Default, "", h.noRoute)
	h.mux.Handle("/", fallback)
	h.mux.Handle("/tags", fallback)
	return h
}

// Logger returns the host's logger.
func (h *Host) Logger() *slog.Logger { return h.log }

// MaxBodyBytes returns the host-wide body limit.
func (h *Host) MaxBodyBytes() int64 { return h.cfg.MaxBodyBytes }

// Handle mounts fn at pattern (an http.ServeMux pattern) for family fam;
// op names the operation in the access log. A bad or conflicting pattern
// is an error.
func (h *Host) Handle(pattern string, fam *Family, op string, fn HandlerFunc) (err error) {
	defer func() {
		// ServeMux.Handle panics on a bad or conflicting pattern.
		if v := recover(); v != nil {
			err = fmt.Errorf("mounting %q: %v", pattern, v)
		}
	}()
	h.mux.Handle(pattern, h.wrap(fam, op, fn))
	h.families[pattern] = fam
	return nil
}

// HandleTarget mounts fn for the JSON 1.1 operation target (the
// X-Amz-Target header of a POST /, such as CloudTrail's
// "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents"):
// such requests reach fn before the routes of POST / (STS's and IAM's
// awsQuery endpoint, which never send the header).
func (h *Host) HandleTarget(target string, fam *Family, op string, fn HandlerFunc) error {
	if _, dup := h.targets[target]; dup || target == "" {
		return fmt.Errorf("mounting target %q: empty or already mounted", target)
	}
	h.targets[target] = h.wrap(fam, op, fn)
	return nil
}

// HandleHTTP mounts a plain http.Handler that writes its own responses
// (Prometheus metrics, a test's stand-in). It gets the host's request ID,
// log line, recovery and body limit, and authentication as fam says.
func (h *Host) HandleHTTP(pattern string, fam *Family, hd http.Handler) error {
	return h.Handle(pattern, fam, "", func(w http.ResponseWriter, r *http.Request) error {
		hd.ServeHTTP(w, r)
		return nil
	})
}

// Route is one family's handler of a pattern several families share
// (HandleShared).
type Route struct {
	Family  *Family
	Handler HandlerFunc
}

// HandleShared mounts at pattern the handlers of families that share it,
// as STS and IAM share POST / (AWS tells them apart by the SigV4 scope's
// service, or the Action): pick chooses each request's route before the
// family's body limit and authentication, so errors are written in the
// chosen family's protocol. primary is the family the host's 405 and
// empty-label answers count the pattern as.
func (h *Host) HandleShared(pattern string, primary *Family, pick func(*http.Request) Route) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("mounting %q: %v", pattern, v)
		}
	}()
	h.mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rt := pick(r)
		h.serve(w, r, rt.Family, "", rt.Handler)
	}))
	h.families[pattern] = primary
	return nil
}

// wrap mounts fn for serve.
func (h *Host) wrap(fam *Family, op string, fn HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.serve(w, r, fam, op, fn)
	})
}

// serve is a routed request's path inside the host: the family's body
// limit, authentication, the handler, and the error written if any.
func (h *Host) serve(w http.ResponseWriter, r *http.Request, fam *Family, op string, fn HandlerFunc) {
	ri := info(r.Context())
	if ri != nil {
		ri.family, ri.op = fam, op
	}
	if fam.MaxBody > 0 && fam.MaxBody < h.cfg.MaxBodyBytes && r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, fam.MaxBody)
		if ri != nil {
			ri.limit = fam.MaxBody
		}
	}
	if ri != nil {
		ri.routed, ri.req = true, r
	}
	if h.cfg.Authenticate != nil && !fam.Public {
		ar, err := h.cfg.Authenticate(r)
		if err != nil {
			h.WriteError(w, r, err)
			return
		}
		r = ar
		if ri != nil {
			ri.req = r
		}
	}
	if err := fn(w, r); err != nil {
		h.WriteError(w, r, err)
	}
}

// reqInfo is the request-scoped record of the host.
type reqInfo struct {
	id      string
	op      string
	code    string // the AWS error code written, if any
	message string // and its message
	routed  bool
	req     *http.Request // the request the handler saw, for the Observer
	family  *Family
	limit   int64
	host    *Host
	w       http.ResponseWriter // for the body's read deadline (sw)
	sw      statusWriter
	body    []byte // read once by ReadBody
	read    bool
	bodyErr error
	again   bodyAgain // the body ReadBody read, to be read again
	// idHeader is the X-Amzn-RequestId header's value, id (set without
	// Header.Set's allocation).
	idHeader [1]string
}

type reqInfoKey struct{}

func info(ctx context.Context) *reqInfo {
	ri, _ := ctx.Value(reqInfoKey{}).(*reqInfo)
	return ri
}

// reqContext is a request's context carrying its reqInfo: one allocation
// where context.WithValue and the record would be two.
type reqContext struct {
	context.Context
	ri reqInfo
}

func (c *reqContext) Value(key any) any {
	if key == (reqInfoKey{}) {
		return &c.ri
	}
	return c.Context.Value(key)
}

// RequestID returns the X-Amzn-RequestId of the request ctx belongs to, or
// "" outside the host.
func RequestID(ctx context.Context) string {
	if ri := info(ctx); ri != nil {
		return ri.id
	}
	return ""
}

// SetOperation names the operation a request performs in its log line
// (for handlers that serve several operations, such as STS's).
func SetOperation(ctx context.Context, op string) {
	if ri := info(ctx); ri != nil {
		ri.op = op
	}
}

// ServeHTTP gives every request an ID, a log line, panic recovery and the
// body limit, answers /healthz, refuses paths ServeMux would redirect and
// routes the rest.
func (h *Host) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rc := &reqContext{Context: r.Context()}
	ri := &rc.ri
	ri.id, ri.family, ri.limit, ri.host = newRequestID(), Default, h.cfg.MaxBodyBytes, h
	var ctx context.Context = rc
	if h.cfg.Observer != nil {
		ctx = h.cfg.Observer.Begin(ctx)
	}
	r = r.WithContext(ctx)
	ri.idHeader[0] = ri.id
	w.Header()[requestIDKey] = ri.idHeader[:]
	sw := &ri.sw // one allocation with ri
	sw.ResponseWriter = w
	ri.w = sw
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			h.log.ErrorContext(r.Context(), "panic serving request", "request_id", ri.id, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			if !sw.wrote {
				h.WriteError(sw, r, errPanic)
			}
		}
		h.logRequest(r, ri, sw.status, start, time.Now())
		if h.cfg.Observer != nil {
			h.observe(r, ri, sw.status, start)
		}
	}()
	if r.Body != nil {
		r.Body = http.MaxBytesReader(sw, r.Body, h.cfg.MaxBodyBytes)
	}
	escaped := r.URL.EscapedPath()
	switch {
	case r.URL.Path == "/healthz":
		h.health(sw, r)
	case r.Method != http.MethodConnect && cleanPath(escaped) != escaped:
		// ServeMux would answer with a plain-text redirect. An empty
		// label (an SDK call with an empty cluster name) gives "//".
		if strings.Contains(escaped, "//") {
			h.WriteError(sw, r, ErrEmptyPathParameter)
			return
		}
		h.WriteError(sw, r, &NoRouteError{Method: r.Method, Path: r.URL.Path})
	case r.Method == http.MethodPost && r.URL.Path == "/" && h.targets[r.Header.Get("X-Amz-Target")] != nil:
		h.targets[r.Header.Get("X-Amz-Target")].ServeHTTP(sw, r)
	default:
		h.mux.ServeHTTP(sw, r)
	}
}

// newRequestID returns a time-ordered UUID (version 7): the audit trail
// keys its events by request ID, and IDs in time order append at the end
// of its B-trees instead of landing on a random page each (half the audit
// writer's CPU per event in sqlite's BenchmarkAppendEvents). Its 74 random
// bits keep it unique; nothing relies on request IDs being unpredictable.
func newRequestID() string {
	return uuid.Must(uuid.NewV7()).String()
}

// observe tells the Observer how the request went.
func (h *Host) observe(r *http.Request, ri *reqInfo, status int, start time.Time) {
	if status == 0 {
		status = http.StatusOK
	}
	req := ri.req
	if req == nil {
		req = r
	}
	c := Completed{
		Family: ri.family, Op: ri.op, Status: status, RequestID: ri.id, Start: start, Routed: ri.routed,
		ErrorCode: ri.code, ErrorMessage: ri.message,
	}
	if ri.read && ri.bodyErr == nil {
		c.Body = ri.body
	}
	h.cfg.Observer.Done(req, c)
}

var errPanic = errors.New("panic serving the request")

// logRequest logs the request's line at now, with its duration since
// start (one read of the clock for both).
func (h *Host) logRequest(r *http.Request, ri *reqInfo, status int, start, now time.Time) {
	if status == 0 {
		status = http.StatusOK
	}
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelWarn
	}
	// Never the query (page tokens), body or Authorization header.
	logAttrsAt(r.Context(), h.log, level, now, "request",
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.String("op", ri.op),
		slog.Int("status", status),
		slog.String("code", ri.code),
		slog.Duration("duration", now.Sub(start)),
		slog.String("request_id", ri.id),
	)
}

// health answers GET /healthz: 200 when Config.Health says so.
func (h *Host) health(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		h.WriteError(w, r, &MethodNotAllowedError{Method: r.Method, Path: "/healthz"})
		return
	}
	if h.cfg.Health != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		if err := h.cfg.Health(ctx); err != nil {
			h.log.WarnContext(r.Context(), "health check: not ready", "request_id", RequestID(r.Context()), "err", err)
			h.WriteError(w, r, ErrNotReady)
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write([]byte(`{"status":"ok"}` + "\n"))
}

// noRoute answers requests no pattern matches: an EmptyLabelError when
// only an empty last label kept a route from matching, 405 when
// the path matches another method's route, else 404.
func (h *Host) noRoute(w http.ResponseWriter, r *http.Request) error {
	SetOperation(r.Context(), "")
	if strings.HasSuffix(r.URL.Path, "/") {
		probe := r.Clone(r.Context())
		probe.URL.Path += "x"
		probe.URL.RawPath = ""
		if _, pattern := h.mux.Handler(probe); h.families[pattern] != nil {
			last := pattern[strings.LastIndexByte(pattern, '/')+1:]
			if strings.HasPrefix(last, "{") && strings.HasSuffix(last, "}") && !strings.HasSuffix(last, "...}") {
				return &EmptyLabelError{Param: strings.Trim(last, "{}")}
			}
		}
	}
	var allowed []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if m == r.Method {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := h.mux.Handler(probe); h.families[pattern] != nil {
			allowed = append(allowed, m)
		}
	}
	if len(allowed) > 0 {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		return &MethodNotAllowedError{Method: r.Method}
	}
	return &NoRouteError{Method: r.Method, Path: r.URL.Path}
}

// cleanPath is ServeMux's canonical form of p (a trailing slash kept).
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	np := path.Clean(p)
	if p[len(p)-1] == '/' && np != "/" {
		np += "/"
	}
	return np
}

// statusWriter records the status for the log line and whether the
// header went out (so recovery does not write twice).
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status = code
		w.wrote = true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

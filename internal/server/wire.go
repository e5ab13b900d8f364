package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/podid/podid/eksapi"
	"github.com/podid/podid/internal/store"
)

// Response headers podid sets.
const (
	// HeaderRequestID is on every response.
	HeaderRequestID = "X-Amzn-RequestId"
	// HeaderRevision is on every successful write to an association or a
	// cluster: the store revision that includes the write. A reader of the
	// change feed that has applied this revision has seen the write.
	HeaderRevision = "X-Podid-Revision"
)

// Operation names, as they appear in logs and idempotency keys.
const (
	opCreateAssociation   = "CreatePodIdentityAssociation"
	opDescribeAssociation = "DescribePodIdentityAssociation"
	opUpdateAssociation   = "UpdatePodIdentityAssociation"
	opDeleteAssociation   = "DeletePodIdentityAssociation"
	opListAssociations    = "ListPodIdentityAssociations"
	opTagResource         = "TagResource"
	opUntagResource       = "UntagResource"
	opListTags            = "ListTagsForResource"
	opCreateCluster       = "CreateCluster"
	opDescribeCluster     = "DescribeCluster"
	opDeleteCluster       = "DeleteCluster"
	opListClusters        = "ListClusters"
)

// routes builds the whole handler: the outer layer (request ID, logging,
// recovery, body limit, /healthz) around Middleware around the mux.
func (s *Server) routes() (h http.Handler, err error) {
	mux := http.NewServeMux()
	defer func() {
		// ServeMux.Handle panics on a bad or conflicting pattern; those come
		// from Config.Routes, so report them as a config error.
		if v := recover(); v != nil {
			err = fmt.Errorf("server config: routes: %v", v)
		}
	}()
	eks := map[string]http.Handler{
		"POST /clusters":          handle(s, opCreateCluster, s.createCluster),
		"GET /clusters":           handle(s, opListClusters, s.listClusters),
		"GET /clusters/{name}":    handle(s, opDescribeCluster, s.describeCluster),
		"DELETE /clusters/{name}": handle(s, opDeleteCluster, s.deleteCluster),

		"POST /clusters/{name}/pod-identity-associations":                   handle(s, opCreateAssociation, s.createAssociation),
		"GET /clusters/{name}/pod-identity-associations":                    handle(s, opListAssociations, s.listAssociations),
		"GET /clusters/{name}/pod-identity-associations/{associationId}":    handle(s, opDescribeAssociation, s.describeAssociation),
		"POST /clusters/{name}/pod-identity-associations/{associationId}":   handle(s, opUpdateAssociation, s.updateAssociation),
		"DELETE /clusters/{name}/pod-identity-associations/{associationId}": handle(s, opDeleteAssociation, s.deleteAssociation),

		// The SDKs percent-encode the ARN into one path segment; the
		// greedy wildcard also takes an unencoded ARN with its slashes
		// (hand-written curl). PathValue returns it decoded either way.
		"POST /tags/{resourceArn...}":   handle(s, opTagResource, s.tagResource),
		"GET /tags/{resourceArn...}":    handle(s, opListTags, s.listTags),
		"DELETE /tags/{resourceArn...}": handle(s, opUntagResource, s.untagResource),
	}
	for pattern, h := range eks {
		mux.Handle(pattern, h)
	}
	for pattern, h := range s.cfg.Routes {
		mux.Handle(pattern, h)
	}
	// Everything else: an AWS-shaped 404 or 405 instead of ServeMux's
	// plain text. "/tags" is named so ServeMux does not redirect it to
	// "/tags/".
	fallback := s.noRoute(mux)
	mux.Handle("/", fallback)
	mux.Handle("/tags", fallback)

	var api http.Handler = mux
	if s.cfg.Middleware != nil {
		api = s.cfg.Middleware(api)
	}
	return s.outer(api), nil
}

// reqInfo is the request-scoped record the outer layer logs.
type reqInfo struct {
	id string
	op string
}

type reqInfoKey struct{}

// RequestID returns the X-Amzn-RequestId of the request ctx belongs to
// (for handlers mounted through Config.Routes that echo it in a body), or
// "" outside a request.
func RequestID(ctx context.Context) string {
	if ri, ok := ctx.Value(reqInfoKey{}).(*reqInfo); ok {
		return ri.id
	}
	return ""
}

func setOp(ctx context.Context, op string) {
	if ri, ok := ctx.Value(reqInfoKey{}).(*reqInfo); ok {
		ri.op = op
	}
}

// outer gives every request an ID, a log line, panic recovery and the body
// limit, answers /healthz, and refuses paths ServeMux would redirect.
func (s *Server) outer(api http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ri := &reqInfo{id: uuid.NewString()}
		r = r.WithContext(context.WithValue(r.Context(), reqInfoKey{}, ri))
		w.Header().Set(HeaderRequestID, ri.id)
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.ErrorContext(r.Context(), "panic serving request", "request_id", ri.id, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				if !sw.wrote {
					s.writeAPIError(sw, r, eksapi.NewError(eksapi.CodeServer, internalErrorMessage))
				}
			}
			s.logRequest(r, ri, sw.status, time.Since(start))
		}()
		if r.Body != nil && s.cfg.MaxBodyBytes > 0 {
			r.Body = http.MaxBytesReader(sw, r.Body, s.cfg.MaxBodyBytes)
		}
		switch {
		case r.URL.Path == "/healthz":
			s.health(sw, r)
		case r.Method != http.MethodConnect && cleanPath(r.URL.EscapedPath()) != r.URL.EscapedPath():
			// ServeMux would answer with a plain-text redirect. An empty
			// label (an SDK call with an empty cluster name) gives "//".
			if strings.Contains(r.URL.EscapedPath(), "//") {
				s.writeAPIError(sw, r, invalidParam("A path parameter of the request is empty."))
				return
			}
			s.writeAPIError(sw, r, unknownOperation(r))
		default:
			api.ServeHTTP(sw, r)
		}
	})
}

func (s *Server) logRequest(r *http.Request, ri *reqInfo, status int, d time.Duration) {
	if status == 0 {
		status = http.StatusOK
	}
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelWarn
	}
	// Never the query (page tokens), body or Authorization header.
	s.log.LogAttrs(r.Context(), level, "request",
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.String("op", ri.op),
		slog.Int("status", status),
		slog.Duration("duration", d),
		slog.String("request_id", ri.id),
	)
}

// health answers GET /healthz: 200 when the store answers.
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		s.writeAPIError(w, r, eksapi.NewError(eksapi.CodeMethodNotAllowed, fmt.Sprintf("The method %s is not allowed for /healthz.", r.Method)))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if _, err := s.store.Revision(ctx); err != nil {
		s.log.WarnContext(r.Context(), "health check: store not ready", "request_id", RequestID(r.Context()), "err", err)
		s.writeAPIError(w, r, eksapi.NewError(eksapi.CodeServiceUnavailable, "The store is not ready."))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, `{"status":"ok"}`+"\n")
}

// noRoute answers requests no pattern matches: 405 when the path matches
// another method's route, else 404 UnknownOperationException.
func (s *Server) noRoute(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setOp(r.Context(), "")
		// An empty last label (the SDKs send it as is): the route the
		// request would take with a label names the parameter.
		if strings.HasSuffix(r.URL.Path, "/") {
			probe := r.Clone(r.Context())
			probe.URL.Path += "x"
			probe.URL.RawPath = ""
			_, pattern := mux.Handler(probe)
			switch {
			case strings.HasSuffix(pattern, "{associationId}"):
				s.writeAPIError(w, r, badAssociationIDLength())
				return
			case strings.HasSuffix(pattern, "/{name}"):
				s.writeAPIError(w, r, invalidParam("The parameter name must not be empty."))
				return
			}
		}
		var allowed []string
		for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			if m == r.Method {
				continue
			}
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, pattern := mux.Handler(probe); pattern != "" && pattern != "/" && pattern != "/tags" {
				allowed = append(allowed, m)
			}
		}
		if len(allowed) > 0 {
			w.Header().Set("Allow", strings.Join(allowed, ", "))
			s.writeAPIError(w, r, eksapi.NewError(eksapi.CodeMethodNotAllowed,
				fmt.Sprintf("The method %s is not allowed for the requested resource.", r.Method)))
			return
		}
		s.writeAPIError(w, r, unknownOperation(r))
	})
}

func unknownOperation(r *http.Request) *eksapi.Error {
	return eksapi.NewError(eksapi.CodeUnknownOperation,
		fmt.Sprintf("No operation matches %s %s.", r.Method, truncate(r.URL.Path, 256)))
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

// noInput is the input of operations without a body; their body, if any,
// is not read.
type noInput struct{}

// handle adapts an operation to an http.Handler: decode the JSON body into
// In (unless In is noInput), call fn, map its error, encode its result.
// fn may set headers on w (X-Podid-Revision) but does not write the body.
func handle[In, Out any](s *Server, op string, fn func(w http.ResponseWriter, r *http.Request, in *In) (*Out, error)) http.Handler {
	_, bodyless := any((*In)(nil)).(*noInput)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setOp(r.Context(), op)
		in := new(In)
		if !bodyless {
			if err := decodeBody(r, in); err != nil {
				s.writeError(w, r, op, err)
				return
			}
		}
		if err := s.authorize(r, op, in); err != nil {
			s.writeError(w, r, op, err)
			return
		}
		out, err := fn(w, r, in)
		if err != nil {
			s.writeError(w, r, op, err)
			return
		}
		b, err := json.Marshal(out)
		if err != nil {
			s.writeError(w, r, op, fmt.Errorf("encoding %s response: %w", op, err))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		w.Write(b)
	})
}

// decodeError is a request body that could not be read or parsed.
type decodeError struct{ err error }

func (e *decodeError) Error() string { return "decoding request body: " + e.err.Error() }
func (e *decodeError) Unwrap() error { return e.err }

var errTrailingData = errors.New("unexpected data after the JSON object")

// decodeBody reads r's JSON body into v. An empty body leaves v zero (the
// SDKs send no body when no body member is set).
func decodeBody(r *http.Request, v any) error {
	if r.Body == nil {
		return nil
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return &decodeError{err}
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		return &decodeError{err}
	}
	if _, err := dec.Token(); err != io.EOF {
		return &decodeError{errTrailingData}
	}
	return nil
}

// clusterScoped names the cluster an error is about when the request path
// does not (CreateCluster).
type clusterScoped struct {
	cluster string
	err     error
}

func (e *clusterScoped) Error() string { return e.err.Error() }
func (e *clusterScoped) Unwrap() error { return e.err }

const internalErrorMessage = "An internal error occurred. Try again later."

// writeError maps err to an AWS error and writes it.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, op string, err error) {
	s.writeAPIError(w, r, s.apiError(r, op, err))
}

// apiError is the one mapping from Go errors to AWS errors: validation
// errors (already *eksapi.Error), body decoding errors, the store's
// sentinels (worded for the operation and resource at hand), and anything
// else as a 500 ServerException whose cause is logged, not sent.
func (s *Server) apiError(r *http.Request, op string, err error) *eksapi.Error {
	var ae *eksapi.Error
	if errors.As(err, &ae) {
		return ae
	}
	cluster := r.PathValue("name")
	var cs *clusterScoped
	if errors.As(err, &cs) {
		cluster = cs.cluster
	}
	tagAPI := op == opTagResource || op == opUntagResource || op == opListTags

	var de *decodeError
	var mbe *http.MaxBytesError
	var exists *store.ExistsError
	switch {
	case errors.As(err, &mbe):
		return eksapi.NewError(eksapi.CodeRequestEntityTooLarge,
			fmt.Sprintf("The request body is larger than the limit of %d bytes.", mbe.Limit))
	case errors.As(err, &de):
		return eksapi.NewError(eksapi.CodeSerialization, serializationMessage(de.err))
	case errors.Is(err, store.ErrIdempotencyMismatch):
		return eksapi.NewError(eksapi.CodeInvalidParameter,
			"The clientRequestToken was already used with different request parameters.").WithCluster(cluster)
	case errors.As(err, &exists) && op == opCreateCluster:
		return eksapi.NewError(eksapi.CodeResourceInUse, "Cluster already exists with name: "+cluster).WithCluster(cluster)
	case errors.As(err, &exists):
		return eksapi.NewError(eksapi.CodeResourceInUse, "Association already exists: "+exists.ID).WithCluster(cluster)
	case errors.Is(err, store.ErrLimitExceeded):
		return eksapi.NewError(eksapi.CodeResourceLimitExceeded,
			fmt.Sprintf("Cluster %s already has the maximum of %d pod identity associations.", cluster, s.cfg.MaxAssociationsPerCluster)).WithCluster(cluster)
	case errors.Is(err, store.ErrNotFound) && tagAPI:
		return eksapi.NewError(eksapi.CodeNotFound, "Resource not found: "+truncate(r.PathValue("resourceArn"), 2048))
	case errors.Is(err, store.ErrNotFound):
		return s.notFound(r.Context(), cluster, r.PathValue("associationId"))
	}
	if r.Context().Err() != nil {
		// The client went away; nobody reads this answer.
		s.log.DebugContext(r.Context(), "request canceled", "request_id", RequestID(r.Context()), "op", op, "err", err)
		return eksapi.NewError(eksapi.CodeServer, internalErrorMessage)
	}
	s.log.ErrorContext(r.Context(), "internal error", "request_id", RequestID(r.Context()), "op", op, "err", err)
	return eksapi.NewError(eksapi.CodeServer, internalErrorMessage)
}

// notFound words a ResourceNotFoundException: the cluster is missing, or
// (when the cluster exists) the association.
func (s *Server) notFound(ctx context.Context, cluster, associationID string) *eksapi.Error {
	if associationID != "" {
		_, err := s.store.GetCluster(ctx, cluster)
		if err == nil {
			return associationNotFound(cluster, associationID)
		}
	}
	return clusterNotFound(cluster)
}

func clusterNotFound(name string) *eksapi.Error {
	return eksapi.NewError(eksapi.CodeResourceNotFound, "No cluster found for name: "+name+".").WithCluster(name)
}

// associationNotFound: the real message is not known (spec §11.2); this one
// follows the cluster message's wording.
func associationNotFound(cluster, id string) *eksapi.Error {
	return eksapi.NewError(eksapi.CodeResourceNotFound,
		"No pod identity association found for id: "+id+" in cluster: "+cluster+".").WithCluster(cluster)
}

// serializationMessage describes a JSON decoding failure without echoing
// the body.
func serializationMessage(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &te) && te.Field != "":
		return fmt.Sprintf("Invalid JSON: member %q must be %s, not a JSON %s.", truncate(te.Field, 128), jsonKind(te.Type.Kind().String()), te.Value)
	case errors.As(err, &te):
		return fmt.Sprintf("Invalid JSON: the request body must be a JSON object, not a JSON %s.", te.Value)
	case errors.As(err, &se):
		return fmt.Sprintf("Invalid JSON: syntax error at byte offset %d.", se.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "Invalid JSON: unexpected end of the request body."
	case errors.Is(err, errTrailingData):
		return "Invalid JSON: unexpected data after the JSON object."
	}
	return "The request body could not be read."
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "map", "struct":
		return "an object"
	case "slice", "array":
		return "an array"
	case "ptr":
		return "a value of another type"
	}
	if strings.HasPrefix(goKind, "int") || strings.HasPrefix(goKind, "uint") || strings.HasPrefix(goKind, "float") {
		return "a number"
	}
	return "a value of another type"
}

// writeAPIError writes e with the request ID already set by outer.
func (s *Server) writeAPIError(w http.ResponseWriter, r *http.Request, e *eksapi.Error) {
	if w.Header().Get(HeaderRequestID) == "" {
		w.Header().Set(HeaderRequestID, RequestID(r.Context()))
	}
	e.WriteJSON(w)
}

// setRevision sets X-Podid-Revision on a successful write.
func setRevision(w http.ResponseWriter, rev int64) {
	w.Header().Set(HeaderRevision, strconv.FormatInt(rev, 10))
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

// truncate shortens s to at most n bytes for messages.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

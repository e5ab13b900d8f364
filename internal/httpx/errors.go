package httpx

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/podid/podid/eksapi"
	"github.com/podid/podid/internal/authz"
	"github.com/podid/podid/internal/satoken"
	"github.com/podid/podid/internal/store"
	"github.com/podid/podid/internal/sts"
)

// Errors the host itself returns; handlers may return them too.
var (
	// ErrEmptyPathParameter: the path has an empty label ("//").
	ErrEmptyPathParameter = errors.New("empty path parameter")
	// ErrNotReady: the health check failed.
	ErrNotReady = errors.New("not ready")
)

// NoRouteError is a request no route matches (404).
type NoRouteError struct{ Method, Path string }

func (e *NoRouteError) Error() string { return "no route for " + e.Method + " " + e.Path }

// MethodNotAllowedError is a request for a path served with other methods
// (405). Path is "" for a route's resource.
type MethodNotAllowedError struct{ Method, Path string }

func (e *MethodNotAllowedError) Error() string { return "method " + e.Method + " not allowed" }

// EmptyLabelError is a request whose last label is empty where a route
// has the path parameter Param.
type EmptyLabelError struct{ Param string }

func (e *EmptyLabelError) Error() string { return "empty path parameter " + e.Param }

// Resource kinds a ResourceError names.
const (
	KindCluster     = "cluster"
	KindAssociation = "association"
	KindTagged      = "tagged resource"
)

// ResourceError says which resource a failure (a store sentinel) is about,
// so the mapping can word it: which cluster was not found, that a cluster
// (not an association) already exists, the quota a write hit. A bare
// store.ErrNotFound is about the cluster the request path names.
type ResourceError struct {
	Kind          string // KindCluster, KindAssociation or KindTagged
	Cluster       string
	AssociationID string
	ARN           string // KindTagged
	// Limit is the quota a store.ErrLimitExceeded hit.
	Limit int
	Err   error
}

func (e *ResourceError) Error() string { return e.Kind + ": " + e.Err.Error() }
func (e *ResourceError) Unwrap() error { return e.Err }

// ClusterNotFound is the error of a request for a cluster that does not
// exist.
func ClusterNotFound(name string) error {
	return &ResourceError{Kind: KindCluster, Cluster: name, Err: store.ErrNotFound}
}

// AuthError is a refused authentication: Code is the awsQuery (STS) code
// of the refusal (SignatureDoesNotMatch, InvalidClientTokenId,
// ExpiredToken, MissingAuthenticationToken, IncompleteSignature, and
// AccessDenied for an expired presigned URL) and
// Message AWS's words for it; the mapping gives restJson1 families the
// matching *Exception shape.
type AuthError struct {
	Code, Message string
	// AccessKeyID is the key the request named, for the log.
	AccessKeyID string
}

func (e *AuthError) Error() string { return "authentication refused: " + e.Code + ": " + e.Message }

// authShapes gives each authentication refusal its status and restJson1
// shape.
var authShapes = map[string]struct {
	status int
	json   string
}{
	sts.CodeSignatureDoesNotMatch: {http.StatusForbidden, eksapi.CodeInvalidSignature},
	sts.CodeInvalidClientTokenID:  {http.StatusForbidden, eksapi.CodeUnrecognizedClient},
	sts.CodeExpiredToken:          {http.StatusBadRequest, eksapi.CodeExpiredToken},
	sts.CodeMissingAuthToken:      {http.StatusForbidden, eksapi.CodeMissingAuthentication},
	sts.CodeIncompleteSignature:   {http.StatusBadRequest, eksapi.CodeIncompleteSignature},
	// A presigned URL past its X-Amz-Expires.
	sts.CodeAccessDenied: {http.StatusForbidden, eksapi.CodeAccessDenied},
}

// DecodeError is a request body that could not be read or parsed.
type DecodeError struct{ Err error }

func (e *DecodeError) Error() string { return "decoding request body: " + e.Err.Error() }
func (e *DecodeError) Unwrap() error { return e.Err }

// Messages of the mapping used in more than one place.
const (
	msgInternal            = "An internal error occurred."
	msgInternalRetry       = "An internal error occurred. Try again later."
	msgSTSUnavailable      = "EKS Auth could not assume the role: the credentials service is unavailable. Try again later."
	msgEKSAuthAccessDenied = "Unauthorized Exception! EKS does not have permissions to assume the associated role."
	msgNoSpace             = "The service cannot store changes right now. Try again later."
	// The throttling message is AWS's ("Rate exceeded"), with the
	// reason.
	msgBodyBudget = "Rate exceeded: the service is receiving too many request bodies at once. Try again later."
	// What a connection beyond --max-conns-per-address gets (connRefusal).
	msgConnCap = "Rate exceeded: too many open connections from your address. Try again later."
	// S3's RequestTimeout message.
	msgRequestTimeout = "Your socket connection to the server was not read from or written to within the timeout period. Idle connections will be closed."
)

// Codes of the throttling and request timeout errors: restJson1's, and
// awsQuery's (STS's and IAM's).
const (
	codeThrottlingQuery     = "Throttling"
	codeRequestTimeoutQuery = "RequestTimeout"
)

// WriteError maps err (MapError), logs the cause of a 5xx, and writes it in the protocol of the
// family of the route r took: the one place an AWS error is written.
func (h *Host) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	fam := Default
	if ri := info(r.Context()); ri != nil && ri.family != nil {
		fam = ri.family
	}
	e := MapError(r, fam, err)
	switch {
	case errors.Is(err, ErrBodyBudget):
		// Expected under load: the access log line has the code.
	case errors.Is(err, store.ErrNoSpace):
		h.log.ErrorContext(r.Context(), "write refused: the disk is full (the store has no space left; writes fail until space is freed)",
			"request_id", RequestID(r.Context()), "op", opOf(r), "err", err)
	case e.Status >= 500 && err != errPanic:
		// The cause is logged, never sent.
		level := slog.LevelError
		if r.Context().Err() != nil {
			level = slog.LevelDebug // the client went away; nobody reads this answer
		}
		h.log.LogAttrs(r.Context(), level, "request failed", slog.String("request_id", RequestID(r.Context())),
			slog.String("op", opOf(r)), slog.String("code", e.Code), slog.String("err", err.Error()))
	}
	if ri := info(r.Context()); ri != nil {
		ri.code, ri.message = e.Code, e.Message
	}
	switch fam.Protocol {
	case AWSQuery:
		writeQueryError(w, fam.Namespace, RequestID(r.Context()), e)
	default:
		e.WriteJSON(w)
	}
}

// MapError is the one mapping from Go errors to AWS error shapes, for a
// request of family fam. An *eksapi.Error is sent as it is, and so is an
// *authz.DeniedError as an AccessDenied (EKS Auth's AccessDeniedException
// is a 400); an *sts.Error keeps its code in STS and
// becomes EKS Auth's shape for a refused role assumption; satoken's
// refusals are EKS Auth's token errors; the store's sentinels are worded
// for the resource (ResourceError, else the cluster the path names);
// anything else is the family's internal error (WriteError logs the cause
// of every 5xx; it is never sent).
func MapError(r *http.Request, fam *Family, err error) *eksapi.Error {
	var (
		ae     *eksapi.Error
		ue     *eksapi.UnknownError
		se     *sts.Error
		te     *satoken.Error
		mbe    *http.MaxBytesError
		de     *DecodeError
		nr     *NoRouteError
		mna    *MethodNotAllowedError
		el     *EmptyLabelError
		exists *store.ExistsError
		auth   *AuthError
	)
	res := resourceOf(r, err)
	var denied *authz.DeniedError
	if errors.As(err, &denied) {
		// The Authorizer's refusal, worded as IAM words it.
		if fam.Protocol == AWSQuery {
			return queryError(sts.CodeAccessDenied, http.StatusForbidden, denied.Error())
		}
		ae = eksapi.NewError(eksapi.CodeAccessDenied, denied.Error())
		err = ae
	}
	if fam.Name == NameIAM {
		if e := iamError(err); e != nil {
			return e
		}
	}
	switch {
	case errors.As(err, &ae):
		if fam.Name == NameEKSAuth && ae.Code == eksapi.CodeAccessDenied && ae.Status != http.StatusBadRequest {
			// EKS Auth's AccessDeniedException is a 400 (spec §6.2),
			// whoever refused (the Authorizer words it as IAM does).
			c := *ae
			c.Status = http.StatusBadRequest
			return &c
		}
		return ae
	case errors.As(err, &ue):
		return eksapi.AsError(ue)
	case errors.As(err, &auth):
		shape, ok := authShapes[auth.Code]
		if !ok {
			shape = authShapes[sts.CodeSignatureDoesNotMatch]
		}
		if fam.Protocol == AWSQuery {
			return queryError(auth.Code, shape.status, auth.Message)
		}
		msg := auth.Message
		if auth.Code == sts.CodeMissingAuthToken {
			msg = "Missing Authentication Token"
		}
		return &eksapi.Error{Code: shape.json, Status: shape.status, Message: msg}
	case errors.As(err, &se):
		return stsError(fam, se)
	case errors.As(err, &mbe):
		if fam.Protocol == AWSQuery {
			return queryError(sts.CodeRequestEntityTooLarge, http.StatusRequestEntityTooLarge, fmt.Sprintf("Request body must be less than %d bytes", mbe.Limit))
		}
		return eksapi.NewError(eksapi.CodeRequestEntityTooLarge,
			fmt.Sprintf("The request body is larger than the limit of %d bytes.", mbe.Limit))
	case errors.Is(err, ErrBodyBudget):
		// [INF] AWS throttles with 400 (awsQuery) or 429 (restJson1);
		// podid answers 503, which every SDK retries whether or not it
		// knows the code, with the codes the Go SDK counts as throttling
		// (aws/retry DefaultThrottleErrorCodes), so it backs off.
		if fam.Protocol == AWSQuery {
			return queryError(codeThrottlingQuery, http.StatusServiceUnavailable, msgBodyBudget)
		}
		return &eksapi.Error{Code: eksapi.CodeThrottling, Status: http.StatusServiceUnavailable, Message: msgBodyBudget}
	case errors.Is(err, ErrBodyTimeout):
		// [INF] S3's RequestTimeout (its message; a 400 there) with
		// HTTP's 408, the status STS has been seen to send; the Go SDK
		// retries both codes (aws/retry DefaultRetryableErrorCodes).
		if fam.Protocol == AWSQuery {
			return queryError(codeRequestTimeoutQuery, http.StatusRequestTimeout, msgRequestTimeout)
		}
		return eksapi.NewError(eksapi.CodeRequestTimeout, msgRequestTimeout)
	case errors.As(err, &de):
		if fam.Protocol == AWSQuery {
			return queryError(sts.CodeMalformedQueryString, http.StatusBadRequest, "The request body could not be read.")
		}
		return eksapi.NewError(eksapi.CodeSerialization, serializationMessage(de.Err))
	case errors.As(err, &nr):
		return eksapi.NewError(eksapi.CodeUnknownOperation,
			fmt.Sprintf("No operation matches %s %s.", nr.Method, truncate(nr.Path, 256)))
	case errors.As(err, &mna):
		where := "the requested resource"
		if mna.Path != "" {
			where = mna.Path
		}
		return eksapi.NewError(eksapi.CodeMethodNotAllowed, fmt.Sprintf("The method %s is not allowed for %s.", mna.Method, where))
	case errors.As(err, &el) && el.Param == "associationId":
		return eksapi.NewError(eksapi.CodeInvalidParameter, "The parameter associationId should be 19 characters long.")
	case errors.As(err, &el):
		return eksapi.NewError(eksapi.CodeInvalidParameter, "The parameter "+el.Param+" must not be empty.")
	case errors.Is(err, ErrEmptyPathParameter):
		return eksapi.NewError(eksapi.CodeInvalidParameter, "A path parameter of the request is empty.")
	case errors.Is(err, ErrNotReady):
		return eksapi.NewError(eksapi.CodeServiceUnavailable, "The store is not ready.")
	case errors.Is(err, store.ErrNoSpace):
		// Retryable (SDKs retry a 503), and the operator must act
		// (WriteError logs it as such).
		if fam.Protocol == AWSQuery {
			return queryError("ServiceUnavailable", http.StatusServiceUnavailable, msgNoSpace) // AWS's common error
		}
		return eksapi.NewError(eksapi.CodeServiceUnavailable, msgNoSpace)
	case errors.As(err, &te) && errors.Is(err, satoken.ErrExpired):
		return eksapi.NewError(eksapi.CodeExpiredToken, te.Message)
	case errors.As(err, &te):
		return eksapi.NewError(eksapi.CodeInvalidToken, te.Message)
	case errors.Is(err, satoken.ErrNoIssuer):
		return eksapi.NewError(eksapi.CodeNotFound, "No OIDC issuer served by podid for cluster: "+res.Cluster+".")
	case errors.Is(err, satoken.ErrKeysUnavailable):
		return eksapi.NewError(eksapi.CodeServiceUnavailable, "The cluster's service account issuer keys are unavailable. Retry later.")
	case errors.Is(err, store.ErrIdempotencyMismatch):
		return eksapi.NewError(eksapi.CodeInvalidParameter,
			"The clientRequestToken was already used with different request parameters.").WithCluster(res.Cluster)
	case errors.As(err, &exists) && res.Kind == KindCluster:
		return eksapi.NewError(eksapi.CodeResourceInUse, "Cluster already exists with name: "+res.Cluster).WithCluster(res.Cluster)
	case errors.As(err, &exists):
		return eksapi.NewError(eksapi.CodeResourceInUse, "Association already exists: "+exists.ID).WithCluster(res.Cluster)
	case errors.Is(err, store.ErrLimitExceeded):
		return eksapi.NewError(eksapi.CodeResourceLimitExceeded,
			fmt.Sprintf("Cluster %s already has the maximum of %d pod identity associations.", res.Cluster, res.Limit)).WithCluster(res.Cluster)
	case errors.Is(err, store.ErrNotFound) && res.Kind == KindTagged:
		return eksapi.NewError(eksapi.CodeNotFound, "Resource not found: "+truncate(res.ARN, 2048))
	case errors.Is(err, store.ErrNotFound) && res.Kind == KindAssociation:
		// The real message is not known (spec §11.2); this one follows
		// the cluster message's wording.
		return eksapi.NewError(eksapi.CodeResourceNotFound,
			"No pod identity association found for id: "+res.AssociationID+" in cluster: "+res.Cluster+".").WithCluster(res.Cluster)
	case errors.Is(err, store.ErrNotFound) && fam.Name == NameEKSAuth:
		// EKS Auth's ResourceNotFoundException has no clusterName.
		return eksapi.NewError(eksapi.CodeResourceNotFound, clusterNotFound(res.Cluster))
	case errors.Is(err, store.ErrNotFound):
		return eksapi.NewError(eksapi.CodeResourceNotFound, clusterNotFound(res.Cluster)).WithCluster(res.Cluster)
	}
	if fam.Name == NameEKSAuth && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return eksapi.NewError(eksapi.CodeServiceUnavailable, "The request was cancelled or timed out.")
	}
	return internalError(fam)
}

func clusterNotFound(name string) string { return "No cluster found for name: " + name + "." }

// internalError is the family's answer to an unexpected error.
func internalError(fam *Family) *eksapi.Error {
	if fam.Name == NameIAM {
		c := *iamInternal
		return &c
	}
	if fam.Protocol == AWSQuery {
		return queryError(sts.CodeInternalFailure, http.StatusInternalServerError, msgInternal)
	}
	switch fam.Name {
	case NameEKSAuth:
		return eksapi.NewError(eksapi.CodeInternalServer, msgInternal)
	case NameAdmin:
		return eksapi.NewError(eksapi.CodeServer, msgInternal)
	}
	return eksapi.NewError(eksapi.CodeServer, msgInternalRetry)
}

// stsError maps an STS error: as it is for the STS endpoint; for EKS Auth,
// a role assumption STS refused.
func stsError(fam *Family, se *sts.Error) *eksapi.Error {
	if fam.Protocol == AWSQuery {
		return queryError(se.Code, se.Status, se.Message)
	}
	switch {
	case se.Code == sts.CodeAccessDenied || se.Code == "RegionDisabledException":
		// EKS Auth's AccessDeniedException is a 400 (spec §6.2).
		return &eksapi.Error{Code: eksapi.CodeAccessDenied, Status: http.StatusBadRequest, Message: msgEKSAuthAccessDenied}
	case se.Code == "Throttling" || se.Status == http.StatusTooManyRequests:
		return eksapi.NewError(eksapi.CodeThrottling, "Rate exceeded")
	case se.Status >= 500:
		// The cause (podid's credential chain, the network, STS's own
		// words) is logged by WriteError, never sent to the pod.
		return eksapi.NewError(eksapi.CodeServiceUnavailable, msgSTSUnavailable)
	case se.Code == sts.CodeInvalidClientTokenID || se.Code == sts.CodeExpiredToken:
		// The first session cannot have gone bad in between: ours.
		return eksapi.NewError(eksapi.CodeInternalServer, msgInternal)
	}
	// ValidationError, MalformedPolicyDocument, PackedPolicyTooLarge, ...:
	// the association asks for what STS will not do.
	return eksapi.NewError(eksapi.CodeInvalidRequest, se.Code+": "+se.Message)
}

// queryError is an awsQuery error shape (codes without the JSON
// "Exception" suffix, status as given).
func queryError(code string, status int, msg string) *eksapi.Error {
	return &eksapi.Error{Code: code, Status: status, Message: msg}
}

// resourceOf is the resource err is about: its ResourceError, else the
// cluster the request names in its path or query.
func resourceOf(r *http.Request, err error) ResourceError {
	var re *ResourceError
	if errors.As(err, &re) {
		return *re
	}
	name := r.PathValue("name")
	if name == "" {
		name = r.PathValue("clusterName")
	}
	if name == "" {
		name = r.URL.Query().Get("cluster")
	}
	return ResourceError{Cluster: name}
}

func opOf(r *http.Request) string {
	if ri := info(r.Context()); ri != nil {
		return ri.op
	}
	return ""
}

type xmlErrorResponse struct {
	XMLName   xml.Name `xml:"ErrorResponse"`
	Xmlns     string   `xml:"xmlns,attr"`
	Error     xmlError `xml:"Error"`
	RequestID string   `xml:"RequestId"`
}

type xmlError struct {
	Type    string `xml:"Type"`
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}

// writeQueryError writes e in the awsQuery XML error form.
func writeQueryError(w http.ResponseWriter, namespace, requestID string, e *eksapi.Error) {
	typ := "Sender"
	if e.Status >= 500 {
		typ = "Receiver"
	}
	b, _ := xml.Marshal(xmlErrorResponse{ // only strings: cannot fail
		Xmlns:     namespace,
		Error:     xmlError{Type: typ, Code: e.Code, Message: e.Message},
		RequestID: requestID,
	})
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(e.Status)
	w.Write([]byte(xml.Header))
	w.Write(b)
}

// serializationMessage describes a JSON decoding failure without echoing
// the body.
func serializationMessage(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	var strict *strictError
	switch {
	case errors.As(err, &strict):
		return strict.msg
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

// truncate shortens s to at most n bytes for messages.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

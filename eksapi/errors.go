package eksapi

import (
	"encoding/json"
	"net/http"
)

// Error shape names (the "__type" of a restJson1 error) for EKS and EKS Auth.
const (
	CodeInvalidParameter       = "InvalidParameterException"
	CodeInvalidRequest         = "InvalidRequestException"
	CodeResourceNotFound       = "ResourceNotFoundException"
	CodeResourceInUse          = "ResourceInUseException"
	CodeResourceLimitExceeded  = "ResourceLimitExceededException"
	CodeServer                 = "ServerException"
	CodeServiceUnavailable     = "ServiceUnavailableException"
	CodeClient                 = "ClientException"
	CodeBadRequest             = "BadRequestException"
	CodeNotFound               = "NotFoundException"
	CodeAccessDenied           = "AccessDeniedException"
	CodeThrottling             = "ThrottlingException"
	CodeInvalidToken           = "InvalidTokenException"
	CodeExpiredToken           = "ExpiredTokenException"
	CodeInternalServer         = "InternalServerException"
	CodeUnknownOperation       = "UnknownOperationException"
	CodeSerialization          = "SerializationException"
	CodeUnrecognizedClient     = "UnrecognizedClientException"
	CodeInvalidSignature       = "InvalidSignatureException"
	CodeMissingAuthentication  = "MissingAuthenticationTokenException"
	CodeRequestEntityTooLarge  = "RequestEntityTooLargeException"
	CodeRequestTimeout         = "RequestTimeoutException"
	CodeMethodNotAllowed       = "MethodNotAllowedException"
	CodeIncompleteSignature    = "IncompleteSignatureException"
	CodeUnsupportedMediaType   = "UnsupportedMediaTypeException"
	CodeInvalidStateException  = "InvalidStateException"
	CodeUnsupportedAZException = "UnsupportedAvailabilityZoneException"

	CodeResourcePropagationDelay = "ResourcePropagationDelayException"
)

// Error is an AWS error shape: its code (shape name), HTTP status, fault and
// message, and the members some EKS error shapes carry.
type Error struct {
	Code    string `json:"-"`
	Status  int    `json:"-"`
	Message string `json:"message,omitempty"`

	ClusterName        string `json:"clusterName,omitempty"`
	NodegroupName      string `json:"nodegroupName,omitempty"`
	FargateProfileName string `json:"fargateProfileName,omitempty"`
	AddonName          string `json:"addonName,omitempty"`
	SubscriptionID     string `json:"subscriptionId,omitempty"`
	// ValidZones is a member of UnsupportedAvailabilityZoneException only.
	ValidZones []string `json:"validZones,omitempty"`
}

// Error implements error: "Code: message".
func (e *Error) Error() string {
	if e.Message == "" {
		return e.Code
	}
	return e.Code + ": " + e.Message
}

// Fault is "server" or "client": the fault of the error shape's trait for a
// modeled shape, else "server" for 5xx statuses and "client" otherwise.
func (e *Error) Fault() string {
	if sh, ok := modeledShapes[e.Code]; ok {
		if sh.server {
			return "server"
		}
		return "client"
	}
	if e.Status >= 500 {
		return "server"
	}
	return "client"
}

// statusOf gives each known shape its modeled HTTP status.
var statusOf = map[string]int{
	CodeInvalidParameter:       http.StatusBadRequest,
	CodeInvalidRequest:         http.StatusBadRequest,
	CodeResourceNotFound:       http.StatusNotFound,
	CodeResourceInUse:          http.StatusConflict,
	CodeResourceLimitExceeded:  http.StatusBadRequest,
	CodeServer:                 http.StatusInternalServerError,
	CodeServiceUnavailable:     http.StatusServiceUnavailable,
	CodeClient:                 http.StatusBadRequest,
	CodeBadRequest:             http.StatusBadRequest,
	CodeNotFound:               http.StatusNotFound,
	CodeAccessDenied:           http.StatusForbidden,
	CodeThrottling:             http.StatusTooManyRequests,
	CodeInvalidToken:           http.StatusBadRequest,
	CodeExpiredToken:           http.StatusBadRequest,
	CodeInternalServer:         http.StatusInternalServerError,
	CodeUnknownOperation:       http.StatusNotFound,
	CodeSerialization:          http.StatusBadRequest,
	CodeUnrecognizedClient:     http.StatusForbidden,
	CodeInvalidSignature:       http.StatusForbidden,
	CodeMissingAuthentication:  http.StatusForbidden,
	CodeIncompleteSignature:    http.StatusForbidden,
	CodeRequestEntityTooLarge:  http.StatusRequestEntityTooLarge,
	CodeRequestTimeout:         http.StatusRequestTimeout,
	CodeMethodNotAllowed:       http.StatusMethodNotAllowed,
	CodeUnsupportedMediaType:   http.StatusUnsupportedMediaType,
	CodeInvalidStateException:  http.StatusBadRequest,
	CodeUnsupportedAZException: http.StatusBadRequest,

	CodeResourcePropagationDelay: http.StatusPreconditionRequired,
}

// NewError returns an error of the given shape with its modeled status
// (400 for a shape this package does not know).
func NewError(code, message string) *Error {
	st, ok := statusOf[code]
	if !ok {
		st = http.StatusBadRequest
	}
	return &Error{Code: code, Status: st, Message: message}
}

// WithCluster sets the clusterName member and returns e.
func (e *Error) WithCluster(name string) *Error {
	e.ClusterName = name
	return e
}

// MarshalJSON writes the restJson1 error body: __type, message and members.
func (e *Error) MarshalJSON() ([]byte, error) {
	type plain Error
	return json.Marshal(struct {
		Type string `json:"__type"`
		*plain
	}{e.Code, (*plain)(e)})
}

// WriteJSON writes e as a restJson1 error response: the status, the
// X-Amzn-ErrorType header and the JSON body. The caller sets
// X-Amzn-RequestId.
func (e *Error) WriteJSON(w http.ResponseWriter) {
	b, err := json.Marshal(e)
	if err != nil { // cannot happen: only strings
		b = []byte(`{"__type":"ServerException","message":"internal error"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Amzn-ErrorType", e.Code)
	w.WriteHeader(e.Status)
	w.Write(b)
}

package eksauthclient

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/podid/podid/eksapi"
)

// Error is an error response from EKS Auth, decoded as the Go SDK decodes
// restJson1 errors (spec §2.2).
type Error struct {
	// StatusCode is the HTTP status of the response.
	StatusCode int
	// Code is the error shape name, e.g. "AccessDeniedException", or
	// "UnknownError" when the response names none.
	Code string
	// Message is the error's message member.
	Message string
	// RequestID is the X-Amzn-RequestId header.
	RequestID string
	// Fault is "client" or "server" for the shapes the EKS Auth model
	// defines and "unknown" for others, like smithy.ErrorFault.
	Fault string
}

// Error reads like the SDK's operation errors.
func (e *Error) Error() string {
	return fmt.Sprintf("eks auth AssumeRoleForPodIdentity: StatusCode: %d, RequestID: %s, %s: %s",
		e.StatusCode, e.RequestID, e.Code, e.Message)
}

// faults lists the EKS Auth model's error shapes and their fault (spec §6.2).
var faults = map[string]string{
	eksapi.CodeAccessDenied:       "client",
	eksapi.CodeExpiredToken:       "client",
	eksapi.CodeInvalidParameter:   "client",
	eksapi.CodeInvalidRequest:     "client",
	eksapi.CodeInvalidToken:       "client",
	eksapi.CodeResourceNotFound:   "client",
	eksapi.CodeThrottling:         "client",
	eksapi.CodeInternalServer:     "server",
	eksapi.CodeServiceUnavailable: "server",
}

// irrecoverable are the codes after which retrying the same token is
// pointless: the agent drops the cached entry and stops refreshing it
// (the AWS agent's internal/cloud/eksauth/errors.go).
var irrecoverable = map[string]bool{
	eksapi.CodeResourceNotFound: true,
	eksapi.CodeExpiredToken:     true,
	eksapi.CodeInvalidToken:     true,
	eksapi.CodeAccessDenied:     true,
}

// IsIrrecoverable reports whether err carries an EKS Auth error after
// which the same request will keep failing.
func IsIrrecoverable(err error) bool {
	var e *Error
	return errors.As(err, &e) && irrecoverable[e.Code]
}

// decodeError builds an *Error from a non-2xx response, decoded as the Go
// SDK decodes restJson1 errors (eksapi.ErrorFromJSON): a body it cannot
// decode is an UnknownError saying so.
func decodeError(resp *http.Response, body []byte) *Error {
	e := &Error{StatusCode: resp.StatusCode, RequestID: requestID(resp.Header), Code: "UnknownError"}
	var ae *eksapi.Error
	var ue *eksapi.UnknownError
	switch err := eksapi.ErrorFromJSON(resp.StatusCode, resp.Header, body); {
	case errors.As(err, &ae):
		e.Code, e.Message = ae.Code, ae.Message
	case errors.As(err, &ue):
		e.Code, e.Message = ue.Code, ue.Message
	case err != nil:
		e.Message = "failed to decode response body: " + err.Error()
	}
	e.Fault = faults[e.Code]
	if e.Fault == "" {
		e.Fault = "unknown"
	}
	return e
}

// requestID reads the request ID headers the SDK reads.
func requestID(h http.Header) string {
	if id := h.Get("X-Amzn-RequestId"); id != "" {
		return id
	}
	return h.Get("X-Amz-Request-Id")
}

package eksauthclient

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

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

// decodeError builds an *Error from a non-2xx response: the code from the
// X-Amzn-ErrorType header, else the body's __type, else its code; cut at
// ':' and then kept after '#'.
func decodeError(resp *http.Response, body []byte) *Error {
	e := &Error{StatusCode: resp.StatusCode, RequestID: requestID(resp.Header)}
	var doc struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
		Code    any    `json:"code"`
	}
	decodeErr := json.Unmarshal(body, &doc)
	if len(strings.TrimSpace(string(body))) == 0 {
		decodeErr = nil
	}
	code := resp.Header.Get("X-Amzn-ErrorType")
	if code == "" {
		code = doc.Type
	}
	if code == "" {
		if s, ok := doc.Code.(string); ok {
			code = s
		}
	}
	e.Code = sanitizeCode(code)
	if e.Code == "" {
		e.Code = "UnknownError"
	}
	e.Message = doc.Message
	if decodeErr != nil && e.Message == "" {
		e.Message = "failed to decode response body: " + decodeErr.Error()
	}
	e.Fault = faults[e.Code]
	if e.Fault == "" {
		e.Fault = "unknown"
	}
	return e
}

func sanitizeCode(code string) string {
	if i := strings.IndexByte(code, ':'); i >= 0 {
		code = code[:i]
	}
	if i := strings.IndexByte(code, '#'); i >= 0 {
		code = code[i+1:]
	}
	return code
}

// requestID reads the request ID headers the SDK reads.
func requestID(h http.Header) string {
	if id := h.Get("X-Amzn-RequestId"); id != "" {
		return id
	}
	return h.Get("X-Amz-Request-Id")
}

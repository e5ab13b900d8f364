package sts

import (
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/podid/podid/internal/authz"
)

// Error codes podid's STS returns (the <Code> of an awsQuery error).
const (
	CodeValidation              = "ValidationError"
	CodeInvalidParameterValue   = "InvalidParameterValue"
	CodeMalformedPolicyDocument = "MalformedPolicyDocument"
	CodePackedPolicyTooLarge    = "PackedPolicyTooLarge"
	CodeAccessDenied            = "AccessDenied"
	CodeInvalidClientTokenID    = "InvalidClientTokenId"
	CodeExpiredToken            = "ExpiredToken"
	CodeSignatureDoesNotMatch   = "SignatureDoesNotMatch"
	CodeIncompleteSignature     = "IncompleteSignature"
	CodeMissingAuthToken        = "MissingAuthenticationToken"
	CodeInvalidAction           = "InvalidAction"
	CodeMissingAction           = "MissingAction"
	CodeMissingParameter        = "MissingParameter"
	CodeMalformedQueryString    = "MalformedQueryString"
	CodeRequestEntityTooLarge   = "RequestEntityTooLarge"
	CodeInternalFailure         = "InternalFailure"
)

// The messages AWS uses for authentication failures.
const (
	MsgInvalidClientToken = "The security token included in the request is invalid."
	MsgExpiredToken       = "The security token included in the request is expired"
	MsgSignatureMismatch  = "The request signature we calculated does not match the signature you provided. " +
		"Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
	MsgMissingAuthToken = "Request is missing Authentication Token"
)

// Sentinel errors of session-token verification. The *Error values
// AssumeRole returns for a bad caller wrap them, so errors.Is works.
var (
	// ErrInvalidToken: the session token (or the credentials presented
	// with it) was not issued by this STS.
	ErrInvalidToken = errors.New("invalid session token")
	// ErrExpiredToken: the session has expired.
	ErrExpiredToken = errors.New("expired session token")
)

// NewError returns an *Error with the given code, status and message.
func NewError(code string, status int, format string, args ...any) *Error {
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	return &Error{Code: code, Status: status, Message: msg}
}

func errInvalidClientToken() *Error {
	return &Error{Code: CodeInvalidClientTokenID, Status: http.StatusForbidden, Message: MsgInvalidClientToken, err: ErrInvalidToken}
}

func errExpiredToken() *Error {
	return &Error{Code: CodeExpiredToken, Status: http.StatusBadRequest, Message: MsgExpiredToken, err: ErrExpiredToken}
}

// validationErrors collects constraint violations and words them as AWS's
// Coral validation layer does:
//
//	1 validation error detected: Value 'x' at 'roleSessionName' failed to satisfy constraint: Member must ...
type validationErrors []string

func (v *validationErrors) add(value *string, member, constraint string) {
	val := "null"
	if value != nil {
		val = "'" + *value + "'"
	}
	*v = append(*v, fmt.Sprintf("Value %s at '%s' failed to satisfy constraint: %s", val, member, constraint))
}

func (v validationErrors) err() *Error {
	if len(v) == 0 {
		return nil
	}
	noun := "error"
	if len(v) > 1 {
		noun = "errors"
	}
	return &Error{
		Code:    CodeValidation,
		Status:  http.StatusBadRequest,
		Message: fmt.Sprintf("%d validation %s detected: %s", len(v), noun, strings.Join(v, "; ")),
	}
}

// Namespace is the XML namespace of STS responses.
const Namespace = "https://sts.amazonaws.com/doc/2011-06-15/"

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

// WriteError writes e as an awsQuery error response: the status,
// X-Amzn-RequestId, and <ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>.
func WriteError(w http.ResponseWriter, requestID string, e *Error) {
	typ := "Sender"
	if e.Status >= 500 {
		typ = "Receiver"
	}
	writeXML(w, requestID, e.Status, xmlErrorResponse{
		Xmlns:     Namespace,
		Error:     xmlError{Type: typ, Code: e.Code, Message: e.Message},
		RequestID: requestID,
	})
}

func writeXML(w http.ResponseWriter, requestID string, status int, v any) {
	b, err := xml.Marshal(v)
	if err != nil { // only strings and numbers: cannot happen
		status = http.StatusInternalServerError
		b = []byte(`<ErrorResponse><Error><Type>Receiver</Type><Code>InternalFailure</Code><Message>internal error</Message></Error></ErrorResponse>`)
	}
	h := w.Header()
	h.Set("Content-Type", "text/xml")
	h.Set("X-Amzn-RequestId", requestID)
	w.WriteHeader(status)
	w.Write([]byte(xml.Header))
	w.Write(b)
}

// asError turns any error into an *Error (InternalFailure when it is not one).
func asError(err error) *Error {
	var e *Error
	var denied *authz.DeniedError
	switch {
	case errors.As(err, &e):
		return e
	case errors.As(err, &denied):
		return &Error{Code: CodeAccessDenied, Status: http.StatusForbidden, Message: denied.Error()}
	}
	return &Error{Code: CodeInternalFailure, Status: http.StatusInternalServerError, Message: "An internal error occurred."}
}

package sts

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
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

// InvalidClientTokenError is the refusal of credentials this STS did not
// issue (it wraps ErrInvalidToken).
func InvalidClientTokenError() *Error { return errInvalidClientToken() }

func errInvalidClientToken() *Error {
	return &Error{Code: CodeInvalidClientTokenID, Status: http.StatusForbidden, Message: MsgInvalidClientToken, Err: ErrInvalidToken}
}

func errExpiredToken() *Error {
	return &Error{Code: CodeExpiredToken, Status: http.StatusBadRequest, Message: MsgExpiredToken, Err: ErrExpiredToken}
}

// ValidationErrors collects constraint violations and words them as AWS's
// Coral validation layer does:
//
//	1 validation error detected: Value 'x' at 'roleSessionName' failed to satisfy constraint: Member must ...
type ValidationErrors []string

// Add records that member's value (nil: absent) fails constraint.
func (v *ValidationErrors) Add(value *string, member, constraint string) {
	val := "null"
	if value != nil {
		val = "'" + *value + "'"
	}
	*v = append(*v, fmt.Sprintf("Value %s at '%s' failed to satisfy constraint: %s", val, member, constraint))
}

// Err is the ValidationError of the violations, or nil.
func (v ValidationErrors) Err() error {
	if e := v.err(); e != nil {
		return e
	}
	return nil
}

func (v ValidationErrors) err() *Error {
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

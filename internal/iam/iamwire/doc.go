// Package iamwire is the wire form of the AWS IAM API (awsQuery,
// Version=2010-05-08, XML responses in the namespace
// https://iam.amazonaws.com/doc/2010-05-08/), as pure code: it decodes a
// request's form into a typed input (validated as IAM's front end does,
// with its ValidationError wording), encodes a typed result as the XML
// document the SDKs read (policy documents URL-encoded, as IAM returns
// them), and makes IAM's identifiers and ARNs. It does no I/O beyond
// crypto/rand and knows nothing of storage or authorization.
//
// A handler reads the form, calls ParseRequest, switches on the input's
// type, and answers with Marshal(action, requestID, result) or with an
// *Error (the host writes it in awsQuery XML).
package iamwire

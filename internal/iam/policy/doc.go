// Package policy parses, validates and evaluates AWS IAM policy documents:
// identity policies (a user's or a role's), session policies, and role
// trust policies. It is pure: no I/O, no clock, no globals.
//
// Parse compiles a document once (validation errors are *MalformedError,
// which the IAM API answers as MalformedPolicyDocument with the message
// AWS gives); evaluation of a compiled *Policy is cheap and allocation-light,
// so the credential path can run it on every request.
//
// Evaluation follows the IAM user guide's "Policy evaluation logic": an
// explicit Deny in any applicable policy wins, otherwise an Allow is needed,
// otherwise the request is implicitly denied. Every Result names the
// statement that decided it (or the action no statement allowed), for the
// explain command and the audit trail.
package policy

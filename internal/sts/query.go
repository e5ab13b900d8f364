package sts

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/podid/podid/internal/authz"
)

// APIVersion is the STS API version of the awsQuery protocol.
const APIVersion = "2011-06-15"

// MaxQueryBody bounds an STS request body.
const MaxQueryBody = 64 << 10

// maxListIndex bounds the N of a "Tags.member.N" parameter.
const maxListIndex = 1000

// Handler returns the awsQuery STS endpoint (mount it at "POST /{$}"
// behind the authentication middleware): AssumeRole and
// GetCallerIdentity, answered in STS's XML, errors in its ErrorResponse
// form.
func (s *Service) Handler() http.Handler {
	return http.HandlerFunc(s.serveQuery)
}

func (s *Service) serveQuery(w http.ResponseWriter, r *http.Request) {
	reqID := s.requestID(r.Context())
	params, e := parseQueryRequest(w, r)
	if e != nil {
		WriteError(w, reqID, e)
		return
	}
	action := params.Get("Action")
	if action == "" {
		WriteError(w, reqID, NewError(CodeMissingAction, http.StatusBadRequest, "The request is missing an action or a required parameter."))
		return
	}
	version := params.Get("Version")
	if version == "" {
		WriteError(w, reqID, NewError(CodeMissingParameter, http.StatusBadRequest, "The request must contain the parameter Version"))
		return
	}
	if version != APIVersion || (action != "AssumeRole" && action != "GetCallerIdentity") {
		WriteError(w, reqID, NewError(CodeInvalidAction, http.StatusBadRequest, "Could not find operation %s for version %s", action, version))
		return
	}
	id, ok := authz.FromContext(r.Context())
	if !ok {
		WriteError(w, reqID, NewError(CodeMissingAuthToken, http.StatusForbidden, MsgMissingAuthToken))
		return
	}
	var resource string
	var reqCtx map[string][]string
	var in AssumeRoleInput
	switch action {
	case "GetCallerIdentity":
		resource = "*"
	case "AssumeRole":
		var e *Error
		if in, e = assumeRoleInput(params); e != nil {
			WriteError(w, reqID, e)
			return
		}
		resource = in.RoleARN
		reqCtx = authz.RequestTags(tagMap(in.Tags))
	}
	if err := authz.Check(r.Context(), s.cfg.Authorizer, "sts:"+action, resource, reqCtx); err != nil {
		WriteError(w, reqID, asError(err))
		return
	}
	switch action {
	case "GetCallerIdentity":
		writeXML(w, reqID, http.StatusOK, getCallerIdentityResponse{
			Xmlns:    Namespace,
			Result:   callerIdentity{Arn: id.ARN, UserID: id.UserID, Account: id.Account},
			Metadata: responseMetadata{RequestID: reqID},
		})
	case "AssumeRole":
		if id.Session != nil {
			// Chaining: the session's own credentials make the call.
			sess, err := s.Inspect(id.Session.Token)
			if err != nil {
				WriteError(w, reqID, errInvalidClientToken())
				return
			}
			c := sess.Credentials()
			in.Caller = &c
		} else {
			in.Principal = id.ARN
		}
		out, err := s.AssumeRole(r.Context(), in)
		if err != nil {
			WriteError(w, reqID, asError(err))
			return
		}
		writeXML(w, reqID, http.StatusOK, assumeRoleResponse{
			Xmlns: Namespace,
			Result: assumeRoleResult{
				AssumedRoleUser: assumedRoleUser{Arn: out.AssumedRoleARN, AssumedRoleID: out.AssumedRoleID},
				Credentials: xmlCredentials{
					AccessKeyID:     out.Credentials.AccessKeyID,
					SecretAccessKey: out.Credentials.SecretAccessKey,
					SessionToken:    out.Credentials.SessionToken,
					Expiration:      out.Credentials.Expiration.UTC().Format(time.RFC3339),
				},
				PackedPolicySize: out.PackedPolicySize,
			},
			Metadata: responseMetadata{RequestID: reqID},
		})
	}
}

// parseQueryRequest reads the form body (bounded) and merges it over the
// URL's query parameters.
func parseQueryRequest(w http.ResponseWriter, r *http.Request) (url.Values, *Error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxQueryBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, NewError(CodeRequestEntityTooLarge, http.StatusRequestEntityTooLarge, "Request body must be less than %d bytes", MaxQueryBody)
		}
		return nil, NewError(CodeMalformedQueryString, http.StatusBadRequest, "The request body could not be read.")
	}
	return ParseForm(r.URL.RawQuery, string(body))
}

// ParseForm parses an awsQuery request: the URL query and the
// form-encoded body, the body's values taking precedence.
func ParseForm(rawQuery, body string) (url.Values, *Error) {
	params, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, NewError(CodeMalformedQueryString, http.StatusBadRequest, "The query string is malformed.")
	}
	form, err := url.ParseQuery(body)
	if err != nil {
		return nil, NewError(CodeMalformedQueryString, http.StatusBadRequest, "The request body is not a valid form.")
	}
	for k, v := range form {
		params[k] = v
	}
	return params, nil
}

// memberList collects the values of "PREFIX.member.N[SUFFIX]" in N order.
// An empty list may be sent as "PREFIX=" and yields nothing.
func memberList(params url.Values, prefix, suffix string) (map[int]string, []int) {
	vals := make(map[int]string)
	p := prefix + ".member."
	for k, v := range params {
		if !strings.HasPrefix(k, p) || !strings.HasSuffix(k, suffix) {
			continue
		}
		ns := strings.TrimSuffix(strings.TrimPrefix(k, p), suffix)
		n, err := strconv.Atoi(ns)
		if err != nil || n < 1 || n > maxListIndex || strings.HasPrefix(ns, "+") {
			continue // not an element of this list (e.g. another member's suffix)
		}
		vals[n] = v[0]
	}
	idx := make([]int, 0, len(vals))
	for n := range vals {
		idx = append(idx, n)
	}
	sort.Ints(idx)
	return vals, idx
}

// assumeRoleInput reads AssumeRole's parameters.
func assumeRoleInput(params url.Values) (AssumeRoleInput, *Error) {
	in := AssumeRoleInput{
		RoleARN:         params.Get("RoleArn"),
		RoleSessionName: params.Get("RoleSessionName"),
		ExternalID:      params.Get("ExternalId"),
		Policy:          params.Get("Policy"),
	}
	if d := params.Get("DurationSeconds"); d != "" {
		n, err := strconv.ParseInt(d, 10, 32)
		if err != nil {
			var ve validationErrors
			ve.add(&d, "durationSeconds", "Member must be a valid integer")
			return in, ve.err()
		}
		in.DurationSeconds = int32(n)
	}
	keys, idx := memberList(params, "Tags", ".Key")
	values, vidx := memberList(params, "Tags", ".Value")
	seen := make(map[int]bool)
	all := append(append([]int(nil), idx...), vidx...)
	sort.Ints(all)
	var ve validationErrors
	for _, n := range all {
		if seen[n] {
			continue
		}
		seen[n] = true
		k, ok := keys[n]
		if !ok {
			ve.add(nil, fmt.Sprintf("tags.%d.member.key", n), "Member must not be null")
		}
		v, ok := values[n]
		if !ok {
			ve.add(nil, fmt.Sprintf("tags.%d.member.value", n), "Member must not be null")
		}
		in.Tags = append(in.Tags, Tag{Key: k, Value: v})
	}
	if e := ve.err(); e != nil {
		return in, e
	}
	tt, tidx := memberList(params, "TransitiveTagKeys", "")
	for _, n := range tidx {
		in.TransitiveTagKeys = append(in.TransitiveTagKeys, tt[n])
	}
	arns, aidx := memberList(params, "PolicyArns", ".arn")
	for _, n := range aidx {
		in.PolicyARNs = append(in.PolicyARNs, arns[n])
	}
	return in, nil
}

type responseMetadata struct {
	RequestID string `xml:"RequestId"`
}

type getCallerIdentityResponse struct {
	XMLName  xml.Name         `xml:"GetCallerIdentityResponse"`
	Xmlns    string           `xml:"xmlns,attr"`
	Result   callerIdentity   `xml:"GetCallerIdentityResult"`
	Metadata responseMetadata `xml:"ResponseMetadata"`
}

type callerIdentity struct {
	Arn     string `xml:"Arn"`
	UserID  string `xml:"UserId"`
	Account string `xml:"Account"`
}

type assumeRoleResponse struct {
	XMLName  xml.Name         `xml:"AssumeRoleResponse"`
	Xmlns    string           `xml:"xmlns,attr"`
	Result   assumeRoleResult `xml:"AssumeRoleResult"`
	Metadata responseMetadata `xml:"ResponseMetadata"`
}

type assumeRoleResult struct {
	AssumedRoleUser  assumedRoleUser `xml:"AssumedRoleUser"`
	Credentials      xmlCredentials  `xml:"Credentials"`
	PackedPolicySize int             `xml:"PackedPolicySize,omitempty"`
}

type assumedRoleUser struct {
	Arn           string `xml:"Arn"`
	AssumedRoleID string `xml:"AssumedRoleId"`
}

type xmlCredentials struct {
	AccessKeyID     string `xml:"AccessKeyId"`
	SecretAccessKey string `xml:"SecretAccessKey"`
	SessionToken    string `xml:"SessionToken"`
	Expiration      string `xml:"Expiration"`
}

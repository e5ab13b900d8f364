// Package stshttp serves podid's STS over HTTP as a handler family of the
// host (internal/httpx): the awsQuery endpoint (AssumeRole,
// GetCallerIdentity) at POST / and GET /.
// The rules and sealed sessions are package sts's; errors go back to the
// host, which writes them.
package stshttp

import (
	"encoding/xml"
	"errors"
	"fmt"
	"github.com/podid/podid/eksapi"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/podid/podid/internal/audit"
	"github.com/podid/podid/internal/authz"
	"github.com/podid/podid/internal/httpx"
	"github.com/podid/podid/internal/sts"
)

// APIVersion is the STS API version of the awsQuery protocol.
const APIVersion = "2011-06-15"

// maxListIndex bounds the N of a "Tags.member.N" parameter.
const maxListIndex = 1000

// Mount mounts the STS endpoint of svc on host (family httpx.STS) at
// POST / and GET / (parameters in the query, as a presigned URL carries
// them), its calls authorized by az (nil: every caller may).
func Mount(host *httpx.Host, svc *sts.Service, az authz.Authorizer) error {
	h := Handler(svc, az)
	return errors.Join(host.Handle("POST /{$}", httpx.STS, "", h), host.Handle("GET /{$}", httpx.STS, "", h))
}

// Handler returns the awsQuery STS endpoint (mount it at "POST /{$}" (and GET) in
// family httpx.STS): AssumeRole and GetCallerIdentity, answered in STS's
// XML, each authorized by az as sts:ACTION.
func Handler(svc *sts.Service, az authz.Authorizer) httpx.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		reqID := httpx.RequestID(r.Context())
		params, err := parseQueryRequest(r)
		if err != nil {
			return err
		}
		action := params.Get("Action")
		if action == "" {
			return sts.NewError(sts.CodeMissingAction, http.StatusBadRequest, "The request is missing an action or a required parameter.")
		}
		version := params.Get("Version")
		if version == "" {
			return sts.NewError(sts.CodeMissingParameter, http.StatusBadRequest, "The request must contain the parameter Version")
		}
		if version != APIVersion || (action != "AssumeRole" && action != "GetCallerIdentity") {
			return sts.NewError(sts.CodeInvalidAction, http.StatusBadRequest, "Could not find operation %s for version %s", action, version)
		}
		httpx.SetOperation(r.Context(), action)
		id, ok := authz.FromContext(r.Context())
		if !ok {
			return sts.NewError(sts.CodeMissingAuthToken, http.StatusForbidden, sts.MsgMissingAuthToken)
		}
		if action == "GetCallerIdentity" {
			// No permission is needed for GetCallerIdentity on AWS, and
			// an explicit deny does not stop it (STS API reference), so
			// it asks the Authorizer nothing.
			return httpx.WriteXML(w, getCallerIdentityResponse{
				Xmlns:    httpx.NamespaceSTS,
				Result:   callerIdentity{Arn: id.ARN, UserID: id.UserID, Account: id.Account},
				Metadata: responseMetadata{RequestID: reqID},
			})
		}
		in, err := assumeRoleInput(params)
		if err != nil {
			return err
		}
		if err := authz.Check(r.Context(), az, "sts:AssumeRole", in.RoleARN, authz.RequestTags(sts.TagMap(in.Tags))); err != nil {
			return err
		}
		if id.Session != nil {
			// Chaining: the session's own credentials make the call.
			sess, err := svc.Inspect(id.Session.Token)
			if err != nil {
				return sts.InvalidClientTokenError()
			}
			c := sess.Credentials()
			in.Caller = &c
		} else {
			in.Principal = id.ARN
		}
		out, err := svc.AssumeRole(r.Context(), in)
		if err != nil {
			return err
		}
		audit.Note(r.Context()).ResponseElements = map[string]any{
			"assumedRoleUser": map[string]any{"arn": out.AssumedRoleARN, "assumedRoleId": out.AssumedRoleID},
			// The session's key ID only: never its secret or token.
			"accessKeyId":      out.Credentials.AccessKeyID,
			"expiration":       out.Credentials.Expiration.UTC().Format(time.RFC3339),
			"packedPolicySize": out.PackedPolicySize,
		}
		return httpx.WriteXML(w, assumeRoleResponse{
			Xmlns: httpx.NamespaceSTS,
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

// parseQueryRequest reads the form body (bounded by the family's limit)
// and merges it over the URL's query parameters.
func parseQueryRequest(r *http.Request) (url.Values, error) {
	body, err := httpx.ReadBody(r)
	if err != nil {
		return nil, err
	}
	return ParseForm(r.URL.RawQuery, string(body))
}

// ParseForm parses an awsQuery request: the URL query and the
// form-encoded body, the body's values taking precedence.
func ParseForm(rawQuery, body string) (url.Values, error) {
	params, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, sts.NewError(sts.CodeMalformedQueryString, http.StatusBadRequest, "The query string is malformed.")
	}
	form, err := url.ParseQuery(body)
	if err != nil {
		return nil, sts.NewError(sts.CodeMalformedQueryString, http.StatusBadRequest, "The request body is not a valid form.")
	}
	for k, v := range form {
		params[k] = v
	}
	if err := eksapi.CheckMemberIndices(params); err != nil {
		return nil, sts.NewError(sts.CodeMalformedQueryString, http.StatusBadRequest, "%s", err.Error())
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
func assumeRoleInput(params url.Values) (sts.AssumeRoleInput, error) {
	in := sts.AssumeRoleInput{
		RoleARN:         params.Get("RoleArn"),
		RoleSessionName: params.Get("RoleSessionName"),
		ExternalID:      params.Get("ExternalId"),
		Policy:          params.Get("Policy"),
	}
	if d := params.Get("DurationSeconds"); d != "" {
		n, err := strconv.ParseInt(d, 10, 32)
		if err != nil {
			var ve sts.ValidationErrors
			ve.Add(&d, "durationSeconds", "Member must be a valid integer")
			return in, ve.Err()
		}
		in.DurationSeconds = int32(n)
	}
	keys, idx := memberList(params, "Tags", ".Key")
	values, vidx := memberList(params, "Tags", ".Value")
	seen := make(map[int]bool)
	all := append(append([]int(nil), idx...), vidx...)
	sort.Ints(all)
	var ve sts.ValidationErrors
	for _, n := range all {
		if seen[n] {
			continue
		}
		seen[n] = true
		k, ok := keys[n]
		if !ok {
			ve.Add(nil, fmt.Sprintf("tags.%d.member.key", n), "Member must not be null")
		}
		v, ok := values[n]
		if !ok {
			ve.Add(nil, fmt.Sprintf("tags.%d.member.value", n), "Member must not be null")
		}
		in.Tags = append(in.Tags, sts.Tag{Key: k, Value: v})
	}
	if err := ve.Err(); err != nil {
		return in, err
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

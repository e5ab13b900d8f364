package sts

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/podid/podid/eksapi"
)

// InspectPath is where InspectHandler is meant to be mounted (with
// "POST ").
const InspectPath = "/podid/v1/sessions/inspect"

// InspectRequest is the body of a session inspection.
type InspectRequest struct {
	SessionToken string `json:"sessionToken"`
}

// SessionView is what session inspection returns: everything the session
// carries except its secret.
type SessionView struct {
	AccessKeyID       string            `json:"accessKeyId"`
	AssumedRoleARN    string            `json:"assumedRoleArn"`
	AssumedRoleID     string            `json:"assumedRoleId"`
	RoleARN           string            `json:"roleArn"`
	RoleSessionName   string            `json:"roleSessionName"`
	Account           string            `json:"account"`
	Tags              []TagView         `json:"tags"`
	TransitiveTagKeys []string          `json:"transitiveTagKeys"`
	Policy            string            `json:"policy,omitempty"`
	PolicyARNs        []string          `json:"policyArns,omitempty"`
	ExternalID        string            `json:"externalId,omitempty"`
	Chain             []string          `json:"chain"`
	SourcePrincipal   string            `json:"sourcePrincipal"`
	SourceContext     map[string]string `json:"sourceContext,omitempty"`
	Issued            time.Time         `json:"issued"`
	Expiration        time.Time         `json:"expiration"`
	Expired           bool              `json:"expired"`
}

// TagView is a session tag in SessionView.
type TagView struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// View returns the session as inspection shows it, as of now.
func (s *Session) View(now time.Time) SessionView {
	v := SessionView{
		AccessKeyID:       s.AccessKeyID,
		AssumedRoleARN:    s.AssumedRoleARN(),
		AssumedRoleID:     s.AssumedRoleID(),
		RoleARN:           s.RoleARN,
		RoleSessionName:   s.RoleSessionName,
		Account:           s.Account,
		Tags:              []TagView{},
		TransitiveTagKeys: append([]string{}, s.TransitiveTagKeys...),
		Policy:            s.Policy,
		PolicyARNs:        s.PolicyARNs,
		ExternalID:        s.ExternalID,
		Chain:             append([]string{}, s.Chain...),
		SourcePrincipal:   s.SourcePrincipal,
		SourceContext:     s.SourceContext,
		Issued:            s.Issued,
		Expiration:        s.Expiration,
		Expired:           s.Expired(now),
	}
	for _, t := range s.Tags {
		v.Tags = append(v.Tags, TagView{Key: t.Key, Value: t.Value})
	}
	return v
}

// maxInspectBody bounds an inspection request.
const maxInspectBody = 64 << 10

// InspectHandler returns the admin API that shows a vended session: POST a
// JSON InspectRequest, get a SessionView (expired sessions too). Only the
// admin identity may call it (AccessDeniedException otherwise); a token
// this STS did not seal is InvalidParameterException. Errors are restJson1.
func (s *Service) InspectHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Amzn-RequestId", s.requestID(r.Context()))
		id, ok := IdentityFrom(r.Context())
		if !ok {
			eksapi.NewError(eksapi.CodeMissingAuthentication, "Missing Authentication Token").WriteJSON(w)
			return
		}
		if !id.IsAdmin() {
			eksapi.NewError(eksapi.CodeAccessDenied, "User: "+id.ARN+" is not authorized to perform: podid:InspectSession").WriteJSON(w)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxInspectBody))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				eksapi.NewError(eksapi.CodeRequestEntityTooLarge, "Request body too large.").WriteJSON(w)
				return
			}
			eksapi.NewError(eksapi.CodeInvalidRequest, "The request body could not be read.").WriteJSON(w)
			return
		}
		var req InspectRequest
		if err := json.Unmarshal(body, &req); err != nil {
			eksapi.NewError(eksapi.CodeSerialization, "The request body is not valid JSON.").WriteJSON(w)
			return
		}
		if req.SessionToken == "" {
			eksapi.NewError(eksapi.CodeInvalidParameter, "sessionToken is required.").WriteJSON(w)
			return
		}
		sess, err := s.Inspect(req.SessionToken)
		if err != nil {
			eksapi.NewError(eksapi.CodeInvalidParameter, "The session token is not one this server issued.").WriteJSON(w)
			return
		}
		b, err := json.Marshal(sess.View(s.now()))
		if err != nil {
			eksapi.NewError(eksapi.CodeServer, "internal error").WriteJSON(w)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	})
}

// Routes returns the STS endpoint and the inspection API as ServeMux
// patterns, for the server's route table (behind the authentication
// middleware).
func (s *Service) Routes() map[string]http.Handler {
	return map[string]http.Handler{
		"POST /{$}":           s.Handler(),
		"POST " + InspectPath: s.InspectHandler(),
	}
}

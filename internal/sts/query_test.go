package sts_test

import (
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/podid/podid/internal/sigv4"
)

// post sends an unsigned form to the STS endpoint of a mode-none server.
func post(t *testing.T, e *env, form string) (*http.Response, string) {
	t.Helper()
	resp, err := e.srv.Client().Post(e.srv.URL+"/", "application/x-www-form-urlencoded", strings.NewReader(form))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestQueryProtocol(t *testing.T) {
	e := newEnv(t, sigv4.ModeNone)

	t.Run("GetCallerIdentity XML", func(t *testing.T) {
		resp, body := post(t, e, "Action=GetCallerIdentity&Version=2011-06-15")
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/xml" {
			t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		reqID := resp.Header.Get("X-Amzn-RequestId")
		want := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
			`<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>` +
			`<Arn>arn:aws:iam::111122223333:root</Arn><UserId>111122223333</UserId><Account>111122223333</Account>` +
			`</GetCallerIdentityResult><ResponseMetadata><RequestId>` + reqID + `</RequestId></ResponseMetadata></GetCallerIdentityResponse>`
		if reqID == "" || body != want {
			t.Errorf("body = %s\nwant %s", body, want)
		}
	})

	t.Run("AssumeRole with empty lists and PolicyArns", func(t *testing.T) {
		form := url.Values{
			"Action": {"AssumeRole"}, "Version": {"2011-06-15"}, "RoleArn": {roleA}, "RoleSessionName": {"s-1"},
			"Tags": {""}, "TransitiveTagKeys": {""},
			"PolicyArns.member.1.arn": {"arn:aws:iam::aws:policy/ReadOnlyAccess"},
		}
		resp, body := post(t, e, form.Encode())
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		var out struct {
			Result struct {
				User  struct{ Arn, AssumedRoleId string } `xml:"AssumedRoleUser"`
				Creds struct {
					AccessKeyId, SecretAccessKey, SessionToken, Expiration string
				} `xml:"Credentials"`
			} `xml:"AssumeRoleResult"`
			RequestID string `xml:"ResponseMetadata>RequestId"`
		}
		if err := xml.Unmarshal([]byte(body), &out); err != nil {
			t.Fatal(err)
		}
		if out.Result.User.Arn != "arn:aws:sts::111122223333:assumed-role/app-role/s-1" || out.Result.Creds.SessionToken == "" ||
			!strings.HasSuffix(out.Result.Creds.Expiration, "Z") || out.RequestID != resp.Header.Get("X-Amzn-RequestId") {
			t.Errorf("unexpected AssumeRole result: %s", body)
		}
		sess, err := e.svc.Session(out.Result.Creds.SessionToken)
		if err != nil {
			t.Fatal(err)
		}
		if len(sess.Tags) != 0 || len(sess.PolicyARNs) != 1 {
			t.Errorf("session tags %v, policy ARNs %v", sess.Tags, sess.PolicyARNs)
		}
	})

	tests := []struct {
		name, form string
		status     int
		code, msg  string
	}{
		{"unknown action", "Action=GetSessionToken&Version=2011-06-15", 400, "InvalidAction", "Could not find operation GetSessionToken for version 2011-06-15"},
		{"wrong version", "Action=AssumeRole&Version=2010-01-01", 400, "InvalidAction", "Could not find operation AssumeRole for version 2010-01-01"},
		{"missing action", "Version=2011-06-15", 400, "MissingAction", ""},
		{"missing version", "Action=GetCallerIdentity", 400, "MissingParameter", "The request must contain the parameter Version"},
		{"malformed form", "Action=%zz", 400, "MalformedQueryString", ""},
		{"tag without value", "Action=AssumeRole&Version=2011-06-15&RoleArn=" + url.QueryEscape(roleA) + "&RoleSessionName=ab&Tags.member.1.Key=k", 400,
			"ValidationError", "1 validation error detected: Value null at 'tags.1.member.value' failed to satisfy constraint: Member must not be null"},
		{"duration not a number", "Action=AssumeRole&Version=2011-06-15&RoleArn=" + url.QueryEscape(roleA) + "&RoleSessionName=ab&DurationSeconds=1h", 400,
			"ValidationError", "1 validation error detected: Value '1h' at 'durationSeconds' failed to satisfy constraint: Member must be a valid integer"},
		{"non-canonical list index", "Action=AssumeRole&Version=2011-06-15&RoleArn=" + url.QueryEscape(roleA) + "&RoleSessionName=ab&Tags.member.1.Key=k&Tags.member.1.Value=a&Tags.member.01.Key=k&Tags.member.01.Value=b", 400,
			"MalformedQueryString", "Invalid list index '01' in parameter 'Tags.member.01.Key': an index is a number from 1 to 1000 without leading zeros."},
		{"list index out of range", "Action=AssumeRole&Version=2011-06-15&RoleArn=" + url.QueryEscape(roleA) + "&RoleSessionName=ab&Tags.member.1001.Key=k&Tags.member.1001.Value=v", 400,
			"MalformedQueryString", "Invalid list index '1001' in parameter 'Tags.member.1001.Key': an index is a number from 1 to 1000 without leading zeros."},
		{"body too large", "Action=GetCallerIdentity&Version=2011-06-15&Pad=" + strings.Repeat("x", 70<<10), 413, "RequestEntityTooLarge", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := post(t, e, tt.form)
			var er struct {
				XMLName xml.Name `xml:"ErrorResponse"`
				Error   struct{ Type, Code, Message string }
				ReqID   string `xml:"RequestId"`
			}
			if err := xml.Unmarshal([]byte(body), &er); err != nil {
				t.Fatalf("body %q: %v", body, err)
			}
			if resp.StatusCode != tt.status || er.Error.Code != tt.code || er.Error.Type != "Sender" || (tt.msg != "" && er.Error.Message != tt.msg) {
				t.Errorf("got %d %+v, want %d %s %q", resp.StatusCode, er.Error, tt.status, tt.code, tt.msg)
			}
			if er.ReqID == "" || er.ReqID != resp.Header.Get("X-Amzn-RequestId") {
				t.Errorf("RequestId %q, header %q", er.ReqID, resp.Header.Get("X-Amzn-RequestId"))
			}
		})
	}
}

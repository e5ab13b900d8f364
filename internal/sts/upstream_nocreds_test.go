package sts_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/podid/podid/internal/sts"
	stsupstream "github.com/podid/podid/internal/sts/upstream"
)

// noAWSCredentials empties the AWS SDK's default credential chain for the
// test: no environment keys, empty shared files, no instance metadata.
func noAWSCredentials(t *testing.T) {
	t.Helper()
	for _, k := range []string{
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN",
	} {
		t.Setenv(k, "")
	}
	dir := t.TempDir()
	for k, name := range map[string]string{"AWS_CONFIG_FILE": "config", "AWS_SHARED_CREDENTIALS_FILE": "credentials"} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv(k, p)
	}
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// TestUpstreamWithoutCredentials: when podid has no credentials of its own,
// the upstream call fails before reaching STS; the *Error callers may be
// told says nothing of podid's credential chain, the error's text (for the
// logs) does.
func TestUpstreamWithoutCredentials(t *testing.T) {
	noAWSCredentials(t)
	var calls atomic.Int32
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		http.Error(w, "unexpected", http.StatusInternalServerError)
	}))
	defer upstream.Close()

	u, err := stsupstream.New(context.Background(), upstream.URL, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	_, err = u.AssumeRole(context.Background(), sts.AssumeRoleInput{RoleARN: "arn:aws:iam::111122223333:role/app", RoleSessionName: "s"})
	var se *sts.Error
	if !errors.As(err, &se) {
		t.Fatalf("AssumeRole without credentials: %v, want an *sts.Error", err)
	}
	if se.Code != sts.CodeInternalFailure || se.Status != http.StatusInternalServerError || se.Message != "The upstream STS could not be called." {
		t.Errorf("got %s %d %q, want InternalFailure 500 with the generic message", se.Code, se.Status, se.Message)
	}
	if !strings.Contains(err.Error(), "credentials") {
		t.Errorf("error text %q: want the credential chain's cause for the logs", err)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("the upstream got %d requests without credentials, want 0", n)
	}
}

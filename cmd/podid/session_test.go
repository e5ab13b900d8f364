package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/podid/podid/internal/admin"
	"github.com/podid/podid/internal/authz"
	"github.com/podid/podid/internal/httpx"
	"github.com/podid/podid/internal/sigv4"
	"github.com/podid/podid/internal/sts"
	"github.com/podid/podid/internal/sts/stshttp"
)

func TestSessionInspect(t *testing.T) {
	quiet := slog.New(slog.DiscardHandler)
	svc, err := sts.New(sts.Config{AccountID: "111122223333", Keys: [][]byte{make([]byte, sts.KeySize)}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(t.TempDir(), "data")
	adminKeys, _, err := sigv4.LoadOrCreateAdmin(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	auth := sigv4.New(sigv4.Config{Admin: adminKeys, AccountID: "111122223333", Sessions: svc, Logger: quiet})
	host := httpx.New(httpx.Config{Logger: quiet, Authenticate: auth.Authenticate})
	if err := stshttp.Mount(host, svc, nil); err != nil {
		t.Fatal(err)
	}
	if err := admin.New(admin.Config{Sessions: svc, Authorizer: authz.Rules{}, Logger: quiet}).Mount(host); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(host)
	defer srv.Close()

	out, err := svc.AssumeRole(context.Background(), sts.AssumeRoleInput{
		RoleARN: "arn:aws:iam::111122223333:role/r1", RoleSessionName: "s1",
		Tags: []sts.Tag{{Key: "eks-cluster-name", Value: "c1"}}, TransitiveTagKeys: []string{"eks-cluster-name"},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_SESSION_TOKEN", out.Credentials.SessionToken)
	t.Setenv("PODID_ADMIN_ACCESS_KEY_ID", "")

	var stdout bytes.Buffer
	err = runSessionInspect(context.Background(), &sessionInspectOptions{admin: adminFlags{endpoint: srv.URL, dataDir: dataDir, region: "us-east-1"}, fromEnv: true}, &stdout)
	if err != nil {
		t.Fatal(err)
	}
	var v sts.SessionView
	if err := json.Unmarshal(stdout.Bytes(), &v); err != nil {
		t.Fatalf("output %q: %v", stdout.String(), err)
	}
	if v.AssumedRoleARN != out.AssumedRoleARN || len(v.Tags) != 1 || v.Tags[0].Value != "c1" {
		t.Errorf("inspected %+v", v)
	}
	if strings.Contains(stdout.String(), out.Credentials.SecretAccessKey) {
		t.Error("output shows the secret")
	}

	// Wrong admin keys: the server's error, worded.
	err = runSessionInspect(context.Background(), &sessionInspectOptions{sessionToken: out.Credentials.SessionToken,
		admin: adminFlags{endpoint: srv.URL, accessKeyID: adminKeys.AccessKeyID, secretAccessKey: "wrong", region: "us-east-1"}}, &stdout)
	if err == nil || !strings.Contains(err.Error(), "InvalidSignatureException") {
		t.Errorf("error = %v, want InvalidSignatureException", err)
	}
	// No credentials at all: unsigned, refused in sigv4 mode.
	err = runSessionInspect(context.Background(), &sessionInspectOptions{sessionToken: "x", admin: adminFlags{endpoint: srv.URL, dataDir: t.TempDir(), region: "us-east-1"}}, &stdout)
	if err == nil || !strings.Contains(err.Error(), "MissingAuthenticationTokenException") {
		t.Errorf("error = %v, want MissingAuthenticationTokenException", err)
	}
}

package iamhttp_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/podid/podid/internal/httpx"
	"github.com/podid/podid/internal/iam/accesskey"
	"github.com/podid/podid/internal/iam/iamhttp"
	"github.com/podid/podid/internal/store/sqlite"
)

// FuzzServe sends arbitrary forms to the IAM API over one store: whatever
// the input, the answer is IAM's success or a 4xx (never a panic, which the
// host turns into a 500, nor another internal error).
func FuzzServe(f *testing.F) {
	for _, form := range []url.Values{
		{"Action": {"CreateRole"}, "Version": {"2010-05-08"}, "RoleName": {"r"}, "AssumeRolePolicyDocument": {trust}, "Tags.member.1.Key": {"k"}, "Tags.member.1.Value": {"v"}},
		{"Action": {"PutRolePolicy"}, "Version": {"2010-05-08"}, "RoleName": {"r"}, "PolicyName": {"p"}, "PolicyDocument": {perms}},
		{"Action": {"CreatePolicy"}, "Version": {"2010-05-08"}, "PolicyName": {"p"}, "PolicyDocument": {perms}},
		{"Action": {"AttachRolePolicy"}, "Version": {"2010-05-08"}, "RoleName": {"r"}, "PolicyArn": {"arn:aws:iam::000000000000:policy/p"}},
		{"Action": {"CreatePolicyVersion"}, "Version": {"2010-05-08"}, "PolicyArn": {"arn:aws:iam::000000000000:policy/p"}, "PolicyDocument": {perms}, "SetAsDefault": {"true"}},
		{"Action": {"CreateUser"}, "Version": {"2010-05-08"}, "UserName": {"u"}},
		{"Action": {"CreateAccessKey"}, "Version": {"2010-05-08"}, "UserName": {"u"}},
		{"Action": {"UpdateUser"}, "Version": {"2010-05-08"}, "UserName": {"u"}, "NewUserName": {"v"}, "NewPath": {"/x/"}},
		{"Action": {"ListRoles"}, "Version": {"2010-05-08"}, "Marker": {"cg"}, "MaxItems": {"1"}},
		{"Action": {"DeleteRole"}, "Version": {"2010-05-08"}, "RoleName": {"r"}},
		{"Action": {"ListAccessKeys"}, "Version": {"2010-05-08"}},
		{"Action": {"CreateOpenIDConnectProvider"}, "Version": {"2010-05-08"}, "Url": {"https://oidc.example.com:443/id/X"}, "ClientIDList.member.1": {"sts.amazonaws.com"}, "ThumbprintList.member.1": {strings.Repeat("a", 40)}},
		{"Action": {"AddClientIDToOpenIDConnectProvider"}, "Version": {"2010-05-08"}, "OpenIDConnectProviderArn": {"arn:aws:iam::000000000000:oidc-provider/oidc.example.com/id/X"}, "ClientID": {"app"}},
		{"Action": {"TagOpenIDConnectProvider"}, "Version": {"2010-05-08"}, "OpenIDConnectProviderArn": {"arn:aws:iam::000000000000:oidc-provider/oidc.example.com/id/X"}, "Tags.member.1.Key": {"k"}, "Tags.member.1.Value": {"v"}},
	} {
		f.Add(form.Encode())
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(f.TempDir(), "podid.db"))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	secrets, err := accesskey.FromStore(ctx, st)
	if err != nil {
		f.Fatal(err)
	}
	host := httpx.New(httpx.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	h := iamhttp.New(iamhttp.Config{Store: st, Secrets: secrets, AccountID: account})
	if err := h.Mount(host, func(w http.ResponseWriter, r *http.Request) error { return nil }); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body string) {
		form, err := url.ParseQuery(body)
		if err == nil && form.Get("Action") != "" {
			form.Set("Version", "2010-05-08") // reach the actions, not only the version check
			body = form.Encode()
		}
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		host.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Errorf("%q: %d %s", body, rec.Code, rec.Body)
		}
	})
}

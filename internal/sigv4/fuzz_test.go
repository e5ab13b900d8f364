package sigv4_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/podid/podid/internal/sigv4"
	"github.com/podid/podid/internal/sts"
)

func FuzzParseAuthorization(f *testing.F) {
	for _, s := range []string{
		"AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-date, Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024",
		"AWS4-HMAC-SHA256 Credential=a/b/c/d/e,SignedHeaders=,Signature=",
		"AWS4-HMAC-SHA256 ",
		"AWS4-HMAC-SHA256 Credential=//////, SignedHeaders=;;, Signature=zz",
		"Bearer abc",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		a, err := sigv4.ParseAuthorization(h)
		// --auth none's reading of the header agrees.
		akid, region, ok := sigv4.AuthorizationScope(h)
		if ok != (err == nil) || ok && (akid != a.AccessKeyID || region != a.Region) {
			t.Fatalf("AuthorizationScope(%q) = %q, %q, %v; ParseAuthorization: %+v, %v", h, akid, region, ok, a, err)
		}
		if err != nil {
			if a != nil {
				t.Fatal("non-nil result with an error")
			}
			return
		}
		if a.AccessKeyID == "" || len(a.Date) != 8 || a.Region == "" || a.Service == "" || len(a.Signature) != 64 || len(a.SignedHeaders) == 0 {
			t.Fatalf("accepted an incomplete header %q: %+v", h, a)
		}
		for _, sh := range a.SignedHeaders {
			if sh == "" || strings.ToLower(sh) != sh {
				t.Fatalf("bad signed header %q in %q", sh, h)
			}
		}
	})
}

// FuzzAuthenticate: arbitrary authentication headers and bodies are refused
// or attributed, never a panic, and only a correct signature gets through.
func FuzzAuthenticate(f *testing.F) {
	key := make([]byte, sts.KeySize)
	svc, err := sts.New(sts.Config{AccountID: account, Keys: [][]byte{key}, Logger: quiet})
	if err != nil {
		f.Fatal(err)
	}
	admin := sts.Credentials{AccessKeyID: "AKIAFUZZFUZZFUZZFUZZ", SecretAccessKey: strings.Repeat("s", 40)}
	auth := sigv4.New(sigv4.Config{Admin: admin, AccountID: account, Sessions: svc, Logger: quiet})
	h := authenticated(auth, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(299)
	}))
	now := time.Now().UTC().Format("20060102T150405Z")
	f.Add("AWS4-HMAC-SHA256 Credential=AKIAFUZZFUZZFUZZFUZZ/"+now[:8]+"/us-west-2/eks/aws4_request, SignedHeaders=host;x-amz-date, Signature="+strings.Repeat("0", 64), now, "", "/clusters/c1", "")
	f.Add("AWS4-HMAC-SHA256 Credential=ASIAX/"+now[:8]+"/r/sts/aws4_request, SignedHeaders=content-length;host, Signature="+strings.Repeat("a", 64), now, "AQ", "/", "Action=GetCallerIdentity")
	f.Fuzz(func(t *testing.T, authz, date, token, path, body string) {
		if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " ?#%\x00\r\n\t") {
			path = "/"
		}
		req := httptest.NewRequest(http.MethodPost, "http://podid.test"+path, strings.NewReader(body))
		for k, v := range map[string]string{"Authorization": authz, "X-Amz-Date": date, "X-Amz-Security-Token": token} {
			if v != "" && !strings.ContainsAny(v, "\r\n") {
				req.Header.Set(k, v)
			}
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code == 299 {
			t.Fatalf("forged request accepted: %q %q %q", authz, date, token)
		}
	})
}

// FuzzAuthenticatePresigned: arbitrary presigned query strings are refused,
// never a panic, and only a correct signature gets through.
func FuzzAuthenticatePresigned(f *testing.F) {
	admin := sts.Credentials{AccessKeyID: "AKIAFUZZFUZZFUZZFUZZ", SecretAccessKey: strings.Repeat("s", 40)}
	auth := sigv4.New(sigv4.Config{Admin: admin, AccountID: account, Logger: quiet})
	h := authenticated(auth, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(299)
	}))
	now := time.Now().UTC().Format("20060102T150405Z")
	base := "Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAFUZZFUZZFUZZFUZZ%2F" +
		now[:8] + "%2Fus-east-1%2Fsts%2Faws4_request&X-Amz-Date=" + now + "&X-Amz-SignedHeaders=host%3Bx-k8s-aws-id"
	f.Add(base+"&X-Amz-Expires=60&X-Amz-Signature="+strings.Repeat("0", 64), "GET")
	f.Add(base+"&X-Amz-Expires=99999999999999999999999&X-Amz-Signature="+strings.Repeat("a", 64), "GET")
	f.Add(base+"&X-Amz-Expires=-0&X-Amz-Security-Token=AQ&X-Amz-Signature=zz", "POST")
	f.Add("X-Amz-Signature=&X-Amz-Credential=%2F%2F%2F%2F", "GET")
	f.Fuzz(func(t *testing.T, query, method string) {
		if method != http.MethodPost {
			method = http.MethodGet
		}
		req := httptest.NewRequest(method, "http://podid.test/", nil)
		req.URL.RawQuery = query
		req.Header.Set("X-K8s-Aws-Id", "dev")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code == 299 {
			t.Fatalf("forged request accepted: %q", query)
		}
	})
}

func FuzzParsePresigned(f *testing.F) {
	f.Add("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20260101%2Fus-east-1%2Fsts%2Faws4_request&X-Amz-Date=20260101T000000Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=" + strings.Repeat("f", 64))
	f.Add("X-Amz-Expires=604801")
	f.Add("X-Amz-Signature=a&X-Amz-Signature=b")
	f.Fuzz(func(t *testing.T, query string) {
		q, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		p, err := sigv4.ParsePresigned(q)
		if err != nil {
			if p != nil {
				t.Fatal("non-nil result with an error")
			}
			return
		}
		if p.AccessKeyID == "" || len(p.Signature) != 64 || p.AmzDate == "" || p.Expires < 0 || p.Expires > sigv4.MaxExpires {
			t.Fatalf("accepted %q: %+v", query, p)
		}
	})
}

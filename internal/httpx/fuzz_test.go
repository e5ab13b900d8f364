package httpx_test

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/podid/podid/eksapi"
	"github.com/podid/podid/internal/httpx"
)

// FuzzHost: any method, path and body gets an answer with a request ID
// and, when it is an error, one the SDKs' decoders read; never a 500
// (which is what a panic becomes).
func FuzzHost(f *testing.F) {
	host := httpx.New(httpx.Config{Logger: slog.New(slog.DiscardHandler), MaxBodyBytes: 4096})
	echo := func(w http.ResponseWriter, r *http.Request) error {
		var in map[string]any
		if err := httpx.DecodeJSON(r, &in); err != nil {
			return err
		}
		return httpx.WriteJSON(w, in)
	}
	for pattern, fam := range map[string]*httpx.Family{
		"POST /clusters/{name}/things/{associationId}": httpx.EKS,
		"GET /tags/{resourceArn...}":                   httpx.EKS,
		"POST /{$}":                                    httpx.STS,
	} {
		if err := host.Handle(pattern, fam, "Op", echo); err != nil {
			f.Fatal(err)
		}
	}
	f.Add("POST", "/clusters/c1/things/a-1", `{"a":1}`)
	f.Add("GET", "/tags/arn%3Aaws", "")
	f.Add("POST", "/", "Action=x")
	f.Add("PUT", "/clusters//things/", "[1,2")
	f.Fuzz(func(t *testing.T, method, path, body string) {
		if method == "" || strings.Trim(method, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" || method == http.MethodConnect {
			method = http.MethodPost
		}
		if _, err := url.ParseRequestURI(path); err != nil || !strings.HasPrefix(path, "/") {
			path = "/"
		}
		req := httptest.NewRequest(method, "http://podid.test"+path, strings.NewReader(body))
		rec := httptest.NewRecorder()
		host.ServeHTTP(rec, req)
		if rec.Header().Get("X-Amzn-RequestId") == "" {
			t.Fatalf("%s %s: no request ID", method, path)
		}
		if rec.Code >= 500 {
			t.Fatalf("%s %s %q: %d %s", method, path, body, rec.Code, rec.Body)
		}
		if rec.Code < 400 {
			return
		}
		var err error
		if rec.Header().Get("Content-Type") == "text/xml" {
			err = eksapi.ErrorFromXML(rec.Body.Bytes())
		} else {
			err = eksapi.ErrorFromJSON(rec.Code, rec.Header(), rec.Body.Bytes())
		}
		var ae *eksapi.Error
		var ue *eksapi.UnknownError
		if !errors.As(err, &ae) && !errors.As(err, &ue) {
			t.Fatalf("%s %s: undecodable error %d %s: %v", method, path, rec.Code, rec.Body, err)
		}
	})
}

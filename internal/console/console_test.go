package console_test

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/podid/podid/internal/console"
)

func get(t *testing.T, h http.Handler, path string, hdr ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func TestHandler(t *testing.T) {
	h := console.Handler()
	tests := []struct {
		path, wantType, wantBody string
		wantStatus               int
	}{
		{"/console/", "text/html; charset=utf-8", `<script type="module" src="js/app.js">`, 200},
		{"/console/js/sigv4.js", "text/javascript; charset=utf-8", "export async function sign", 200},
		{"/console/app.css", "text/css; charset=utf-8", "", 200},
		{"/console/logo.svg", "image/svg+xml", "<svg", 200},
		{"/console/nope.js", "", "", 404},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			res := get(t, h, tc.path)
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d", res.StatusCode, tc.wantStatus)
			}
			if tc.wantType != "" && res.Header.Get("Content-Type") != tc.wantType {
				t.Errorf("Content-Type %q, want %q", res.Header.Get("Content-Type"), tc.wantType)
			}
			if !strings.Contains(string(body), tc.wantBody) {
				t.Errorf("body lacks %q", tc.wantBody)
			}
			if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "connect-src 'self'") {
				t.Errorf("Content-Security-Policy %q", csp)
			}
			if res.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Error("no X-Content-Type-Options: nosniff")
			}
		})
	}

	t.Run("redirect", func(t *testing.T) {
		res := get(t, h, "/console")
		if res.StatusCode != http.StatusMovedPermanently || res.Header.Get("Location") != "/console/" {
			t.Errorf("GET /console: %d to %q, want 301 to /console/", res.StatusCode, res.Header.Get("Location"))
		}
	})

	t.Run("etag", func(t *testing.T) {
		res := get(t, h, "/console/js/app.js")
		tag := res.Header.Get("ETag")
		if tag == "" || res.Header.Get("Cache-Control") != "no-cache" {
			t.Fatalf("ETag %q, Cache-Control %q: want a content hash and no-cache", tag, res.Header.Get("Cache-Control"))
		}
		if again := get(t, h, "/console/js/app.js", "If-None-Match", tag); again.StatusCode != http.StatusNotModified {
			t.Errorf("If-None-Match the ETag: status %d, want 304", again.StatusCode)
		}
		if other := get(t, h, "/console/js/api.js").Header.Get("ETag"); other == tag {
			t.Errorf("app.js and api.js share the ETag %s", tag)
		}
	})
}

// TestSelfContained: no asset names another origin (the page loads
// nothing from outside the binary; the CSP would block it anyway), and
// every module a script imports is embedded.
func TestSelfContained(t *testing.T) {
	assets := console.Assets()
	external := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}[/"')]`)
	imports := regexp.MustCompile(`(?m)^\s*(?:import|export)\b[^"']*from\s+["']([^"']+)["']`)
	var n int
	err := fs.WalkDir(assets, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		b, err := fs.ReadFile(assets, path)
		if err != nil {
			return err
		}
		text := strings.ReplaceAll(string(b), "http://www.w3.org/2000/svg", "") // the SVG namespace
		if m := external.FindString(text); m != "" {
			t.Errorf("%s refers to another origin: %s", path, m)
		}
		for _, m := range imports.FindAllStringSubmatch(text, -1) {
			target := resolve(path, m[1])
			if _, err := fs.Stat(assets, target); err != nil {
				t.Errorf("%s imports %s: %s is not embedded", path, m[1], target)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 10 {
		t.Errorf("%d assets embedded; want the whole console", n)
	}
}

// resolve resolves a relative module specifier against the importing file.
func resolve(from, spec string) string {
	dir := strings.Split(from, "/")
	dir = dir[:len(dir)-1]
	for _, part := range strings.Split(spec, "/") {
		switch part {
		case ".":
		case "..":
			if len(dir) > 0 {
				dir = dir[:len(dir)-1]
			}
		default:
			dir = append(dir, part)
		}
	}
	return strings.Join(dir, "/")
}

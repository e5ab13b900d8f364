// Package console serves podid's web console: a static single-page
// application, embedded in the binary with go:embed, that signs in with
// access keys and calls podid's own public APIs (EKS, STS, IAM, CloudTrail
// LookupEvents and the admin API) with SigV4 computed in the browser. The
// server side is only file serving: the console holds no privilege of its
// own and sees exactly what the signed-in credentials may see.
//
// Nothing is loaded from outside the binary; the Content-Security-Policy
// lets the page reach its own origin only.
package console

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strings"

	"github.com/podid/podid/internal/httpx"
)

// Prefix is the path the console is served under.
const Prefix = "/console/"

//go:embed static
var static embed.FS

// Assets returns the console's files (index.html at the root).
func Assets() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil { // the directory is embedded above: cannot happen
		panic(err)
	}
	return sub
}

// csp lets the page load its own scripts, styles and images and call its
// own origin, nothing else; no inline script or style attribute.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Mount serves the console at Prefix (and redirects "/console" to it) on
// host, as a public family: the files hold no secrets and every API call
// the page makes is signed.
func Mount(host *httpx.Host) error {
	h := Handler()
	return errors.Join(
		host.HandleHTTP("GET "+Prefix, httpx.Public, h),
		host.HandleHTTP("GET "+strings.TrimSuffix(Prefix, "/"), httpx.Public, h),
	)
}

// Handler serves the console under Prefix: the files with strong ETags
// (content hashes) and no-cache, so a new binary's console is picked up on
// the next load; "/console" redirects to Prefix.
func Handler() http.Handler {
	assets := Assets()
	etags, err := hashes(assets)
	if err != nil { // embedded files are readable: cannot happen
		panic(err)
	}
	files := http.StripPrefix(strings.TrimSuffix(Prefix, "/"), http.FileServerFS(assets))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == strings.TrimSuffix(Prefix, "/") {
			http.Redirect(w, r, Prefix, http.StatusMovedPermanently)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		name := strings.TrimPrefix(r.URL.Path, Prefix)
		if name == "" {
			name = "index.html"
		}
		if tag, ok := etags[name]; ok {
			h.Set("ETag", tag)
		}
		files.ServeHTTP(w, r)
	})
}

// hashes returns every file's quoted SHA-256 prefix, by path.
func hashes(fsys fs.FS) (map[string]string, error) {
	out := map[string]string{}
	err := fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, path)
		if err != nil {
			return fmt.Errorf("reading %s: %w", path, err)
		}
		sum := sha256.Sum256(b)
		out[path] = `"` + hex.EncodeToString(sum[:16]) + `"`
		return nil
	})
	return out, err
}

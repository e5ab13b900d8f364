package agent_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/podid/podid/internal/agent"
)

func FuzzParseClaims(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	f.Add(podToken(f, now, "app1"))
	f.Add("")
	f.Add("a.b.c")
	f.Add("e30.e30.")
	f.Add("eyJhbGciOiJub25lIn0.eyJleHAiOiIxIn0.x")
	f.Add("eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjFlMzAwfQ.x")
	f.Add("eyJhbGciOiJSUzI1NiJ9.eyJleHAiOi0xLjV9.x")
	f.Fuzz(func(t *testing.T, token string) {
		c, err := agent.ParseClaims(token)
		if err != nil {
			if c != (agent.Claims{}) {
				t.Errorf("claims %+v with error %v", c, err)
			}
			return
		}
		if len(token) > agent.MaxTokenSize || strings.Count(token, ".") != 2 {
			t.Errorf("accepted %d-byte token with %d dots", len(token), strings.Count(token, "."))
		}
		_ = c.Validate(now)
	})
}

// FuzzAuthorization sends arbitrary Authorization and Host values through
// the handler: no panics, and only the statuses the agent gives.
func FuzzAuthorization(f *testing.F) {
	s := newStack(f)
	f.Add(podToken(f, s.clock.Now(), "app1"), "169.254.170.23")
	f.Add("", "[fd00:ec2::23]:80")
	f.Add("Bearer x.y.z", "127.0.0.1")
	f.Add("a.b.c.d", "localhost:1")
	f.Add("\x00.\xff.", "[")
	f.Fuzz(func(t *testing.T, token, host string) {
		h := s.agent.Handler()
		r := httptest.NewRequest(http.MethodGet, "http://x/v1/credentials", nil)
		r.Host = host
		r.Header["Authorization"] = []string{token}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		switch w.Code {
		case 200, 400, 403, 500:
		default:
			t.Errorf("status %d: %s", w.Code, w.Body)
		}
		if w.Code == 200 && w.Header().Get("Content-Type") != "application/json" {
			t.Errorf("200 with content type %q", w.Header().Get("Content-Type"))
		}
		if w.Code != 200 && strings.Contains(w.Body.String(), token) && len(token) > 8 {
			t.Errorf("error body echoes the token")
		}
	})
}

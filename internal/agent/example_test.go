package agent_test

import (
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"time"

	"github.com/podid/podid/internal/agent"
)

// staticSource stands in for EKS Auth (agent.Upstream over an
// eksauthclient.Client in the real agent).
type staticSource struct{ calls int }

func (s *staticSource) Credentials(_ context.Context, req agent.Request) (*agent.Credentials, error) {
	s.calls++
	return agent.NewCredentials("ASIAEXAMPLE", "secret", "session", "111122223333",
		time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)), nil
}

func Example() {
	src := &staticSource{}
	a, err := agent.New(agent.Config{
		Cluster:  "c1",
		Upstream: src,
		Listen:   []string{"127.0.0.1:2704"}, // loopback: 127.0.0.1 is an allowed Host
		Logger:   discardLogger(),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer a.Cache().Close()
	// A token shaped like a projected service-account token (the agent
	// checks its shape and time claims; EKS Auth verifies it).
	token := "eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjE5MjQ5OTIwMDB9.c2lnbmF0dXJl" // exp 2031-01-01

	for range 2 {
		r := httptest.NewRequest("GET", "http://127.0.0.1:2704/v1/credentials", nil)
		r.Header.Set("Authorization", token)
		w := httptest.NewRecorder()
		a.Handler().ServeHTTP(w, r)
		body, _ := io.ReadAll(w.Body)
		fmt.Println(w.Code, w.Header().Get("Content-Type"), string(body))
	}
	fmt.Println("upstream calls:", src.calls)
	// Output:
	// 200 application/json {"AccessKeyId":"ASIAEXAMPLE","SecretAccessKey":"secret","Token":"session","AccountId":"111122223333","Expiration":"2030-01-02T03:04:05Z"}
	// 200 application/json {"AccessKeyId":"ASIAEXAMPLE","SecretAccessKey":"secret","Token":"session","AccountId":"111122223333","Expiration":"2030-01-02T03:04:05Z"}
	// upstream calls: 1
}

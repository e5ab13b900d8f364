package agent_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// The goal (issue 3): agent cache hits reach at least 0.8 of the
// throughput of a canned handler that returns the same JSON.
//
//	go test ./internal/agent -run '^$' -bench 'CacheHitVsCanned' -benchtime 2s
//
// reports each side's ns/op and the ratio canned/agent (the agent's
// throughput as a fraction of the canned handler's), through a direct
// ServeHTTP call and through a loopback HTTP server.

// discardWriter is a ResponseWriter that keeps nothing, so the direct
// benchmarks measure the handlers alone.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(int)             {}

// canned returns the given body as the agent does, doing nothing else,
// routed by a ServeMux as the agent's handler is.
func canned(body []byte) http.Handler {
	ct := []string{"application/json"}
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/credentials", func(w http.ResponseWriter, _ *http.Request) {
		w.Header()["Content-Type"] = ct
		w.Write(body)
	})
	return mux
}

// benchSetup returns the agent's handler with tok cached, a canned handler
// with the same response, and a request carrying tok.
func benchSetup(b *testing.B) (agentH, cannedH http.Handler, req func() *http.Request) {
	b.Helper()
	s := newStack(b)
	tok := podToken(b, s.clock.Now(), "app1")
	status, _, body := s.get(b, tok)
	if status != 200 {
		b.Fatalf("warm-up: %d %s", status, body)
	}
	r := httptest.NewRequest(http.MethodGet, "http://169.254.170.23/v1/credentials", nil)
	r.Header.Set("Authorization", tok)
	return s.agent.Handler(), canned([]byte(body)), func() *http.Request { return r }
}

func direct(h http.Handler, r *http.Request) func(b *testing.B) {
	return func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			w := &discardWriter{h: http.Header{}}
			for pb.Next() {
				h.ServeHTTP(w, r)
			}
		})
	}
}

func overHTTP(h http.Handler, token string) func(b *testing.B) {
	return func(b *testing.B) {
		srv := httptest.NewServer(h)
		defer srv.Close()
		tr := &http.Transport{MaxIdleConnsPerHost: 64}
		defer tr.CloseIdleConnections()
		client := &http.Client{Transport: tr}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/credentials", nil)
			req.Header.Set("Authorization", token)
			for pb.Next() {
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Errorf("status %d", resp.StatusCode)
					return
				}
			}
		})
	}
}

func BenchmarkAgentCacheHit(b *testing.B) {
	agentH, _, req := benchSetup(b)
	b.Run("direct", direct(agentH, req()))
	b.Run("http", overHTTP(agentH, req().Header.Get("Authorization")))
}

func BenchmarkCannedHandler(b *testing.B) {
	_, cannedH, req := benchSetup(b)
	b.Run("direct", direct(cannedH, req()))
	b.Run("http", overHTTP(cannedH, req().Header.Get("Authorization")))
}

// BenchmarkCacheHitVsCanned measures both in one run and reports the
// ratio (goal ≥ 0.8).
func BenchmarkCacheHitVsCanned(b *testing.B) {
	agentH, cannedH, req := benchSetup(b)
	tok := req().Header.Get("Authorization")
	for _, mode := range []struct {
		name string
		run  func(http.Handler) func(*testing.B)
	}{
		{"direct", func(h http.Handler) func(*testing.B) { return direct(h, req()) }},
		{"http", func(h http.Handler) func(*testing.B) { return overHTTP(h, tok) }},
	} {
		b.Run(mode.name, func(b *testing.B) {
			for b.Loop() {
				a := testing.Benchmark(mode.run(agentH))
				c := testing.Benchmark(mode.run(cannedH))
				b.ReportMetric(float64(a.NsPerOp()), "agent-ns/op")
				b.ReportMetric(float64(c.NsPerOp()), "canned-ns/op")
				b.ReportMetric(float64(a.AllocsPerOp()), "agent-allocs/op")
				b.ReportMetric(float64(c.NsPerOp())/float64(a.NsPerOp()), "ratio")
			}
		})
	}
}

package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/google/uuid"
)

// CannedResponse is one route of the canned-response server: a Go 1.22
// ServeMux pattern ("GET /clusters/{name}") and the JSON body it returns.
type CannedResponse struct {
	Pattern string `json:"pattern"`
	Body    []byte `json:"body"`
	// Plain sends only Content-Type, as the node agent answers; without
	// it a fresh X-Amzn-RequestId goes too, as the AWS APIs answer.
	Plain bool `json:"plain,omitempty"`
}

// CannedHandler answers each pattern with its fixed body and the headers
// podid sends (Content-Type, a fresh X-Amzn-RequestId), after reading the
// request body as a real server would. It is the "limit" the bench measures
// podid against: the same HTTP stack and response bytes, no work.
func CannedHandler(responses []CannedResponse) (http.Handler, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
	})
	for _, r := range responses {
		body, plain := r.Body, r.Plain
		var err error
		func() {
			defer func() {
				if p := recover(); p != nil {
					err = fmt.Errorf("canned route %q: %v", r.Pattern, p)
				}
			}()
			mux.HandleFunc(r.Pattern, func(w http.ResponseWriter, req *http.Request) {
				// Read (and bound) the request body like podid does.
				_, _ = io.Copy(io.Discard, io.LimitReader(req.Body, 1<<20))
				h := w.Header()
				h["Content-Type"] = []string{"application/json"}
				if !plain {
					h["X-Amzn-Requestid"] = []string{uuid.NewString()}
				}
				_, _ = w.Write(body)
			})
		}()
		if err != nil {
			return nil, err
		}
	}
	return mux, nil
}

// ServeCanned serves CannedHandler(responses) on addr until ctx ends.
func ServeCanned(ctx context.Context, addr string, responses []CannedResponse) error {
	h, err := CannedHandler(responses)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// ReadCannedFile reads the responses file the bench writes for its
// canned-server child.
func ReadCannedFile(path string) ([]CannedResponse, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading canned responses: %w", err)
	}
	var rs []CannedResponse
	if err := json.Unmarshal(b, &rs); err != nil {
		return nil, fmt.Errorf("parsing canned responses %s: %w", path, err)
	}
	return rs, nil
}

func writeCannedFile(path string, rs []CannedResponse) error {
	b, err := json.Marshal(rs)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o600)
}

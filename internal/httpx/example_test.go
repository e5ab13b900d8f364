package httpx_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"

	"github.com/podid/podid/internal/httpx"
	"github.com/podid/podid/internal/store"
)

// A handler family mounts into the host and returns errors; the host maps
// them once and writes them in the family's protocol.
func Example() {
	host := httpx.New(httpx.Config{Logger: slog.New(slog.DiscardHandler)})
	err := host.Handle("GET /clusters/{name}", httpx.EKS, "DescribeCluster", func(w http.ResponseWriter, r *http.Request) error {
		if r.PathValue("name") != "dev" {
			return fmt.Errorf("reading cluster: %w", store.ErrNotFound)
		}
		return httpx.WriteJSON(w, map[string]string{"name": "dev"})
	})
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(host)
	defer srv.Close()

	for _, path := range []string{"/clusters/dev", "/clusters/prod", "/nodegroups"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), string(body))
	}
	// Output:
	// 200  {"name":"dev"}
	// 404 ResourceNotFoundException {"__type":"ResourceNotFoundException","message":"No cluster found for name: prod.","clusterName":"prod"}
	// 404 UnknownOperationException {"__type":"UnknownOperationException","message":"No operation matches GET /nodegroups."}
}

package bench_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/podid/podid/internal/bench"
)

// A canned-response server answers every request of a route with the same
// bytes, as the baseline the bench compares podid against.
func ExampleCannedHandler() {
	h, err := bench.CannedHandler([]bench.CannedResponse{
		{Pattern: "GET /clusters/{name}", Body: []byte(`{"cluster":{"name":"c1"}}`)},
	})
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/clusters/c1")
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("X-Amzn-RequestId") != "")
	fmt.Println(string(body))
	// Output:
	// 200 application/json true
	// {"cluster":{"name":"c1"}}
}

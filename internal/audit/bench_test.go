package audit_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/podid/podid/internal/audit"
	"github.com/podid/podid/internal/httpx"
	"github.com/podid/podid/internal/store/sqlite"
)

// BenchmarkHostWrite is one EKS write through the host, without and with
// the audit recorder (SQLite, batched appends): the recorder's cost on
// the request path, and in cpu-ns/op its whole cost (the event built, and
// appended by the recorder's goroutine; audited less plain). Its
// "dropped" metric must stay 0 (the appends keep up).
func BenchmarkHostWrite(b *testing.B) {
	for _, recorded := range []bool{false, true} {
		name := "plain"
		if recorded {
			name = "audited"
		}
		b.Run(name, func(b *testing.B) {
			cfg := httpx.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
			var rec *audit.Recorder
			if recorded {
				st, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "db"))
				if err != nil {
					b.Fatal(err)
				}
				defer st.Close()
				rec = audit.New(audit.Config{Store: st, Region: "us-east-1", AccountID: "000000000000",
					ClusterARN: func(r, n string) string { return "arn:aws:eks:" + r + ":000000000000:cluster/" + n }})
				rec.Start()
				cfg.Observer = rec
			}
			host := httpx.New(cfg)
			err := host.Handle("POST /clusters/{name}/things", httpx.EKS, "CreateThing", func(w http.ResponseWriter, r *http.Request) error {
				var in map[string]any
				if err := httpx.DecodeJSON(r, &in); err != nil {
					return err
				}
				return httpx.WriteJSON(w, map[string]any{"ok": true})
			})
			if err != nil {
				b.Fatal(err)
			}
			body := `{"namespace":"default","serviceAccount":"app","roleArn":"arn:aws:iam::000000000000:role/app"}`
			b.ReportAllocs()
			b.ResetTimer()
			start := audit.ProcessCPU()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req := httptest.NewRequest(http.MethodPost, "/clusters/dev/things", strings.NewReader(body))
					w := httptest.NewRecorder()
					host.ServeHTTP(w, req)
					if w.Code != http.StatusOK {
						b.Errorf("status %d", w.Code)
						return
					}
				}
			})
			if rec != nil {
				rec.Close() // the appends still queued are part of the cost
			}
			b.ReportMetric(float64(audit.ProcessCPU()-start)/float64(b.N), "cpu-ns/op")
			b.StopTimer()
			if rec != nil {
				s := rec.Stats()
				b.ReportMetric(float64(s.Dropped), "dropped")
				b.ReportMetric(float64(s.Stored)/float64(b.N), "stored/op")
			}
		})
	}
}

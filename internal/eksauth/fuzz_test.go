package eksauth_test

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"testing"
)

// FuzzAssumeRoleForPodIdentity sends arbitrary cluster names and bodies:
// never a panic, always a restJson1 answer, success only for the token
// podid signed.
func FuzzAssumeRoleForPodIdentity(f *testing.F) {
	e := newBenchEnv(f)
	good, _ := json.Marshal(map[string]string{"token": e.token})
	f.Add("c1", good)
	f.Add("c1", []byte(`{"token":"a.b.c","eksNodeName":"n","instanceId":"i","zone":"z"}`))
	f.Add("c1", []byte(`{"token":null}`))
	f.Add("c1", []byte(`[]`))
	f.Add("nope", good)
	f.Add("-x", []byte(`{}`))
	f.Fuzz(func(t *testing.T, cluster string, body []byte) {
		req := httptest.NewRequest("POST", "/clusters/"+url.PathEscape(cluster)+"/assume-role-for-pod-identity", bytes.NewReader(body))
		rec := httptest.NewRecorder()
		e.mux.ServeHTTP(rec, req)
		if rec.Code == 404 && rec.Header().Get("X-Amzn-ErrorType") == "" {
			return // the mux's own 404: the path did not match the route
		}
		var out map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("%d answer is not JSON: %q", rec.Code, rec.Body)
		}
		if rec.Code == 200 {
			if cluster != "c1" || !bytes.Contains(body, []byte(e.token)) {
				t.Fatalf("credentials for cluster %q body %q", cluster, body)
			}
			return
		}
		if out["__type"] == nil || rec.Header().Get("X-Amzn-ErrorType") != out["__type"] {
			t.Fatalf("%d error without a matching type: %v", rec.Code, out)
		}
	})
}

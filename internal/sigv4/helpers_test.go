package sigv4_test

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"

	"github.com/podid/podid/internal/sigv4"
)

func sha256hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// authenticated serves next behind auth.Authenticate; a refusal is a bare
// 401 (the host writes the real answer; these tests look only at whether
// the request got through).
func authenticated(auth *sigv4.Authenticator, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ar, err := auth.Authenticate(r)
		if err != nil {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, ar)
	})
}

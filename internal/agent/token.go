package agent

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// MaxTokenSize bounds the service-account token the agent accepts.
// Projected tokens are about 1 KiB.
const MaxTokenSize = 16 << 10

// Claims are a token's time claims; a zero time means absent.
type Claims struct {
	Expiry, NotBefore, IssuedAt time.Time
}

// jwsAlgorithms are the "alg" values a JWS may name (RFC 7518 and
// RFC 8037), as golang-jwt knows them.
var jwsAlgorithms = map[string]bool{
	"none": true, "HS256": true, "HS384": true, "HS512": true, "RS256": true, "RS384": true, "RS512": true,
	"ES256": true, "ES384": true, "ES512": true, "PS256": true, "PS384": true, "PS512": true, "EdDSA": true,
}

// ParseClaims reads a JWT's header and time claims without verifying its
// signature, as the AWS agent does: EKS Auth verifies the token. Error
// texts follow golang-jwt/v5, which the AWS agent uses.
func ParseClaims(token string) (Claims, error) {
	if len(token) > MaxTokenSize {
		return Claims{}, fmt.Errorf("token is malformed: token is longer than %d bytes", MaxTokenSize)
	}
	header, rest, ok1 := strings.Cut(token, ".")
	payload, sig, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.Contains(sig, ".") {
		return Claims{}, errors.New("token is malformed: token contains an invalid number of segments")
	}
	hb, err := base64.RawURLEncoding.DecodeString(header)
	if err != nil {
		return Claims{}, fmt.Errorf("token is malformed: could not base64 decode header: %w", err)
	}
	var h struct {
		Alg any `json:"alg"`
	}
	if err := json.Unmarshal(hb, &h); err != nil {
		return Claims{}, fmt.Errorf("token is malformed: could not JSON decode header: %w", err)
	}
	pb, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return Claims{}, fmt.Errorf("token is malformed: could not base64 decode claim: %w", err)
	}
	var p struct {
		Exp, Nbf, Iat numericDate
	}
	if err := json.Unmarshal(pb, &p); err != nil {
		return Claims{}, fmt.Errorf("token is malformed: could not JSON decode claim: %w", err)
	}
	alg, ok := h.Alg.(string)
	if !ok {
		return Claims{}, errors.New("token is unverifiable: signing method (alg) is unspecified")
	}
	if !jwsAlgorithms[alg] {
		return Claims{}, errors.New("token is unverifiable: signing method (alg) is unavailable")
	}
	return Claims{Expiry: p.Exp.Time, NotBefore: p.Nbf.Time, IssuedAt: p.Iat.Time}, nil
}

// numericDate is a JWT NumericDate: JSON number of seconds, truncated to
// whole seconds as golang-jwt does by default.
type numericDate struct{ time.Time }

func (d *numericDate) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1e15 {
		return fmt.Errorf("could not parse NumericDate %.40q", b)
	}
	d.Time = time.Unix(int64(f), 0)
	return nil
}

// Validate checks exp and nbf against now, with golang-jwt's default
// validator's rules and texts (iat is parsed but not compared).
func (c Claims) Validate(now time.Time) error {
	var errs []string
	if !c.Expiry.IsZero() && !now.Before(c.Expiry) {
		errs = append(errs, "token is expired")
	}
	if !c.NotBefore.IsZero() && now.Before(c.NotBefore) {
		errs = append(errs, "token is not valid yet")
	}
	if len(errs) == 0 {
		return nil
	}
	return errors.New("token has invalid claims: " + strings.Join(errs, ", "))
}

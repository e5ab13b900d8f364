package httpx_test

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/podid/podid/internal/httpx"
)

type assocInput struct {
	RoleArn string            `json:"roleArn"`
	Tags    map[string]string `json:"tags"`
	Inner   *struct {
		Name string `json:"name"`
	} `json:"inner"`
}

func decode(body string) (assocInput, error) {
	var in assocInput
	r := httptest.NewRequest("POST", "/", strings.NewReader(body))
	err := httpx.DecodeJSON(r, &in)
	return in, err
}

// Member names are case-sensitive, a member named twice is refused and
// invalid UTF-8 is refused, as AWS's JSON parsers do.
func TestDecodeJSONStrict(t *testing.T) {
	in, err := decode(`{"roleArn":"arn:a","ROLEARN":"arn:evil","inner":{"NAME":"x","name":"y"}}`)
	if err != nil || in.RoleArn != "arn:a" || in.Inner == nil || in.Inner.Name != "y" {
		t.Errorf("case-folded members: %+v %v, want roleArn arn:a and name y (ROLEARN and NAME unknown)", in, err)
	}
	if in, err := decode(`{"ROLEARN":"arn:evil"}`); err != nil || in.RoleArn != "" {
		t.Errorf("ROLEARN alone: %+v %v, want it ignored", in, err)
	}
	for _, body := range []string{
		`{"roleArn":"a","roleArn":"b"}`,
		`{"tags":{"k":"1","k":"2"}}`,
		`{"inner":{"name":"a","name":"b"}}`,
		"{\"tags\":{\"k\":\"\xff\xfe\"}}",
		"{\"roleArn\":\"a\"}\xff",
		`{"roleArn":"\ud800"}`,
		`{"roleArn":"a\uDBFFb"}`,
		`{"tags":{"\udc00":"v"}}`,
		`{"tags":{"k":"\ud800\u0041"}}`,
		`{"roleArn":"\ud800\\udc00"}`,
		`{"roleArn":"\udc00\ud800"}`,
		`{"roleArn":"x\ud83d`,
	} {
		_, err := decode(body)
		var de *httpx.DecodeError
		if !errors.As(err, &de) {
			t.Errorf("%q: %v, want a DecodeError (SerializationException)", body, err)
		}
	}
}

// An escaped surrogate pair is one character; an escaped backslash before
// "u" is no escape.
func TestDecodeJSONSurrogates(t *testing.T) {
	for body, want := range map[string]string{
		`{"roleArn":"\ud83d\ude00"}`:   "\U0001F600",
		`{"roleArn":"a\uD83D\uDE00b"}`: "a\U0001F600b",
		`{"roleArn":"\\ud800"}`:        `\ud800`,
		`{"roleArn":"\ufffd"}`:         "\uFFFD",
	} {
		in, err := decode(body)
		if err != nil || in.RoleArn != want {
			t.Errorf("%s: %q %v, want %q", body, in.RoleArn, err, want)
		}
	}
	_, err := decode(`{"roleArn":"\ud800"}`)
	if err == nil || err.Error() != `decoding request body: Invalid JSON: \ud800 is a lone UTF-16 surrogate, not a character.` {
		t.Errorf("lone surrogate: %v", err)
	}
}

// FuzzDecodeJSON: any body decodes or is a DecodeError, never a panic; what
// decodes was valid UTF-8 and its strings stay so.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{"roleArn":"a","tags":{"k":"v"},"inner":{"name":"n"}}`, `{"ROLEARN":1}`, `[]`, `{"a":[{"b":{}}]}`, "{\"x\":\"\xff\"}", `{"roleArn":"a","roleArn":"a"}`, `{"roleArn":"\ud800"}`, `{"tags":{"\ud83d\ude00":"\udc00"}}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		in, err := decode(body)
		var de *httpx.DecodeError
		if err != nil && !errors.As(err, &de) {
			t.Fatalf("%q: %T %v", body, err, err)
		}
		if err == nil && strings.TrimSpace(body) != "" && !utf8.ValidString(body) {
			t.Fatalf("%q: invalid UTF-8 accepted", body)
		}
		// U+FFFD only where the body wrote it: a lone surrogate is
		// refused, never replaced.
		wrote := strings.Contains(body, "\uFFFD") || strings.Contains(strings.ToLower(body), `\ufffd`)
		for _, s := range []string{in.RoleArn} {
			if strings.ContainsRune(s, utf8.RuneError) && !wrote {
				t.Fatalf("%q: decoded %q holds U+FFFD the body did not write", body, s)
			}
		}
		for k, v := range in.Tags {
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				t.Fatalf("tag %q=%q not UTF-8", k, v)
			}
			if (strings.ContainsRune(k, utf8.RuneError) || strings.ContainsRune(v, utf8.RuneError)) && !wrote {
				t.Fatalf("%q: tag %q=%q holds U+FFFD the body did not write", body, k, v)
			}
		}
	})
}

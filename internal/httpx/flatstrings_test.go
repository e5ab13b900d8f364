package httpx

import (
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// flatInput has the fields flatStrings sets and ones it leaves to the
// general path.
type flatInput struct {
	Token    string `json:"token"`
	Node     string `json:"eksNodeName,omitempty"`
	Untagged string
	Quoted   string  `json:"quoted,string"`
	Count    int     `json:"count"`
	Skipped  string  `json:"-"`
	Role     *string `json:"roleArn,omitempty"`
	PtrQuote *string `json:"ptrQuoted,string"`
	Flag     *bool   `json:"flag,omitempty"`
}

// generalDecode is DecodeJSON's path without flatStrings.
func generalDecode(body []byte, v any) error {
	b, err := strictJSON(body, v)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

func TestFlatStrings(t *testing.T) {
	for _, tt := range []struct {
		body string
		flat bool
	}{
		{`{"token":"a.b.c","eksNodeName":"n1"}`, true},
		{" {\n\t\"token\" : \"a.b.c\" , \"Untagged\":\"u\"}\r\n", true},
		{`{}`, true},
		{`{"token":"a\"b"}`, false},          // an escape
		{`{"token":"a","token":"b"}`, false}, // named twice: refused by the general path
		{`{"TOKEN":"a"}`, false},             // case-folded: ignored by the general path
		{`{"other":"a"}`, false},
		{`{"token":null}`, false},
		{`{"count":"1"}`, false},
		{`{"quoted":"\"q\""}`, false},
		{`{"Skipped":"s"}`, false},
		{`{"token":"a"} x`, false},
		{`{"token":"a",}`, false},
		{`{"token":"a"`, false},
		{"{\"token\":\"a\tb\"}", false},
		{`[]`, false},
		{`{"roleArn":"arn:aws:iam::111122223333:role/r","token":"t"}`, true},
		{`{"roleArn":""}`, true},
		{`{"roleArn":null}`, false},
		{`{"roleArn":"a","roleArn":"b"}`, false},
		{`{"ptrQuoted":"\"q\""}`, false},
		{`{"flag":true}`, false},
	} {
		var got, want flatInput
		flat := flatStrings([]byte(tt.body), &got)
		if flat != tt.flat {
			t.Errorf("flatStrings(%q) = %v, want %v", tt.body, flat, tt.flat)
		}
		if !flat {
			continue
		}
		if err := generalDecode([]byte(tt.body), &want); err != nil {
			t.Errorf("%q: the general path refuses it: %v", tt.body, err)
		}
		if diff := cmp.Diff(got, want); diff != "" {
			t.Errorf("%q (-flat +general):\n%s", tt.body, diff)
		}
	}
}

// FuzzFlatStrings: whatever flatStrings decodes, the general path decodes
// to the same value.
func FuzzFlatStrings(f *testing.F) {
	for _, s := range []string{`{"token":"a.b.c","eksNodeName":"n1"}`, `{"Untagged":"x","token":""}`, `{ }`, `{"token":"\u00e9"}`, "{\"token\":\"\xc3\xa9\"}", `{"roleArn":"r","token":"t"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		if !utf8.ValidString(body) {
			return // DecodeJSON checks it first
		}
		var got, want flatInput
		if !flatStrings([]byte(body), &got) {
			if diff := cmp.Diff(got, flatInput{}); diff != "" {
				t.Fatalf("%q: refused, yet set (-got +zero):\n%s", body, diff)
			}
			return
		}
		if err := generalDecode([]byte(body), &want); err != nil {
			t.Fatalf("%q: flat, but the general path refuses it: %v", body, err)
		}
		if diff := cmp.Diff(got, want); diff != "" {
			t.Fatalf("%q (-flat +general):\n%s", body, diff)
		}
	})
}

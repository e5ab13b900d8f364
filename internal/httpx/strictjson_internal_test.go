package httpx

import (
	"encoding/json"
	"reflect"
	"testing"
)

type plainInput struct {
	Token     string   `json:"token"`
	Node      string   `json:"eksNodeName"`
	N         int      `json:"n"`
	List      []string `json:"list"`
	Tags      map[string]string
	Something *struct {
		A string `json:"a"`
	} `json:"something"`
}

var plainSeeds = []string{
	`{}`, ` { } `, `{"token":"a.b.c"}`, `{"token":"a\"b","eksNodeName":"n1"}`, `{"token":"x","n":3,"list":["a","b"]}`,
	`{"token":"x","token":"y"}`, `{"TOKEN":"x"}`, `{"token":"x","Token":"y"}`, `{"tags":{"a":"1"}}`,
	`{"Tags":{"a":"1","a":"2"}}`, `{"something":{"a":"1","a":"2"}}`, `{"something":null}`, `{"list":[{"a":1}]}`,
	`{"to\u006ben":"x"}`, `{"token":"x"} x`, `{"token":"x"}{}`, `[1]`, `"x"`, `{"n":1e3}`, `{"token":"}{,]["}`,
	`{"list":[["a"],[]],"token":"t"}`, `{"unknown":1}`, `{"token":"x",}`, `{"token" : "x" , "n" : 2}`,
}

// TestPlainObject: wherever plainObject lets a body through, decoding it
// directly gives what decoding strictJSON's rewrite of it gives.
func TestPlainObject(t *testing.T) {
	fast := 0
	for _, s := range plainSeeds {
		if checkPlain(t, []byte(s)) {
			fast++
		}
	}
	if fast < 8 {
		t.Errorf("plainObject took %d of %d seeds, want at least 8", fast, len(plainSeeds))
	}
}

func FuzzPlainObject(f *testing.F) {
	for _, s := range plainSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) { checkPlain(t, body) })
}

func checkPlain(t *testing.T, body []byte) bool {
	t.Helper()
	if !plainObject(body, reflect.TypeFor[*plainInput]()) {
		return false
	}
	rewritten, err := rewriteJSON(body, &plainInput{})
	if err != nil {
		t.Fatalf("%s: plainObject takes it, the rewrite refuses it: %v", body, err)
	}
	var direct, slow plainInput
	derr := json.Unmarshal(body, &direct)
	serr := json.Unmarshal(rewritten, &slow)
	if (derr != nil) != (serr != nil) || !reflect.DeepEqual(direct, slow) {
		t.Errorf("%s: direct %+v (%v), through the rewrite %+v (%v)", body, direct, derr, slow, serr)
	}
	return true
}

package eksapi

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
)

// MaxMemberIndex bounds the N of an awsQuery list parameter
// ("Tags.member.N").
const MaxMemberIndex = 1000

// CheckMemberIndices refuses an awsQuery form whose list parameters
// ("PREFIX.member.N...") carry an index that is not canonical decimal
// (leading zeros, a sign) or is outside 1..MaxMemberIndex: "Tags.member.1"
// and "Tags.member.01" would otherwise name one element twice, one of them
// chosen at random. The error's text is the message to send.
func CheckMemberIndices(params url.Values) error {
	for _, k := range slices.Sorted(maps.Keys(params)) { // the same refusal every time
		rest := k
		for {
			_, after, ok := strings.Cut(rest, ".member.")
			if !ok {
				break
			}
			ns, tail, _ := strings.Cut(after, ".")
			if !canonicalIndex(ns) {
				return fmt.Errorf("Invalid list index '%s' in parameter '%s': an index is a number from 1 to %d without leading zeros.", ns, k, MaxMemberIndex)
			}
			rest = tail
		}
	}
	return nil
}

func canonicalIndex(s string) bool {
	if s == "" || len(s) > 4 || s[0] == '0' {
		return false
	}
	n := 0
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + int(c-'0')
	}
	return n <= MaxMemberIndex
}

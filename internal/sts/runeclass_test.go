package sts

import (
	"strings"
	"testing"
)

// FuzzRuneClass checks that a runeClass's ASCII table answers as its
// rune function does, for every class validate uses.
func FuzzRuneClass(f *testing.F) {
	for _, s := range []string{"", "eks-c1-app-0", "kubernetes-pod-uid", "a b\tc", "Ünïcödé_ok", "x\x00y", "a\xffb", "tag value+=@", "日本語 ２", "~!#$%"} {
		f.Add(s)
	}
	classes := map[string]*runeClass{"sessionName": sessionNameClass, "externalID": externalIDClass, "tag": tagClass}
	f.Fuzz(func(t *testing.T, s string) {
		for name, c := range classes {
			want := strings.IndexFunc(s, func(r rune) bool { return !c.ok(r) }) < 0
			if got := c.all(s); got != want {
				t.Errorf("%s class: all(%q) = %v, want %v", name, s, got, want)
			}
		}
	})
}

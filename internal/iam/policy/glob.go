package policy

import "unicode/utf8"

// Wildcards in a compiled pattern: any other element is a literal byte.
const (
	globStar  int16 = -1 // "*": any run of characters, empty included
	globQuest int16 = -2 // "?": exactly one character
)

// glob is a compiled wildcard pattern: literal bytes, globStar and
// globQuest. Literal "*" and "?" (from the ${*} and ${?} escapes or a
// substituted variable) are plain bytes, so they match only themselves.
type glob []int16

// appendWild appends s with "*" and "?" as wildcards.
func (g glob) appendWild(s string) glob {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '*':
			g = append(g, globStar)
		case '?':
			g = append(g, globQuest)
		default:
			g = append(g, int16(s[i]))
		}
	}
	return g
}

// appendLiteral appends s with every byte literal.
func (g glob) appendLiteral(s string) glob {
	for i := 0; i < len(s); i++ {
		g = append(g, int16(s[i]))
	}
	return g
}

// match reports whether s matches g. With fold, ASCII letters compare
// case-insensitively (g must then hold lower-case literals). "?" matches
// one UTF-8 character. The classic linear-backtracking algorithm: on a
// mismatch after a star, the star absorbs one more character; O(len(g)*len(s))
// at worst, no allocation.
func (g glob) match(s string, fold bool) bool {
	pi, si := 0, 0
	starP, starS := -1, 0
	for si < len(s) {
		if pi < len(g) {
			switch p := g[pi]; p {
			case globStar:
				starP, starS = pi, si
				pi++
				continue
			case globQuest:
				_, n := utf8.DecodeRuneInString(s[si:])
				pi++
				si += n
				continue
			default:
				c := s[si]
				if fold && 'A' <= c && c <= 'Z' {
					c += 'a' - 'A'
				}
				if int16(c) == p {
					pi++
					si++
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		// Backtrack: the last star takes one more character.
		_, n := utf8.DecodeRuneInString(s[starS:])
		starS += n
		pi, si = starP+1, starS
	}
	for pi < len(g) && g[pi] == globStar {
		pi++
	}
	return pi == len(g)
}

// hasWild reports whether s holds a wildcard character.
func hasWild(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '*' || s[i] == '?' {
			return true
		}
	}
	return false
}

// lowerASCII returns s with ASCII letters lower-cased (no copy when there
// are none).
func lowerASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; 'A' <= c && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

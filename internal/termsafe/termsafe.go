// Package termsafe makes text that comes from outside the program, such as file names, safe
// to print on a terminal or in a log line.
//
// A file name may hold any byte but '/' and NUL: an escape sequence ("\x1b[2J" clears the
// screen), a newline (which splits one error line into two, the second looking like another
// message), a carriage return, a right-to-left override. Name is the one function imgpipe
// passes every name through before printing it.
package termsafe

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// Name returns s as it may be printed: unchanged when every character is printable (letters,
// marks, numbers, punctuation, symbols and the ASCII space) and s does not start with a
// double quote, otherwise quoted with Go's escapes (strconv.Quote), so that a control
// character, an invalid byte or an invisible format character reaches the terminal as
// visible text. Names that need no quoting, which are nearly all, cost one scan and no
// allocation. A quoted name is told from a plain one by its leading quote, which is why a
// name that starts with one is quoted too.
//
// Name also serves as the last line of defence for a whole message whose parts come from
// elsewhere: a message that holds no unsafe character is printed as it is.
func Name(s string) string {
	if needsQuoting(s) {
		return strconv.Quote(s)
	}
	return s
}

func needsQuoting(s string) bool {
	if strings.HasPrefix(s, `"`) {
		return true
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || !strconv.IsPrint(r) {
			return true
		}
		i += size
	}
	return false
}

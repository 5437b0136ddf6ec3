package main

import (
	"io"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// textField renders a key, value or member for one field of a line of
// text output (ls, watch, set members): as it is when it is printable
// UTF-8 with none of the separators seps and does not start with a quote;
// else Go-quoted ("a\nb", "\x00\xff"), so every line stays one line and
// its fields stay apart. -o json gives the exact bytes.
func textField(b []byte, seps string) string {
	s := string(b)
	if printable(s) && !strings.ContainsAny(s, seps) && !strings.HasPrefix(s, `"`) {
		return s
	}
	return strconv.Quote(s)
}

// printable reports whether s is valid UTF-8 of printable characters and
// spaces (no tab, newline or other control character).
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r != ' ' && !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// writeValue writes a value as `get` prints it: the raw bytes, like cat,
// and, on a terminal, a newline after them if they do not end with one, so
// the prompt starts on its own line.
func writeValue(w io.Writer, v []byte) error {
	if _, err := w.Write(v); err != nil {
		return err
	}
	if isTerminal(w) && (len(v) == 0 || v[len(v)-1] != '\n') {
		_, err := io.WriteString(w, "\n")
		return err
	}
	return nil
}

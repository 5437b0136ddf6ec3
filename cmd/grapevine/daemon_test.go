package main

import (
	"slices"
	"testing"

	libp2ppeer "github.com/libp2p/go-libp2p/core/peer"
)

func TestParseWriters(t *testing.T) {
	const a, b = "12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf", "12D3KooWH3uVF6wv47WnArKHk5p6cvgCJEb74UTmxztmQDc298L3"
	ida, _ := libp2ppeer.Decode(a)
	idb, _ := libp2ppeer.Decode(b)
	for _, in := range [][]string{
		{"pay=" + a + "," + b, "audit=" + b},   // as typed
		{"pay=" + a, b, "audit=" + b},          // as the flag library splits commas
		{"pay=" + a + "," + b + ";audit=" + b}, // the env var
	} {
		w, err := parseWriters(in)
		if err != nil || !slices.Equal(w["pay"], []libp2ppeer.ID{ida, idb}) || !slices.Equal(w["audit"], []libp2ppeer.ID{idb}) || len(w) != 2 {
			t.Errorf("parseWriters(%q) = %v, %v", in, w, err)
		}
	}
	for _, in := range [][]string{{a}, {"pay="}, {"=" + a}, {"pay=nope"}, {"pay=" + a + ";" + b}} {
		if w, err := parseWriters(in); err == nil {
			t.Errorf("parseWriters(%q) = %v, want an error", in, w)
		}
	}
	if w, err := parseWriters(nil); err != nil || w != nil {
		t.Errorf("parseWriters(nil) = %v, %v", w, err)
	}
}

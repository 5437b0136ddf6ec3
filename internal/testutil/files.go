package testutil

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// DirSnapshot maps every file under dir (by path relative to dir) to its
// size and SHA-256, read in a stream (a Badger value log may be a large
// sparse file). Compare two with SameSnapshot.
func DirSnapshot(tb testing.TB, dir string) map[string]string {
	tb.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		h := sha256.New()
		n, err := io.Copy(h, f)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		m[rel] = fmt.Sprintf("%d bytes, sha256 %x", n, h.Sum(nil))
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// SameSnapshot fails the test, naming each file, if after differs from
// before: a file removed, created or changed. when says what happened in
// between.
func SameSnapshot(tb testing.TB, when string, before, after map[string]string) {
	tb.Helper()
	for name, b := range before {
		if a, ok := after[name]; !ok {
			tb.Errorf("%s: %s was removed", when, name)
		} else if a != b {
			tb.Errorf("%s: %s changed: %s, was %s", when, name, a, b)
		}
	}
	for name := range after {
		if _, ok := before[name]; !ok {
			tb.Errorf("%s: %s was created", when, name)
		}
	}
}

// FilesContaining returns, for each needle, the files under dir that
// contain it; it fails the test if dir holds no file at all.
func FilesContaining(tb testing.TB, dir string, needles ...string) map[string][]string {
	tb.Helper()
	found := map[string][]string{}
	files := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		return scanFile(path, needles, func(n string) { found[n] = append(found[n], filepath.Base(path)) })
	})
	if err != nil {
		tb.Fatal(err)
	}
	if files == 0 {
		tb.Fatalf("no file under %s", dir)
	}
	return found
}

// scanFile calls hit for each needle found in the file at path. It reads
// in chunks: an open value log is a sparse file of 2 GB.
func scanFile(path string, needles []string, hit func(string)) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	overlap := 0
	for _, n := range needles {
		overlap = max(overlap, len(n)-1)
	}
	seen := map[string]bool{}
	buf := make([]byte, overlap+1<<20)
	kept := 0 // bytes carried over from the previous chunk
	for {
		m, err := io.ReadFull(f, buf[kept:])
		chunk := buf[:kept+m]
		for _, n := range needles {
			if !seen[n] && bytes.Contains(chunk, []byte(n)) {
				seen[n] = true
				hit(n)
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil
		}
		if err != nil {
			return err
		}
		kept = copy(buf, chunk[len(chunk)-min(overlap, len(chunk)):])
	}
}

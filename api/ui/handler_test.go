package ui

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"
)

// TestOffline: no embedded file names a URL of another origin (http://,
// https:// or protocol-relative //host), so the page works without a
// network. The SVG namespace is a name, never fetched.
func TestOffline(t *testing.T) {
	url := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)
	allowed := map[string]bool{"http://www.w3.org/2000/svg": true}
	files := 0
	err := fs.WalkDir(Files(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		b, err := fs.ReadFile(Files(), p)
		if err != nil {
			return err
		}
		for _, m := range url.FindAllString(string(b), -1) {
			if !allowed[m+"/2000/svg"] && !allowed[m] {
				t.Errorf("%s names %q: the dashboard must load nothing from another origin", p, m)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 3 {
		t.Fatalf("walked %d files; the embed lost the static folder?", files)
	}
}

// TestEveryReferenceResolves: each file index.html and the modules refer
// to (href, src, import ... from) is embedded.
func TestEveryReferenceResolves(t *testing.T) {
	ref := regexp.MustCompile(`(?:href|src)="([^"#:]+)"|from "(\./[^"]+)"`)
	err := fs.WalkDir(Files(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !(strings.HasSuffix(p, ".html") || strings.HasSuffix(p, ".js")) {
			return err
		}
		b, _ := fs.ReadFile(Files(), p)
		for _, m := range ref.FindAllStringSubmatch(string(b), -1) {
			target := m[1] + m[2]
			full := path.Join(path.Dir(p), target)
			if _, err := fs.Stat(Files(), full); err != nil {
				t.Errorf("%s refers to %q, which is not embedded", p, target)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestHandler: /ui/ answers the page with a policy that keeps it on its
// own origin, and the modules with a JavaScript type (browsers refuse a
// module served otherwise).
func TestHandler(t *testing.T) {
	srv := httptest.NewServer(http.StripPrefix("", Handler()))
	defer srv.Close()
	get := func(p string) (*http.Response, string) {
		t.Helper()
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, body := get("/ui/")
	if resp.StatusCode != 200 || !strings.Contains(body, `<script type="module" src="js/main.js">`) {
		t.Fatalf("GET /ui/: %d\n%s", resp.StatusCode, body)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "connect-src 'self'") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	resp, _ = get("/ui/js/main.js")
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || !strings.Contains(ct, "javascript") {
		t.Errorf("GET /ui/js/main.js: %d, Content-Type %q", resp.StatusCode, ct)
	}
	if resp, _ = get("/ui/nope.js"); resp.StatusCode != 404 {
		t.Errorf("GET /ui/nope.js: %d, want 404", resp.StatusCode)
	}
}

package main

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/grapevine-kv/grapevine/internal/testutil"
)

// screenshotsEnv names a folder to write the dashboard's screenshots to
// (docs/ keeps the one the README shows); unset, they go to a temp folder.
const screenshotsEnv = "GRAPEVINE_SCREENSHOTS"

// browser starts headless Chromium (failing, never skipping, when it is
// not installed) and returns a tab's context, cancelled at cleanup.
func browser(t *testing.T) context.Context {
	t.Helper()
	chromium := testutil.Tool(t, "chromium")
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
		// The machine's network is closed: nothing in the background.
		chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.NoDefaultBrowserCheck,
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // start the browser now
		t.Fatalf("starting %s: %v", chromium, err)
	}
	return ctx
}

// browse runs browser actions, failing the test with what the page shows.
func browse(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v\nthe page shows:\n%s", what, err, pageText(ctx))
	}
}

// waitFor waits until the JavaScript expression js is true in the page.
func waitFor(t *testing.T, ctx context.Context, what, js string) {
	t.Helper()
	wait := chromedp.Poll[chromedp.Void](js, chromedp.WithPollingTimeout(15*time.Second), chromedp.WithPollingInterval(50*time.Millisecond))
	browse(t, ctx, "waiting for "+what, wait)
}

// pageText is the page's visible text, for failure messages.
func pageText(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if err != nil {
		return "(unreadable: " + err.Error() + ")"
	}
	return s
}

// keysShown is a JS expression: the keys the key browser lists.
const keysShown = `Array.from(document.querySelectorAll("#keys tr[data-key]"), r => r.dataset.key)`

// screenshot writes a screenshot of the whole page at width×height, in the
// light or dark scheme, as name.png.
func screenshot(t *testing.T, ctx context.Context, dir, name string, width, height int64, scheme string) {
	t.Helper()
	browse(t, ctx, "emulate a "+scheme+" screen of "+fmt.Sprint(width, "x", height),
		chromedp.EmulateViewport(width, height),
		chromedp.Func(func(ctx context.Context, tgt *chromedp.Target) error {
			media := emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}}
			_, err := cdp.Call(ctx, tgt, emulation.SetEmulatedMedia, media)
			return err
		}),
	)
	buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	img, err := png.Decode(bytes.NewReader(buf))
	if err != nil {
		t.Fatalf("screenshot %s is no PNG: %v", name, err)
	}
	if b := img.Bounds(); int64(b.Dx()) != width || int64(b.Dy()) != height {
		t.Errorf("screenshot %s is %dx%d, want %dx%d", name, b.Dx(), b.Dy(), width, height)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestDashboard drives the web dashboard in headless Chromium against two
// real daemons: a key put through the API shows in the key browser, a
// prefix filters the list, a write shows in the live feed, the peers and
// namespaces tables fill in, and screenshots are taken.
func TestDashboard(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary, runs daemons and a browser")
	}
	bin := buildBinary(t)
	ctx := browser(t)
	root := t.TempDir()
	a := startDaemon(t, bin, filepath.Join(root, "a"))
	b := startDaemon(t, bin, filepath.Join(root, "b"), "--bootstrap", a.tcpAddr())
	a.waitPeers(1)
	for i := range 12 {
		a.mustCLI("put", fmt.Sprintf("app/config/%02d", i), fmt.Sprintf(`{"replicas": %d, "zone": "eu-west"}`, i))
	}
	a.mustCLI("put", "users/ada", "Ada Lovelace")
	a.mustCLI("incr", "stats/visits", "41")
	if out, err := exec.Command(bin, "set", "add", "--data", a.data, "tags/colors", "red", "green").CombinedOutput(); err != nil {
		t.Fatalf("set add: %v %s", err, out)
	}
	put := exec.Command(bin, "put", "--data", a.data, "blob/raw", "-")
	put.Stdin = strings.NewReader("\x00\x01\xfe\xffPNG\x89<script>")
	if out, err := put.CombinedOutput(); err != nil {
		t.Fatalf("put blob/raw: %v %s", err, out)
	}
	b.waitValue("users/ada", "Ada Lovelace")

	browse(t, ctx, "open the dashboard", chromedp.Navigate("http://"+a.apiAddr()+"/ui/"))
	waitFor(t, ctx, "users/ada in the key browser", keysShown+`.includes("users/ada")`)
	waitFor(t, ctx, "the binary value shown in hex", `(() => { const r = document.querySelector('#keys tr[data-key="blob/raw"] td.val'); return !!r && r.textContent.startsWith("00 01 fe ff") })()`)
	waitFor(t, ctx, "the peer in the peers table", `document.getElementById("peer-count").textContent === "1 connected" && /^\d+ (s|min)$/.test(document.querySelector("#peers tr").cells[2].textContent)`)
	waitFor(t, ctx, "the default namespace's row", `document.getElementById("namespaces").textContent.includes("default")`)
	waitFor(t, ctx, "what the peer replicates, holds and forwards", `document.getElementById("replication").textContent.startsWith("replicates * · holds default")`)

	browse(t, ctx, "type a prefix", chromedp.SendKeys(chromedp.CSS("#prefix"), "app/"))
	waitFor(t, ctx, "only app/ keys listed", `(() => { const k = `+keysShown+`; return document.getElementById("keys").dataset.prefix === "app/" && k.length > 0 && k.every(x => x.startsWith("app/")) })()`)

	// A write on the other peer arrives by gossip and shows in the feed.
	b.mustCLI("put", "app/live", "from b")
	waitFor(t, ctx, "app/live in the live feed", `!!document.querySelector('#feed li[data-key="app/live"]')`)
	waitFor(t, ctx, "app/live in the key browser", keysShown+`.includes("app/live")`)

	// Writes go on until the chart has a few samples and shows a rate, and
	// the keys fill more than one page (50).
	charted := `(() => { const l = document.querySelector("#chart-writes polyline");
		return !!l && l.points.length >= 2 && Number(document.getElementById("writes-now").textContent) > 0 })()`
	for i := 0; ; i++ {
		a.mustCLI("put", fmt.Sprintf("app/events/%03d", i), "tick")
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](charted))
		if err != nil {
			t.Fatal(err)
		}
		if ok && i >= 60 {
			break
		}
		if i == 400 {
			t.Fatalf("no writes/s shown after %d writes; the page shows:\n%s", i, pageText(ctx))
		}
	}

	dir := os.Getenv(screenshotsEnv)
	if dir == "" {
		dir = t.TempDir()
	}
	browse(t, ctx, "clear the prefix", chromedp.Evaluate[chromedp.Void](`void ((p) => { p.value = ""; p.dispatchEvent(new Event("input")) })(document.getElementById("prefix"))`))
	waitFor(t, ctx, "every key listed again", `document.getElementById("keys").dataset.prefix === "" && !document.getElementById("next").disabled`)
	browse(t, ctx, "next page", chromedp.Click(chromedp.CSS("#next")))
	waitFor(t, ctx, "page 2 through the cursor", `document.getElementById("keys").dataset.page === "2" && `+keysShown+`.length > 0 && !`+keysShown+`.includes("app/config/03")`)
	browse(t, ctx, "previous page", chromedp.Click(chromedp.CSS("#prev")))
	waitFor(t, ctx, "page 1 again", `document.getElementById("keys").dataset.page === "1" && `+keysShown+`.includes("app/config/03")`)
	browse(t, ctx, "open a value", chromedp.Click(chromedp.CSS(`#keys tr[data-key="app/config/03"]`)))
	waitFor(t, ctx, "the value's detail", `document.getElementById("detail").textContent.includes("eu-west")`)
	screenshot(t, ctx, dir, "dashboard", 1280, 800, "light")
	screenshot(t, ctx, dir, "dashboard-dark", 1280, 800, "dark")
	screenshot(t, ctx, dir, "dashboard-phone", 390, 844, "light")
	screenshot(t, ctx, dir, "dashboard-phone-dark", 390, 844, "dark")
}

// TestDashboardToken: with API tokens, the page asks for one, keeps it for
// the tab, and then shows the data.
func TestDashboardToken(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary, runs a daemon and a browser")
	}
	bin := buildBinary(t)
	ctx := browser(t)
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "tokens")
	if err := os.WriteFile(tokenFile, []byte(e2eReadToken+" read\n"+e2eWriteToken+" write\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, bin, filepath.Join(dir, "data"), "--api-token-file", tokenFile)
	d.mustCLI("put", "--token", e2eWriteToken, "secret/one", "hidden until a token")

	browse(t, ctx, "open the dashboard", chromedp.Navigate("http://"+d.apiAddr()+"/ui/"))
	waitFor(t, ctx, "the token dialog", `document.getElementById("token-dialog").open`)
	if got := pageText(ctx); strings.Contains(got, "secret/one") {
		t.Fatalf("the key shows before a token was given:\n%s", got)
	}
	browse(t, ctx, "a wrong token", chromedp.SendKeys(chromedp.CSS("#token"), "not-a-token"), chromedp.Click(chromedp.CSS("#token-ok")))
	waitFor(t, ctx, "the dialog asking again", `document.getElementById("token-dialog").open && document.getElementById("token-why").textContent.includes("does not accept")`)
	browse(t, ctx, "the read token", chromedp.SendKeys(chromedp.CSS("#token"), e2eReadToken), chromedp.Click(chromedp.CSS("#token-ok")))
	waitFor(t, ctx, "secret/one in the key browser", keysShown+`.includes("secret/one")`)
	waitFor(t, ctx, "the status with the token", `document.getElementById("conn").textContent === "live"`)
	d.mustCLI("put", "--token", e2eWriteToken, "secret/two", "2")
	waitFor(t, ctx, "secret/two in the live feed", `!!document.querySelector('#feed li[data-key="secret/two"]')`)
}

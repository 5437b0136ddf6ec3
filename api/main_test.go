package api

import (
	"testing"

	"github.com/grapevine-kv/grapevine/internal/testutil"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, append(testutil.LeakOptions(),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"), // idle keep-alive connections of net/http
	)...)
}

package resp

import (
	"testing"

	"github.com/grapevine-kv/grapevine/internal/testutil"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, append(testutil.LeakOptions(),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"), // go-redis pool connections closing
	)...)
}

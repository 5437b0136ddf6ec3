package node_test

import (
	"testing"

	"github.com/grapevine-kv/grapevine/internal/testutil"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, testutil.LeakOptions()...) }

//go:build !linux

package node

import "github.com/prometheus/client_golang/prometheus"

// osCollectors: none outside Linux (see metrics_linux.go).
func osCollectors() []prometheus.Collector { return nil }

package storage

// Test-only knobs, in one place. Production code never sets them.

// testMemTableSize, if positive, replaces Badger's memtable size (64 MiB),
// so a test fills a memtable and sees it flushed to a table file after a
// few MiB of writes (damage_test.go). Set it before Open, never
// concurrently with one.
var testMemTableSize int64

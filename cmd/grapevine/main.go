// Command grapevine runs a grapevine peer (`grapevine daemon`) and talks to
// one (`grapevine put/get/del/ls/incr/peers/status/id`). Run `grapevine
// help` for the commands.
package main

import "os"

func main() { os.Exit(run(os.Args, os.Stdin, os.Stdout, os.Stderr)) }

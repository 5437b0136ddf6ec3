package resp

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Parsing of command options. Each parser returns an error whose text is
// the whole RESP error to answer.

const (
	errNotInteger = "ERR value is not an integer or out of range"
	errSyntax     = "ERR syntax error"
)

// parseInt parses a Redis integer argument.
func parseInt(b []byte) (int64, error) {
	v, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return 0, errors.New(errNotInteger)
	}
	return v, nil
}

// setOptions are SET's options.
type setOptions struct {
	nx, xx bool
	ttl    time.Duration // 0: none
}

// parseSetOptions parses SET's options after the key and value:
// NX | XX, EX seconds | PX milliseconds. KEEPTTL, EXAT, PXAT and GET are
// refused as unsupported.
func parseSetOptions(args [][]byte) (setOptions, error) {
	var o setOptions
	for i := 0; i < len(args); i++ {
		switch opt := strings.ToUpper(string(args[i])); opt {
		case "NX":
			if o.xx {
				return o, errors.New(errSyntax)
			}
			o.nx = true
		case "XX":
			if o.nx {
				return o, errors.New(errSyntax)
			}
			o.xx = true
		case "EX", "PX":
			if o.ttl != 0 || i+1 == len(args) {
				return o, errors.New(errSyntax)
			}
			i++
			n, err := parseInt(args[i])
			if err != nil {
				return o, err
			}
			unit := time.Second
			if opt == "PX" {
				unit = time.Millisecond
			}
			if n <= 0 || n > math.MaxInt64/int64(unit) {
				return o, errors.New("ERR invalid expire time in 'set' command")
			}
			o.ttl = time.Duration(n) * unit
		case "KEEPTTL", "EXAT", "PXAT", "GET":
			return o, fmt.Errorf("ERR SET option %s is not supported by grapevine (it supports NX, XX, EX and PX)", opt)
		default:
			return o, errors.New(errSyntax)
		}
	}
	return o, nil
}

// scanOptions are SCAN's arguments.
type scanOptions struct {
	cursor uint64
	prefix string // MATCH without its trailing '*'
	exact  bool   // MATCH had no '*': only the key prefix itself
	count  int
}

// defaultScanCount is SCAN's COUNT when none is given (Redis's).
const defaultScanCount = 10

// maxScanCount bounds COUNT: one SCAN reads at most this many keys.
const maxScanCount = 10000

// parseScan parses SCAN cursor [MATCH pattern] [COUNT n]. A pattern is a
// literal key or a literal prefix followed by one '*'; any other glob
// (?, [, \, a '*' elsewhere) is refused.
func parseScan(args [][]byte) (scanOptions, error) {
	o := scanOptions{count: defaultScanCount}
	c, err := strconv.ParseUint(string(args[0]), 10, 64)
	if err != nil {
		return o, errors.New("ERR invalid cursor")
	}
	o.cursor = c
	for i := 1; i < len(args); i++ {
		opt := strings.ToUpper(string(args[i]))
		if i+1 == len(args) {
			return o, errors.New(errSyntax)
		}
		i++
		switch opt {
		case "MATCH":
			p := string(args[i])
			lit, star := strings.CutSuffix(p, "*")
			if strings.ContainsAny(lit, "*?[\\") {
				return o, fmt.Errorf("ERR SCAN MATCH %q: grapevine takes a literal prefix followed by '*' (or a literal key), not other glob patterns", clip(args[i]))
			}
			o.prefix, o.exact = lit, !star
		case "COUNT":
			n, err := parseInt(args[i])
			if err != nil {
				return o, err
			}
			if n < 1 {
				return o, errors.New(errSyntax)
			}
			o.count = int(min(n, maxScanCount))
		case "TYPE":
			return o, errors.New("ERR SCAN TYPE is not supported by grapevine")
		default:
			return o, errors.New(errSyntax)
		}
	}
	return o, nil
}

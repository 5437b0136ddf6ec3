// Package resp serves a grapevine node over the Redis serialization
// protocol (RESP2), so that redis-cli, redis-benchmark and the Redis client
// libraries of every language can read and write it. It is a door beside
// the HTTP API (api.WithDoor): every command calls the same node.Node
// methods as the HTTP API, and every node error is answered through one
// table (errors.go).
//
// # Commands
//
//	PING ECHO QUIT HELLO [2] COMMAND [COUNT|DOCS|INFO] INFO CLIENT CONFIG GET
//	AUTH [default] token    SELECT index    NS [name]
//	GET SET (EX PX NX XX) DEL EXISTS MGET MSET
//	INCR INCRBY DECR DECRBY
//	SCAN cursor [MATCH prefix*] [COUNT n]
//	SADD SREM SMEMBERS SISMEMBER
//
// # Where the semantics differ from Redis
//
// Strings are grapevine registers (last writer wins); INCR and its kin
// act on grapevine counters, a type of their own that adds up exactly
// across peers. A name holds one or the other: GET of a counter answers
// its value in decimal (as Redis answers an INCR'd key), SET of a counter
// or a set and INCR of a string or a set are refused with WRONGTYPE (DEL
// the key first). SET NX and XX are conditional writes checked on this
// peer (exact here, not across peers); a refused condition answers nil as
// in Redis. MSET is one node transaction (all or nothing, at most
// node.MaxTxnOps keys). DEL, EXISTS, SADD and SREM take one step per key
// or member, not one atomic step; their counts are what this peer saw.
//
// Namespaces: SELECT n picks the n-th namespace of Config.Databases
// (0 is the first, "default" unless configured), and NS name picks any
// namespace by name (NS alone answers the current one).
//
// SCAN cursors are opaque numbers kept by the server for a while (the last
// maxCursors of them, shared by every connection); MATCH takes a literal
// key or a literal prefix followed by one '*', nothing else.
//
// # Tokens
//
// With API tokens (Config.Tokens), every command but AUTH, HELLO and QUIT
// needs AUTH first (NOAUTH), and each command is checked against the
// token's grant for the current namespace (NOPERM), at every command, so a
// token removed by a reload stops working at once. Refusals are counted in
// grapevine_resp_refusals_total and logged without the token.
//
// # Pipelining
//
// A pipeline's commands that each touch one key (GET, SET, INCR, SADD,
// ...) run concurrently as long as their keys differ, so that their
// writes reach the node's apply loop together and share one commit (one
// fsync); a repeated key or any other command waits for what came before.
// Replies always come back in order.
package resp

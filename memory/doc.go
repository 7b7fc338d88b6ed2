// Package memory holds latch's in-process backends, for the embedded
// default (one instance, no LATCH_REDIS_URL): Cache, the per-session cache
// of seed 000, kept in the instance's memory.
//
// A single instance needs no revocation bus: its revocation index is the
// only one, and revocation.Manager works with a nil Bus. The in-process
// rate limiter is ratelimit.Memory.
//
// Nothing here is shared between processes or survives a restart; run
// several instances with package redis instead.
package memory
